import OctetCore

/// The ops whose output shapes come from their input data: NonZero and Compress.
enum DataShapedOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["NonZero"] = { n, _ in NonZeroOperator(site: OperatorSite(n)) }
        f["Compress"] = { n, _ in CompressOperator(site: OperatorSite(n), axis: try n.int("axis")) }
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
        x.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                var w = 0
                for o in 0..<outer {
                    for j in chosen {
                        let r = (o * dims[a] + j) * inner
                        UnsafeMutableRawBufferPointer(rebasing: dst[w..<(w + inner)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[r..<(r + inner)]))
                        w += inner
                    }
                }
            }
        }
        return [out]
    }
}
