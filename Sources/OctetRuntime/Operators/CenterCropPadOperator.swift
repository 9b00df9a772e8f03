import OctetCore

/// ONNX CenterCropPad (opset 18): `output = CenterCropPad(input_data, shape)` with
/// `shape` (int64, 1-D, one target length per axis of `axes`, default every axis). Along each
/// such axis a longer input is cropped and a shorter one zero-padded, centred: the crop or pad
/// start is `⌊|dim − target| / 2⌋`, the odd element going to the end (onnx/defs/tensor/defs.cc,
/// onnx/reference/ops/op_center_crop_pad.py). Any element type; elements are moved as bytes.
/// The output shape depends on `shape`'s values, so the node allocates its own output.
struct CenterCropPadOperator: DataShapedOperator {
    let site: OperatorSite
    let axes: [Int]?

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["CenterCropPad"] = { n, _ in try CenterCropPadOperator(n) }
    }

    init(_ n: Node) throws {
        site = OperatorSite(n)
        axes = try n.ints("axes")
        if let axes, Set(axes).count != axes.count {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "axes", expected: "distinct axes", got: "\(axes)")
        }
    }

    /// The output dimensions for input `dims` and target `shape`.
    /// - Throws: `GraphError` when `shape` does not give one length ≥ 0 per axis.
    func outputDims(_ dims: [Int], _ shape: [Int]) throws -> [Int] {
        let resolved = try (axes ?? Array(dims.indices)).map { a throws(GraphError) in try site.axis(a, rank: dims.count, "axes entry") }
        guard shape.count == resolved.count else {
            throw site.error("input 1 (shape) must hold \(resolved.count) lengths, one per axis \(resolved), got \(shape)")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw site.error("input 1 (shape) must hold lengths ≥ 0, got \(shape)") }
        var out = dims
        for (a, s) in zip(resolved, shape) { out[a] = s }
        return out
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard let s = t.shape else { return [t] }
        let dims = s.dims.compactMap(\.value)
        if dims.count == s.rank, constants.count > 1, let shape = try site.ints(constants[1], "input 1 (shape)") {
            return [ValueType(t.dtype, SymbolicShape(try outputDims(dims, shape).map { .fixed($0) }))]
        }
        return [site.runtimeShaped(t.dtype, rank: s.rank, "shape")]
    }

    func runShaped(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try site.tensor(inputs, 0)
        guard let shape = try site.ints(try site.tensor(inputs, 1), "input 1 (shape)") else { throw site.error("input 1 (shape) is missing") }
        let inDims = x.shape.dims
        let outDims = try outputDims(inDims, shape)
        var y = try Tensor(zeros: x.dtype, shape: try TensorShape(outDims))
        let rank = inDims.count
        // Output index o along axis a reads input index o + offset[a] (negative offset: padding).
        let offset = (0..<rank).map { a in (inDims[a] - outDims[a]) / 2 }
        let size = x.dtype.byteSize
        var inStride = [Int](repeating: 1, count: rank)
        for a in stride(from: rank - 2, through: 0, by: -1) { inStride[a] = inStride[a + 1] * inDims[a + 1] }
        let count = y.shape.elementCount
        x.withUnsafeBytes { src in
            y.withUnsafeMutableBytes { dst in
                var o = [Int](repeating: 0, count: rank)
                for j in 0..<count {
                    var rest = j, from = 0, inside = true
                    for a in stride(from: rank - 1, through: 0, by: -1) { o[a] = rest % outDims[a]; rest /= outDims[a] }
                    for a in 0..<rank {
                        let i = o[a] + offset[a]
                        if i < 0 || i >= inDims[a] { inside = false; break }
                        from += i * inStride[a]
                    }
                    guard inside else { continue }
                    for b in 0..<size { dst[j * size + b] = src[from * size + b] }
                }
            }
        }
        return [y]
    }
}
