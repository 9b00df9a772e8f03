import OctetCore

/// ONNX Det (opsets 11, 22; onnx/defs/math/defs.cc): the determinant of each square matrix
/// in the last two axes of X (`* x M x M`), giving `*` (a scalar for one matrix). Any
/// floating type; computed in Double by LU factorization with partial pivoting
/// (the determinant is the pivots' product, negated once per row swap).
struct DeterminantOperator: GraphOperator {
    let site: OperatorSite

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["Det"] = { n, _ in DeterminantOperator(site: OperatorSite(n)) }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard x.dtype.isFloatingPoint else { throw site.error("input 0 (X) must be floating-point, got \(x.dtype)") }
        guard let s = x.shape else { return [ValueType(x.dtype, nil)] }
        guard s.rank >= 2 else { throw site.error("X must have rank ≥ 2 (* x M x M), got \(s)") }
        if let m = s.dims[s.rank - 1].value, let k = s.dims[s.rank - 2].value, m != k {
            throw site.error("X must hold square matrices (* x M x M), got \(s)")
        }
        return [ValueType(x.dtype, SymbolicShape(Array(s.dims.dropLast(2))))]
    }

    /// The determinant of the `m x m` row-major matrix `a` (overwritten).
    static func determinant(_ a: inout ArraySlice<Double>, _ m: Int) -> Double {
        let o = a.startIndex
        var det = 1.0
        for c in 0..<m {
            var pivot = c
            for r in (c + 1)..<max(c + 1, m) where abs(a[o + r * m + c]) > abs(a[o + pivot * m + c]) { pivot = r }
            let p = a[o + pivot * m + c]
            if p == 0 { return 0 }
            if pivot != c {
                for k in 0..<m { a.swapAt(o + pivot * m + k, o + c * m + k) }
                det = -det
            }
            det *= p
            for r in (c + 1)..<max(c + 1, m) {
                let f = a[o + r * m + c] / p
                if f == 0 { continue }
                for k in c..<m { a[o + r * m + k] -= f * a[o + c * m + k] }
            }
        }
        return det
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let dims = x.shape.dims
        guard dims.count >= 2, dims[dims.count - 1] == dims[dims.count - 2] else { throw site.error("X must hold square matrices (* x M x M), got \(x.shape)") }
        let m = dims[dims.count - 1], count = dims.dropLast(2).reduce(1, *)
        let a = try Elementwise.doubles(x)[...]
        var dets = [Double](repeating: 1, count: count)
        for i in 0..<count {
            var block = a[(i * m * m)..<((i + 1) * m * m)]
            dets[i] = Self.determinant(&block, m)
        }
        try CastOperator.convert(Tensor(dets, shape: outputs[0].shape), into: &outputs[0])
    }
}
