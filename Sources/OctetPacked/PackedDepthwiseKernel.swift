import COctetPackedKernels
import OctetCore
import OctetDispatch

/// Channels-last depthwise convolution (groups = channels, one filter per channel), output
/// pixels (whole output rows) split across threads. Exact: Σ (x − zp)(w − zp_w) in s32, the
/// activation zero point and the s32 bias folded into the packed weights at prepare,
/// requantization fused. Two forms, chosen at prepare (`PackedISA.dwconv` names them):
///  - row pairs (`u8s8s32-dwconv-3x3-rowpairs-8c-avx2`; dilation 1, horizontal stride 1 or 2):
///    each input row is widened once per 8-channel block into s16 pairs of horizontally
///    adjacent pixels, so every tap pair is one load and one `vpmaddwd`;
///  - tap pointers (`u8s8s32-dwconv-3x3-32c-avx2`, any dilation and stride; or the portable
///    `u8s8s32-dwconv-scalar` without AVX2);
///  - on AVX-512 VNNI with symmetric weights, tap quads (`u8s8s32-dwconv-3x3-64c-avx512vnni`,
///    any dilation and stride): four taps' bytes interleaved per channel, one `vpdpbusd` per
///    four products, 64 channels per step; it replaces both forms above.
struct PackedChannelsLastDepthwiseKernel: Kernel {
    let weights: AlignedBuffer<Int32>
    let zeroRow: [UInt8]
    let stage: OutputStage
    /// The geometry; its two pointers stay nil here and are set per call (hence unchecked).
    struct Geometry: @unchecked Sendable { var c: octet_packed_dwconv }
    let geometry: Geometry
    var shape: octet_packed_dwconv { geometry.c }
    let isa: octet_packed_isa
    let rowPairs: Bool
    /// The tap-quad VNNI form (`usesVNNI`).
    let vnni: Bool
    let threads: Int
    let input: TensorShape, output: TensorShape, outputType: DType
    let implementation: String

    /// The C geometry of a depthwise signature (NCHW dimensions of `s`), or nil when `s` is not a convolution.
    static func geometry(_ s: OpSignature) -> octet_packed_dwconv? {
        guard let g = s.convolution, let (oh, ow) = s.outputSpatial else { return nil }
        return octet_packed_dwconv(channels: s.input[1], h: s.input[2], w: s.input[3], kh: s.weight[2], kw: s.weight[3], oh: oh, ow: ow,
                                   stride_h: g.strideH, stride_w: g.strideW, pad_top: g.padTop, pad_left: g.padLeft,
                                   dilation_h: g.dilationH, dilation_w: g.dilationW, weights: nil, zero: nil)
    }

    /// Output rows at least this wide run on the row-pair form (stride 1). Measured on Zen 3
    /// (`octet-benchmarks packed-conv`, MobileNetV2's 3x3 layers): 1.5x faster than the
    /// tap-pointer kernel at 112 wide, level at 56, slower at 28 and below and with stride 2,
    /// where building the rows of pairs costs more than the shuffles it saves.
    static let rowPairsMinimumWidth = 48

    /// Whether `s` runs on the VNNI tap-quad form: AVX-512 VNNI, symmetric weights (it multiplies
    /// the raw s8 values), at most 125 taps. Measured on Zen 5 against the AVX2 forms it
    /// replaces (MobileNetV2's layers): see the closing note of issue 14.
    static func usesVNNI(_ s: OpSignature, _ isa: octet_packed_isa) -> Bool {
        guard var d = geometry(s), s.quantization?.symmetricWeights == true else { return false }
        return octet_packed_dwconv_vnni_applies(isa, &d) != 0
    }

    /// Whether `s` runs on the row-pair form with `isa`: where it applies and is the faster form.
    /// `vnni`: whether the VNNI form was chosen instead (the signature's `usesVNNI`, or at
    /// prepare the weights' actual zero point).
    static func usesRowPairs(_ s: OpSignature, _ isa: octet_packed_isa, vnni: Bool) -> Bool {
        guard !vnni, var d = geometry(s), d.stride_w == 1, d.ow >= rowPairsMinimumWidth else { return false }
        return octet_packed_dwconv_rows_applies(isa, &d) != 0
    }

    init(_ s: OpSignature, _ c: OpConstants, _ w: Tensor, _ wQ: QuantParams, isa: octet_packed_isa, threads: Int) throws {
        guard let d = Self.geometry(s) else { throw PackedError.shape("invalid depthwise convolution \(s)") }
        let channels = d.channels, (kh, kw) = (d.kh, d.kw), taps = kh * kw
        stage = try OutputStage(s, c, columns: channels, weightParams: wQ)
        vnni = Self.usesVNNI(s, isa) && stage.bZeroPoint == 0
        rowPairs = Self.usesRowPairs(s, isa, vnni: vnni)
        let values = try w.scalars(as: Int8.self)
        let words = vnni ? octet_packed_dwconv_vnni_weight_words(channels, taps)
            : rowPairs ? octet_packed_dwconv_rows_weight_words(channels, kh, kw) : octet_packed_dwconv_weight_words(channels, taps)
        let packed = AlignedBuffer<Int32>(count: max(1, words))
        let (za, zb, biasS32, rowPairs, vnni) = (stage.aZeroPoint, stage.bZeroPoint, stage.biasS32, rowPairs, vnni)
        values.withUnsafeBufferPointer { v in
            withOptionalPointer(biasS32) { bias in
                if vnni {
                    octet_packed_pack_dwconv_vnni_weights(channels, taps, v.baseAddress, za, bias, packed.pointer)
                } else if rowPairs {
                    octet_packed_pack_dwconv_rows_weights(channels, kh, kw, v.baseAddress, zb, za, bias, packed.pointer)
                } else {
                    octet_packed_pack_dwconv_weights(channels, taps, v.baseAddress, zb, za, bias, packed.pointer)
                }
            }
        }
        weights = packed
        zeroRow = [UInt8](repeating: UInt8(clamping: stage.aZeroPoint), count: (channels + 15) / 16 * 16)
        geometry = Geometry(c: d)
        self.isa = isa
        self.threads = max(1, threads)
        input = s.input
        output = try s.outputShape.orThrow()
        outputType = s.outputType
        implementation = PackedISA.dwconv(isa, kh: kh, kw: kw, rowPairs: rowPairs, vnni: vnni)
    }

    /// Multiply-adds below which a second worker does not pay for its wake-up. A depthwise
    /// convolution does far fewer multiply-adds per second than a GEMM (loads and widening per
    /// product, no reuse across output channels: about 30 GMAC/s on one Zen 5 core), so its
    /// threshold is 2^16 (about 2 µs of work), an eighth of `PackedRunner.minimumWorkPerWorker`.
    /// MobileNetV2 INT8 on 2 threads, Zen 5: 1.10 ms with 2^20 (its
    /// 28 x 28 x 192 and smaller layers ran on one thread), 0.98 with 2^18, 0.955 here.
    static let minimumWorkPerWorker = 1 << 16

    /// One image; output rows `range` per call (`ow` pixels each).
    private struct Job: RangeTask, @unchecked Sendable {
        var shape: octet_packed_dwconv
        var isa: octet_packed_isa
        var rowPairs: Bool, vnni: Bool
        var x: UnsafePointer<UInt8>, c: UnsafeMutableRawPointer
        var out: UnsafePointer<octet_packed_output>
        var ow: Int

        func callAsFunction(_ range: Range<Int>) {
            var g = shape
            let (begin, end) = (range.lowerBound * ow, range.upperBound * ow)
            if vnni {
                _ = octet_packed_dwconv_vnni_nhwc(isa, &g, x, c, out, begin, end)
            } else if rowPairs {
                let bytes = octet_packed_dwconv_rows_scratch_bytes(&g)
                withUnsafeTemporaryAllocation(byteCount: bytes, alignment: 64) { scratch in
                    _ = octet_packed_dwconv_rows_nhwc(isa, &g, x, c, out, begin, end, scratch.baseAddress)
                }
            } else {
                octet_packed_dwconv_nhwc(isa, &g, x, c, out, begin, end)
            }
        }
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .u8, channelsLast: true)
        try checkOutput(out, output, outputType, channelsLast: true)
        let batch = input[0], (oh, ow) = (shape.oh, shape.ow)
        let inImage = shape.channels * shape.h * shape.w, outImage = shape.channels * oh * ow * (outputType == .f32 ? 4 : 1)
        try x.withUnsafeBufferPointer(as: UInt8.self) { src in
            try zeroRow.withUnsafeBufferPointer { zero in
                try withOutput(&out) { dst in
                    let xs = try base(src)
                    var d = shape
                    d.weights = UnsafePointer(weights.pointer)
                    d.zero = try base(zero)
                    stage.withC(columns: 0) { o in
                        for n in 0..<batch {
                            let job = Job(shape: d, isa: isa, rowPairs: rowPairs, vnni: vnni, x: xs + n * inImage, c: dst + n * outImage, out: o, ow: ow)
                            // Whole output rows per worker, at least `minimumWorkPerWorker` multiply-adds each.
                            let perRow = max(1, job.shape.channels * job.shape.kh * job.shape.kw * ow)
                            WorkerTeam.ranges(oh, threads: threads, minimumPerWorker: max(1, Self.minimumWorkPerWorker / perRow), job)
                        }
                    }
                }
            }
        }
    }
}

/// NCHW depthwise convolution (`u8s8s32-dwconv-nchw-scalar`): exact Σ(x − zp)(w − zp_w) per
/// window, the same fused output pipeline, channels split across threads. The planner runs
/// packed depthwise convolutions channels-last; this form serves NCHW callers.
struct PackedDepthwiseKernel: Kernel {
    let weights: [Int8]
    let stage: OutputStage
    let shape: octet_packed_depthwise_shape
    let threads: Int
    let input: TensorShape, output: TensorShape, outputType: DType
    var implementation: String { "u8s8s32-dwconv-nchw-scalar" }

    init(_ s: OpSignature, _ c: OpConstants, _ w: Tensor, _ wQ: QuantParams, threads: Int) throws {
        guard let g = s.convolution, let (oh, ow) = s.outputSpatial else { throw PackedError.shape("invalid depthwise convolution \(s)") }
        weights = try w.scalars(as: Int8.self)
        stage = try OutputStage(s, c, columns: s.input[1], weightParams: wQ)
        shape = octet_packed_depthwise_shape(h: s.input[2], w: s.input[3], kh: s.weight[2], kw: s.weight[3], oh: oh, ow: ow,
                                             stride_h: g.strideH, stride_w: g.strideW, pad_top: g.padTop, pad_left: g.padLeft,
                                             dilation_h: g.dilationH, dilation_w: g.dilationW)
        self.threads = max(1, threads)
        input = s.input
        output = try s.outputShape.orThrow()
        outputType = s.outputType
    }

    /// One image; channels `range` per call.
    private struct Job: RangeTask, @unchecked Sendable {
        var shape: octet_packed_depthwise_shape
        var x: UnsafePointer<UInt8>, w: UnsafePointer<Int8>, c: UnsafeMutableRawPointer
        var out: UnsafePointer<octet_packed_output>

        func callAsFunction(_ range: Range<Int>) {
            var g = shape
            octet_packed_depthwise(&g, x, w, c, out, range.lowerBound, range.upperBound)
        }
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .u8)
        try checkOutput(out, output, outputType)
        let (batch, channels) = (input[0], input[1])
        let inImage = channels * shape.h * shape.w, outImage = channels * shape.oh * shape.ow * (outputType == .f32 ? 4 : 1)
        try x.withUnsafeBufferPointer(as: UInt8.self) { src in
            try weights.withUnsafeBufferPointer { wp in
                try withOutput(&out) { dst in
                    let (xs, ws) = (try base(src), try base(wp))
                    stage.withC(columns: 0) { o in
                        for n in 0..<batch {
                            let job = Job(shape: shape, x: xs + n * inImage, w: ws, c: dst + n * outImage, out: o)
                            WorkerTeam.ranges(channels, threads: threads, job)
                        }
                    }
                }
            }
        }
    }
}
