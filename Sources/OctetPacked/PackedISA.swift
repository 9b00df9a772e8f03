import COctetPackedKernels
import OctetCPU
import OctetCore

/// Which instruction set the packed kernels use, and the kernels' names.
enum PackedISA {
    /// The one place the packed backend picks its instruction set. `cpu` is the CPU the plan
    /// is for; `host`, when the kernel will execute here, the host description
    /// (`PrepareContext.host`), which must also have the ISA. The C kernels take the result
    /// as a parameter and never probe.
    static func select(for cpu: CPUFeatures, host: CPUFeatures? = nil) -> octet_packed_isa {
        func usable(_ features: [ISAFeature]) -> Bool { cpu.hasAll(features) && host?.hasAll(features) ?? true }
        guard usable([.avx2, .fma]) else { return OCTET_PACKED_SCALAR }
        if usable([.avx512f, .avx512bw, .avx512vl, .avx512dq, .avx512_vnni]) { return OCTET_PACKED_AVX512_VNNI }
        if usable([.avx_vnni]) { return OCTET_PACKED_AVX_VNNI }
        if usable([.avx512f, .avx512bw, .avx512vl, .avx512dq]) { return OCTET_PACKED_AVX512BW }
        return OCTET_PACKED_AVX2
    }

    /// `avx512vnni`, `avxvnni`, `avx512bw`, `avx2` or `scalar`: the ISA suffix of every kernel
    /// name (`avx512bw` only names the s16-pair GEMM: the other kernels of that level are the
    /// AVX2 ones, see `parts`).
    static func suffix(_ isa: octet_packed_isa) -> String {
        switch isa {
        case OCTET_PACKED_AVX512_VNNI: "avx512vnni"
        case OCTET_PACKED_AVX_VNNI: "avxvnni"
        case OCTET_PACKED_AVX512BW: "avx512bw"
        case OCTET_PACKED_AVX2: "avx2"
        default: "scalar"
        }
    }

    /// Whether the k-quad GEMM of `isa` sums four u8·s8 products with `vpdpbusd` (exact for any u8).
    static func hasVNNI(_ isa: octet_packed_isa) -> Bool { isa == OCTET_PACKED_AVX512_VNNI || isa == OCTET_PACKED_AVX_VNNI }

    /// Whether the k-quad kernel of `isa` is the 7-bit `u7s8s32-gemm-6x16c4-avx2` (`vpmaddubsw`,
    /// exact only for activations ≤ 127): on AVX2, and on AVX-512BW, which has no k-quad kernel
    /// of its own.
    static func hasSevenBitQuads(_ isa: octet_packed_isa) -> Bool { isa == OCTET_PACKED_AVX2 || isa == OCTET_PACKED_AVX512BW }

    /// Whether the GEMM tiles of `isa` and `format` span two panels (8 x 32):
    /// `u8s8s32-gemm-8x32c4-avx512vnni` and `u8s8s32-gemm-8x32-avx512bw`.
    static func isWide(_ isa: octet_packed_isa, _ format: PackedFormat) -> Bool {
        format == .quads ? isa == OCTET_PACKED_AVX512_VNNI : isa == OCTET_PACKED_AVX512BW
    }

    /// The format a signature's products use. With VNNI, always k-quads (`vpdpbusd`, exact for
    /// any u8). On AVX2 and AVX-512BW without it, k-quads (the 7-bit `vpmaddubsw` kernel) for
    /// signatures whose activations are 7-bit (`reduce_range`), else s16 pairs (on AVX-512BW
    /// `u8s8s32-gemm-8x32-avx512bw`: the 7-bit ymm kernel does as many multiply-adds per cycle
    /// on Skylake-SP's ports, and more on CPUs that split zmm operations in two); a 7-bit
    /// dynamic signature (activations quantized to [0, 127] per call) takes k-quads on every
    /// ISA, the portable `u7s8s32-gemm-6x16c4-scalar` included, so its results do not depend on
    /// the ISA.
    static func format(_ s: OpSignature, _ isa: octet_packed_isa) -> PackedFormat {
        if hasVNNI(isa) { return .quads }
        guard let q = s.quantization, q.reduceRange else { return .pairs }
        return hasSevenBitQuads(isa) || q.dynamic ? .quads : .pairs
    }

    /// Whether the k-quad kernel of `isa` is exact only for activations ≤ 127 (`vpmaddubsw`).
    static func needsSevenBit(_ isa: octet_packed_isa, _ format: PackedFormat) -> Bool { format == .quads && hasSevenBitQuads(isa) }

    /// The types, tile and ISA suffix of a GEMM kernel: `u8s8s32`/`6x16` (s16 pairs),
    /// `u8s8s32`/`8x32` (s16 pairs, AVX-512BW), 7-bit `u7s8s32`/`6x16c4` (AVX2 and portable
    /// k-quads; the AVX2 kernel on AVX-512BW too), `u8s8s32`/`6x16c4` (AVX-VNNI) or
    /// `u8s8s32`/`8x32c4` (AVX-512 VNNI).
    static func parts(_ format: PackedFormat, _ isa: octet_packed_isa) -> (types: String, tile: String, suffix: String) {
        let rows = isWide(isa, format) ? "\(OCTET_PACKED_WIDE_MR)x\(2 * OCTET_PACKED_NR)" : "\(OCTET_PACKED_MR)x\(OCTET_PACKED_NR)"
        guard format == .quads else { return ("u8s8s32", rows, suffix(isa)) }
        return (hasVNNI(isa) ? "u8s8s32" : "u7s8s32", "\(rows)c4", suffix(hasSevenBitQuads(isa) ? OCTET_PACKED_AVX2 : isa))
    }

    /// The GEMM micro-kernel: `u8s8s32-gemm-6x16-avx2`, `u7s8s32-gemm-6x16c4-avx2`,
    /// `u8s8s32-gemm-8x32c4-avx512vnni`.
    static func gemm(_ isa: octet_packed_isa, _ format: PackedFormat = .pairs) -> String {
        let p = parts(format, isa)
        return "\(p.types)-gemm-\(p.tile)-\(p.suffix)"
    }

    /// The dynamic linear: `f32u8s8-dqgemm-6x16-avx2` (one activation scale per call) or
    /// `f32u8s8-dqgemm-pertoken-6x16-avx2` (one per row); with 7-bit activation codes
    /// (`sevenBit`) `f32u7s8-dqgemm-pertoken-6x16c4-avx2` (the `u7s8s32-gemm-6x16c4` kernel);
    /// with VNNI `f32u8s8-dqgemm-pertoken-8x32c4-avx512vnni`.
    static func dqgemm(_ isa: octet_packed_isa, perToken: Bool, sevenBit: Bool, _ format: PackedFormat = .pairs) -> String {
        let p = parts(format, isa)
        return "f32\(sevenBit ? "u7s8" : "u8s8")-dqgemm-\(perToken ? "pertoken-" : "")\(p.tile)-\(p.suffix)"
    }

    /// The per-call activation quantization of the dynamic convolution (ONNX's
    /// DynamicQuantizeLinear, `octet_packed_quantize_u8`): `f32u8-quantize-avx2` on every level
    /// above scalar, else `f32u8-quantize-scalar`.
    static func dynamicQuantize(_ isa: octet_packed_isa) -> String {
        "f32u8-quantize-" + (isa == OCTET_PACKED_SCALAR ? "scalar" : "avx2")
    }

    /// A channels-last convolution on the GEMM micro-kernel: `u8s8s32-conv-nhwc-indirect-6x16-avx2`
    /// (`form` is `1x1` for the plain GEMM over the image, `indirect` for the indirection buffer).
    static func conv(_ isa: octet_packed_isa, form: String, _ format: PackedFormat = .pairs) -> String {
        let p = parts(format, isa)
        return "\(p.types)-conv-nhwc-\(form)-\(p.tile)-\(p.suffix)"
    }

    /// The channels-last depthwise kernel: on AVX-512 VNNI with symmetric weights the tap-quad
    /// `u8s8s32-dwconv-3x3-64c-avx512vnni`; else `u8s8s32-dwconv-3x3-rowpairs-8c-avx2` (rows of
    /// horizontal pixel pairs; dilation 1, horizontal stride 1 or 2), else the tap-pointer
    /// `u8s8s32-dwconv-3x3-32c-avx2`. 3x3 and 5x5 have their taps unrolled; other windows run
    /// the any-window forms (`u8s8s32-dwconv-64c-avx512vnni`, `u8s8s32-dwconv-rowpairs-8c-avx2`,
    /// `u8s8s32-dwconv-32c-avx2`).
    static func dwconv(_ isa: octet_packed_isa, kh: Int, kw: Int, rowPairs: Bool, vnni: Bool) -> String {
        let window = kh == kw && (kh == 3 || kh == 5) ? "\(kh)x\(kw)-" : ""
        if vnni { return "u8s8s32-dwconv-\(window)64c-avx512vnni" }
        guard isa != OCTET_PACKED_SCALAR, rowPairs || kh * kw <= 127 else { return "u8s8s32-dwconv-scalar" }
        return rowPairs ? "u8s8s32-dwconv-\(window)rowpairs-8c-avx2" : "u8s8s32-dwconv-\(window)\(OCTET_PACKED_DW_CHANNELS)c-avx2"
    }
}
