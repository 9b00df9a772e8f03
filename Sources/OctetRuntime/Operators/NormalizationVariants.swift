import Foundation
import OctetCore

/// Normalizations beside LayerNormalization and BatchNormalization (all f32, statistics
/// accumulated in double):
/// - RMSNormalization (x, scale): `x / sqrt(mean(x²) + epsilon) * scale` over the axes from `axis`.
/// - InstanceNormalization (x, scale, B): per sample and channel over the spatial axes.
/// - GroupNormalization (x, scale, bias): per sample and group of channels; scale and bias
///   per channel (opset 21) or per group (opset 18).
/// - MeanVarianceNormalization (x): `(x - mean) / (std + 1e-9)` over `axes` (default 0, 2, 3).
/// - LpNormalization (x): `x / ‖x‖p` along `axis` (p = 1 or 2).
/// - LRN (x): `x / (bias + alpha / size · Σ x²)^beta` over `size` neighbouring channels.
enum NormalizationVariants {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["RMSNormalization"] = { n, _ in
            StatisticsNormalization(site: OperatorSite(n), kind: .rms(axis: try n.int("axis", default: -1)), epsilon: try n.float("epsilon", default: 1e-5))
        }
        f["InstanceNormalization"] = { n, _ in StatisticsNormalization(site: OperatorSite(n), kind: .instance, epsilon: try n.float("epsilon", default: 1e-5)) }
        f["GroupNormalization"] = { n, opset in
            guard let groups = try n.int("num_groups"), groups > 0 else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "num_groups", expected: "a positive int", got: "\(try n.int("num_groups").map(String.init) ?? "nothing")")
            }
            return StatisticsNormalization(site: OperatorSite(n), kind: .group(groups: groups, perChannel: opset >= 21), epsilon: try n.float("epsilon", default: 1e-5))
        }
        f["MeanVarianceNormalization"] = { n, _ in
            StatisticsNormalization(site: OperatorSite(n), kind: .meanVariance(axes: try n.ints("axes") ?? [0, 2, 3]), epsilon: 1e-9)
        }
        f["LpNormalization"] = { n, _ in
            let p = try n.int("p", default: 2)
            guard p == 1 || p == 2 else { throw GraphError.attribute(node: n.name, opType: n.opType, name: "p", expected: "1 or 2", got: "\(p)") }
            return StatisticsNormalization(site: OperatorSite(n), kind: .lp(axis: try n.int("axis", default: -1), p: p), epsilon: 0)
        }
        f["LRN"] = { n, _ in
            guard let size = try n.int("size"), size > 0 else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "size", expected: "a positive int", got: "\(try n.int("size").map(String.init) ?? "nothing")")
            }
            return LRNOperator(site: OperatorSite(n), size: size, alpha: try n.float("alpha", default: 1e-4), beta: try n.float("beta", default: 0.75),
                               bias: try n.float("bias", default: 1))
        }
    }
}

struct StatisticsNormalization: GraphOperator {
    enum Kind: Sendable {
        case rms(axis: Int)
        case instance
        case group(groups: Int, perChannel: Bool)
        case meanVariance(axes: [Int])
        case lp(axis: Int, p: Int)
    }
    let site: OperatorSite
    let kind: Kind
    let epsilon: Float

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype == .f32 else { throw site.error("needs f32 input, got \(t.dtype)") }
        if let s = t.shape {
            switch kind {
            case .instance, .group: guard s.rank >= 2 else { throw site.error("needs N x C x ..., got \(s)") }
            case let .rms(axis), let .lp(axis, _): _ = try site.axis(axis, rank: s.rank)
            case let .meanVariance(axes): for a in axes { _ = try site.axis(a, rank: s.rank, "axes entry") }
            }
        }
        return [t]
    }

    /// Whether axis `a` of a tensor of `rank` is reduced, and the parameter index of each
    /// element (which scale/bias entry applies), for this kind.
    func reducedAxes(_ shape: TensorShape) throws -> Set<Int> {
        let r = shape.rank
        switch kind {
        case let .rms(axis): return Set(try site.axis(axis, rank: r)..<r)
        case .instance: return Set(2..<r)
        case .group: return Set(2..<r)  // and the channels of a group, handled below
        case let .meanVariance(axes): return Set(try axes.map { a throws(GraphError) in try site.axis(a, rank: r, "axes entry") })
        case let .lp(axis, _): return [try site.axis(axis, rank: r)]
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let shape = x.shape, dims = shape.dims
        let values = try x.scalars(as: Float.self)
        // Group k of an element: the index into the statistics.
        var kept = dims
        for a in try reducedAxes(shape) { kept[a] = 1 }
        var channelsPerGroup = 1
        if case let .group(groups, _) = kind {
            guard dims[1] % groups == 0 else { throw site.error("num_groups \(groups) does not divide the \(dims[1]) channels") }
            channelsPerGroup = dims[1] / groups
            kept[1] = groups
        }
        // An empty X has an empty output; its statistics (2^40 groups of nothing) are not built.
        if values.isEmpty { _ = try parameters(inputs, shape: shape); return }
        let statsShape = try TensorShape(kept)
        let statsStrides = Broadcasting.strides(of: statsShape, in: shape)
        var groupStrides = statsStrides
        if channelsPerGroup > 1 { groupStrides[1] = 0 }
        // Index of each element's statistics group.
        var group = [Int](repeating: 0, count: values.count)
        if channelsPerGroup > 1 {
            let inner = dims[2...].reduce(1, *)
            for i in 0..<values.count {
                let n = i / (dims[1] * inner), c = (i / inner) % dims[1]
                group[i] = n * kept[1] + c / channelsPerGroup
            }
        } else {
            Strided.forEachRow(shape, strides: [statsStrides], offsets: [0]) { base, off, n, st in
                for i in 0..<n { group[base + i] = off[0] + i * st[0] }
            }
        }
        let count = statsShape.elementCount
        var sum = [Double](repeating: 0, count: count), sq = [Double](repeating: 0, count: count), abs = [Double](repeating: 0, count: count)
        var members = [Int](repeating: 0, count: count)
        for i in 0..<values.count {
            let v = Double(values[i]), g = group[i]
            sum[g] += v
            sq[g] += v * v
            abs[g] += Swift.abs(v)
            members[g] += 1
        }
        let eps = Double(epsilon)
        // Per element: y = (x - shift) * factor, then the affine parameters.
        var shift = [Double](repeating: 0, count: count), factor = [Double](repeating: 1, count: count)
        for g in 0..<count {
            let m = Double(max(members[g], 1)), mean = sum[g] / m
            switch kind {
            case .rms: factor[g] = 1 / (sq[g] / m + eps).squareRoot()
            case .instance, .group:
                var variance = 0.0
                shift[g] = mean
                variance = max(sq[g] / m - mean * mean, 0)
                factor[g] = 1 / (variance + eps).squareRoot()
            case .meanVariance:
                shift[g] = mean
                factor[g] = 1 / (max(sq[g] / m - mean * mean, 0).squareRoot() + eps)
            case let .lp(_, p):
                let norm = p == 1 ? abs[g] : sq[g].squareRoot()
                factor[g] = norm == 0 ? 0 : 1 / norm
            }
        }
        // Instance and group statistics over the centred values are more accurate in two passes.
        switch kind {
        case .instance, .group:
            var centred = [Double](repeating: 0, count: count)
            for i in 0..<values.count { let d = Double(values[i]) - shift[group[i]]; centred[group[i]] += d * d }
            for g in 0..<count { factor[g] = 1 / (centred[g] / Double(max(members[g], 1)) + eps).squareRoot() }
        default: break
        }
        let (scale, bias) = try parameters(inputs, shape: shape)
        let inner = dims.count > 2 ? dims[2...].reduce(1, *) : 1
        try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { d in
            for i in 0..<values.count {
                let g = group[i]
                var y = (Double(values[i]) - shift[g]) * factor[g]
                switch kind {
                case .rms:
                    y *= Double(scale[i % max(scale.count, 1)])
                case .instance:
                    let c = (i / inner) % dims[1]
                    y = y * Double(scale[c]) + Double(bias[c])
                case let .group(groups, perChannel):
                    let c = (i / inner) % dims[1]
                    let p = perChannel ? c : c / (dims[1] / groups)
                    y = y * Double(scale[p]) + Double(bias[p])
                default: break
                }
                d[i] = Float(y)
            }
        }
    }

    func parameters(_ inputs: [Tensor?], shape: TensorShape) throws -> (scale: [Float], bias: [Float]) {
        let dims = shape.dims
        switch kind {
        case let .rms(axis):
            let a = try site.axis(axis, rank: shape.rank)
            // The scale broadcast to the normalized dimensions (one value per element of a row).
            let normalized = try TensorShape(Array(dims[a...]))
            let s = try site.tensor(inputs, 1)
            guard s.dtype == .f32, s.shape.rank <= normalized.rank,
                  let b = Broadcasting.shape(SymbolicShape(normalized), SymbolicShape(s.shape)), b.concrete == normalized else {
                throw site.error("scale \(s.dtype) \(s.shape) does not broadcast to the normalized dimensions \(normalized)")
            }
            var expanded = try Tensor(zeros: .f32, shape: normalized)
            try Elementwise.binary(try Tensor(zeros: .f32, shape: normalized), s, &expanded, as: Float.self) { $1 }
            return (try expanded.scalars(as: Float.self), [])
        case .instance, .group:
            let expected: Int
            if case let .group(groups, perChannel) = kind { expected = perChannel ? dims[1] : groups } else { expected = dims[1] }
            let s = try site.tensor(inputs, 1).scalars(as: Float.self), b = try site.tensor(inputs, 2).scalars(as: Float.self)
            guard s.count == expected, b.count == expected else { throw site.error("scale and bias must hold \(expected) values each, got \(s.count) and \(b.count)") }
            return (s, b)
        default:
            return ([], [])
        }
    }
}

/// Local response normalization across channels of an N x C x ... input.
struct LRNOperator: GraphOperator {
    let site: OperatorSite
    let size: Int
    let alpha: Float, beta: Float, bias: Float

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype == .f32 else { throw site.error("needs f32 input, got \(t.dtype)") }
        if let s = t.shape, s.rank < 3 { throw site.error("needs N x C x ..., got \(s)") }
        return [t]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let dims = x.shape.dims, channels = dims[1], inner = dims[2...].reduce(1, *), batches = dims[0]
        let before = (size - 1) / 2, after = size - 1 - before
        let scale = Double(alpha) / Double(size)
        try x.withUnsafeBufferPointer(as: Float.self) { src in
            try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
                for b in 0..<batches {
                    for c in 0..<channels {
                        for j in 0..<inner {
                            var s = 0.0
                            for k in max(0, c - before)...min(channels - 1, c + after) {
                                let v = Double(src[(b * channels + k) * inner + j])
                                s += v * v
                            }
                            let i = (b * channels + c) * inner + j
                            dst[i] = Float(Double(src[i]) / Foundation.pow(Double(bias) + scale * s, Double(beta)))
                        }
                    }
                }
            }
        }
    }
}
