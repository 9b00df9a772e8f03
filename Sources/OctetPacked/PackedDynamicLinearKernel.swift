import COctetPackedKernels
import OctetCore
import OctetDispatch

/// Dynamic quantization of a linear layer (`f32u8s8-dqgemm-6x16-avx2`): s8 weights packed at
/// prepare; each call finds the input's range in one vector pass (refusing NaN/Inf), chooses
/// u8 parameters as PyTorch's observers do (the `QParamsSelection.choose` formula), then each
/// GEMM task quantizes and packs its own rows with their sums (no u8 copy of the input), and
/// the store dequantizes with `s_x · s_w[n]`, adds the f32 bias and clamps (ReLU/Clip).
/// Nothing is allocated per call; M and N are both split across threads.
struct PackedDynamicLinearKernel: Kernel {
    let weights: PackedMatrix
    let weightScales: [Float], weightZeroPoint: Int32
    let bias: [Float]?
    let lo: Float, hi: Float
    let runner: PackedRunner
    let pool: ScratchPool
    let input: TensorShape, output: TensorShape
    var implementation: String { "f32u8s8-dqgemm-\(OCTET_PACKED_MR)x\(OCTET_PACKED_NR)-\(PackedISA.suffix(runner.isa))" }

    init(_ s: OpSignature, _ c: OpConstants, _ w: Tensor, _ wQ: QuantParams, runner: PackedRunner) throws {
        let (n, k) = (s.weight[0], s.weight[1])
        guard wQ.scales.count == 1 || wQ.scales.count == n else { throw PackedError.shape("\(wQ.scales.count) weight scales for \(n) outputs") }
        weights = try w.withUnsafeBufferPointer(as: Int8.self) { p in PackedMatrix(k: k, n: n, source: try base(p), nStride: k, kStride: 1) }
        weightScales = (0..<n).map { wQ.scale(channel: wQ.scales.count == 1 ? 0 : $0) }
        weightZeroPoint = wQ.zeroPoint()
        bias = try c.bias.map { b in
            guard b.dtype == .f32, b.shape.elementCount == n else { throw PackedError.shape("dynamic linear needs an f32 bias of \(n) values") }
            return try b.scalars(as: Float.self) + [Float](repeating: 0, count: 16) // padded: the store reads whole panels
        }
        (lo, hi) = PostOp.realRange(of: s.postOps)
        self.runner = runner
        input = s.input
        output = try s.outputShape.orThrow()
        var sizes = runner.scratch(m: s.input.elementCount / max(k, 1), k: k, n: n).sizes
        sizes.staging = n + 16
        pool = ScratchPool(sizes)
    }

    /// PyTorch's asymmetric u8 parameters for [lo, hi] (`QParamsSelection.choose`), without
    /// building a `QuantParams` (no allocation).
    static func parameters(min lo: Float, max hi: Float) -> (scale: Float, zeroPoint: Int32) {
        let minNeg = Swift.min(lo, 0), maxPos = Swift.max(hi, 0)
        let scale = Swift.max((maxPos - minNeg) / 255, Float.ulpOfOne)
        return (scale, AffineQuantization.saturatingRound(-(minNeg / scale), zeroPoint: 0, qmin: 0, qmax: 255))
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .f32)
        try checkOutput(out, output, .f32)
        let (k, n) = (weights.k, weights.n), m = input.elementCount / max(k, 1)
        try pool.with { buf in
            try x.withUnsafeBufferPointer(as: Float.self) { v in
                let xs = try base(v)
                var lo: Float = 0, hi: Float = 0
                guard octet_packed_f32_range(runner.isa, v.count, xs, &lo, &hi) == 0 else {
                    throw PackedError.shape("dynamic quantization: the input holds NaN or an infinity")
                }
                let (scale, zp) = Self.parameters(min: lo, max: hi)
                for j in 0..<n { buf.staging.pointer[j] = scale * weightScales[j] }
                let source = octet_packed_a_source(x: nil, xf: xs, lda: k, offsets: nil, taps: 0, channels: 0, zero: nil, inv_scale: 1 / scale, zero_point: zp)
                try withOutput(&out) { c in
                    withOptionalPointer(bias) { bp in
                        var o = octet_packed_output(a_zero_point: zp, b_zero_point: weightZeroPoint, bias_s32: nil, bias_f32: nil, multiplier: nil,
                                                    out_zero_point: 0, qmin: 0, qmax: 0, dequant_scale: buf.staging.pointer, bias_real: bp,
                                                    lo: self.lo, hi: self.hi, to_f32: 1)
                        runner.gemm(m: m, source: source, b: weights, c: c, ldc: n, elementSize: 4, output: &o, buffers: buf)
                    }
                }
            }
        }
    }
}
