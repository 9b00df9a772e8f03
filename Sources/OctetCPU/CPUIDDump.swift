import COctetCPUProbe

/// The raw CPUID registers and XCR0 that Octet decodes its ISA features from.
///
/// `octet cpu --cpuid` prints this machine's as JSON; tests decode dumps of other CPUs
/// committed as data. Leaves are keyed `"1"`, `"7.0"`, `"7.1"`, `"d.0"`, `"24.0"`,
/// `"80000000"`, `"80000001"` (hex leaf, `.subleaf` where it has one); registers and
/// XCR0 are hex strings (`"0x00000000"`). A leaf that is absent reads as all zero.
public struct CPUIDDump: Sendable, Hashable, Codable {
    /// EAX, EBX, ECX and EDX of one leaf.
    public struct Registers: Sendable, Hashable, Codable {
        public var eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32

        public init(eax: UInt32 = 0, ebx: UInt32 = 0, ecx: UInt32 = 0, edx: UInt32 = 0) {
            self.eax = eax
            self.ebx = ebx
            self.ecx = ecx
            self.edx = edx
        }

        init(_ r: octet_cpuid_regs) { self.init(eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx) }
        var c: octet_cpuid_regs { octet_cpuid_regs(eax: eax, ebx: ebx, ecx: ecx, edx: edx) }

        enum CodingKeys: String, CodingKey { case eax, ebx, ecx, edx }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func reg(_ k: CodingKeys) throws -> UInt32 {
                let text = try c.decode(String.self, forKey: k)
                guard let v = UInt32(hex: text) else {
                    throw DecodingError.dataCorruptedError(forKey: k, in: c, debugDescription: "expected a 32-bit hex value like 0x1f, got '\(text)'")
                }
                return v
            }
            self.init(eax: try reg(.eax), ebx: try reg(.ebx), ecx: try reg(.ecx), edx: try reg(.edx))
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            for (k, v) in [(CodingKeys.eax, eax), (.ebx, ebx), (.ecx, ecx), (.edx, edx)] { try c.encode(hex32(v), forKey: k) }
        }
    }

    /// The leaves the decoder reads, in `octet_cpuid_dump` order.
    public static let leafKeys = ["0", "1", "7.0", "7.1", "d.0", "24.0", "80000000", "80000001"]

    public var leaves: [String: Registers]
    public var xcr0: UInt64

    public init(leaves: [String: Registers], xcr0: UInt64) {
        self.leaves = leaves
        self.xcr0 = xcr0
    }

    /// This machine's registers.
    public static func read() -> CPUIDDump { CPUIDDump(octet_cpuid_read_dump()) }

    init(_ d: octet_cpuid_dump) {
        let regs = [d.leaf0, d.leaf1, d.leaf7_0, d.leaf7_1, d.leafD_0, d.leaf24_0, d.leaf80000000, d.leaf80000001]
        self.init(leaves: Dictionary(uniqueKeysWithValues: zip(Self.leafKeys, regs.map(Registers.init))), xcr0: d.xcr0)
    }

    var c: octet_cpuid_dump {
        func r(_ k: String) -> octet_cpuid_regs { (leaves[k] ?? Registers()).c }
        return octet_cpuid_dump(leaf0: r("0"), leaf1: r("1"), leaf7_0: r("7.0"), leaf7_1: r("7.1"), leafD_0: r("d.0"),
                                leaf24_0: r("24.0"), leaf80000000: r("80000000"), leaf80000001: r("80000001"), xcr0: xcr0)
    }

    /// The vendor string of leaf 0 (`GenuineIntel`, `AuthenticAMD`).
    public var vendor: String {
        let l0 = leaves["0"] ?? Registers()
        let bytes = withUnsafeBytes(of: (l0.ebx.littleEndian, l0.edx.littleEndian, l0.ecx.littleEndian)) { Array($0) }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// AVX10 version (CPUID 24H EBX[7:0]) when CPUID 7.1 EDX[19] reports AVX10.
    public var avx10Version: Int? {
        guard let l71 = leaves["7.1"], l71.edx & (1 << 19) != 0 else { return nil }
        return Int((leaves["24.0"]?.ebx ?? 0) & 0xFF)
    }

    /// What these registers say, step by step.
    public func decode(amxPermitted: Bool = true) -> CPUIDDecoding {
        var dump = c
        let hardware = octet_isa_decode(&dump)
        let enabled = octet_isa_os_enabled(hardware, xcr0, amxPermitted ? 1 : 0)
        var dropped: UInt32 = 0
        let usable = octet_isa_enforce_prerequisites(enabled, &dropped)
        return CPUIDDecoding(hardware: ISAFeature.set(from: hardware), osEnabled: ISAFeature.set(from: enabled),
                             usable: ISAFeature.set(from: usable), droppedForPrerequisites: ISAFeature.set(from: dropped))
    }

    enum CodingKeys: String, CodingKey { case leaves, xcr0 }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let leaves = try c.decode([String: Registers].self, forKey: .leaves)
        if let unknown = leaves.keys.sorted().first(where: { !Self.leafKeys.contains($0) }) {
            throw DecodingError.dataCorruptedError(forKey: .leaves, in: c,
                debugDescription: "unknown leaf '\(unknown)'; expected some of \(Self.leafKeys.joined(separator: ", "))")
        }
        let text = try c.decode(String.self, forKey: .xcr0)
        guard let xcr0 = UInt64(hex: text) else {
            throw DecodingError.dataCorruptedError(forKey: .xcr0, in: c, debugDescription: "expected a 64-bit hex value, got '\(text)'")
        }
        self.init(leaves: leaves, xcr0: xcr0)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(leaves, forKey: .leaves)
        try c.encode("0x" + String(xcr0, radix: 16), forKey: .xcr0)
    }
}

/// The features one CPUID dump gives, at each step of the decoding.
public struct CPUIDDecoding: Sendable, Hashable {
    /// Reported by the CPU.
    public var hardware: Set<ISAFeature>
    /// Of those, with their register state enabled by the OS (XCR0, AMX permission).
    public var osEnabled: Set<ISAFeature>
    /// Of those, with their prerequisites: what code may use.
    public var usable: Set<ISAFeature>
    /// Removed because a prerequisite was missing.
    public var droppedForPrerequisites: Set<ISAFeature>
}

private func hex32(_ v: UInt32) -> String {
    let digits = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

extension FixedWidthInteger {
    /// Parses `0x`-prefixed (or bare) hexadecimal text.
    init?(hex text: String) {
        let body = text.hasPrefix("0x") || text.hasPrefix("0X") ? String(text.dropFirst(2)) : text
        guard !body.isEmpty, let v = Self(body, radix: 16) else { return nil }
        self = v
    }
}
