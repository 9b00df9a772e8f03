import COctetCPUProbe

extension ISAFeature {
    /// This feature's bit in the C host description (`octet_isa_feature`).
    package var bit: UInt32 {
        switch self {
        case .sse4_2: OCTET_ISA_SSE4_2.rawValue
        case .avx: OCTET_ISA_AVX.rawValue
        case .avx2: OCTET_ISA_AVX2.rawValue
        case .fma: OCTET_ISA_FMA.rawValue
        case .f16c: OCTET_ISA_F16C.rawValue
        case .avx512f: OCTET_ISA_AVX512F.rawValue
        case .avx512bw: OCTET_ISA_AVX512BW.rawValue
        case .avx512vl: OCTET_ISA_AVX512VL.rawValue
        case .avx512dq: OCTET_ISA_AVX512DQ.rawValue
        case .avx512_vnni: OCTET_ISA_AVX512_VNNI.rawValue
        case .avx_vnni: OCTET_ISA_AVX_VNNI.rawValue
        case .avx512_bf16: OCTET_ISA_AVX512_BF16.rawValue
        case .amx_tile: OCTET_ISA_AMX_TILE.rawValue
        case .amx_int8: OCTET_ISA_AMX_INT8.rawValue
        case .amx_bf16: OCTET_ISA_AMX_BF16.rawValue
        case .neon: OCTET_ISA_NEON.rawValue
        }
    }

    /// The features whose bits are set in `mask`.
    package static func set(from mask: UInt32) -> Set<ISAFeature> {
        Set(allCases.filter { mask & $0.bit != 0 })
    }

    /// The bit mask of `features`.
    package static func mask(of features: some Sequence<ISAFeature>) -> UInt32 {
        features.reduce(0) { $0 | $1.bit }
    }
}

extension Set where Element == ISAFeature {
    /// Without the features whose prerequisites are missing (AVX-512 extensions need
    /// AVX-512F, AMX-INT8 needs AMX-TILE, ...), and what was removed.
    package func enforcingPrerequisites() -> (kept: Set<ISAFeature>, dropped: Set<ISAFeature>) {
        var dropped: UInt32 = 0
        let kept = octet_isa_enforce_prerequisites(ISAFeature.mask(of: self), &dropped)
        return (ISAFeature.set(from: kept), ISAFeature.set(from: dropped))
    }

    /// With every prerequisite of its features added.
    package func addingPrerequisites() -> Set<ISAFeature> {
        ISAFeature.set(from: octet_isa_add_prerequisites(ISAFeature.mask(of: self)))
    }
}
