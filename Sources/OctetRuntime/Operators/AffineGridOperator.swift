import OctetCore

/// ONNX AffineGrid (opset 20; onnx/defs/tensor/defs.cc, reference
/// onnx/reference/ops/op_affine_grid.py): the sampling grid GridSample reads, from affine
/// matrices `theta` (`N x 2 x 3` for 2-D, `N x 3 x 4` for 3-D) and `size` (int64
/// `[N, C, H, W]` or `[N, C, D, H, W]`). Output `N x H x W x 2` (or `N x D x H x W x 3`),
/// each point `theta[n] · (x, y[, z], 1)` over the normalized base grid: positions
/// `-1 + 2i/(L-1)` with `align_corners` 1 (-1 for L = 1), `-1 + (2i+1)/L` with 0 (the
/// default); x runs along W. Any floating type; computed in Double.
struct AffineGridOperator: GraphOperator {
    let site: OperatorSite
    let alignCorners: Bool

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["AffineGrid"] = { n, _ in AffineGridOperator(site: OperatorSite(n), alignCorners: try n.int("align_corners", default: 0) != 0) }
    }

    /// The spatial sizes from `size`: H, W or D, H, W.
    func spatial(_ size: Tensor) throws -> (batch: Int, dims: [Int]) {
        let v = try site.indices(size, "size")
        guard v.count == 4 || v.count == 5, v.allSatisfy({ $0 >= 0 }) else {
            throw site.error("size must hold [N, C, H, W] or [N, C, D, H, W] (non-negative), got \(v)")
        }
        return (v[0], Array(v[2...]))
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let theta = try site.type(inputs, 0, "theta")
        guard theta.dtype.isFloatingPoint else { throw site.error("input 0 (theta) must be floating-point, got \(theta.dtype)") }
        let sizeType = try site.type(inputs, 1, "size")
        guard constants.count > 1, let size = constants[1] else {
            let n = sizeType.shape?.dims.first?.value
            return [site.runtimeShaped(theta.dtype, rank: n.map { $0 == 5 ? 5 : 4 }, "size")]
        }
        let (batch, dims) = try spatial(size)
        return [ValueType(theta.dtype, try TensorShape([batch] + dims + [dims.count]))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let thetaT = try site.tensor(inputs, 0)
        let (batch, dims) = try spatial(try site.tensor(inputs, 1))
        let r = dims.count
        guard thetaT.shape.dims == [batch, r, r + 1] else {
            throw site.error("theta must be \(batch)x\(r)x\(r + 1) for a size of \(r) spatial axes, got \(thetaT.shape)")
        }
        let theta = try Elementwise.doubles(thetaT)
        // The base coordinate of position i along an axis of length l.
        func base(_ i: Int, _ l: Int) -> Double {
            alignCorners ? (l > 1 ? -1 + 2 * Double(i) / Double(l - 1) : -1) : -1 + Double(2 * i + 1) / Double(l)
        }
        let points = dims.reduce(1, *)
        var grid = [Double](repeating: 0, count: batch * points * r)
        var coordinate = [Double](repeating: 1, count: r + 1)
        for n in 0..<batch {
            for p in 0..<points {
                // Coordinates in (x, y, z) order: x from the last axis.
                var rest = p
                for a in stride(from: r - 1, through: 0, by: -1) {
                    coordinate[r - 1 - a] = base(rest % dims[a], dims[a])
                    rest /= dims[a]
                }
                for k in 0..<r {
                    var v = 0.0
                    for j in 0...r { v += theta[(n * r + k) * (r + 1) + j] * coordinate[j] }
                    grid[(n * points + p) * r + k] = v
                }
            }
        }
        try CastOperator.convert(Tensor(grid, shape: outputs[0].shape), into: &outputs[0])
    }
}
