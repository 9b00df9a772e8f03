import OctetCore

/// Slices of a tensor along one axis and their inverse, stacking, over raw bytes (any
/// element type): what Scan and Loop need to feed and gather their bodies' values.
enum AxisSlicing {
    /// Element `index` of `t` along `axis`: `t`'s shape without that axis.
    static func slice(_ t: Tensor, axis: Int, index: Int) throws -> Tensor {
        let dims = t.shape.dims
        let outer = dims[..<axis].reduce(1, *), inner = dims[(axis + 1)...].reduce(1, *) * t.dtype.byteSize
        var outDims = dims
        outDims.remove(at: axis)
        var out = try Tensor(zeros: t.dtype, shape: TensorShape(outDims))
        t.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                // Empty slices copy nothing, however many outer rows ([2^40, 3, 0]) they have.
                for o in 0..<(inner == 0 ? 0 : outer) {
                    let r = (o * dims[axis] + index) * inner
                    copy(inner, from: src, at: r, to: dst, at: o * inner)
                }
            }
        }
        return out
    }

    /// Copies `count` bytes of `src` from offset `r` to `dst` at offset `w`.
    static func copy(_ count: Int, from src: UnsafeRawBufferPointer, at r: Int, to dst: UnsafeMutableRawBufferPointer, at w: Int) {
        UnsafeMutableRawBufferPointer(rebasing: dst[w..<(w + count)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[r..<(r + count)]))
    }

    /// `parts` (one shape and element type) stacked along a new `axis`; `empty` is the
    /// element type and shape of a part when there are none.
    static func stack(_ parts: [Tensor], axis: Int, empty: (DType, [Int])) throws -> Tensor {
        guard let first = parts.first else {
            var dims = empty.1
            dims.insert(0, at: min(axis, dims.count))
            return try Tensor(zeros: empty.0, shape: TensorShape(dims))
        }
        let dims = first.shape.dims
        let outer = dims[..<axis].reduce(1, *), inner = dims[axis...].reduce(1, *) * first.dtype.byteSize
        var outDims = dims
        outDims.insert(parts.count, at: axis)
        var out = try Tensor(zeros: first.dtype, shape: TensorShape(outDims))
        try out.withUnsafeMutableBytes { dst in
            for (k, p) in parts.enumerated() {
                guard p.shape == first.shape, p.dtype == first.dtype else {
                    throw GraphError.input(node: "", opType: "", detail: "stacked values differ: \(first.dtype)[\(first.shape)] and \(p.dtype)[\(p.shape)]")
                }
                p.withUnsafeBytes { src in
                    for o in 0..<(inner == 0 ? 0 : outer) {
                        let w = (o * parts.count + k) * inner
                        copy(inner, from: src, at: o * inner, to: dst, at: w)
                    }
                }
            }
        }
        return out
    }
}
