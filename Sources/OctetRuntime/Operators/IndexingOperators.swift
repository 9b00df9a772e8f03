import OctetCore

/// Ops that pick or place elements by index: GatherElements, GatherND, ScatterElements,
/// ScatterND, Trilu, OneHot. Indices are int64 or int32; negative ones count from the end
/// of their axis; an index out of range is an error naming the node.
enum IndexingOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["GatherElements"] = { n, _ in GatherElementsOperator(site: OperatorSite(n), axis: try n.int("axis", default: 0)) }
        f["GatherND"] = { n, _ in GatherNDOperator(site: OperatorSite(n), batchDims: try n.int("batch_dims", default: 0)) }
        f["ScatterElements"] = { n, _ in
            ScatterOperator(site: OperatorSite(n), elements: true, axis: try n.int("axis", default: 0), reduction: try scatterReduction(n))
        }
        // Scatter (opsets 9-10) is ScatterElements before it was renamed (no reduction).
        f["Scatter"] = { n, _ in ScatterOperator(site: OperatorSite(n), elements: true, axis: try n.int("axis", default: 0), reduction: .none) }
        f["ScatterND"] = { n, _ in ScatterOperator(site: OperatorSite(n), elements: false, axis: 0, reduction: try scatterReduction(n)) }
        f["Trilu"] = { n, _ in TriluOperator(site: OperatorSite(n), upper: try n.int("upper", default: 1) != 0) }
        f["OneHot"] = { n, _ in OneHotOperator(site: OperatorSite(n), axis: try n.int("axis", default: -1)) }
    }

    static func scatterReduction(_ n: Node) throws -> ScatterOperator.Reduction {
        let r = try n.string("reduction", default: "none")
        guard let reduction = ScatterOperator.Reduction(rawValue: r) else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "reduction", expected: "none, add, mul, max or min", got: "\"\(r)\"")
        }
        return reduction
    }
}

extension OperatorSite {
    /// Index values of an int64/int32 tensor.
    func indices(_ t: Tensor, _ what: String = "indices") throws(GraphError) -> [Int] {
        switch t.dtype {
        case .s64: return ((try? t.scalars(as: Int64.self)) ?? []).map { Int($0) }
        case .s32: return ((try? t.scalars(as: Int32.self)) ?? []).map { Int($0) }
        default: throw error("\(what) must be int64 or int32, got \(t.dtype)")
        }
    }

    /// `i` within `0..<size`, counting negative values from the end.
    func normalized(_ i: Int, size: Int, _ what: String) throws(GraphError) -> Int {
        let r = i < 0 ? i + size : i
        guard r >= 0, r < size else { throw error("\(what) \(i) is out of range for a dimension of size \(size)") }
        return r
    }
}

/// Copies one element of `byteSize` bytes.
@inline(__always) private func copyElement(_ dst: UnsafeMutableRawBufferPointer, _ d: Int, _ src: UnsafeRawBufferPointer, _ s: Int, _ size: Int) {
    guard let db = dst.baseAddress, let sb = src.baseAddress else { return }
    (db + d * size).copyMemory(from: sb + s * size, byteCount: size)
}

/// `GatherElements(data, indices)`: `out[i] = data[i with axis replaced by indices[i]]`.
struct GatherElementsOperator: GraphOperator {
    let site: OperatorSite
    let axis: Int

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let d = try site.type(inputs, 0), i = try site.type(inputs, 1)
        guard i.dtype == .s64 || i.dtype == .s32 else { throw site.error("indices must be int64 or int32, got \(i.dtype)") }
        if let ds = d.shape, let s = i.shape, ds.rank != s.rank { throw site.error("data \(ds) and indices \(s) must have the same rank") }
        return [ValueType(d.dtype, i.shape)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let data = try site.tensor(inputs, 0), idx = try site.tensor(inputs, 1)
        let a = try site.axis(axis, rank: data.shape.rank)
        guard idx.shape.rank == data.shape.rank else { throw site.error("data \(data.shape) and indices \(idx.shape) must have the same rank") }
        let index = try site.indices(idx)
        let dataStrides = Strided.strides(data.shape), dims = idx.shape.dims
        let size = data.dtype.byteSize, axisSize = data.shape.dims[a]
        var coord = [Int](repeating: 0, count: dims.count)
        try data.withUnsafeBytes { src in
            try outputs[0].withUnsafeMutableBytes { dst in
                for k in 0..<index.count {
                    var offset = 0
                    for r in 0..<dims.count {
                        let c = r == a ? try site.normalized(index[k], size: axisSize, "index") : coord[r]
                        guard r == a || c < data.shape.dims[r] else { throw site.error("indices \(idx.shape) reach beyond data \(data.shape) along axis \(r)") }
                        offset += c * dataStrides[r]
                    }
                    copyElement(dst, k, src, offset, size)
                    var r = dims.count - 1
                    while r >= 0 {
                        coord[r] += 1
                        if coord[r] < dims[r] { break }
                        coord[r] = 0
                        r -= 1
                    }
                }
            }
        }
    }
}

/// `GatherND(data, indices)` with `batch_dims` leading batch axes: each index tuple (the
/// last axis of indices, length k) picks a slice `data[batch, i0, ..., ik-1, ...]`.
struct GatherNDOperator: GraphOperator {
    let site: OperatorSite
    let batchDims: Int

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let d = try site.type(inputs, 0), i = try site.type(inputs, 1)
        guard i.dtype == .s64 || i.dtype == .s32 else { throw site.error("indices must be int64 or int32, got \(i.dtype)") }
        guard let ds = d.shape, let s = i.shape else { return [ValueType(d.dtype, nil)] }
        guard s.rank >= 1, let k = s.dims[s.rank - 1].value else { throw site.error("the last dimension of indices must be known") }
        guard batchDims >= 0, batchDims < min(ds.rank, s.rank), batchDims + k <= ds.rank else {
            throw site.error("batch_dims \(batchDims) and index length \(k) do not fit data \(ds) and indices \(s)")
        }
        return [ValueType(d.dtype, SymbolicShape(Array(s.dims[..<(s.rank - 1)]) + Array(ds.dims[(batchDims + k)...])))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let data = try site.tensor(inputs, 0), idx = try site.tensor(inputs, 1)
        let index = try site.indices(idx)
        let ds = data.shape.dims, id = idx.shape.dims
        guard let k = id.last, batchDims >= 0, batchDims < min(ds.count, id.count), batchDims + k <= ds.count, Array(id[..<batchDims]) == Array(ds[..<batchDims]) else {
            throw site.error("batch_dims \(batchDims) and indices \(idx.shape) do not fit data \(data.shape): the first batch_dims axes must agree and the index length plus batch_dims be at most data's rank")
        }
        // Nothing to gather, however many batches an empty input declares.
        guard outputs[0].shape.elementCount > 0 else { return }
        let b = batchDims
        let batches = ds[..<b].reduce(1, *)
        let tuplesPerBatch = id[b..<(id.count - 1)].reduce(1, *)
        let slice = ds[(b + k)...].reduce(1, *)
        let strides = Strided.strides(data.shape)
        let batchStride = b == 0 ? 0 : strides[b - 1]
        let size = data.dtype.byteSize
        try data.withUnsafeBytes { src in
            try outputs[0].withUnsafeMutableBytes { dst in
                for batch in 0..<batches {
                    for t in 0..<tuplesPerBatch {
                        let tuple = (batch * tuplesPerBatch + t) * k
                        var offset = batch * batchStride
                        for j in 0..<k { offset += try site.normalized(index[tuple + j], size: ds[b + j], "index") * strides[b + j] }
                        let out = (batch * tuplesPerBatch + t) * slice
                        for e in 0..<slice { copyElement(dst, out + e, src, offset + e, size) }
                    }
                }
            }
        }
    }
}

/// ScatterElements and ScatterND: a copy of data with updates written at the indices,
/// replacing (`none`) or combined by `add`, `mul`, `max`, `min`.
struct ScatterOperator: GraphOperator {
    enum Reduction: String, Sendable { case none, add, mul, max, min }
    let site: OperatorSite
    /// ScatterElements (true) or ScatterND (false).
    let elements: Bool
    let axis: Int
    let reduction: Reduction

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let d = try site.type(inputs, 0), i = try site.type(inputs, 1), u = try site.type(inputs, 2, "updates")
        guard i.dtype == .s64 || i.dtype == .s32 else { throw site.error("indices must be int64 or int32, got \(i.dtype)") }
        guard u.dtype == d.dtype else { throw site.error("updates (\(u.dtype)) and data (\(d.dtype)) types differ") }
        guard reduction == .none || d.dtype.isNumeric else { throw site.error("reduction \(reduction.rawValue) needs numeric data, got \(d.dtype)") }
        return [d]
    }

    /// For each update element, in order, the element of data it lands on.
    func targets(_ data: TensorShape, _ idx: Tensor, _ updates: TensorShape) throws -> [Int] {
        let index = try site.indices(idx)
        let strides = Strided.strides(data)
        if elements {
            let a = try site.axis(axis, rank: data.rank)
            guard idx.shape == updates, idx.shape.rank == data.rank else { throw site.error("indices \(idx.shape) and updates \(updates) must have one shape, of data's rank \(data.rank)") }
            var result = [Int](repeating: 0, count: index.count)
            var coord = [Int](repeating: 0, count: updates.rank)
            for k in 0..<index.count {
                var offset = 0
                for r in 0..<updates.rank {
                    let c = r == a ? try site.normalized(index[k], size: data.dims[a], "index") : coord[r]
                    guard c < data.dims[r] else { throw site.error("indices \(idx.shape) reach beyond data \(data) along axis \(r)") }
                    offset += c * strides[r]
                }
                result[k] = offset
                var r = updates.rank - 1
                while r >= 0 {
                    coord[r] += 1
                    if coord[r] < updates.dims[r] { break }
                    coord[r] = 0
                    r -= 1
                }
            }
            return result
        }
        let id = idx.shape.dims
        guard let k = id.last, k <= data.rank else { throw site.error("the last dimension of indices \(idx.shape) must be at most data's rank \(data.rank)") }
        let slice = data.dims[k...].reduce(1, *), tuples = index.count / max(k, 1)
        let (expected, overflow) = tuples.multipliedReportingOverflow(by: slice)
        guard !overflow, updates.elementCount == expected else { throw site.error("updates \(updates) do not match indices \(idx.shape) and data \(data)") }
        var result: [Int] = []
        result.reserveCapacity(updates.elementCount)
        for t in 0..<tuples {
            var offset = 0
            for j in 0..<k { offset += try site.normalized(index[t * k + j], size: data.dims[j], "index") * strides[j] }
            for e in 0..<slice { result.append(offset + e) }
        }
        return result
    }

    struct Combine: NumericVisitor {
        let reduction: Reduction
        let updates: Tensor
        let targets: [Int]

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws {
            try updates.withUnsafeBufferPointer(as: T.self) { u in
                try out.withUnsafeMutableBufferPointer(as: T.self) { d in
                    for (k, t) in targets.enumerated() {
                        switch reduction {
                        case .none: d[t] = u[k]
                        case .add: d[t] = d[t].wrappingAdding(u[k])
                        case .mul: d[t] = d[t].wrappingMultiplying(u[k])
                        case .max: d[t] = Swift.max(d[t], u[k])
                        case .min: d[t] = Swift.min(d[t], u[k])
                        }
                    }
                }
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let data = try site.tensor(inputs, 0), idx = try site.tensor(inputs, 1), updates = try site.tensor(inputs, 2)
        let targets = try targets(data.shape, idx, updates.shape)
        try Elementwise.copy(data, into: &outputs[0])
        if reduction == .none {
            let size = data.dtype.byteSize
            updates.withUnsafeBytes { src in
                outputs[0].withUnsafeMutableBytes { dst in
                    for (k, t) in targets.enumerated() { copyElement(dst, t, src, k, size) }
                }
            }
            return
        }
        guard try data.dtype.visitNumeric(Combine(reduction: reduction, updates: updates, targets: targets), into: &outputs[0]) != nil else {
            throw site.error("reduction \(reduction.rawValue) needs numeric data, got \(data.dtype)")
        }
    }
}

/// `Trilu(input, k)`: keeps the upper (`upper = 1`: column - row ≥ k) or lower (column - row
/// ≤ k) triangle of each matrix in the last two axes; the rest is zero.
struct TriluOperator: GraphOperator {
    let site: OperatorSite
    let upper: Bool

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        if let s = t.shape, s.rank < 2 { throw site.error("needs a rank of at least 2, got \(s)") }
        return [t]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let k = try inputs.count > 1 ? inputs[1].map { try site.indices($0, "k").first ?? 0 } ?? 0 : 0
        let d = x.shape.dims, rows = d[d.count - 2], cols = d[d.count - 1]
        let matrices = x.shape.elementCount / max(rows * cols, 1), size = x.dtype.byteSize
        try Elementwise.copy(x, into: &outputs[0])
        let upper = upper
        outputs[0].withUnsafeMutableBytes { dst in
            guard let base = dst.baseAddress else { return }
            for m in 0..<matrices {
                for i in 0..<rows {
                    for j in 0..<cols where upper ? j - i < k : j - i > k {
                        (base + ((m * rows + i) * cols + j) * size).initializeMemory(as: UInt8.self, repeating: 0, count: size)
                    }
                }
            }
        }
    }
}

/// `OneHot(indices, depth, values)`: a new axis of size `depth` at `axis`, `values[1]` where
/// the index points and `values[0]` elsewhere. `depth` must be a constant (it sizes the output).
struct OneHotOperator: GraphOperator {
    let site: OperatorSite
    let axis: Int

    func depth(_ t: Tensor?) throws -> Int? {
        guard let t else { return nil }
        let v = try Elementwise.doubles(t)
        guard v.count == 1, let d = v.first, d.isFinite, d >= 1, d < Double(1 << 31) else { throw site.error("depth must be one positive number, got \(v.prefix(4))") }
        return Int(d)
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let i = try site.type(inputs, 0), values = try site.type(inputs, 2, "values")
        guard i.dtype.isNumeric else { throw site.error("indices must be numeric, got \(i.dtype)") }
        guard let s = i.shape else { return [ValueType(values.dtype, nil)] }
        guard let depth = try depth(constants.count > 1 ? constants[1] : nil) else { return [site.runtimeShaped(values.dtype, rank: s.rank + 1, "depth")] }
        let a = try site.axis(axis, rank: s.rank + 1)
        var dims = s.dims
        dims.insert(.fixed(depth), at: a)
        return [ValueType(values.dtype, SymbolicShape(dims))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let idx = try site.tensor(inputs, 0), values = try site.tensor(inputs, 2)
        guard let depth = try depth(inputs.count > 1 ? inputs[1] : nil) else { throw site.error("depth is missing") }
        guard values.shape.elementCount == 2 else { throw site.error("values must hold 2 elements (off, on), got \(values.shape)") }
        let a = try site.axis(axis, rank: idx.shape.rank + 1)
        // Nothing to write, however many rows empty indices declare ([2^40, 0]).
        guard outputs[0].shape.elementCount > 0 else { return }
        let index = try Elementwise.doubles(idx)
        let outer = idx.shape.dims[..<a].reduce(1, *), inner = idx.shape.dims[a...].reduce(1, *)
        let size = values.dtype.byteSize
        values.withUnsafeBytes { v in
            outputs[0].withUnsafeMutableBytes { dst in
                for o in 0..<outer {
                    for j in 0..<inner {
                        // An index outside [-depth, depth), NaN or infinite included, selects no class.
                        let raw = index[o * inner + j].rounded(.towardZero)
                        let hot = raw >= -Double(depth) && raw < Double(depth) ? (raw < 0 ? Int(raw) + depth : Int(raw)) : -1
                        for d in 0..<depth { copyElement(dst, (o * depth + d) * inner + j, v, d == hot ? 1 : 0, size) }
                    }
                }
            }
        }
    }
}
