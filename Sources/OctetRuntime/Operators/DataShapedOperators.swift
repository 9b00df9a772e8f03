import OctetCore

/// The ops whose output shapes come from their input data: NonZero, Compress, Unique.
enum DataShapedOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["NonZero"] = { n, _ in NonZeroOperator(site: OperatorSite(n)) }
        f["Compress"] = { n, _ in CompressOperator(site: OperatorSite(n), axis: try n.int("axis")) }
        f["Unique"] = { n, _ in UniqueOperator(site: OperatorSite(n), axis: try n.int("axis"), sorted: try n.int("sorted", default: 1) != 0) }
    }

    /// Whether element `i` of `t`'s bytes is not zero: any byte set, but for the sign bit
    /// of a floating-point element (-0.0 is zero).
    static func isNonZero(_ bytes: UnsafeRawBufferPointer, _ i: Int, dtype: DType) -> Bool {
        let size = dtype.byteSize, base = i * size
        for b in 0..<size {
            var byte = bytes[base + b]
            if b == size - 1, dtype == .f32 || dtype == .f16 { byte &= 0x7F }  // little-endian: the sign is in the last byte
            if byte != 0 { return true }
        }
        return false
    }
}

/// `NonZero(X)`: the indices of X's non-zero elements, int64 `[rank(X), count]`, in
/// row-major order (ONNX NonZero; NumPy `nonzero` stacked). A scalar X gives `[1, count]`,
/// as ONNX Runtime and the reference implementation.
struct NonZeroOperator: DataShapedOperator {
    let site: OperatorSite

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let rank = try site.shape(inputs, 0).rank
        return [ValueType(.s64, SymbolicShape([.fixed(max(rank, 1)), .symbol("\(site.node):nonzero")]))]
    }

    func runShaped(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try site.tensor(inputs, 0)
        let dims = x.shape.dims.isEmpty ? [1] : x.shape.dims
        let found: [Int] = x.withUnsafeBytes { bytes in
            (0..<x.shape.elementCount).filter { DataShapedOperators.isNonZero(bytes, $0, dtype: x.dtype) }
        }
        var out = [Int64](repeating: 0, count: dims.count * found.count)
        for (k, flat) in found.enumerated() {
            var rest = flat
            for d in dims.indices.reversed() {
                out[d * found.count + k] = Int64(rest % dims[d])
                rest /= dims[d]
            }
        }
        return [try Tensor(out, shape: try TensorShape([dims.count, found.count]))]
    }
}

/// `Compress(input, condition)`: the slices of `input` along `axis` whose `condition`
/// (bool, 1-D, at most that axis' length; missing entries are false) is true; without
/// `axis`, the elements of the flattened input (ONNX Compress, NumPy `compress`).
struct CompressOperator: DataShapedOperator {
    let site: OperatorSite
    let axis: Int?

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), c = try site.type(inputs, 1, "condition")
        guard c.dtype == .bool else { throw site.error("condition must be bool, got \(c.dtype)") }
        guard let shape = x.shape else { return [ValueType(x.dtype, nil)] }
        guard let axis else { return [ValueType(x.dtype, SymbolicShape([.symbol("\(site.node):compressed")]))] }
        let a = try site.axis(axis, rank: shape.rank)
        var dims = shape.dims
        dims[a] = .symbol("\(site.node):compressed")
        return [ValueType(x.dtype, SymbolicShape(dims))]
    }

    func runShaped(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try site.tensor(inputs, 0), c = try site.tensor(inputs, 1)
        guard c.dtype == .bool, c.shape.rank == 1 else { throw site.error("condition must be a 1-D bool tensor, got \(c.dtype)[\(c.shape)]") }
        let keep = try c.scalars(as: Bool.self)
        let dims = axis == nil ? [x.shape.elementCount] : x.shape.dims
        let a = try axis.map { try site.axis($0, rank: dims.count) } ?? 0
        guard keep.count <= dims[a] else { throw site.error("condition has \(keep.count) entries, more than the \(dims[a]) of axis \(a)") }
        let outer = dims[..<a].reduce(1, *), inner = dims[(a + 1)...].reduce(1, *) * x.dtype.byteSize
        let chosen = keep.indices.filter { keep[$0] }
        var outDims = dims
        outDims[a] = chosen.count
        var out = try Tensor(zeros: x.dtype, shape: try TensorShape(outDims))
        // Nothing to copy, however many rows an empty input declares.
        guard out.shape.elementCount > 0 else { return [out] }
        x.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                var w = 0
                for o in 0..<outer {
                    for j in chosen {
                        let r = (o * dims[a] + j) * inner
                        AxisSlicing.copy(inner, from: src, at: r, to: dst, at: w)
                        w += inner
                    }
                }
            }
        }
        return [out]
    }
}

/// `Unique(X)`: the distinct elements of X (flattened), or with `axis` its distinct slices
/// along that axis; `sorted` (default 1) orders them ascending (slices lexicographically),
/// else by first occurrence. Outputs Y, then int64 `indices` (first occurrence of each in
/// X), `inverse_indices` (for each element or slice of X, its place in Y) and `counts`
/// (ONNX Unique; NumPy `unique` with `return_index`, `return_inverse`, `return_counts`).
struct UniqueOperator: DataShapedOperator {
    let site: OperatorSite
    let axis: Int?
    let sorted: Bool
    /// The most slices an empty X may have.
    static let emptySlices = 1 << 16

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        let count = Dimension.symbol("\(site.node):unique")
        var y = ValueType(x.dtype, SymbolicShape([count]))
        if let axis, let shape = x.shape {
            var dims = shape.dims
            dims[try site.axis(axis, rank: shape.rank)] = count
            y = ValueType(x.dtype, SymbolicShape(dims))
        }
        // inverse_indices: one per element (or slice along the axis) of X.
        return [y, ValueType(.s64, SymbolicShape([count])), ValueType(.s64, SymbolicShape([.symbol("\(site.node):inverse")])),
                ValueType(.s64, SymbolicShape([count]))]
    }

    func runShaped(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try site.tensor(inputs, 0)
        let dims = axis == nil ? [x.shape.elementCount] : x.shape.dims
        let a = try axis.map { try site.axis($0, rank: dims.count) } ?? 0
        let outer = dims[..<a].reduce(1, *), inner = dims[(a + 1)...].reduce(1, *), n = dims[a]
        // One key and one inverse index per slice: an empty X may declare more slices than
        // any real one holds (2^40 x 0), so they are bounded by X's elements (or 2^16).
        guard n <= max(x.shape.elementCount, Self.emptySlices) else {
            throw site.error("X \(x.shape) is empty but has \(n) slices along axis \(a); at most \(Self.emptySlices)")
        }
        let size = x.dtype.byteSize
        let numbers = try Self.numbers(x, site)
        // Slice k of X along the axis: its bytes (for equality) and numbers (for order).
        var keys: [[UInt8]] = [], values: [[Double]] = []
        // An empty X has empty slices, however many outer rows it declares (2^40 x 0 along
        // the last axis): nothing to read or copy for any of them.
        let rows = x.shape.elementCount == 0 ? 0 : outer
        x.withUnsafeBytes { bytes in
            for k in 0..<n {
                var key: [UInt8] = [], value: [Double] = []
                for o in 0..<rows {
                    let start = (o * n + k) * inner
                    key += bytes[(start * size)..<((start + inner) * size)]
                    value += numbers[start..<(start + inner)]
                }
                keys.append(key)
                values.append(value)
            }
        }
        var firstOf: [[UInt8]: Int] = [:], order: [Int] = []
        for k in 0..<n where firstOf[keys[k]] == nil {
            firstOf[keys[k]] = k
            order.append(k)
        }
        if sorted { order.sort { values[$0].lexicographicallyPrecedes(values[$1]) } }
        var place: [[UInt8]: Int] = [:]
        for (i, k) in order.enumerated() { place[keys[k]] = i }
        var counts = [Int64](repeating: 0, count: order.count)
        let inverse = (0..<n).map { k -> Int64 in
            let i = place[keys[k]] ?? 0
            counts[i] += 1
            return Int64(i)
        }
        var yDims = axis == nil ? [order.count] : x.shape.dims
        if axis != nil { yDims[a] = order.count }
        var y = try Tensor(zeros: x.dtype, shape: try TensorShape(yDims))
        x.withUnsafeBytes { src in
            y.withUnsafeMutableBytes { dst in
                for o in 0..<rows {
                    for (i, k) in order.enumerated() {
                        let r = (o * n + k) * inner * size, w = (o * order.count + i) * inner * size
                        AxisSlicing.copy(inner * size, from: src, at: r, to: dst, at: w)
                    }
                }
            }
        }
        return [y, try Tensor(order.map { Int64($0) }, shape: try TensorShape([order.count])),
                try Tensor(inverse, shape: try TensorShape([n])), try Tensor(counts, shape: try TensorShape([order.count]))]
    }

    /// X's elements as numbers, for ordering.
    static func numbers(_ x: Tensor, _ site: OperatorSite) throws -> [Double] {
        switch x.dtype {
        case .f32: return try x.scalars(as: Float.self).map(Double.init)
        case .s64: return try x.scalars(as: Int64.self).map(Double.init)
        case .s32: return try x.scalars(as: Int32.self).map(Double.init)
        case .u8: return try x.scalars(as: UInt8.self).map(Double.init)
        case .s8: return try x.scalars(as: Int8.self).map(Double.init)
        case .bool: return try x.scalars(as: Bool.self).map { $0 ? 1 : 0 }
        default: throw site.error("Unique of \(x.dtype) is not supported (f32, s64, s32, u8, s8, bool are)")
        }
    }
}
