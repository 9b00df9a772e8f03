import COctetGraphKernels
import Foundation
import OctetCore

/// The Reduce family beside ReduceMean (ReduceMax, ReduceMin, ReduceSum, ReduceProd,
/// ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare) and ArgMax/ArgMin.
///
/// Axes come from the `axes` attribute before the opset that made them an input (13 for
/// ReduceSum, 18 for the rest) and from the optional constant input 1 after; no axes
/// reduce every axis unless `noop_with_empty_axes = 1`. `keepdims` (default 1) keeps the
/// reduced axes with size 1. Reducing an empty set gives the reduction's identity: -inf
/// (or the type's minimum) for max, +inf for min, 0 for sums, 1 for products, -inf for
/// the logarithms.
enum ReductionOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        let kinds: [(String, ReduceOperator.Kind, Int)] = [
            ("ReduceMax", .max, 18), ("ReduceMin", .min, 18), ("ReduceSum", .sum, 13), ("ReduceProd", .prod, 18),
            ("ReduceL1", .l1, 18), ("ReduceL2", .l2, 18), ("ReduceLogSum", .logSum, 18), ("ReduceLogSumExp", .logSumExp, 18),
            ("ReduceSumSquare", .sumSquare, 18),
        ]
        for (name, kind, inputSince) in kinds {
            f[name] = { n, opset in
                ReduceOperator(site: OperatorSite(n), kind: kind, attributeAxes: opset < inputSince ? try n.ints("axes") : nil,
                               keepDims: try n.int("keepdims", default: 1) != 0, noopWithEmptyAxes: try n.int("noop_with_empty_axes", default: 0) != 0)
            }
        }
        f["ArgMax"] = { n, _ in try ArgExtremumOperator(n, largest: true) }
        f["ArgMin"] = { n, _ in try ArgExtremumOperator(n, largest: false) }
    }
}

/// The reduced axes and the output shape of a reduction.
struct ReductionAxes {
    let site: OperatorSite
    let attributeAxes: [Int]?
    let keepDims: Bool
    let noopWithEmptyAxes: Bool
    /// Every axis from 2 on (the global pooling ops), whatever the inputs.
    var spatial = false

    /// The axes to reduce, from the attribute or constant input 1.
    func axes(_ rank: Int, _ constants: [Tensor?]) throws -> Set<Int> {
        if spatial { return Set(min(2, rank)..<rank) }
        let given = try attributeAxes ?? site.ints(constants.count > 1 ? constants[1] : nil, "axes")
        guard let given, !given.isEmpty else { return noopWithEmptyAxes ? [] : Set(0..<rank) }
        return Set(try given.map { a throws(GraphError) in try site.axis(a, rank: rank) })
    }

    func outputShape(_ s: SymbolicShape, _ inputs: [ValueType?], _ constants: [Tensor?]) throws -> SymbolicShape? {
        if attributeAxes == nil, !spatial, site.isRuntimeValue(inputs, constants, 1) {
            return site.runtimeShaped(.f32, rank: keepDims ? s.rank : nil, "axes").shape
        }
        let axes = try axes(s.rank, constants)
        var dims: [OctetCore.Dimension] = []
        for (i, d) in s.dims.enumerated() {
            if axes.contains(i) { if keepDims { dims.append(.fixed(1)) } } else { dims.append(d) }
        }
        return SymbolicShape(dims)
    }

    /// The input's shape with every reduced axis set to 1.
    func kept(_ shape: TensorShape, _ inputs: [Tensor?]) throws -> TensorShape {
        let axes = try axes(shape.rank, inputs)
        return try TensorShape(shape.dims.enumerated().map { axes.contains($0.offset) ? 1 : $0.element })
    }
}

struct ReduceOperator: GraphOperator {
    enum Kind: Sendable { case max, min, sum, prod, l1, l2, logSum, logSumExp, sumSquare }
    let site: OperatorSite
    let kind: Kind
    let axes: ReductionAxes

    init(site: OperatorSite, kind: Kind, attributeAxes: [Int]?, keepDims: Bool, noopWithEmptyAxes: Bool, spatial: Bool = false) {
        self.site = site
        self.kind = kind
        axes = ReductionAxes(site: site, attributeAxes: attributeAxes, keepDims: keepDims, noopWithEmptyAxes: noopWithEmptyAxes, spatial: spatial)
    }

    func accepts(_ d: DType) -> Bool {
        switch kind {
        case .max, .min: d.isNumeric || d == .bool
        case .sum, .prod, .l1, .sumSquare: d.isNumeric
        case .l2, .logSum, .logSumExp: d.isFloatingPoint
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard accepts(t.dtype) else { throw site.error("\(t.dtype) input is not supported") }
        guard let s = t.shape else { return [t] }
        return [ValueType(t.dtype, try axes.outputShape(s, inputs, constants))]
    }

    struct Kernel: NumericVisitor {
        let kind: Kind
        let x: Tensor
        let kept: TensorShape

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws {
            let strides = Broadcasting.strides(of: kept, in: x.shape)
            switch kind {
            case .max, .min:
                let largest = kind == .max
                var acc = [T](repeating: largest ? T.lowest : T.highest, count: kept.elementCount)
                var nan = [Bool](repeating: false, count: kept.elementCount)
                try x.withUnsafeBufferPointer(as: T.self) { src in
                    Strided.forEachRow(x.shape, strides: [strides], offsets: [0]) { base, off, n, st in
                        for i in 0..<n {
                            let v = src[base + i], k = off[0] + i * st[0]
                            if v.isNaNValue { nan[k] = true } else if largest ? v > acc[k] : v < acc[k] { acc[k] = v }
                        }
                    }
                }
                try out.withUnsafeMutableBufferPointer(as: T.self) { d in
                    for i in 0..<d.count { d[i] = nan[i] ? T(converting: .nan) : acc[i] }
                }
            default:
                guard T.isFloatingPoint else {
                    // Integers: wrap as NumPy and ONNX Runtime do.
                    var acc = [T](repeating: kind == .prod ? T.one : T.zero, count: kept.elementCount)
                    let kind = kind
                    try x.withUnsafeBufferPointer(as: T.self) { src in
                        Strided.forEachRow(x.shape, strides: [strides], offsets: [0]) { base, off, n, st in
                            for i in 0..<n {
                                let v = src[base + i], k = off[0] + i * st[0]
                                switch kind {
                                case .prod: acc[k] = acc[k].wrappingMultiplying(v)
                                case .l1: acc[k] = acc[k].wrappingAdding(v < .zero ? v.wrappingNegated : v)
                                case .sumSquare: acc[k] = acc[k].wrappingAdding(v.wrappingMultiplying(v))
                                default: acc[k] = acc[k].wrappingAdding(v)
                                }
                            }
                        }
                    }
                    try out.withUnsafeMutableBufferPointer(as: T.self) { d in for i in 0..<d.count { d[i] = acc[i] } }
                    return
                }
                // Floats accumulate in double; log-sum-exp subtracts the maximum first.
                var shift = [Double](repeating: 0, count: kept.elementCount)
                let values = try x.scalars(as: T.self)
                if kind == .logSumExp {
                    shift = [Double](repeating: -.infinity, count: kept.elementCount)
                    Strided.forEachRow(x.shape, strides: [strides], offsets: [0]) { base, off, n, st in
                        for i in 0..<n { shift[off[0] + i * st[0]] = Swift.max(shift[off[0] + i * st[0]], values[base + i].asDouble) }
                    }
                    for i in shift.indices where !shift[i].isFinite { shift[i] = 0 }
                }
                var acc = [Double](repeating: kind == .prod ? 1 : 0, count: kept.elementCount)
                let kind = kind
                Strided.forEachRow(x.shape, strides: [strides], offsets: [0]) { base, off, n, st in
                    for i in 0..<n {
                        let v = values[base + i].asDouble, k = off[0] + i * st[0]
                        switch kind {
                        case .prod: acc[k] *= v
                        case .l1: acc[k] += Swift.abs(v)
                        case .l2, .sumSquare: acc[k] += v * v
                        case .logSumExp: acc[k] += Foundation.exp(v - shift[k])
                        default: acc[k] += v
                        }
                    }
                }
                try out.withUnsafeMutableBufferPointer(as: T.self) { d in
                    for i in 0..<d.count {
                        switch kind {
                        case .l2: d[i] = T(converting: acc[i].squareRoot())
                        case .logSum: d[i] = T(converting: Foundation.log(acc[i]))
                        case .logSumExp: d[i] = T(converting: Foundation.log(acc[i]) + shift[i])
                        default: d[i] = T(converting: acc[i])
                        }
                    }
                }
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let kept = try axes.kept(x.shape, inputs)
        if x.dtype == .bool {
            // Max and min of bools are any and all: the same bytes (0 or 1) reduced as u8.
            var bytes = try Self.reinterpreted(outputs[0], as: .u8)
            _ = try DType.u8.visitNumeric(Kernel(kind: kind, x: try Self.reinterpreted(x, as: .u8), kept: kept), into: &bytes)
            outputs[0] = try Self.reinterpreted(bytes, as: .bool)
            return
        }
        let fastKinds: [Kind: octet_reduce_kind] = [.max: OCTET_REDUCE_MAX, .min: OCTET_REDUCE_MIN, .sum: OCTET_REDUCE_SUM_F64]
        if x.dtype == .f32, let fast = fastKinds[kind] {
            let axes = Set(kept.dims.indices.filter { kept.dims[$0] == 1 && x.shape.dims[$0] != 1 })
            if try HotPathKernels.reduce(fast, x, axes: axes, into: &outputs[0]) { return }
        }
        guard try x.dtype.visitNumeric(Kernel(kind: kind, x: x, kept: kept), into: &outputs[0]) != nil else {
            throw site.error("\(x.dtype) input is not supported")
        }
    }
}

extension ReduceOperator {
    /// A copy of `t`'s bytes as a tensor of `dtype` (of the same element size).
    static func reinterpreted(_ t: Tensor, as dtype: DType) throws -> Tensor {
        var r = try Tensor(zeros: dtype, shape: t.shape)
        t.withUnsafeBytes { src in r.withUnsafeMutableBytes { $0.copyMemory(from: src) } }
        return r
    }
}

/// ArgMax / ArgMin along `axis` (int64 indices); `select_last_index` picks the last of
/// equal extremes; `keepdims` keeps the axis with size 1. A NaN counts as the extreme.
struct ArgExtremumOperator: GraphOperator {
    let site: OperatorSite
    let largest: Bool
    let axis: Int
    let keepDims: Bool
    let last: Bool

    init(_ n: Node, largest: Bool) throws {
        site = OperatorSite(n)
        self.largest = largest
        axis = try n.int("axis", default: 0)
        keepDims = try n.int("keepdims", default: 1) != 0
        last = try n.int("select_last_index", default: 0) != 0
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype.isNumeric else { throw site.error("needs a numeric input, got \(t.dtype)") }
        guard let s = t.shape else { return [ValueType(.s64, nil)] }
        let a = try site.axis(axis, rank: s.rank)
        var dims = s.dims
        if keepDims { dims[a] = .fixed(1) } else { dims.remove(at: a) }
        return [ValueType(.s64, SymbolicShape(dims))]
    }

    struct Kernel: NumericVisitor {
        let x: Tensor, axis: Int, largest: Bool, last: Bool

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws -> [Int64] {
            let dims = x.shape.dims
            let len = dims[axis], inner = dims[(axis + 1)...].reduce(1, *), outer = dims[..<axis].reduce(1, *)
            var result = [Int64](repeating: 0, count: outer * inner)
            try x.withUnsafeBufferPointer(as: T.self) { src in
                for o in 0..<outer {
                    for j in 0..<inner {
                        var best = 0
                        var bestValue: T? = nil
                        for i in 0..<len {
                            let v = src[(o * len + i) * inner + j]
                            guard let b = bestValue else { bestValue = v; best = i; continue }
                            if b.isNaNValue { continue }
                            let better = v.isNaNValue ? true : (largest ? v > b : v < b)
                            if better || (last && v == b) { bestValue = v; best = i }
                        }
                        result[o * inner + j] = Int64(best)
                    }
                }
            }
            return result
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let a = try site.axis(axis, rank: x.shape.rank)
        guard x.shape.dims[a] > 0 else { throw site.error("axis \(axis) has no elements to choose from (input \(x.shape))") }
        guard let indices = try x.dtype.visitNumeric(Kernel(x: x, axis: a, largest: largest, last: last), into: &outputs[0]) else {
            throw site.error("needs a numeric input, got \(x.dtype)")
        }
        try outputs[0].withUnsafeMutableBufferPointer(as: Int64.self) { d in for i in 0..<min(d.count, indices.count) { d[i] = indices[i] } }
    }
}
