import OctetCore

/// The built-in reference for f32 Conv and ConvTranspose of 3 or more spatial axes, which no
/// backend's 2-D signature describes (ONNX operator spec, Conv and ConvTranspose, opsets
/// 1–22). X is N x C x D1 x … x Dk; Conv's W is O x C/group x k1 x … x kk and
/// `Y[n, o, p] = B[o] + Σ W[o, c', t] · X[n, g·C/group + c', p · strides − pads_begin + t · dilations]`;
/// ConvTranspose's W is C x O/group x k1 x … x kk and each input position scatters
/// `X[n, c, i] · W[c, o', t]` to `i · strides − pads_begin + t · dilations`, with output size
/// `(in − 1) · strides + dilations · (k − 1) + 1 + output_padding − pads_begin − pads_end`.
/// Sums in Double. Explicit pads only for ConvTranspose (auto_pad and output_shape are refused).
struct SpatialConvolution: Sendable {
    let site: OperatorSite
    let transposed: Bool
    let window: WindowGeometry
    let group: Int
    let outputPadding: [Int]

    /// - Throws: `GraphError` naming the node and attribute when they do not fit a `rank`-D weight.
    init(_ node: Node, weight: [Int]) throws {
        site = OperatorSite(node)
        transposed = node.opType == "ConvTranspose"
        let r = weight.count - 2
        let kernel = try node.ints("kernel_shape") ?? Array(weight[2...])
        guard kernel == Array(weight[2...]) else { throw site.error("kernel_shape \(kernel) disagrees with the weight \(weight)") }
        window = try WindowGeometry(node, kernel: kernel)
        group = try node.int("group", default: 1)
        outputPadding = try node.ints("output_padding") ?? Array(repeating: 0, count: r)
        guard group >= 1, outputPadding.count == r else { throw site.error("group must be ≥ 1 and output_padding hold \(r) values, got \(group) and \(outputPadding)") }
        if transposed, window.autoPad != "NOTSET" || node.attributes["output_shape"] != nil {
            throw site.error("a \(r)-D transposed convolution takes explicit pads only (auto_pad \(window.autoPad), output_shape \(node.attributes["output_shape"].map { "\($0)" } ?? "unset"))")
        }
    }

    /// Output channels and spatial sizes for input spatial sizes `input` and weight `w`.
    func output(_ input: [Int], weight w: [Int]) throws -> (channels: Int, spatial: [Int], pads: [Int]) {
        guard !transposed else {
            let r = input.count, s = window.strides, d = window.dilations, p = window.pads
            let spatial = try (0..<r).map { (a: Int) throws(GraphError) -> Int in
                try site.checked("the output size along spatial axis \(a)") { () throws(ArithmeticOverflow) in
                    try (input[a] - 1).multiplied(by: s[a]).adding(d[a].multiplied(by: w[a + 2] - 1)).adding(1).adding(outputPadding[a])
                        .subtracting(p[a]).subtracting(p[a + r])
                }
            }
            guard spatial.allSatisfy({ $0 > 0 }) else { throw site.error("the transposed convolution has an empty output \(spatial)") }
            let channels = try site.checked("the output channels, W's \(w[1]) x group \(group)") { () throws(ArithmeticOverflow) in try w[1].multiplied(by: group) }
            return (channels, spatial, p)
        }
        let (pads, spatial) = try window.resolve(input)
        guard spatial.allSatisfy({ $0 > 0 }) else { throw site.error("kernel \(window.kernel) does not fit the input \(input) with pads \(pads)") }
        return (w[0], spatial, pads)
    }

    /// Computes Y from X, W and the optional bias, clamped to `range` (fused activations).
    func run(_ x: Tensor, _ w: Tensor, bias: Tensor?, range: (lo: Float, hi: Float), into y: inout Tensor) throws {
        let xd = x.shape.dims, wd = w.shape.dims
        let (nb, c) = (xd[0], xd[1]), input = Array(xd[2...])
        let (oc, spatial, pads) = try output(input, weight: wd)
        let inG = c / group, outG = oc / group
        guard c % group == 0, oc % group == 0, wd[transposed ? 0 : 1] * (transposed ? 1 : group) == c else {
            throw site.error("X has \(c) channels, W is \(w.shape), group \(group): the channels must split into the groups")
        }
        let xv = try x.scalars(as: Float.self), wv = try w.scalars(as: Float.self), bv = try bias?.scalars(as: Float.self)
        // Windows over the output of a convolution, or over the input of a transposed one.
        let windows = try PoolWindows(input: transposed ? spatial : input, output: transposed ? input : spatial, window: window, pads: pads)
        let inCount = input.reduce(1, *), taps = window.kernel.reduce(1, *)
        let outCount = transposed ? windows.inputCount : windows.outputCount
        guard y.shape.dims == [nb, oc] + spatial else { throw site.error("the output is \(y.shape), expected \([nb, oc] + spatial)") }
        var acc = [Double](repeating: 0, count: nb * oc * outCount)
        for n in 0..<nb {
            for g in 0..<group {
                for ci in 0..<inG {
                    let ch = g * inG + ci, xBase = (n * c + ch) * inCount
                    for oi in 0..<outG {
                        let o = g * outG + oi, yBase = (n * oc + o) * outCount
                        let wBase = (transposed ? ch * outG + oi : o * inG + ci) * taps
                        windows.forEachPosition { j, t, offset in
                            // Conv: output j reads input `offset`; transposed: input j writes output `offset`.
                            if transposed {
                                acc[yBase + offset] += Double(xv[xBase + j]) * Double(wv[wBase + t])
                            } else {
                                acc[yBase + j] += Double(xv[xBase + offset]) * Double(wv[wBase + t])
                            }
                        }
                    }
                }
            }
        }
        try y.withUnsafeMutableBufferPointer(as: Float.self) { out in
            for i in 0..<acc.count {
                let b = bv.map { Double($0[(i / outCount) % oc]) } ?? 0
                out[i] = min(max(Float(acc[i] + b), range.lo), range.hi)
            }
        }
    }
}
