import OctetCore

/// A 1-D convolution as the 2-D one it equals: an N x C x W value read as N x C x 1 x W, an
/// O x I x k weight as O x I x 1 x k, and the spatial attributes given a leading axis of
/// size 1 with no padding, stride 1 and dilation 1 (ONNX operator spec, Conv and
/// ConvTranspose: the same formulas hold per spatial axis).
enum SpatialLifting {
    /// `[a, b, w]` → `[a, b, 1, w]`.
    static func lift(_ shape: TensorShape) throws -> TensorShape {
        try TensorShape(Array(shape.dims.prefix(2)) + [1] + Array(shape.dims.dropFirst(2)))
    }

    /// The node with its 1-D spatial attributes in 2-D form; attributes it does not set stay unset.
    static func lifted(_ node: Node) -> Node {
        var n = node
        func lift(_ key: String, _ leading: [Int], count: Int) {
            guard case let .ints(v)? = node.attributes[key], v.count == count else { return }
            n.attributes[key] = .ints(count == 2 ? [leading[0], v[0], leading[0], v[1]] : leading + v)
        }
        lift("kernel_shape", [1], count: 1)
        lift("strides", [1], count: 1)
        lift("dilations", [1], count: 1)
        lift("output_padding", [0], count: 1)
        lift("pads", [0], count: 2)
        if case let .ints(v)? = node.attributes["output_shape"], let last = v.last { n.attributes["output_shape"] = .ints([1, last]) }
        return n
    }
}
