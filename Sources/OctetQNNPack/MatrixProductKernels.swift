import OctetCore
import OctetDispatch

/// Linear: `out[m][n] = Σ_k (x[m][k] − zp_x) · (w[n][k] − zp_w[n])`, then requantized.
struct ReferenceLinearKernel: Kernel {
    let setup: MatrixProductSetup
    let input: TensorShape, output: TensorShape
    let m: Int, k: Int, n: Int
    let implementation: String

    init(_ s: OpSignature, _ c: OpConstants, style: RequantizationStyle) throws {
        let (n, k) = (s.weight[0], s.weight[1])
        setup = try MatrixProductSetup(s, c, style: style, channels: n) { $0 / k }
        (self.n, self.k, m) = (n, k, s.input.elementCount / k)
        input = s.input
        output = try s.outputShape.orThrow("linear output shape")
        implementation = "reference linear, requant=\(style.rawValue)"
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try QuantizedOperands.ints(try checkInput(inputs, 0, input))
        try checkOutput(out, output, setup.outputType)
        let zx = setup.inputZeroPoint, w = setup.weights
        var acc = [Int32](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum: Int32 = 0
                for kk in 0..<k { sum = sum &+ (x[i * k + kk] - zx) &* w[j * k + kk] }
                acc[i * n + j] = sum
            }
        }
        try setup.store(acc, channel: { $0 % n }, into: &out)
    }
}

/// Batched matmul of two activations: `[b..., M, K] · [b..., K, N]` (the second may have
/// batch 1, shared), per-tensor parameters for both.
struct ReferenceMatmulKernel: Kernel {
    let setup: MatrixProductSetup
    let secondZeroPoint: Int32
    let input: TensorShape, second: TensorShape, output: TensorShape
    let batches: Int, secondBatches: Int, m: Int, k: Int, n: Int
    let implementation: String

    init(_ s: OpSignature, _ c: OpConstants, style: RequantizationStyle) throws {
        guard let bq = c.otherInputQuantizations.first else { throw QNNPackError.missing("the second operand's quantization parameters") }
        setup = try MatrixProductSetup(s, c, style: style, channels: s.weight[-1], secondOperand: bq) { _ in 0 }
        secondZeroPoint = bq.zeroPoint()
        input = s.input
        second = s.weight
        output = try s.outputShape.orThrow("matmul output shape")
        (m, k, n) = (s.input[-2], s.input[-1], s.weight[-1])
        batches = s.input.dims.dropLast(2).reduce(1, *)
        secondBatches = s.weight.dims.dropLast(2).reduce(1, *)
        guard secondBatches == 1 || secondBatches == batches else {
            throw QNNPackError.shape("matmul second operand \(s.weight) has \(secondBatches) batches, the first has \(batches)")
        }
        implementation = "reference matmul, requant=\(style.rawValue)"
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let a = try QuantizedOperands.ints(try checkInput(inputs, 0, input))
        let b = try QuantizedOperands.ints(try checkInput(inputs, 1, second))
        try checkOutput(out, output, setup.outputType)
        let za = setup.inputZeroPoint, zb = secondZeroPoint
        var acc = [Int32](repeating: 0, count: batches * m * n)
        for bi in 0..<batches {
            let bo = (secondBatches == 1 ? 0 : bi) * k * n
            for i in 0..<m {
                for j in 0..<n {
                    var sum: Int32 = 0
                    for kk in 0..<k { sum = sum &+ (a[(bi * m + i) * k + kk] - za) &* (b[bo + kk * n + j] - zb) }
                    acc[(bi * m + i) * n + j] = sum
                }
            }
        }
        try setup.store(acc, channel: { $0 % n }, into: &out)
    }
}

/// Convolution (groups, depthwise, strides, pads, dilations) through QNNPACK's
/// indirection buffer: for each output pixel and kernel tap, the index of the input
/// pixel in an NHWC image, or of a shared row of zero points for padding.
struct ReferenceConvKernel: Kernel {
    let setup: MatrixProductSetup
    let input: TensorShape, output: TensorShape
    let channels: Int, outChannels: Int, groups: Int, taps: Int, pixels: Int
    /// `[pixel][tap]` → input pixel index (y·W + x), or `H·W` for the zero row.
    let indirection: [Int32]
    /// Weights as `[oc][tap][c]`, zero points removed, to walk NHWC rows.
    let weightsByTap: [Int32]
    let implementation: String

    init(_ s: OpSignature, _ c: OpConstants, style: RequantizationStyle) throws {
        guard let g = s.convolution, let (oh, ow) = s.outputSpatial, let oc = s.outputChannels else {
            throw QNNPackError.shape("invalid convolution \(s)")
        }
        let (kh, kw, cg) = (s.weight[2], s.weight[3], s.weight[1])
        let perChannel = cg * kh * kw
        setup = try MatrixProductSetup(s, c, style: style, channels: oc) { $0 / perChannel }
        input = s.input
        output = try s.outputShape.orThrow("conv output shape")
        (channels, outChannels, groups, taps, pixels) = (s.input[1], oc, g.groups, kh * kw, oh * ow)
        let (h, w) = (s.input[2], s.input[3])
        var ind = [Int32](repeating: Int32(h * w), count: oh * ow * kh * kw)
        for oy in 0..<oh {
            for ox in 0..<ow {
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                        let ix = ox * g.strideW - g.padLeft + kx * g.dilationW
                        if iy >= 0, iy < h, ix >= 0, ix < w { ind[((oy * ow + ox) * kh + ky) * kw + kx] = Int32(iy * w + ix) }
                    }
                }
            }
        }
        indirection = ind
        var byTap = [Int32](repeating: 0, count: setup.weights.count)
        for o in 0..<oc {
            for ch in 0..<cg {
                for t in 0..<(kh * kw) { byTap[(o * kh * kw + t) * cg + ch] = setup.weights[(o * cg + ch) * kh * kw + t] }
            }
        }
        weightsByTap = byTap
        implementation = "reference conv (indirection buffer), requant=\(style.rawValue)"
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try QuantizedOperands.ints(try checkInput(inputs, 0, input))
        try checkOutput(out, output, setup.outputType)
        let (batch, h, w) = (input[0], input[2], input[3])
        let cg = channels / groups, ocg = outChannels / groups, hw = h * w
        var acc = [Int32](repeating: 0, count: batch * outChannels * pixels)
        // NHWC image plus one zero-point row at index H·W, built per call.
        var image = [Int32](repeating: setup.inputZeroPoint, count: (hw + 1) * channels)
        for n in 0..<batch {
            for ch in 0..<channels {
                for p in 0..<hw { image[p * channels + ch] = x[(n * channels + ch) * hw + p] }
            }
            for o in 0..<outChannels {
                let base = (o / ocg) * cg
                for p in 0..<pixels {
                    var sum: Int32 = 0
                    for t in 0..<taps {
                        let row = Int(indirection[p * taps + t]) * channels + base
                        let wrow = (o * taps + t) * cg
                        for ch in 0..<cg { sum = sum &+ (image[row + ch] - setup.inputZeroPoint) &* weightsByTap[wrow + ch] }
                    }
                    acc[(n * outChannels + o) * pixels + p] = sum
                }
            }
        }
        let pix = pixels, oc = outChannels
        let sumOperand = setup.sum == nil ? nil : try checkInput(inputs, 1, output)
        try setup.store(acc, channel: { ($0 / pix) % oc }, sumOperand: sumOperand, into: &out)
    }
}

/// Transposed convolution, gathered per output pixel: input pixel (iy, ix) and tap
/// (ky, kx) reach output (iy·s − pad + ky·d, ix·s − pad + kx·d). Weight
/// `[IC, OC/g, KH, KW]`; per-channel weight parameters are per output channel.
struct ReferenceConvTransposeKernel: Kernel {
    let setup: MatrixProductSetup
    let geometry: ConvolutionGeometry
    let input: TensorShape, output: TensorShape
    let outChannels: Int, kh: Int, kw: Int
    let implementation: String

    init(_ s: OpSignature, _ c: OpConstants, style: RequantizationStyle) throws {
        guard let g = s.convolution, let oc = s.outputChannels else { throw QNNPackError.shape("invalid transposed convolution \(s)") }
        let (ocg, kh, kw) = (s.weight[1], s.weight[2], s.weight[3])
        let icg = s.input[1] / g.groups
        // Weight element (ic, j, y, x) belongs to output channel (ic / icg)·ocg + j.
        setup = try MatrixProductSetup(s, c, style: style, channels: oc) { i in
            let ic = i / (ocg * kh * kw), j = (i / (kh * kw)) % ocg
            return (ic / icg) * ocg + j
        }
        geometry = g
        input = s.input
        output = try s.outputShape.orThrow("conv_transpose2d output shape")
        (outChannels, self.kh, self.kw) = (oc, kh, kw)
        implementation = "reference conv_transpose (gather), requant=\(style.rawValue)"
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try QuantizedOperands.ints(try checkInput(inputs, 0, input))
        try checkOutput(out, output, setup.outputType)
        let g = geometry
        let (batch, ic, h, w) = (input[0], input[1], input[2], input[3])
        let (oh, ow) = (output[2], output[3])
        let icg = ic / g.groups, ocg = outChannels / g.groups
        let zx = setup.inputZeroPoint
        var acc = [Int32](repeating: 0, count: batch * outChannels * oh * ow)
        for n in 0..<batch {
            for o in 0..<outChannels {
                let group = o / ocg, j = o % ocg
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var sum: Int32 = 0
                        for ky in 0..<kh {
                            let ty = oy + g.padTop - ky * g.dilationH
                            guard ty >= 0, ty % g.strideH == 0, ty / g.strideH < h else { continue }
                            for kx in 0..<kw {
                                let tx = ox + g.padLeft - kx * g.dilationW
                                guard tx >= 0, tx % g.strideW == 0, tx / g.strideW < w else { continue }
                                let (iy, ix) = (ty / g.strideH, tx / g.strideW)
                                for c in 0..<icg {
                                    let ch = group * icg + c
                                    sum = sum &+ (x[((n * ic + ch) * h + iy) * w + ix] - zx) &* setup.weights[((ch * ocg + j) * kh + ky) * kw + kx]
                                }
                            }
                        }
                        acc[((n * outChannels + o) * oh + oy) * ow + ox] = sum
                    }
                }
            }
        }
        let plane = oh * ow, oc = outChannels
        try setup.store(acc, channel: { ($0 / plane) % oc }, into: &out)
    }
}

extension Optional {
    func orThrow(_ what: String) throws -> Wrapped {
        guard let v = self else { throw QNNPackError.shape("cannot infer \(what)") }
        return v
    }
}
