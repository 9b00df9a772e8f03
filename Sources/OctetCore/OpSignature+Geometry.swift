/// The shape of the matrix multiplication an op amounts to: `batch` independent
/// products of an `m x k` by a `k x n` matrix (per group, for grouped convolutions).
public struct GemmShape: Sendable, Hashable {
    public var batch: Int, m: Int, n: Int, k: Int
}

extension OpSignature {
    /// Number of input channels (convolutions) from the NCHW input shape.
    public var inputChannels: Int? { kind.isConvolution && input.rank == 4 ? input[1] : nil }

    /// Number of output channels of a convolution, from the weight shape.
    public var outputChannels: Int? {
        guard kind.isConvolution, weight.rank == 4, let g = convolution?.groups else { return nil }
        return kind == .conv2d ? weight[0] : weight[1] * g
    }

    /// Whether this is a depthwise convolution (one input channel per group, groups = C).
    public var isDepthwise: Bool {
        guard kind == .conv2d, let g = convolution?.groups, let c = inputChannels else { return false }
        return g > 1 && g == c && weight.rank == 4 && weight[1] == 1
    }

    /// Output height and width of a convolution (`nil` for other ops or invalid geometry,
    /// including sizes that overflow).
    public var outputSpatial: (h: Int, w: Int)? {
        guard kind.isConvolution, input.rank == 4, weight.rank == 4, let g = convolution else { return nil }
        let kh = weight[2], kw = weight[3]
        guard kh >= 1, kw >= 1, g.strideH > 0, g.strideW > 0 else { return nil }
        if kind == .conv2d {
            guard let eh = try? g.dilationH.multiplied(by: kh - 1).adding(1), let ew = try? g.dilationW.multiplied(by: kw - 1).adding(1),
                  let ph = try? input[2].adding(g.padTop).adding(g.padBottom).subtracting(eh),
                  let pw = try? input[3].adding(g.padLeft).adding(g.padRight).subtracting(ew) else { return nil }
            guard ph >= 0, pw >= 0 else { return nil }
            return (ph / g.strideH + 1, pw / g.strideW + 1)
        }
        guard input[2] >= 1, input[3] >= 1,
              let oh = try? (input[2] - 1).multiplied(by: g.strideH).adding(g.dilationH.multiplied(by: kh - 1)).adding(g.outputPaddingH).adding(1)
                .subtracting(g.padTop).subtracting(g.padBottom),
              let ow = try? (input[3] - 1).multiplied(by: g.strideW).adding(g.dilationW.multiplied(by: kw - 1)).adding(g.outputPaddingW).adding(1)
                .subtracting(g.padLeft).subtracting(g.padRight) else { return nil }
        return oh > 0 && ow > 0 ? (oh, ow) : nil
    }

    /// The op as a matrix multiplication (per group for convolutions); `nil` when the
    /// shapes do not describe a valid op (see `validate()`).
    public var gemm: GemmShape? {
        switch kind {
        case .linear:
            guard input.rank >= 1, weight.rank == 2 else { return nil }
            let k = input[-1]
            return GemmShape(batch: 1, m: input.elementCount / max(k, 1), n: weight[0], k: k)
        case .matmul:
            guard input.rank >= 2, weight.rank >= 2 else { return nil }
            let batch = input.dims.dropLast(2).reduce(1, *)
            return GemmShape(batch: batch, m: input[-2], n: weight[-1], k: input[-1])
        case .conv2d:
            guard let (oh, ow) = outputSpatial, let g = convolution?.groups, g > 0 else { return nil }
            guard let m = try? [input[0], oh, ow].checkedProduct() else { return nil }
            return GemmShape(batch: g, m: m, n: weight[0] / g, k: weight[1] * weight[2] * weight[3])
        case .convTranspose2d:
            guard outputSpatial != nil, let g = convolution?.groups, g > 0 else { return nil }
            return GemmShape(batch: g, m: input[0] * input[2] * input[3], n: weight[1] * weight[2] * weight[3], k: weight[0] / g)
        case .add, .mul, .relu, .clip, .sigmoid, .tanh, .hardswish, .gelu, .maxPool2d, .avgPool2d, .globalAvgPool,
             .concat, .softmax, .layerNorm:
            return nil
        }
    }

    /// Multiply-accumulate count of the op (for GOP/s and traces).
    public var macs: Int {
        guard let g = gemm else { return 0 }
        return (try? [g.batch, g.m, g.n, g.k].checkedProduct()) ?? Int.max
    }

    /// Checks that the shapes and geometry describe a computable op; the error says
    /// which part is wrong and what was expected.
    public func validate() throws(SignatureError) {
        guard kind.isMatrixProduct else {
            try validateNonMatrixOp()
            return
        }
        switch kind {
        case .linear:
            guard input.rank >= 1 else { throw .shape("linear input must have at least 1 dimension, got \(input)") }
            guard weight.rank == 2 else { throw .shape("linear weight must be N x K (2-D), got \(weight)") }
            guard weight[1] == input[-1] else { throw .shape("linear weight \(weight) has K = \(weight[1]) but the input's last dimension is \(input[-1])") }
        case .matmul:
            guard input.rank >= 2, weight.rank >= 2 else { throw .shape("matmul operands must have at least 2 dimensions, got \(input) and \(weight)") }
            guard input[-1] == weight[-2] else { throw .shape("matmul: \(input) · \(weight) needs the first operand's last dimension (\(input[-1])) to equal the second's next-to-last (\(weight[-2]))") }
        case .conv2d, .convTranspose2d:
            guard input.rank == 4 else { throw .shape("\(kind) input must be N x C x H x W, got \(input)") }
            guard weight.rank == 4 else { throw .shape("\(kind) weight must be 4-D, got \(weight)") }
            guard let g = convolution else { throw .geometry("\(kind) needs strides, pads, dilations and groups") }
            guard g.groups >= 1 else { throw .geometry("groups must be ≥ 1, got \(g.groups)") }
            guard g.strideH >= 1, g.strideW >= 1 else { throw .geometry("strides must be ≥ 1, got \(g.strideH)x\(g.strideW)") }
            guard g.dilationH >= 1, g.dilationW >= 1 else { throw .geometry("dilations must be ≥ 1, got \(g.dilationH)x\(g.dilationW)") }
            guard [g.padTop, g.padLeft, g.padBottom, g.padRight].allSatisfy({ $0 >= 0 }) else { throw .geometry("pads must be ≥ 0") }
            guard input[1] % g.groups == 0 else { throw .geometry("input channels \(input[1]) are not divisible by groups \(g.groups)") }
            if kind == .conv2d {
                guard g.outputPaddingH == 0, g.outputPaddingW == 0 else { throw .geometry("output padding applies to conv_transpose2d only") }
                guard weight[0] % g.groups == 0 else { throw .geometry("output channels \(weight[0]) are not divisible by groups \(g.groups)") }
                guard (try? weight[1].multiplied(by: g.groups)) == input[1] else {
                    throw .shape("conv2d weight \(weight) expects \(weight[1]) input channels per group x \(g.groups) groups, input \(input) has \(input[1])")
                }
            } else {
                guard weight[0] == input[1] else { throw .shape("conv_transpose2d weight \(weight) expects \(weight[0]) input channels, input \(input) has \(input[1])") }
                guard g.outputPaddingH >= 0, g.outputPaddingW >= 0,
                      g.outputPaddingH < max(g.strideH, g.dilationH), g.outputPaddingW < max(g.strideW, g.dilationW) else {
                    throw .geometry("output padding must be ≥ 0 and smaller than the stride or the dilation")
                }
            }
            guard outputSpatial != nil else { throw .geometry("kernel \(weight[2])x\(weight[3]) (dilated) does not fit the padded input \(input[2])x\(input[3])") }
        default:
            break
        }
        guard input.elementCount > 0, weight.elementCount > 0 else { throw .shape("empty operand: input \(input), weight \(weight)") }
    }
}

/// A signature whose shapes or geometry cannot describe a computable op.
public enum SignatureError: Error, Sendable, Equatable, CustomStringConvertible {
    case shape(String)
    case geometry(String)

    public var description: String {
        switch self {
        case let .shape(s), let .geometry(s): s
        }
    }
}
