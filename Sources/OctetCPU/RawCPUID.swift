import COctetCPUProbe

/// Features decoded from raw CPUID leaves, independent of libcpuid.
struct RawCPUID {
    var vendor: String
    var features: Set<ISAFeature>

    /// Bit positions, from the Intel SDM and AMD APM.
    static let leaf1ECXBits: [(Int, ISAFeature)] = [(20, .sse4_2), (12, .fma), (28, .avx), (29, .f16c)]
    static let leaf7EBXBits: [(Int, ISAFeature)] = [(5, .avx2), (16, .avx512f), (17, .avx512dq), (30, .avx512bw), (31, .avx512vl)]
    static let leaf7ECXBits: [(Int, ISAFeature)] = [(11, .avx512_vnni)]
    static let leaf7EDXBits: [(Int, ISAFeature)] = [(22, .amx_bf16), (24, .amx_tile), (25, .amx_int8)]
    static let leaf7Sub1EAXBits: [(Int, ISAFeature)] = [(4, .avx_vnni), (5, .avx512_bf16)]

    static func read() -> RawCPUID {
        guard octet_cpuid_available() != 0 else { return RawCPUID(vendor: "unknown", features: []) }
        let l0 = octet_cpuid(0, 0)
        let vendor = withUnsafeBytes(of: (l0.ebx, l0.edx, l0.ecx)) { String(decoding: $0, as: UTF8.self) }
        let l1 = octet_cpuid(1, 0)
        let l7 = octet_cpuid(7, 0)
        // Subleaf 1 of leaf 7 exists when leaf 7 subleaf 0 reports max subleaf ≥ 1 in EAX.
        let l71 = l7.eax >= 1 ? octet_cpuid(7, 1) : octet_cpuid_regs()
        return RawCPUID(vendor: vendor, features: decode(leaf1ECX: l1.ecx, leaf7: l7, leaf7Sub1EAX: l71.eax))
    }

    /// Pure decoding of register values, testable with any CPU's registers.
    static func decode(leaf1ECX: UInt32, leaf7: octet_cpuid_regs, leaf7Sub1EAX: UInt32) -> Set<ISAFeature> {
        var out: Set<ISAFeature> = []
        func take(_ reg: UInt32, _ table: [(Int, ISAFeature)]) {
            for (bit, f) in table where reg & (1 << UInt32(bit)) != 0 { out.insert(f) }
        }
        take(leaf1ECX, leaf1ECXBits)
        take(leaf7.ebx, leaf7EBXBits)
        take(leaf7.ecx, leaf7ECXBits)
        take(leaf7.edx, leaf7EDXBits)
        take(leaf7Sub1EAX, leaf7Sub1EAXBits)
        return out
    }
}
