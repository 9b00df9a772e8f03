import COctetPackedKernels
import OctetCore
import OctetDispatch

/// Channels-last (NHWC) convolution with no im2col: the GEMM's rows are output pixels and
/// its K is (tap, input channel of the group), in the image's own memory order.
/// - 1x1, stride 1, no padding: a plain GEMM over the image (M = N·H·W rows of C bytes),
///   one per group, writing the NHWC output in place (`ldc` = output channels).
/// - otherwise: an indirection buffer built at prepare for the planned shape (per output
///   pixel and tap, the byte offset of the input row, or the zero-point row for padding)
///   from which the A packing gathers rows directly.
/// Weights are packed at prepare in (tap, channel) order, per group.
struct PackedChannelsLastConvKernel: Kernel {
    let groupWeights: [PackedMatrix]
    let stage: OutputStage
    let runner: PackedRunner
    let pool: ScratchPool
    /// Output pixels x taps byte offsets into one image (nil: the 1x1 direct form).
    let offsets: [Int32]?
    let zeroRow: [UInt8]
    let groups: Int, taps: Int
    let input: TensorShape, output: TensorShape, outputType: DType
    var implementation: String { PackedISA.conv(runner.isa, form: offsets == nil ? "1x1" : "indirect", runner.format) }

    /// True when the convolution is a plain GEMM over the NHWC image.
    static func isDirect(_ s: OpSignature) -> Bool {
        guard let g = s.convolution else { return false }
        return s.weight[2] == 1 && s.weight[3] == 1 && g.strideH == 1 && g.strideW == 1 && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0
    }

    init(_ s: OpSignature, _ c: OpConstants, _ w: Tensor, _ wQ: QuantParams, runner: PackedRunner) throws {
        guard let g = s.convolution, let oc = s.outputChannels else { throw PackedError.shape("invalid convolution \(s)") }
        let (channels, h, wd) = (s.input[1], s.input[2], s.input[3])
        let (kh, kw) = (s.weight[2], s.weight[3])
        groups = g.groups
        taps = kh * kw
        let cg = channels / groups, ocg = oc / groups, kg = cg * taps
        // (oc, c, ky, kx) → (oc, tap, c): K runs in the NHWC gather's order.
        let source = try w.scalars(as: Int8.self)
        var reordered = [Int8](repeating: 0, count: source.count)
        for o in 0..<oc { for ch in 0..<cg { for t in 0..<taps { reordered[o * kg + t * cg + ch] = source[(o * cg + ch) * taps + t] } } }
        groupWeights = try reordered.withUnsafeBufferPointer { p in
            try PackedMatrix.groups(g.groups, k: kg, n: ocg, weights: p, format: runner.format)
        }
        stage = try OutputStage(s, c, columns: oc, weightParams: wQ)
        self.runner = runner
        input = s.input
        output = try s.outputShape.orThrow()
        outputType = s.outputType
        let (oh, ow) = (output[2], output[3])
        zeroRow = [UInt8](repeating: UInt8(clamping: stage.aZeroPoint), count: max(cg, 1))
        if Self.isDirect(s) {
            offsets = nil
            pool = try ScratchPool(runner.scratch(m: s.input[0] * h * wd, k: kg, n: ocg).sizes, budget: runner.budget)
        } else {
            guard h * wd * channels < Int(Int32.max) else { throw PackedError.unsupported("an input image of \(h * wd * channels) bytes exceeds the indirection buffer's 32-bit offsets") }
            try runner.budget.check(factors: [oh, ow, taps], of: 4, for: "the indirection table (\(oh) x \(ow) output pixels x \(taps) taps)")
            var table = [Int32](repeating: -1, count: oh * ow * taps)
            for oy in 0..<oh { for ox in 0..<ow { for ky in 0..<kh { for kx in 0..<kw {
                let iy = oy * g.strideH - g.padTop + ky * g.dilationH, ix = ox * g.strideW - g.padLeft + kx * g.dilationW
                if iy >= 0 && iy < h && ix >= 0 && ix < wd { table[(oy * ow + ox) * taps + ky * kw + kx] = Int32((iy * wd + ix) * channels) }
            } } } }
            offsets = table
            pool = try ScratchPool(runner.scratch(m: oh * ow, k: kg, n: ocg).sizes, budget: runner.budget)
        }
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .u8, channelsLast: true)
        try checkOutput(out, output, outputType, channelsLast: true)
        // A fused residual sum's operand: the output's shape, type and layout.
        let sumInput = stage.sum == nil ? nil : try checked(inputs, 1, output, .u8, channelsLast: true)
        try x.withUnsafeBufferPointer(as: UInt8.self) { src in
            try zeroRow.withUnsafeBufferPointer { zp in
                try convolve(try base(src), activation: nil, zeroRow: try base(zp), sum: sumInput, output: &out)
            }
        }
    }

    /// The convolution of the u8 NHWC image at `src` (the planned input shape) into `out`
    /// (checked by the caller); `zeroRow` holds the padding's code for a group's channels (at
    /// least `channels / groups` bytes). `activation`: the call's own zero point and scales
    /// (the dynamic convolution, `PackedDynamicConvKernel`, which passes a zero row of its
    /// zero point); `nil`: the planned ones.
    func convolve(_ xs: UnsafePointer<UInt8>, activation: OutputStage.CallActivation?, zeroRow zero: UnsafePointer<UInt8>,
                  sum sumInput: Tensor?, output out: inout Tensor) throws {
        let (batch, channels, h, w) = (input[0], input[1], input[2], input[3])
        let (oc, oh, ow) = (output[1], output[2], output[3])
        let cg = channels / groups, ocg = oc / groups
        let elementSize = outputType == .f32 ? 4 : 1
        try pool.with { buf in
            try withOutput(&out) { dst in try withOptionalBytes(sumInput) { sumValues in
                let operand = sumValues.map { OutputStage.SumOperand(values: $0, origin: UnsafeRawPointer(dst)) }
                for group in 0..<groups {
                    try stage.withC(columns: group * ocg, sum: operand, activation: activation) { o in
                        let c = dst + group * ocg * elementSize
                        guard let offsets else {
                            guard runner.gemm(m: batch * h * w, source: directSource(xs + group * cg, lda: channels), b: groupWeights[group],
                                        c: c, ldc: oc, elementSize: elementSize, output: o, buffers: buf) else { throw PackedRunner.sevenBitViolation }
                            return
                        }
                        try offsets.withUnsafeBufferPointer { table in
                            for n in 0..<batch {
                                let source = octet_packed_a_source(x: xs + n * h * w * channels + group * cg, xf: nil, lda: 0, offsets: table.baseAddress,
                                                                   taps: taps, channels: cg, zero: zero, inv_scale: 0, zero_point: 0,
                                                                   row_scales: nil, row_zero_points: nil)
                                guard runner.gemm(m: oh * ow, source: source, b: groupWeights[group], c: c + n * oh * ow * oc * elementSize,
                                            ldc: oc, elementSize: elementSize, output: o, buffers: buf) else { throw PackedRunner.sevenBitViolation }
                            }
                        }
                    }
                }
            } }
        }
    }
}
