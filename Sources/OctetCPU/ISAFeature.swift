/// Instruction-set features that matter for INT8, FP16 and FP32 inference.
/// The raw values are the stable keys of `octet cpu --json` and of rules files.
public enum ISAFeature: String, Sendable, Hashable, CaseIterable, Codable, Comparable, CustomStringConvertible {
    case sse4_2
    case avx
    case avx2
    case fma
    case f16c
    case avx512f
    case avx512bw
    case avx512vl
    case avx512dq
    /// AVX-512 VNNI (`vpdpbusd` on zmm): u8·s8 dot products into s32 without saturation.
    case avx512_vnni
    /// AVX-VNNI (VEX-encoded `vpdpbusd` on ymm; Alder Lake, Sapphire Rapids, Zen 5).
    case avx_vnni
    case avx512_bf16
    case amx_tile
    case amx_int8
    case amx_bf16
    /// ARM Advanced SIMD.
    case neon

    public var description: String { rawValue }

    public static func < (a: ISAFeature, b: ISAFeature) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The operating-system state a feature needs before a program may use it.
    public var osState: OSState {
        switch self {
        case .sse4_2, .neon: .none
        case .avx, .avx2, .fma, .f16c, .avx_vnni: .avx
        case .avx512f, .avx512bw, .avx512vl, .avx512dq, .avx512_vnni, .avx512_bf16: .avx512
        case .amx_tile, .amx_int8, .amx_bf16: .amx
        }
    }

    /// Register state the OS must enable (XCR0 bits, and for AMX a Linux permission).
    public enum OSState: Sendable {
        case none
        /// XCR0 bits 1–2 (SSE and AVX state).
        case avx
        /// XCR0 bits 1–2 and 5–7 (opmask and ZMM state).
        case avx512
        /// XCR0 bits 17–18 (tile config and data) and, on Linux, `ARCH_REQ_XCOMP_PERM`.
        case amx
    }
}
