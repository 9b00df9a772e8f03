import COctetPackedKernels
import OctetCore
import OctetDispatch

/// NCHW convolution (any groups, strides, pads, dilations) through im2col per image and
/// group, then the GEMM; the output is transposed back to planes. Channels-last
/// convolutions take `PackedChannelsLastConvKernel`, which needs neither step.
struct PackedConvKernel: Kernel {
    let groupWeights: [PackedMatrix]
    let stage: OutputStage
    let runner: PackedRunner
    let pool: ScratchPool
    let geometry: ConvolutionGeometry
    let input: TensorShape, output: TensorShape, outputType: DType
    let kh: Int, kw: Int
    var implementation: String { "u8-im2col-nchw + " + PackedISA.gemm(runner.isa, runner.format) }

    init(_ s: OpSignature, _ c: OpConstants, _ w: Tensor, _ wQ: QuantParams, runner: PackedRunner) throws {
        guard let g = s.convolution, let oc = s.outputChannels else { throw PackedError.shape("invalid convolution \(s)") }
        geometry = g
        (kh, kw) = (s.weight[2], s.weight[3])
        let ocg = oc / g.groups, kg = s.weight[1] * kh * kw
        groupWeights = try w.withUnsafeBufferPointer(as: Int8.self) { p in
            try PackedMatrix.groups(g.groups, k: kg, n: ocg, weights: p, format: runner.format)
        }
        stage = try OutputStage(s, c, columns: oc, weightParams: wQ)
        self.runner = runner
        input = s.input
        output = try s.outputShape.orThrow()
        outputType = s.outputType
        let pixels = output[2] * output[3]
        var sizes = runner.scratch(m: pixels, k: kg, n: ocg).sizes
        sizes.columns = pixels * kg
        sizes.staging = pixels * ocg
        pool = try ScratchPool(sizes, budget: runner.budget)
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .u8)
        try checkOutput(out, output, outputType)
        // A fused residual sum's operand (NCHW, the output's shape): each group's planes are
        // gathered into the staging order (pixel x channel) the GEMM's store reads.
        let sumInput = stage.sum == nil ? nil : try checked(inputs, 1, output, .u8)
        try x.withUnsafeBufferPointer(as: UInt8.self) { src in try convolve(try base(src), activation: nil, sum: sumInput, output: &out) }
    }

    /// The convolution of the u8 NCHW image at `src` (the planned input shape) into `out`
    /// (checked by the caller). `activation`: the call's own zero point and scales (the
    /// dynamic convolution, `PackedDynamicConvKernel`), which also fills the padding; `nil`:
    /// the planned ones.
    func convolve(_ src: UnsafePointer<UInt8>, activation: OutputStage.CallActivation?, sum sumInput: Tensor?, output out: inout Tensor) throws {
        let g = geometry
        let (batch, channels, h, w) = (input[0], input[1], input[2], input[3])
        let (oc, oh, ow) = (output[1], output[2], output[3])
        let cg = channels / g.groups, ocg = oc / g.groups, kg = cg * kh * kw, pixels = oh * ow
        let pad = UInt8(clamping: activation?.zeroPoint ?? stage.aZeroPoint)
        let toF32 = outputType == .f32
        try pool.with { buf in
            try withOutput(&out) { dst in try withOptionalBytes(sumInput) { sumValues in
                for n in 0..<batch {
                    for group in 0..<g.groups {
                        let col = buf.columns.pointer
                        var j = 0
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                for c in 0..<cg {
                                    let plane = (n * channels + group * cg + c) * h * w
                                    for ky in 0..<kh {
                                        let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                                        for kx in 0..<kw {
                                            let ix = ox * g.strideW - g.padLeft + kx * g.dilationW
                                            col[j] = iy >= 0 && iy < h && ix >= 0 && ix < w ? src[plane + iy * w + ix] : pad
                                            j += 1
                                        }
                                    }
                                }
                            }
                        }
                        let staging = UnsafeMutableRawPointer(buf.staging.pointer)
                        var operand: OutputStage.SumOperand?
                        if let sumValues {
                            // u8 staging takes pixels·ocg of the buffer's 4·pixels·ocg bytes: the operand goes after it.
                            let gathered = staging.assumingMemoryBound(to: UInt8.self) + pixels * ocg
                            for ch in 0..<ocg {
                                let plane = sumValues + (n * oc + group * ocg + ch) * pixels
                                for p in 0..<pixels { gathered[p * ocg + ch] = plane[p] }
                            }
                            operand = OutputStage.SumOperand(values: gathered, origin: UnsafeRawPointer(staging))
                        }
                        try stage.withC(columns: group * ocg, sum: operand, activation: activation) { o in
                            guard runner.gemm(m: pixels, source: directSource(col, lda: kg), b: groupWeights[group], c: staging, ldc: ocg,
                                        elementSize: toF32 ? 4 : 1, output: o, buffers: buf) else { throw PackedRunner.sevenBitViolation }
                        }
                        for ch in 0..<ocg {
                            let plane = (n * oc + group * ocg + ch) * pixels
                            if toF32 {
                                let from = buf.staging.pointer, to = dst.assumingMemoryBound(to: Float.self)
                                for p in 0..<pixels { to[plane + p] = from[p * ocg + ch] }
                            } else {
                                let from = staging.assumingMemoryBound(to: UInt8.self), to = dst.assumingMemoryBound(to: UInt8.self)
                                for p in 0..<pixels { to[plane + p] = from[p * ocg + ch] }
                            }
                        }
                    }
                }
            } }
        }
    }
}
