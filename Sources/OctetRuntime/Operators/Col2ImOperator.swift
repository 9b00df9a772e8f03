import OctetCore

/// ONNX Col2Im (opset 18): rearranges column blocks into a multidimensional image, the
/// inverse of im2col with overlapping blocks summed. `input` is N x (C · ∏block_shape) x L,
/// `image_shape` (int64) the spatial sizes D1…Dk of the output N x C x D1 x … x Dk, and
/// `block_shape` (int64) the block's k sizes. Block l (row-major over the grid of
/// `(D + pad_begin + pad_end − dilation · (block − 1) − 1) / stride + 1` blocks per axis) and
/// block position p add `input[n, c · ∏block + p, l]` at image coordinate
/// `l_a · strides[a] − pads[a] + p_a · dilations[a]` along each axis a, when inside the image
/// (ONNX operator spec, Col2Im; onnx/reference/ops/op_col2im.py). Floating element types;
/// sums in Double.
struct Col2ImOperator: GraphOperator {
    let site: OperatorSite
    let node: Node

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["Col2Im"] = { n, _ in Col2ImOperator(site: OperatorSite(n), node: n) }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard x.dtype.isFloatingPoint else { throw site.error("needs a floating-point input, got \(x.dtype)") }
        for i in 1...2 where try site.type(inputs, i, i == 1 ? "image_shape" : "block_shape").dtype != .s64 {
            throw site.error("\(i == 1 ? "image_shape" : "block_shape") (input \(i)) must be int64")
        }
        if let s = x.shape, s.rank != 3 { throw site.error("needs an N x (C · ∏block_shape) x L input, got \(s)") }
        guard let image = try site.ints(constants.count > 1 ? constants[1] : nil, "image_shape"),
              let block = try site.ints(constants.count > 2 ? constants[2] : nil, "block_shape"),
              let s = x.shape, let cols = s.dims[1].value else {
            return [site.runtimeShaped(x.dtype, rank: (try site.type(inputs, 1).shape?.dims.first?.value).map { $0 + 2 }, "image_shape")]
        }
        let c = try channels(cols, block)
        return [ValueType(x.dtype, SymbolicShape([s.dims[0], .fixed(c)] + image.map { .fixed($0) }))]
    }

    /// C of the output: the input's second dimension over the block's size.
    private func channels(_ cols: Int, _ block: [Int]) throws(GraphError) -> Int {
        guard !block.isEmpty, block.allSatisfy({ $0 >= 1 }) else { throw site.error("block_shape must hold sizes ≥ 1, got \(block)") }
        guard let size = try? block.checkedProduct() else { throw site.error("∏block_shape overflows a 64-bit integer (block_shape \(block))") }
        guard cols % size == 0 else { throw site.error("the input's dimension 1 (\(cols)) must be a multiple of ∏block_shape = \(size) (block_shape \(block))") }
        return cols / size
    }

    struct Kernel: FloatVisitor {
        let x: Tensor
        let windows: PoolWindows
        let channels: Int

        func visit<T: FloatElement>(_: T.Type, into out: inout Tensor) throws {
            let nb = x.shape.dims[0], l = x.shape.dims[2], k = windows.kernel.reduce(1, *)
            let image = windows.inputCount
            let src = try x.scalars(as: T.self)
            // One plane's sums at a time: the only scratch is image · 8 bytes, within the output's size.
            var acc = [Double](repeating: 0, count: image)
            try out.withUnsafeMutableBufferPointer(as: T.self) { y in
                for plane in 0..<(nb * channels) {
                    for i in 0..<image { acc[i] = 0 }
                    windows.forEachPosition { block, p, offset in
                        acc[offset] += src[(plane * k + p) * l + block].asDouble
                    }
                    for i in 0..<image { y[plane * image + i] = T(converting: acc[i]) }
                }
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        guard let image = try site.ints(inputs[1], "image_shape"), let block = try site.ints(inputs[2], "block_shape") else {
            throw site.error("image_shape and block_shape are missing")
        }
        guard x.shape.rank == 3, image.count == block.count, image.allSatisfy({ $0 >= 1 }) else {
            throw site.error("needs an N x (C · ∏block_shape) x L input and image_shape, block_shape of one length; got \(x.shape), \(image), \(block)")
        }
        let c = try channels(x.shape.dims[1], block)
        let window = try WindowGeometry(node, kernel: block)
        let (pads, grid) = try window.resolve(image)
        // An overflowing product (huge pads or image sizes) cannot be a real dimension either.
        guard (try? grid.checkedProduct()) == x.shape.dims[2] else {
            throw site.error("the input's dimension 2 (\(x.shape.dims[2])) must be the number of blocks, \(grid.map(String.init).joined(separator: " x ")) for image_shape \(image), block_shape \(block)")
        }
        let windows = try PoolWindows(input: image, output: grid, window: window, pads: pads)
        guard try x.dtype.visitFloat(Kernel(x: x, windows: windows, channels: c), into: &outputs[0]) != nil else {
            throw site.error("needs a floating-point input, got \(x.dtype)")
        }
    }
}
