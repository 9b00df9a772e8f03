extension OpSignature {
    /// The output shape, or `nil` when the signature is not valid.
    public var outputShape: TensorShape? {
        let dims: [Int]?
        switch kind {
        case .linear:
            dims = input.rank >= 1 && weight.rank == 2 ? Array(input.dims.dropLast()) + [weight[0]] : nil
        case .matmul:
            dims = input.rank >= 2 && weight.rank >= 2 ? Array(input.dims.dropLast()) + [weight[-1]] : nil
        case .conv2d, .convTranspose2d:
            dims = outputSpatial.flatMap { sp in outputChannels.map { [input[0], $0, sp.h, sp.w] } }
        case .add, .mul:
            dims = attributes.otherInputs.first.flatMap { Self.broadcast(input.dims, $0.dims) }
        case .relu, .clip, .sigmoid, .tanh, .hardswish, .gelu, .softmax, .layerNorm:
            dims = input.dims
        case .maxPool2d, .avgPool2d:
            dims = poolingOutputSpatial.map { [input[0], input[1], $0.h, $0.w] }
        case .globalAvgPool:
            dims = input.rank == 4 ? [input[0], input[1], 1, 1] : nil
        case .concat:
            if let axis = normalizedAxis {
                var d = input.dims
                d[axis] += attributes.otherInputs.reduce(0) { $0 + ($1.rank == input.rank ? $1[axis] : 0) }
                dims = d
            } else {
                dims = nil
            }
        }
        return dims.flatMap { try? TensorShape($0) }
    }

    /// `attributes.axis` made non-negative, if it names a dimension of `input`.
    public var normalizedAxis: Int? {
        guard let a = attributes.axis else { return nil }
        let axis = a < 0 ? a + input.rank : a
        return axis >= 0 && axis < input.rank ? axis : nil
    }

    /// Output height and width of a pooling op.
    public var poolingOutputSpatial: (h: Int, w: Int)? {
        guard let p = attributes.pooling, input.rank == 4, p.strideH > 0, p.strideW > 0, p.kernelH > 0, p.kernelW > 0 else { return nil }
        let ph = input[2] + p.padTop + p.padBottom - p.kernelH, pw = input[3] + p.padLeft + p.padRight - p.kernelW
        guard ph >= 0, pw >= 0 else { return nil }
        return (ph / p.strideH + 1, pw / p.strideW + 1)
    }

    /// NumPy broadcasting of two shapes, or `nil` when they do not broadcast.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var out: [Int] = []
        for i in 0..<rank {
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            guard x == y || x == 1 || y == 1 else { return nil }
            out.append(x == 1 ? y : x)
        }
        return out
    }

    func validateNonMatrixOp() throws(SignatureError) {
        switch kind {
        case .add, .mul:
            guard attributes.otherInputs.count == 1 else { throw .shape("\(kind) needs exactly one other input, got \(attributes.otherInputs.count)") }
            guard outputShape != nil else { throw .shape("\(kind): \(input) and \(attributes.otherInputs[0]) do not broadcast") }
        case .clip:
            guard let lo = attributes.clipMin, let hi = attributes.clipMax, lo <= hi, !lo.isNaN, !hi.isNaN else {
                throw .geometry("clip needs clipMin ≤ clipMax")
            }
        case .relu, .sigmoid, .tanh, .hardswish, .gelu:
            break
        case .maxPool2d, .avgPool2d:
            guard input.rank == 4 else { throw .shape("\(kind) input must be N x C x H x W, got \(input)") }
            guard let p = attributes.pooling else { throw .geometry("\(kind) needs a kernel, strides and pads") }
            guard [p.padTop, p.padLeft, p.padBottom, p.padRight].allSatisfy({ $0 >= 0 }) else { throw .geometry("pads must be ≥ 0") }
            guard p.padTop < p.kernelH, p.padBottom < p.kernelH, p.padLeft < p.kernelW, p.padRight < p.kernelW else {
                throw .geometry("pads must be smaller than the kernel \(p.kernelH)x\(p.kernelW)")
            }
            guard poolingOutputSpatial != nil else { throw .geometry("pooling window \(p.kernelH)x\(p.kernelW) stride \(p.strideH)x\(p.strideW) does not fit \(input)") }
        case .globalAvgPool:
            guard input.rank == 4 else { throw .shape("global_avg_pool input must be N x C x H x W, got \(input)") }
        case .concat:
            guard let axis = normalizedAxis else { throw .geometry("concat needs an axis inside rank \(input.rank)") }
            for other in attributes.otherInputs {
                guard other.rank == input.rank, (0..<input.rank).allSatisfy({ $0 == axis || other[$0] == input[$0] }) else {
                    throw .shape("concat along axis \(axis): \(other) does not match \(input) outside that axis")
                }
            }
        case .softmax, .layerNorm:
            guard normalizedAxis != nil else { throw .geometry("\(kind) needs an axis inside rank \(input.rank)") }
            if kind == .layerNorm, let e = attributes.epsilon, !(e >= 0) { throw .geometry("layer_norm epsilon must be ≥ 0") }
        case .conv2d, .convTranspose2d, .linear, .matmul:
            break
        }
        guard input.elementCount > 0 else { throw .shape("empty input \(input)") }
    }
}
