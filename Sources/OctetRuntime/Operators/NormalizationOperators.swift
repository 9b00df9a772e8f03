import COctetGraphKernels
import Foundation
import OctetCore

/// Softmax, LayerNormalization, BatchNormalization (inference), ReduceMean.
enum NormalizationOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["Softmax"] = { n, opset in
            // Before opset 13 Softmax flattens to 2-D at `axis` (default 1); from 13 it runs along one axis (default -1).
            SoftmaxOperator(site: OperatorSite(n), axis: try n.int("axis", default: opset < 13 ? 1 : -1), coerced: opset < 13)
        }
        f["LayerNormalization"] = { n, _ in
            LayerNormOperator(site: OperatorSite(n), axis: try n.int("axis", default: -1), epsilon: try n.float("epsilon", default: 1e-5),
                              statistics: n.outputs.dropFirst().contains { !$0.isEmpty })
        }
        f["BatchNormalization"] = { n, opset in
            // Opsets 7 and 8: spatial = 0 took per-element statistics (scale, B, mean, var of C x H x W).
            guard try opset >= 9 || n.int("spatial", default: 1) == 1 else {
                throw GraphError.node(node: n.name, opType: n.opType, detail: "spatial = 0 (per-element statistics, opset \(opset)) is not supported")
            }
            let training = try opset >= 14 && n.int("training_mode", default: 0) != 0
            return BatchNormOperator(site: OperatorSite(n), epsilon: try n.float("epsilon", default: 1e-5), training: training,
                                     momentum: try n.float("momentum", default: 0.9),
                                     runningOutputs: training && n.outputs.dropFirst().contains { !$0.isEmpty })
        }
        f["ReduceMean"] = { n, opset in
            ReduceMeanOperator(site: OperatorSite(n), attributeAxes: opset < 18 ? try n.ints("axes") : nil,
                               keepDims: try n.int("keepdims", default: 1) != 0, noopWithEmptyAxes: try n.int("noop_with_empty_axes", default: 0) != 0)
        }
    }
}

/// Rows of `inner` contiguous values, `outer` of them (the shape split at an axis).
func split(_ shape: TensorShape, at axis: Int) -> (outer: Int, inner: Int) {
    (shape.dims[..<axis].reduce(1, *), shape.dims[axis...].reduce(1, *))
}

struct SoftmaxOperator: GraphOperator {
    let site: OperatorSite
    let axis: Int
    let coerced: Bool

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype == .f32 else { throw site.error("needs f32 input, got \(t.dtype)") }
        return [t]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let shape = x.shape
        let a = try site.axis(axis, rank: shape.rank)
        // Reduce over `len` elements spaced `stride` apart, `outer * stride` times.
        let len = coerced ? shape.dims[a...].reduce(1, *) : shape.dims[a]
        let stride = coerced ? 1 : shape.dims[(a + 1)...].reduce(1, *)
        let outer = shape.elementCount / max(len * stride, 1)
        try x.withUnsafeBufferPointer(as: Float.self) { src in
            try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
                if stride == 1, let s = src.baseAddress, let d = dst.baseAddress {
                    IntraOpParallelism.forEachChunk(outer, grain: max(1, 4096 / max(len, 1)), Rows(s: s, d: d, len: len))
                    return
                }
                if stride > 1 {
                    HotPathKernels.softmaxStrided(src, dst, n: len, stride: stride)
                    return
                }
                for o in 0..<outer {
                    for s in 0..<stride {
                        let base = o * len * stride + s
                        var m = -Float.infinity
                        for i in 0..<len { m = max(m, src[base + i * stride]) }
                        var sum: Float = 0
                        for i in 0..<len {
                            let e = Foundation.exp(src[base + i * stride] - m)
                            dst[base + i * stride] = e
                            sum += e
                        }
                        let inv = 1 / sum
                        for i in 0..<len { dst[base + i * stride] *= inv }
                    }
                }
            }
        }
    }

    /// Softmax of the rows `range` (`len` contiguous values each).
    private struct Rows: RangeTask {
        let s: UnsafePointer<Float>, d: UnsafeMutablePointer<Float>, len: Int
        func callAsFunction(_ r: Range<Int>) { octet_f32_softmax_rows(s + r.lowerBound * len, d + r.lowerBound * len, r.count, len) }
    }
}

/// LayerNormalization over the dimensions from `axis` on: `Y = (X - mean) * inv_std * scale + B`.
/// When the node asks for them, also outputs `Mean` and `InvStdDev = 1 / sqrt(var + epsilon)`,
/// each with X's rank and size 1 from `axis` on (f32).
struct LayerNormOperator: GraphOperator {
    let site: OperatorSite
    let axis: Int
    let epsilon: Float
    /// Whether the node has the optional outputs Mean and InvStdDev.
    var statistics = false

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype == .f32 else { throw site.error("needs f32 input, got \(t.dtype)") }
        guard statistics else { return [t] }
        guard let s = t.shape else { return [t, ValueType(.f32, nil), ValueType(.f32, nil)] }
        let a = try site.axis(axis, rank: s.rank)
        let reduced = ValueType(.f32, SymbolicShape(Array(s.dims[..<a]) + Array(repeating: .fixed(1), count: s.rank - a)))
        return [t, reduced, reduced]
    }

    /// Mean and 1 / sqrt(variance + epsilon) of each of `rows` rows of `n` values.
    static func statistics(_ x: UnsafeBufferPointer<Float>, rows: Int, n: Int, epsilon: Float) -> (mean: [Float], invStd: [Float]) {
        var mean = [Float](repeating: 0, count: rows), inv = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            var sum = 0.0
            for i in 0..<n { sum += Double(x[r * n + i]) }
            let m = n > 0 ? sum / Double(n) : 0
            var sq = 0.0
            for i in 0..<n { let d = Double(x[r * n + i]) - m; sq += d * d }
            mean[r] = Float(m)
            inv[r] = Float(1 / (sq / Double(max(n, 1)) + Double(epsilon)).squareRoot())
        }
        return (mean, inv)
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0), gamma = try site.tensor(inputs, 1)
        let beta = inputs.count > 2 ? inputs[2] : nil
        let a = try site.axis(axis, rank: x.shape.rank)
        let (rows, n) = split(x.shape, at: a)
        guard gamma.shape.elementCount == n, beta.map({ $0.shape.elementCount == n }) ?? true else {
            throw site.error("scale and bias must hold \(n) values (the normalized dimensions of \(x.shape))")
        }
        // An empty input: nothing to normalize, though [2^63 - 1, 0] still counts 2^63 - 1 rows.
        guard x.shape.elementCount > 0 else { return }
        let g = try gamma.scalars(as: Float.self)
        let b = try beta?.scalars(as: Float.self) ?? [Float](repeating: 0, count: n)
        try x.withUnsafeBufferPointer(as: Float.self) { src in
            try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
                g.withUnsafeBufferPointer { gp in
                    b.withUnsafeBufferPointer { bp in
                        guard let s = src.baseAddress, let d = dst.baseAddress, let gb = gp.baseAddress, let bb = bp.baseAddress else { return }
                        IntraOpParallelism.forEachChunk(rows, grain: max(1, 4096 / max(n, 1)), Rows(s: s, gamma: gb, beta: bb, d: d, n: n, epsilon: epsilon))
                    }
                }
            }
        }
        guard outputs.count >= 3 else { return }
        let (mean, inv) = try x.withUnsafeBufferPointer(as: Float.self) { Self.statistics($0, rows: rows, n: n, epsilon: epsilon) }
        try outputs[1].withUnsafeMutableBufferPointer(as: Float.self) { d in for i in 0..<min(d.count, rows) { d[i] = mean[i] } }
        try outputs[2].withUnsafeMutableBufferPointer(as: Float.self) { d in for i in 0..<min(d.count, rows) { d[i] = inv[i] } }
    }

    /// Normalization of the rows `range` (`n` values each).
    private struct Rows: RangeTask {
        let s: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, d: UnsafeMutablePointer<Float>, n: Int, epsilon: Float
        func callAsFunction(_ r: Range<Int>) { octet_f32_layer_norm_rows(s + r.lowerBound * n, gamma, beta, d + r.lowerBound * n, r.count, n, epsilon) }
    }
}

/// Inference BatchNormalization: `(x - mean) / sqrt(var + eps) * scale + bias` per channel (axis 1).
/// BatchNormalization (ONNX operator spec, opsets 7–15). Inference: `y = scale · (x − mean)
/// / √(var + epsilon) + B` per channel. With `training_mode` = 1 (opset 14) the batch's own
/// per-channel mean and population variance (over every axis but 1) replace `mean` and
/// `var`, and the optional outputs running_mean and running_var are
/// `input_mean · momentum + batch_mean · (1 − momentum)` (the same for var), as
/// onnx/reference/ops/op_batch_normalization.py. f32 only; batch statistics in Double.
struct BatchNormOperator: GraphOperator {
    let site: OperatorSite
    let epsilon: Float
    var training = false
    var momentum: Float = 0.9
    /// running_mean and running_var are wanted (training mode only).
    var runningOutputs = false

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype == .f32 else { throw site.error("needs f32 input, got \(t.dtype)") }
        guard runningOutputs else { return [t] }
        let c: OctetCore.Dimension = t.shape.flatMap { $0.rank >= 2 ? $0.dims[1] : nil } ?? .symbol("\(site.node)_c")
        return [t, ValueType(.f32, SymbolicShape([c])), ValueType(.f32, SymbolicShape([c]))]
    }

    /// The batch's per-channel mean and population variance of x (N x C x …).
    private static func batchStatistics(_ x: Tensor) throws -> (mean: [Float], variance: [Float]) {
        let (nb, c) = (x.shape.dims[0], x.shape.dims[1]), inner = x.shape.dims[2...].reduce(1, *)
        let v = try x.scalars(as: Float.self), count = Double(max(nb * inner, 1))
        var mean = [Float](repeating: 0, count: c), variance = [Float](repeating: 0, count: c)
        // An empty batch has zero statistics, though [2^40, c, 0] still counts 2^40 items.
        for ch in 0..<(v.isEmpty ? 0 : c) {
            var sum = 0.0, squares = 0.0
            for n in 0..<nb { for i in 0..<inner { sum += Double(v[(n * c + ch) * inner + i]) } }
            let m = sum / count
            for n in 0..<nb { for i in 0..<inner { let d = Double(v[(n * c + ch) * inner + i]) - m; squares += d * d } }
            (mean[ch], variance[ch]) = (Float(m), Float(squares / count))
        }
        return (mean, variance)
    }

    /// Per-channel multiplier and offset.
    static func affine(_ inputs: [Tensor?], channels: Int, epsilon: Float, site: OperatorSite) throws -> ([Float], [Float]) {
        let parts = try (1...4).map { i in try site.tensor(inputs, i).scalars(as: Float.self) }
        guard parts.allSatisfy({ $0.count == channels }) else { throw site.error("scale, bias, mean and var must each hold \(channels) values") }
        let mul = (0..<channels).map { parts[0][$0] / (parts[3][$0] + epsilon).squareRoot() }
        let add = (0..<channels).map { parts[1][$0] - parts[2][$0] * mul[$0] }
        return (mul, add)
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        guard x.shape.rank >= 2 else { throw site.error("input must have a channel axis, got \(x.shape)") }
        let c = x.shape.dims[1]
        var inputs = inputs
        if training {
            guard inputs.count >= 5 else {
                throw site.error("training_mode needs all five inputs (X, scale, B, input_mean, input_var), got \(inputs.count)")
            }
            // c sizes the statistics: scale's length bounds it before any is computed.
            guard try site.tensor(inputs, 1).shape.elementCount == c else { throw site.error("scale must hold \(c) values, one per channel of \(x.shape)") }
            let (mean, variance) = try Self.batchStatistics(x)
            if runningOutputs {
                let (m, v) = (try site.tensor(inputs, 3).scalars(as: Float.self), try site.tensor(inputs, 4).scalars(as: Float.self))
                guard m.count == c, v.count == c, outputs.count == 3 else { throw site.error("input_mean and input_var must each hold \(c) values") }
                let k = momentum
                outputs[1] = try Tensor((0..<c).map { m[$0] * k + mean[$0] * (1 - k) }, shape: TensorShape([c]))
                outputs[2] = try Tensor((0..<c).map { v[$0] * k + variance[$0] * (1 - k) }, shape: TensorShape([c]))
            }
            inputs[3] = try Tensor(mean, shape: TensorShape([c]))
            inputs[4] = try Tensor(variance, shape: TensorShape([c]))
        }
        let (mul, add) = try Self.affine(inputs, channels: c, epsilon: epsilon, site: site)
        // An empty input: nothing to compute, though [2^63 - 1, c, 0] still counts 2^63 - 1 rows.
        guard x.shape.elementCount > 0 else { return }
        let inner = x.shape.dims[2...].reduce(1, *)
        try x.withUnsafeBufferPointer(as: Float.self) { src in
            try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
                for n in 0..<x.shape.dims[0] {
                    for ch in 0..<c {
                        let base = (n * c + ch) * inner
                        for i in 0..<inner { dst[base + i] = src[base + i] * mul[ch] + add[ch] }
                    }
                }
            }
        }
    }
}

/// `ReduceMean` over axes from the attribute (opset < 18) or input 1.
struct ReduceMeanOperator: GraphOperator {
    let site: OperatorSite
    let attributeAxes: [Int]?
    let keepDims: Bool
    let noopWithEmptyAxes: Bool

    func axes(_ rank: Int, _ constants: [Tensor?]) throws -> Set<Int>? {
        let given = try attributeAxes ?? site.ints(constants.count > 1 ? constants[1] : nil, "axes")
        guard let given, !given.isEmpty else { return noopWithEmptyAxes ? [] : Set(0..<rank) }
        return Set(try given.map { a throws(GraphError) in try site.axis(a, rank: rank) })
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype == .f32 else { throw site.error("needs f32 input, got \(t.dtype)") }
        guard let s = t.shape else { return [t] }
        if attributeAxes == nil, site.isRuntimeValue(inputs, constants, 1) {
            return [site.runtimeShaped(.f32, rank: keepDims ? s.rank : nil, "axes")]
        }
        guard let axes = try axes(s.rank, constants) else { return [t] }
        var dims: [OctetCore.Dimension] = []
        for (i, d) in s.dims.enumerated() {
            if axes.contains(i) { if keepDims { dims.append(.fixed(1)) } } else { dims.append(d) }
        }
        return [ValueType(.f32, SymbolicShape(dims))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let axes = try axes(x.shape.rank, inputs) ?? []
        if try HotPathKernels.reduce(OCTET_REDUCE_MEAN_F32, x, axes: axes, into: &outputs[0]) { return }
        // Sum into the output viewed with kept dimensions, then divide.
        let kept = try TensorShape(x.shape.dims.enumerated().map { axes.contains($0.offset) ? 1 : $0.element })
        let strides = Broadcasting.strides(of: kept, in: x.shape)
        let count = x.shape.elementCount / max(kept.elementCount, 1)
        var sums = [Float](repeating: 0, count: kept.elementCount)
        try x.withUnsafeBufferPointer(as: Float.self) { src in
            Strided.forEachRow(x.shape, strides: [strides], offsets: [0]) { base, off, n, st in
                for i in 0..<n { sums[off[0] + i * st[0]] += src[base + i] }
            }
        }
        try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
            for i in 0..<dst.count { dst[i] = sums[i] / Float(max(count, 1)) }
        }
    }
}
