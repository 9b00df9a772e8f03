import COctetPackedKernels
import OctetCore
import OctetDispatch

/// Dynamic quantization of a linear layer, `[..., K] f32 · (N x K s8)ᵀ → [..., N] f32`: s8
/// weights packed at prepare; activations quantized to u8 per call with PyTorch's observer
/// formula (`QParamsSelection.choose`, `octet_packed_dynamic_parameters`).
///  - per tensor (`f32u8s8-dqgemm-6x16-avx2`): one vector pass finds the whole input's range
///    (refusing NaN/Inf) and chooses one (s_x, zp); each GEMM task quantizes and packs its own
///    rows with their sums; the store computes `Σ(q − zp)(w − zp_w) · (s_x · s_w[n])`.
///  - per row, i.e. per token (`f32u8s8-dqgemm-pertoken-6x16-avx2`, `perRowActivations`): no
///    separate pass; the packing finds each row's range, chooses its (s_x[m], zp[m]) and
///    quantizes it while the row is in L1; the store uses zp[m] in the row/column-sum
///    correction and `(s_x[m] · s_w[n])` as the scale.
/// With 7-bit activations (`reduce_range` in the signature, planned where the `vpmaddubsw`
/// k-quad kernel is faster: AVX2 without VNNI) the codes are [0, 127] (scale = range / 127) and
/// the packing writes them in k-quads for `u7s8s32-gemm-6x16c4` (`f32u7s8-dqgemm-…-6x16c4-avx2`).
/// With VNNI the codes are [0, 255] in k-quads for `vpdpbusd` (`f32u8s8-dqgemm-…-8x32c4-avx512vnni`).
/// Then the f32 bias is added and ReLU/Clip clamp. Throws `PackedError` when the input holds
/// NaN or an infinity. Nothing is allocated per call; M and N are both split across threads.
struct PackedDynamicLinearKernel: Kernel {
    let weights: PackedMatrix
    let weightScales: [Float], weightZeroPoint: Int32
    let bias: [Float]?
    let lo: Float, hi: Float
    let runner: PackedRunner
    let pool: ScratchPool
    let input: TensorShape, output: TensorShape
    /// One activation scale per row (per token) instead of one per call.
    let perRow: Bool
    /// `weightScales` padded for the store (the per-row form's per-column scale).
    let paddedWeightScales: [Float]
    var implementation: String { PackedISA.dqgemm(runner.isa, perToken: perRow, sevenBit: runner.dynamicCodeMax == 127, runner.format) }

    init(_ s: OpSignature, _ c: OpConstants, _ w: Tensor, _ wQ: QuantParams, runner: PackedRunner) throws {
        let (n, k) = (s.weight[0], s.weight[1])
        guard wQ.scales.count == 1 || wQ.scales.count == n else { throw PackedError.shape("\(wQ.scales.count) weight scales for \(n) outputs") }
        weights = try w.withUnsafeBufferPointer(as: Int8.self) { p in PackedMatrix(k: k, n: n, source: try base(p), nStride: k, kStride: 1, format: runner.format) }
        weightScales = (0..<n).map { wQ.scale(channel: wQ.scales.count == 1 ? 0 : $0) }
        weightZeroPoint = wQ.zeroPoint()
        paddedWeightScales = OutputStage.padded(weightScales)
        perRow = s.quantization?.perRowActivations == true
        bias = try c.bias.map { b in
            guard b.dtype == .f32, b.shape.elementCount == n else { throw PackedError.shape("dynamic linear needs an f32 bias of \(n) values") }
            return try b.scalars(as: Float.self) + [Float](repeating: 0, count: 16) // padded: the store reads whole panels
        }
        (lo, hi) = PostOp.realRange(of: s.postOps)
        var runner = runner
        runner.dynamicCodeMax = s.quantization?.reduceRange == true ? 127 : 255 // 7-bit activations: [0, 127]
        self.runner = runner
        input = s.input
        output = try s.outputShape.orThrow()
        var sizes = runner.scratch(m: s.input.elementCount / max(k, 1), k: k, n: n).sizes
        sizes.staging = n + 16
        pool = try ScratchPool(sizes, budget: runner.budget)
    }

    static let nonFinite = PackedError.shape("dynamic quantization: the input holds NaN or an infinity")

    /// PyTorch's asymmetric parameters for [lo, hi] and codes [0, qmax] (`QParamsSelection.choose`,
    /// 7-bit with `reduceRange`), without building a `QuantParams` (no allocation).
    static func parameters(min lo: Float, max hi: Float, qmax: Int32 = 255) -> (scale: Float, zeroPoint: Int32) {
        let minNeg = Swift.min(lo, 0), maxPos = Swift.max(hi, 0)
        let scale = Swift.max((maxPos - minNeg) / Float(qmax), Float.ulpOfOne)
        return (scale, AffineQuantization.saturatingRound(-(minNeg / scale), zeroPoint: 0, qmin: 0, qmax: qmax))
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .f32)
        try checkOutput(out, output, .f32)
        let (k, n) = (weights.k, weights.n), m = input.elementCount / max(k, 1)
        try pool.with { buf in
            try x.withUnsafeBufferPointer(as: Float.self) { v in
                let xs = try base(v)
                var (scale, zp): (Float, Int32) = (1, 0)
                if !perRow {
                    var lo: Float = 0, hi: Float = 0
                    guard octet_packed_f32_range(runner.isa, v.count, xs, &lo, &hi) == 0 else { throw Self.nonFinite }
                    (scale, zp) = Self.parameters(min: lo, max: hi, qmax: runner.dynamicCodeMax)
                    for j in 0..<n { buf.staging.pointer[j] = scale * weightScales[j] }
                }
                let source = octet_packed_a_source(x: nil, xf: xs, lda: k, offsets: nil, taps: 0, channels: 0, zero: nil, inv_scale: 1 / scale, zero_point: zp,
                                                   row_scales: nil, row_zero_points: nil)
                let finite = try withOutput(&out) { c in
                    paddedWeightScales.withUnsafeBufferPointer { ws in
                        withOptionalPointer(bias) { bp in
                            var o = octet_packed_output(a_zero_point: zp, b_zero_point: weightZeroPoint, bias_s32: nil, bias_f32: nil, multiplier: nil,
                                                        out_zero_point: 0, qmin: 0, qmax: 0, dequant_scale: perRow ? ws.baseAddress : UnsafePointer(buf.staging.pointer),
                                                        bias_real: bp, lo: self.lo, hi: self.hi, to_f32: 1, row_scales: nil, row_zero_points: nil, sum: nil)
                            return runner.gemm(m: m, source: source, b: weights, c: c, ldc: n, elementSize: 4, output: &o, buffers: buf, perRowActivations: perRow)
                        }
                    }
                }
                guard finite else { throw Self.nonFinite }
            }
        }
    }
}
