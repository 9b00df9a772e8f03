import OctetCore

/// ONNX MaxUnpool (opsets 9–22): the partial inverse of MaxPool. `X` (N x C x D1 x … x Dk)
/// and `I` (int64, the same shape: MaxPool's Indices, flat offsets into the output) give an
/// output of zeros with `Y.flat[I[i]] = X.flat[i]`. The output's shape is `output_shape`
/// (input 2, the full N x C x … shape) when given, else along each spatial axis
/// `(in − 1) · strides + kernel_shape − pad_begin − pad_end` (ONNX operator spec, MaxUnpool).
/// A later index overwrites an earlier one at the same offset, as ONNX Runtime does.
struct MaxUnpoolOperator: GraphOperator {
    let site: OperatorSite
    let kernel: [Int]
    let strides: [Int]
    let pads: [Int]

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["MaxUnpool"] = { n, _ in try MaxUnpoolOperator(n) }
    }

    /// - Throws: `GraphError` naming the node when kernel_shape is missing, or strides and
    ///   pads do not match it or are out of range.
    init(_ n: Node) throws {
        site = OperatorSite(n)
        guard let k = try n.ints("kernel_shape"), !k.isEmpty, k.allSatisfy({ $0 >= 1 }) else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "kernel_shape", expected: "one size ≥ 1 per spatial axis", got: "\(try n.ints("kernel_shape") ?? [])")
        }
        kernel = k
        strides = try n.ints("strides") ?? Array(repeating: 1, count: k.count)
        pads = try n.ints("pads") ?? Array(repeating: 0, count: 2 * k.count)
        guard strides.count == k.count, strides.allSatisfy({ $0 >= 1 }), pads.count == 2 * k.count, pads.allSatisfy({ $0 >= 0 }) else {
            throw site.error("strides (\(strides)) must hold \(k.count) values ≥ 1 and pads (\(pads)) \(2 * k.count) values ≥ 0, matching kernel_shape \(k)")
        }
    }

    /// The default output's spatial sizes for input spatial sizes `input`.
    private func defaultSpatial(_ input: [Int]) throws(GraphError) -> [Int] {
        let r = kernel.count
        return try (0..<r).map { (a: Int) throws(GraphError) -> Int in
            let size = try site.checked("the output size along spatial axis \(a)") { () throws(ArithmeticOverflow) in
                try (input[a] - 1).multiplied(by: strides[a]).adding(kernel[a]).subtracting(pads[a]).subtracting(pads[a + r])
            }
            guard size >= 0 else { throw site.error("input \(input) with kernel_shape \(kernel), strides \(strides), pads \(pads) gives a negative output size") }
            return size
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), i = try site.type(inputs, 1, "indices")
        guard x.dtype.isFloatingPoint else { throw site.error("needs a floating-point X, got \(x.dtype)") }
        guard i.dtype == .s64 else { throw site.error("needs int64 indices I (input 1), got \(i.dtype)") }
        let rank = kernel.count + 2
        if let s = x.shape, s.rank != rank { throw site.error("needs an N x C x spatial X of rank \(rank) (kernel_shape \(kernel)), got \(s)") }
        if inputs.count > 2, inputs[2] != nil {
            guard let shape = try site.ints(constants.count > 2 ? constants[2] : nil, "output_shape (input 2)") else {
                return [site.runtimeShaped(x.dtype, rank: rank, "output_shape")]
            }
            guard shape.count == rank, shape.allSatisfy({ $0 >= 0 }) else { throw site.error("output_shape (input 2) must hold \(rank) sizes ≥ 0, got \(shape)") }
            return [ValueType(x.dtype, SymbolicShape(shape.map { .fixed($0) }))]
        }
        guard let s = x.shape else { return [ValueType(x.dtype, nil)] }
        let spatial = s.dims[2...].compactMap(\.value)
        guard spatial.count == kernel.count else { return [site.runtimeShaped(x.dtype, rank: rank, "spatial")] }
        return [ValueType(x.dtype, SymbolicShape([s.dims[0], s.dims[1]] + (try defaultSpatial(spatial)).map { .fixed($0) }))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0), i = try site.tensor(inputs, 1)
        guard i.shape == x.shape else { throw site.error("indices I (input 1) must have X's shape \(x.shape), got \(i.shape)") }
        let indices = try i.scalars(as: Int64.self)
        let count = outputs[0].shape.elementCount, width = x.dtype.byteSize
        for (k, index) in indices.enumerated() where index < 0 || Int(index) >= count {
            throw site.error("index \(index) at position \(k) of I is outside the output's \(count) elements (shape \(outputs[0].shape))")
        }
        x.withUnsafeBytes { src in
            outputs[0].withUnsafeMutableBytes { dst in
                for b in 0..<dst.count { dst[b] = 0 }
                for (k, index) in indices.enumerated() {
                    for b in 0..<width { dst[Int(index) * width + b] = src[k * width + b] }
                }
            }
        }
    }
}
