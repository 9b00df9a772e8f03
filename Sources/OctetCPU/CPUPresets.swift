/// Named CPUs to plan for without owning one, and explicit feature lists.
///
/// `CPUFeatures.assumed("sapphire-rapids")` is a preset; `"avx2,fma,f16c"` is a list;
/// `"zen3,+avx512_vnni"` or `"sapphire-rapids,-amx_int8"` adjusts a preset.
extension CPUFeatures {
    /// A named CPU preset: its features and cache sizes (per core L1d/L2, shared L3).
    public struct Preset: Sendable {
        public let name: String
        public let vendor: String
        public let model: String
        public let architecture: String
        public let cores: Int
        public let caches: Caches
        public let features: Set<ISAFeature>
    }

    private static let avx2Base: Set<ISAFeature> = [.sse4_2, .avx, .avx2, .fma, .f16c]
    private static let avx512Base: Set<ISAFeature> = avx2Base.union([.avx512f, .avx512bw, .avx512vl, .avx512dq])
    private static let kib = 1024, mib = 1024 * 1024

    /// Every preset, in a stable order.
    public static let presets: [Preset] = [
        Preset(name: "generic-avx2", vendor: "any", model: "x86-64 with AVX2, FMA, F16C", architecture: "x86_64",
               cores: 4, caches: Caches(l1d: 32 * kib, l2: 256 * kib, l3: 8 * mib), features: avx2Base),
        Preset(name: "zen3", vendor: "AuthenticAMD", model: "AMD Zen 3 (EPYC 7003 / Ryzen 5000)", architecture: "x86_64",
               cores: 8, caches: Caches(l1d: 32 * kib, l2: 512 * kib, l3: 32 * mib), features: avx2Base),
        Preset(name: "zen4", vendor: "AuthenticAMD", model: "AMD Zen 4 (EPYC 9004 / Ryzen 7000)", architecture: "x86_64",
               cores: 8, caches: Caches(l1d: 32 * kib, l2: 1 * mib, l3: 32 * mib),
               features: avx512Base.union([.avx512_vnni, .avx512_bf16])),
        Preset(name: "skylake-avx512", vendor: "GenuineIntel", model: "Intel Xeon Scalable (Skylake-SP)", architecture: "x86_64",
               cores: 20, caches: Caches(l1d: 32 * kib, l2: 1 * mib, l3: 27 * mib + 512 * kib), features: avx512Base),
        Preset(name: "cascade-lake", vendor: "GenuineIntel", model: "Intel Xeon Scalable 2nd gen (Cascade Lake)", architecture: "x86_64",
               cores: 24, caches: Caches(l1d: 32 * kib, l2: 1 * mib, l3: 33 * mib), features: avx512Base.union([.avx512_vnni])),
        Preset(name: "icelake-server", vendor: "GenuineIntel", model: "Intel Xeon Scalable 3rd gen (Ice Lake-SP)", architecture: "x86_64",
               cores: 32, caches: Caches(l1d: 48 * kib, l2: 1 * mib + 256 * kib, l3: 48 * mib), features: avx512Base.union([.avx512_vnni])),
        Preset(name: "sapphire-rapids", vendor: "GenuineIntel", model: "Intel Xeon Scalable 4th gen (Sapphire Rapids)", architecture: "x86_64",
               cores: 56, caches: Caches(l1d: 48 * kib, l2: 2 * mib, l3: 105 * mib),
               features: avx512Base.union([.avx512_vnni, .avx_vnni, .avx512_bf16, .amx_tile, .amx_int8, .amx_bf16])),
        Preset(name: "alder-lake", vendor: "GenuineIntel", model: "Intel Core 12th gen (Alder Lake, AVX-512 fused off)", architecture: "x86_64",
               cores: 16, caches: Caches(l1d: 48 * kib, l2: 1 * mib + 256 * kib, l3: 30 * mib), features: avx2Base.union([.avx_vnni])),
        Preset(name: "neoverse-n1", vendor: "ARM", model: "Arm Neoverse N1 (Graviton2, Ampere Altra)", architecture: "aarch64",
               cores: 64, caches: Caches(l1d: 64 * kib, l2: 1 * mib, l3: 32 * mib), features: [.neon]),
    ]

    /// The preset called `name`, if any.
    public static func preset(named name: String) -> Preset? {
        presets.first { $0.name == name.lowercased() }
    }

    /// Builds a CPU description from a preset name, a feature list, or a preset adjusted
    /// by `+feature` / `-feature` items, all separated by commas. `host` (or `native`)
    /// stands for `detected`, which must be supplied by the caller when used.
    public static func assumed(_ spec: String, host: CPUFeatures? = nil) throws(CPUSpecError) -> CPUFeatures {
        let items = spec.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
        guard let first = items.first, !first.isEmpty else { throw .empty }
        var base: CPUFeatures?
        var rest = items[...]
        if let p = preset(named: first) {
            base = CPUFeatures(preset: p)
            rest = items.dropFirst()
        } else if first == "host" || first == "native" {
            guard let host else { throw .unknownItem(first, spec: spec) }
            base = host
            rest = items.dropFirst()
        }
        let given = base?.features ?? []
        var features = given
        var removed: Set<ISAFeature> = []
        for item in rest {
            guard !item.isEmpty else { throw .unknownItem(item, spec: spec) }
            var name = Substring(item)
            var remove = false
            if name.first == "+" { name = name.dropFirst() } else if name.first == "-" { name = name.dropFirst(); remove = true }
            guard let f = ISAFeature(rawValue: String(name).lowercased()) else {
                if preset(named: String(name)) != nil { throw .presetNotFirst(String(name)) }
                throw .unknownItem(item, spec: spec)
            }
            if remove {
                features.remove(f)
                removed.insert(f)
            } else {
                features.insert(f)
                removed.remove(f)
            }
        }
        // Never an impossible CPU: a feature brings its prerequisites (`avx512_vnni`
        // implies AVX-512F), unless one was removed, which removes what needs it.
        let (closed, dropped) = features.addingPrerequisites().subtracting(removed).enforcingPrerequisites()
        var notes: [String] = []
        let implied = closed.subtracting(features)
        if !implied.isEmpty { notes.append("implied by the features named: \(implied.sorted().map(\.rawValue).joined(separator: ", "))") }
        if !dropped.isEmpty { notes.append("removed with a prerequisite: \(dropped.sorted().map(\.rawValue).joined(separator: ", "))") }
        features = closed
        if var b = base {
            if features == given { return b }
            b.features = features
            b.hardware = features
            b.origin = .assumed(spec)
            b.notes = notes
            b.cap = nil
            return b
        }
        let arch = features == [.neon] ? "aarch64" : "x86_64"
        return CPUFeatures(
            vendor: "assumed", model: "assumed CPU", architecture: arch, cores: 1, logicalCPUs: 1,
            caches: Caches(), hardware: features, origin: .assumed(spec), notes: notes
        )
    }

    /// The description of a preset CPU.
    public init(preset p: Preset) {
        self.init(vendor: p.vendor, model: p.model, architecture: p.architecture, cores: p.cores,
                  logicalCPUs: p.cores, caches: p.caches, hardware: p.features, origin: .preset(p.name))
    }
}

/// A `--cpu` value that names no preset or feature.
public enum CPUSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case unknownItem(String, spec: String)
    case presetNotFirst(String)

    public var description: String {
        let presets = CPUFeatures.presets.map(\.name).joined(separator: ", ")
        let features = ISAFeature.allCases.map(\.rawValue).joined(separator: ", ")
        switch self {
        case .empty:
            return "empty CPU description; expected a preset (\(presets)) or a comma-separated feature list (\(features))"
        case let .unknownItem(item, spec):
            return "'\(item)' in '\(spec)' is neither a preset (\(presets)) nor a feature (\(features))"
        case let .presetNotFirst(name):
            return "preset '\(name)' must come first; later items add (+feature) or remove (-feature) features"
        }
    }
}
