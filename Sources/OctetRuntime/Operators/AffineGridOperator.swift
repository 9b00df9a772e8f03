import OctetCore

/// ONNX AffineGrid (opset 20): the sampling grid GridSample reads, from affine matrices.
/// `theta` is N x 2 x 3 (2-D) or N x 3 x 4 (3-D), `size` (int64) is N, C, H, W or N, C, D, H, W.
/// The output is N x H x W x 2 (or N x D x H x W x 3) with `grid[n, …] = theta[n] · (x, y[, z], 1)`,
/// where x runs over W, y over H, z over D in normalized coordinates: `-1 + 2i / (L − 1)` with
/// `align_corners` = 1, else `(2i + 1) / L − 1` (ONNX operator spec, AffineGrid). Floating
/// element types; products in Double.
struct AffineGridOperator: GraphOperator {
    let site: OperatorSite
    let alignCorners: Bool

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["AffineGrid"] = { n, _ in AffineGridOperator(site: OperatorSite(n), alignCorners: try n.int("align_corners", default: 0) != 0) }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let theta = try site.type(inputs, 0, "theta"), size = try site.type(inputs, 1, "size")
        guard theta.dtype.isFloatingPoint, size.dtype == .s64 else { throw site.error("needs floating-point theta and int64 size, got \(theta.dtype) and \(size.dtype)") }
        guard let s = try site.ints(constants.count > 1 ? constants[1] : nil, "size") else {
            return [site.runtimeShaped(theta.dtype, rank: size.shape?.dims.first?.value, "size")]
        }
        guard s.count == 4 || s.count == 5, s.allSatisfy({ $0 >= 1 }) else { throw site.error("size must be N, C, H, W or N, C, D, H, W (each ≥ 1), got \(s)") }
        return [ValueType(theta.dtype, SymbolicShape(([s[0]] + s[2...] + [s.count - 2]).map { .fixed($0) }))]
    }

    struct Kernel: FloatVisitor {
        let theta: Tensor
        let size: [Int]
        let alignCorners: Bool

        func visit<T: FloatElement>(_: T.Type, into out: inout Tensor) throws {
            let r = size.count - 2, spatial = Array(size[2...]), t = try theta.scalars(as: T.self).map(\.asDouble)
            let points = spatial.reduce(1, *), cols = r + 1
            func coordinate(_ i: Int, _ length: Int) -> Double {
                alignCorners ? (length == 1 ? 0 : -1 + 2 * Double(i) / Double(length - 1)) : (2 * Double(i) + 1) / Double(length) - 1
            }
            try out.withUnsafeMutableBufferPointer(as: T.self) { y in
                for n in 0..<size[0] {
                    for p in 0..<points {
                        // Spatial indices of p (row-major, D then H then W); the base point is (x, y[, z], 1).
                        var rest = p, base = [Double](repeating: 1, count: cols)
                        for a in stride(from: r - 1, through: 0, by: -1) {
                            base[r - 1 - a] = coordinate(rest % spatial[a], spatial[a])
                            rest /= spatial[a]
                        }
                        for row in 0..<r {
                            var v = 0.0
                            for k in 0..<cols { v += t[(n * r + row) * cols + k] * base[k] }
                            y[(n * points + p) * r + row] = T(converting: v)
                        }
                    }
                }
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let theta = try site.tensor(inputs, 0)
        guard let size = try site.ints(inputs[1], "size"), size.count == 4 || size.count == 5 else { throw site.error("size must hold 4 or 5 values") }
        let r = size.count - 2
        guard theta.shape.dims == [size[0], r, r + 1] else { throw site.error("theta must be \(size[0]) x \(r) x \(r + 1) for size \(size), got \(theta.shape)") }
        guard try theta.dtype.visitFloat(Kernel(theta: theta, size: size, alignCorners: alignCorners), into: &outputs[0]) != nil else {
            throw site.error("needs a floating-point theta, got \(theta.dtype)")
        }
    }
}
