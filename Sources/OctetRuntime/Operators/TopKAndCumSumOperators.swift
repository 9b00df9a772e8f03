import OctetCore

/// TopK (the k largest or smallest along an axis, with their int64 indices; ties keep the
/// lower index first; k must be known before running), CumSum and CumProd (running sums
/// or products along an axis given as input; `exclusive`, `reverse`; integers wrap), EyeLike (ones on diagonal `k` of a 2-D
/// shape, in `dtype` or the input's type) and GlobalMaxPool.
enum TopKAndCumSumOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["TopK"] = { n, opset in
            TopKOperator(site: OperatorSite(n), axis: try n.int("axis", default: -1), largest: try n.int("largest", default: 1) != 0,
                         attributeK: opset < 10 ? try n.int("k") : nil)
        }
        for (name, product) in [("CumSum", false), ("CumProd", true)] {
            f[name] = { n, _ in
                CumSumOperator(site: OperatorSite(n), exclusive: try n.int("exclusive", default: 0) != 0, reverse: try n.int("reverse", default: 0) != 0,
                               product: product)
            }
        }
        f["EyeLike"] = { n, _ in
            let code = try n.int("dtype")
            guard code == nil || ElementwiseOperators.castTarget(code ?? 0) != nil else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "dtype", expected: DType.onnxNames, got: "type code \(code ?? 0)")
            }
            return EyeLikeOperator(site: OperatorSite(n), k: try n.int("k", default: 0), dtype: code.flatMap(ElementwiseOperators.castTarget))
        }
        f["GlobalMaxPool"] = { n, _ in
            ReduceOperator(site: OperatorSite(n), kind: .max, attributeAxes: nil, keepDims: true, noopWithEmptyAxes: false, spatial: true)
        }
    }
}

struct TopKOperator: GraphOperator {
    let site: OperatorSite
    let axis: Int
    let largest: Bool
    let attributeK: Int?

    func k(_ constants: [Tensor?]) throws -> Int? {
        if let attributeK {
            guard attributeK >= 0 else { throw site.error("attribute k must be ≥ 0, got \(attributeK)") }
            return attributeK
        }
        guard let v = try site.ints(constants.count > 1 ? constants[1] : nil, "K")?.first else { return nil }
        guard v >= 0 else { throw site.error("K must be ≥ 0, got \(v)") }
        return v
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard x.dtype.isNumeric else { throw site.error("needs a numeric input, got \(x.dtype)") }
        guard let s = x.shape else { return [x, ValueType(.s64, nil)] }
        let a = try site.axis(axis, rank: s.rank)
        guard let k = try k(constants) else { return [site.runtimeShaped(x.dtype, rank: s.rank, "K"), site.runtimeShaped(.s64, rank: s.rank, "K")] }
        if let length = s.dims[a].value, k > length { throw site.error("K = \(k) exceeds the axis length \(length)") }
        var dims = s.dims
        dims[a] = .fixed(k)
        return [ValueType(x.dtype, SymbolicShape(dims)), ValueType(.s64, SymbolicShape(dims))]
    }

    struct Kernel: NumericVisitor {
        let x: Tensor, axis: Int, k: Int, largest: Bool

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws -> [Int64] {
            let dims = x.shape.dims, len = dims[axis]
            let inner = dims[(axis + 1)...].reduce(1, *), outer = dims[..<axis].reduce(1, *)
            let src = try x.scalars(as: T.self)
            var indices = [Int64](repeating: 0, count: outer * k * inner)
            let largest = largest
            try out.withUnsafeMutableBufferPointer(as: T.self) { d in
                for o in 0..<outer {
                    for j in 0..<inner {
                        let order = (0..<len).sorted { p, q in
                            let a = src[(o * len + p) * inner + j], b = src[(o * len + q) * inner + j]
                            if a == b || (a.isNaNValue && b.isNaNValue) { return p < q }
                            if a.isNaNValue { return largest }
                            if b.isNaNValue { return !largest }
                            return largest ? a > b : a < b
                        }
                        for r in 0..<k {
                            d[(o * k + r) * inner + j] = src[(o * len + order[r]) * inner + j]
                            indices[(o * k + r) * inner + j] = Int64(order[r])
                        }
                    }
                }
            }
            return indices
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let a = try site.axis(axis, rank: x.shape.rank)
        guard let k = try k(inputs), k <= x.shape.dims[a] else { throw site.error("K is missing or exceeds the axis length \(x.shape.dims[a])") }
        guard let indices = try x.dtype.visitNumeric(Kernel(x: x, axis: a, k: k, largest: largest), into: &outputs[0]) else {
            throw site.error("needs a numeric input, got \(x.dtype)")
        }
        if outputs.count > 1 {
            try outputs[1].withUnsafeMutableBufferPointer(as: Int64.self) { d in for i in 0..<min(d.count, indices.count) { d[i] = indices[i] } }
        }
    }
}

struct CumSumOperator: GraphOperator {
    let site: OperatorSite
    let exclusive: Bool
    let reverse: Bool
    /// CumProd: running products (the identity 1 where exclusive starts).
    var product = false

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard x.dtype.isNumeric else { throw site.error("needs a numeric input, got \(x.dtype)") }
        return [x]
    }

    struct Kernel: NumericVisitor {
        let x: Tensor, axis: Int, exclusive: Bool, reverse: Bool, product: Bool

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws {
            let dims = x.shape.dims, len = dims[axis]
            let inner = dims[(axis + 1)...].reduce(1, *), outer = dims[..<axis].reduce(1, *)
            let (exclusive, reverse, product) = (exclusive, reverse, product)
            func step(_ acc: T, _ v: T) -> T { product ? acc.wrappingMultiplying(v) : acc.wrappingAdding(v) }
            try x.withUnsafeBufferPointer(as: T.self) { s in
                try out.withUnsafeMutableBufferPointer(as: T.self) { d in
                    for o in 0..<outer {
                        for j in 0..<inner {
                            var acc = product ? T.one : T.zero
                            for k in 0..<len {
                                let i = reverse ? len - 1 - k : k, at = (o * len + i) * inner + j
                                if exclusive { d[at] = acc; acc = step(acc, s[at]) } else { acc = step(acc, s[at]); d[at] = acc }
                            }
                        }
                    }
                }
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        guard let axisValue = try site.ints(inputs.count > 1 ? inputs[1] : nil, "axis")?.first else { throw site.error("axis (input 1) is missing") }
        let a = try site.axis(axisValue, rank: x.shape.rank)
        guard try x.dtype.visitNumeric(Kernel(x: x, axis: a, exclusive: exclusive, reverse: reverse, product: product), into: &outputs[0]) != nil else {
            throw site.error("needs a numeric input, got \(x.dtype)")
        }
    }
}

struct EyeLikeOperator: GraphOperator {
    let site: OperatorSite
    let k: Int
    let dtype: DType?

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        if let s = x.shape, s.rank != 2 { throw site.error("needs a 2-D input, got \(s)") }
        return [ValueType(dtype ?? x.dtype, x.shape)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let (rows, cols) = (x.shape.dims[0], x.shape.dims[1])
        let one = try CastOperator.convert(try Tensor([Float(1)], shape: .scalar), to: outputs[0].dtype)
        let size = outputs[0].dtype.byteSize
        one.withUnsafeBytes { o in
            outputs[0].withUnsafeMutableBytes { d in
                guard let db = d.baseAddress, let ob = o.baseAddress else { return }
                db.initializeMemory(as: UInt8.self, repeating: 0, count: d.count)
                // Row i's one is at column i + k: rows max(0, -k) ..< min(rows, cols - k), without forming i + k for a huge k.
                let first = k >= 0 ? 0 : (k < -rows ? rows : -k)
                let last = k >= 0 ? (k >= cols ? 0 : Swift.min(rows, cols - k)) : (first == rows ? rows : Swift.min(rows, cols - k))
                for i in first..<Swift.max(first, last) { (db + (i * cols + i + k) * size).copyMemory(from: ob, byteCount: size) }
            }
        }
    }
}
