import Foundation
import OctetCore

/// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (f32 scores, int32/int64 targets).
///
/// `input` is N x C (x d1 x ...), `target` N (x d1 x ...), `weight` C (optional). Per
/// element `loss = -input[n, target, d…] · weight[target]`, 0 where `target == ignore_index`.
/// `reduction`: `none` (loss of target's shape), `sum`, or `mean` (the sum divided by the sum
/// of the weights of the elements not ignored). SoftmaxCrossEntropyLoss applies it to
/// `log_softmax(scores)` along axis 1 and may also output that log-probability.
enum LossOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["NegativeLogLikelihoodLoss"] = { n, _ in try LossOperator(n, softmax: false) }
        f["SoftmaxCrossEntropyLoss"] = { n, _ in try LossOperator(n, softmax: true) }
    }
}

struct LossOperator: GraphOperator {
    enum Reduction: String, Sendable { case none, sum, mean }
    let site: OperatorSite
    let softmax: Bool
    let reduction: Reduction
    let ignoreIndex: Int?

    init(_ n: Node, softmax: Bool) throws {
        site = OperatorSite(n)
        self.softmax = softmax
        let r = try n.string("reduction", default: "mean")
        guard let reduction = Reduction(rawValue: r) else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "reduction", expected: "none, sum or mean", got: "\"\(r)\"")
        }
        self.reduction = reduction
        ignoreIndex = try n.int("ignore_index")
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), t = try site.type(inputs, 1, "target")
        guard x.dtype == .f32 else { throw site.error("needs f32 scores, got \(x.dtype)") }
        guard t.dtype == .s64 || t.dtype == .s32 else { throw site.error("the target must be int64 or int32, got \(t.dtype)") }
        if inputs.count > 2, let w = inputs[2], w.dtype != .f32 { throw site.error("the weight must be f32, got \(w.dtype)") }
        if let xs = x.shape, let ts = t.shape, xs.rank < 2 || ts.rank != xs.rank - 1 {
            throw site.error("scores \(xs) must be N x C (x d…) and the target N (x d…), got \(ts)")
        }
        let loss = reduction == .none ? ValueType(.f32, t.shape) : ValueType(.f32, TensorShape.scalar)
        return softmax ? [loss, x] : [loss]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0), t = try site.tensor(inputs, 1)
        let dims = x.shape.dims, classes = dims[1], batch = dims[0], inner = dims[2...].reduce(1, *)
        guard t.shape.dims == [batch] + Array(dims[2...]) else { throw site.error("the target \(t.shape) does not match scores \(x.shape)") }
        let targets = try site.indices(t, "target")
        let weights = try inputs.count > 2 ? inputs[2].map { try $0.scalars(as: Float.self) } : nil
        if let weights, weights.count != classes { throw site.error("the weight must hold \(classes) values, got \(weights.count)") }
        var scores = try x.scalars(as: Float.self)
        if softmax {
            // log_softmax along axis 1, in double.
            for b in 0..<batch {
                for j in 0..<inner {
                    var m = -Double.infinity
                    for c in 0..<classes { m = max(m, Double(scores[(b * classes + c) * inner + j])) }
                    var s = 0.0
                    for c in 0..<classes { s += Foundation.exp(Double(scores[(b * classes + c) * inner + j]) - m) }
                    let l = Foundation.log(s) + m
                    for c in 0..<classes { scores[(b * classes + c) * inner + j] = Float(Double(scores[(b * classes + c) * inner + j]) - l) }
                }
            }
            if outputs.count > 1 {
                try outputs[1].withUnsafeMutableBufferPointer(as: Float.self) { d in for i in 0..<min(d.count, scores.count) { d[i] = scores[i] } }
            }
        }
        var loss = [Double](repeating: 0, count: batch * inner)
        var weightSum = 0.0
        for b in 0..<batch {
            for j in 0..<inner {
                let k = b * inner + j, c = targets[k]
                if let ignoreIndex, c == ignoreIndex { continue }
                guard c >= 0, c < classes else { throw site.error("target \(c) is out of range for \(classes) classes") }
                let w = Double(weights?[c] ?? 1)
                loss[k] = -Double(scores[(b * classes + c) * inner + j]) * w
                weightSum += w
            }
        }
        switch reduction {
        case .none:
            try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { d in for i in 0..<d.count { d[i] = Float(loss[i]) } }
        case .sum:
            outputs[0] = try Tensor([Float(loss.reduce(0, +))], shape: .scalar)
        case .mean:
            outputs[0] = try Tensor([Float(loss.reduce(0, +) / weightSum)], shape: .scalar)
        }
    }
}
