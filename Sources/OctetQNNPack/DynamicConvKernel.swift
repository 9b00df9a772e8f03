import OctetCore
import OctetDispatch

/// Dynamic convolution, the oracle: `N x C x H x W f32 ⊛ (M x C/g x KH x KW, s8 or u8) →
/// N x M x OH x OW f32` (NCHW), any strides, pads, dilations and groups.
///
/// What ONNX Runtime's `quantize_dynamic` chain computes, `DynamicQuantizeLinear` →
/// `ConvInteger` → `Cast` → `Mul(x_scale · w_scale)` (→ `Add` bias): the whole input is
/// quantized per call to u8 with ONNX's parameters (`ONNXDynamicQuantization`: range widened to
/// hold 0, scale = (max − min) / 255, zero point = round-half-even(clamp(−min / scale, 0, 255)))
/// by `AffineQuantization.quantizeDividing` (x / scale, rounded half to even, plus the zero
/// point, saturated); then `y[n][m][p] = Float(Σ (q − zp_x)·(w − zp_w[m])) · (s_x · s_w[m]) +
/// bias[m]`, the sum over the group's input channels and the taps inside the image (padding
/// holds zp_x, so it adds nothing), the scale product rounded to float first, clamped by a
/// fused ReLU / Clip. Plain loops over the NCHW tensors, no packing, no indirection.
/// Throws `QNNPackError.shape` when the input holds NaN or an infinity.
struct ReferenceDynamicConvKernel: Kernel {
    /// Weights as stored (`[m][c][ky][kx]`), per-output-channel zero points and scales.
    let weights: [Int32], weightZeroPoints: [Int32], weightScales: [Float]
    let bias: [Float]?
    let lo: Float, hi: Float
    let geometry: ConvolutionGeometry
    let input: TensorShape, output: TensorShape
    let kh: Int, kw: Int
    var implementation: String { "reference dynamic conv (ONNX DynamicQuantizeLinear)" }

    init(_ s: OpSignature, _ c: OpConstants) throws {
        guard let g = s.convolution, let oc = s.outputChannels, s.input.rank == 4, s.weight.rank == 4 else {
            throw QNNPackError.shape("invalid dynamic convolution \(s)")
        }
        guard let w = c.weight, let wq = w.quantization, w.shape == s.weight else {
            throw QNNPackError.missing("the weight of shape \(s.weight) and its quantization parameters")
        }
        guard wq.scales.count == 1 || wq.scales.count == oc, wq.zeroPoints.count == 1 || wq.zeroPoints.count == oc else {
            throw QNNPackError.shape("\(wq.scales.count) weight scales and \(wq.zeroPoints.count) zero points for \(oc) output channels")
        }
        weights = try QuantizedOperands.ints(w)
        weightScales = (0..<oc).map { wq.scales.count == 1 ? wq.scales[0] : wq.scales[$0] }
        weightZeroPoints = (0..<oc).map { wq.zeroPoints.count == 1 ? wq.zeroPoints[0] : wq.zeroPoints[$0] }
        if let b = c.bias {
            guard b.dtype == .f32, b.shape.elementCount == oc else { throw QNNPackError.shape("dynamic conv needs an f32 bias of \(oc) values, got \(b.shape) \(b.dtype)") }
            bias = try b.scalars(as: Float.self)
        } else {
            bias = nil
        }
        (lo, hi) = PostOp.realRange(of: s.postOps)
        geometry = g
        (kh, kw) = (s.weight[2], s.weight[3])
        input = s.input
        output = try s.outputShape.orThrow("dynamic conv output shape")
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        guard let first = inputs.first, first.shape == input, first.dtype == .f32, first.layout != .nhwc else {
            throw QNNPackError.shape("dynamic conv input 0 must be \(input) f32 NCHW, got \(inputs.first.map { "\($0.shape) \($0.dtype) \($0.layout)" } ?? "none")")
        }
        let x = try first.scalars(as: Float.self)
        try checkOutput(out, output, .f32)
        guard x.allSatisfy(\.isFinite) else { throw QNNPackError.shape("dynamic conv: the input holds NaN or an infinity") }
        let (scale, zp) = ONNXDynamicQuantization.parameters(min: x.min() ?? 0, max: x.max() ?? 0)
        let centered = x.map { AffineQuantization.quantizeDividing($0, scale: scale, zeroPoint: zp, qmin: 0, qmax: 255) - zp }
        let g = geometry
        let (batch, channels, h, w) = (input[0], input[1], input[2], input[3])
        let (oc, oh, ow) = (output[1], output[2], output[3])
        let cg = channels / g.groups, ocg = oc / g.groups
        var y = [Float](repeating: 0, count: output.elementCount)
        for n in 0..<batch {
            for m in 0..<oc {
                let first = (m / ocg) * cg, wz = weightZeroPoints[m]
                let s = scale * weightScales[m]
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var acc: Int64 = 0
                        for ch in 0..<cg {
                            for ky in 0..<kh {
                                let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                                guard iy >= 0 && iy < h else { continue }
                                for kx in 0..<kw {
                                    let ix = ox * g.strideW - g.padLeft + kx * g.dilationW
                                    guard ix >= 0 && ix < w else { continue }
                                    let q = centered[((n * channels + first + ch) * h + iy) * w + ix]
                                    acc += Int64(q) * Int64(weights[((m * cg + ch) * kh + ky) * kw + kx] - wz)
                                }
                            }
                        }
                        let v = Float(acc) * s + (bias?[m] ?? 0)
                        y[((n * oc + m) * oh + oy) * ow + ox] = min(max(v, lo), hi)
                    }
                }
            }
        }
        out = try Tensor(y, shape: output)
    }
}
