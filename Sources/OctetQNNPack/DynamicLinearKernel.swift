import OctetCore
import OctetDispatch

/// Dynamic linear, the oracle: `[..., K] f32 · (N x K s8 or u8)ᵀ → [..., N] f32`.
///
/// The activation is quantized per call to u8 with PyTorch's observer parameters
/// (`QParamsSelection.choose` over the range widened to hold 0: scale = max((max − min) / 255,
/// ε), zero point = round-half-even(−min / scale) clamped to 0...255), each value by
/// `AffineQuantization.quantize` (multiplying by the reciprocal of the scale, as PyTorch).
/// With `perRowActivations` every row (the last dimension; leading dimensions flattened) gets
/// its own parameters from its own range; otherwise one pair covers the tensor. Then
/// With `reduceRange` (7-bit activations) the codes are 0...127 and scale = (max − min) / 127.
/// Then `y[m][n] = Float(Σ_k (q − zp_x) · (w − zp_w)) · (s_x · s_w[n]) + bias[n]`, clamped by the
/// fused ReLU / Clip, the scale product rounded to float first. Plain loops, no packing.
/// Throws `QNNPackError.shape` when the input holds NaN or an infinity.
struct ReferenceDynamicLinearKernel: Kernel {
    let weights: [Int32], weightZeroPoints: [Int32], weightScales: [Float]
    let bias: [Float]?
    let lo: Float, hi: Float
    let perRow: Bool
    /// 7-bit activation codes (PyTorch's `reduce_range`).
    let reduceRange: Bool
    let input: TensorShape, output: TensorShape
    let m: Int, k: Int, n: Int
    var implementation: String {
        "reference dynamic linear" + (perRow ? ", per-token activations" : "") + (reduceRange ? ", 7-bit" : "")
    }

    init(_ s: OpSignature, _ c: OpConstants) throws {
        (n, k) = (s.weight[0], s.weight[1])
        m = s.input.elementCount / max(k, 1)
        guard let w = c.weight, let wq = w.quantization else { throw QNNPackError.missing("the weight and its quantization parameters") }
        guard wq.scales.count == 1 || wq.scales.count == n else { throw QNNPackError.shape("\(wq.scales.count) weight scales for \(n) outputs") }
        weights = try QuantizedOperands.ints(w)
        weightScales = (0..<n).map { wq.scales.count == 1 ? wq.scales[0] : wq.scales[$0] }
        weightZeroPoints = (0..<n).map { wq.zeroPoints.count == 1 ? wq.zeroPoints[0] : wq.zeroPoints[$0] }
        if let b = c.bias {
            guard b.dtype == .f32, b.shape.elementCount == n else { throw QNNPackError.shape("dynamic linear needs an f32 bias of \(n) values, got \(b.shape) \(b.dtype)") }
            bias = try b.scalars(as: Float.self)
        } else {
            bias = nil
        }
        (lo, hi) = PostOp.realRange(of: s.postOps)
        perRow = s.quantization?.perRowActivations == true
        reduceRange = s.quantization?.reduceRange == true
        input = s.input
        output = try s.outputShape.orThrow("dynamic linear output shape")
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        guard let first = inputs.first, first.shape == input, first.dtype == .f32 else {
            throw QNNPackError.shape("dynamic linear input 0 must be \(input) f32, got \(inputs.first.map { "\($0.shape) \($0.dtype)" } ?? "none")")
        }
        let x = try first.scalars(as: Float.self)
        try checkOutput(out, output, .f32)
        guard x.allSatisfy(\.isFinite) else { throw QNNPackError.shape("dynamic linear: the input holds NaN or an infinity") }
        var y = [Float](repeating: 0, count: m * n)
        let groups = perRow ? m : 1, rowsPerGroup = perRow ? 1 : m
        for group in 0..<groups {
            let values = x[(group * rowsPerGroup * k)..<((group + 1) * rowsPerGroup * k)]
            let q = try QParamsSelection.choose(min: values.min() ?? 0, max: values.max() ?? 0, dtype: .u8, reduceRange: reduceRange)
            let (scale, zp) = (q.scale(), q.zeroPoint())
            let xq = values.map { AffineQuantization.quantize($0, scale: scale, zeroPoint: zp, qmin: 0, qmax: reduceRange ? 127 : 255) }
            for r in 0..<rowsPerGroup {
                let i = group * rowsPerGroup + r
                for j in 0..<n {
                    var acc: Int64 = 0
                    for kk in 0..<k { acc += Int64(xq[r * k + kk] - zp) * Int64(weights[j * k + kk] - weightZeroPoints[j]) }
                    let v = Float(acc) * (scale * weightScales[j]) + (bias?[j] ?? 0)
                    y[i * n + j] = min(max(v, lo), hi)
                }
            }
        }
        out = try Tensor(y, shape: output)
    }
}
