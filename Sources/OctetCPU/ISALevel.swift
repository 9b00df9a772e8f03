import COctetCPUProbe

/// A cap on the instruction sets Octet may use, ordered like oneDNN's `dnnl_cpu_isa_t`.
///
/// Set for a process with `OCTET_MAX_ISA=avx2` (or oneDNN's own `ONEDNN_MAX_CPU_ISA`,
/// whose names are accepted too), so that every lower-ISA path can be run and tested on
/// a newer machine. The cap is handed on to oneDNN (`dnnl_set_max_cpu_isa`).
public enum ISALevel: String, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    /// Portable C only.
    case scalar
    /// AVX, AVX2, FMA, F16C.
    case avx2
    /// AVX2 with AVX-VNNI.
    case avx2_vnni
    /// AVX-512 F/BW/VL/DQ (oneDNN's `avx512_core`).
    case avx512
    case avx512_vnni
    case avx512_bf16
    /// AMX tile, int8 and bf16.
    case amx
    /// No cap.
    case all

    var cValue: octet_isa_level {
        switch self {
        case .scalar: OCTET_ISA_LEVEL_SCALAR
        case .avx2: OCTET_ISA_LEVEL_AVX2
        case .avx2_vnni: OCTET_ISA_LEVEL_AVX2_VNNI
        case .avx512: OCTET_ISA_LEVEL_AVX512
        case .avx512_vnni: OCTET_ISA_LEVEL_AVX512_VNNI
        case .avx512_bf16: OCTET_ISA_LEVEL_AVX512_BF16
        case .amx: OCTET_ISA_LEVEL_AMX
        case .all: OCTET_ISA_LEVEL_ALL
        }
    }

    init(_ c: octet_isa_level) {
        self = Self.allCases.first { $0.cValue == c } ?? .all
    }

    /// Parses Octet's level names or oneDNN's (`avx512_core_vnni`), case-insensitively.
    public init?(parsing name: String) {
        var level = OCTET_ISA_LEVEL_ALL
        guard octet_isa_level_parse(name, &level) != 0 else { return nil }
        self.init(level)
    }

    /// The features this level allows.
    public var allowedFeatures: Set<ISAFeature> { ISAFeature.set(from: octet_isa_level_features(cValue)) }

    public var description: String { rawValue }

    public static func < (a: ISALevel, b: ISALevel) -> Bool { a.cValue.rawValue < b.cValue.rawValue }
}

/// The ISA cap in force for this process, and where it came from.
public struct ISACap: Sendable, Hashable, CustomStringConvertible {
    /// The environment variable that set it (`OCTET_MAX_ISA`, ...).
    public var variable: String
    /// The variable's text.
    public var value: String
    /// The level applied; `nil` when the value named no level (then nothing is capped).
    public var level: ISALevel?

    public var description: String {
        guard let level else {
            let names = ISALevel.allCases.map(\.rawValue).joined(separator: ", ")
            return "\(variable)=\(value) names no ISA level (expected one of \(names)); not capped"
        }
        return "\(variable)=\(value): capped at \(level)"
    }
}
