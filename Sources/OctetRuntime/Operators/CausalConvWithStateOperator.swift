import Foundation
import OctetCore

/// ONNX CausalConvWithState (opset 27): a stateful causal depthwise 1-D convolution.
/// Input `input` B x C x L, `weight` C x 1 x k, optional `bias` C, optional `past_state`
/// B x C x (k − 1) (zeros when absent). With `padded` = past_state ++ input along the length,
/// `output[b, c, t] = act(bias[c] + Σ_j weight[c, 0, j] · padded[b, c, t + j])` (B x C x L) and
/// `present_state` = the last k − 1 positions of `padded`; `act` is the identity or, for
/// `activation` = "silu" / "swish", x · sigmoid(x) (ONNX operator spec, CausalConvWithState,
/// and onnx/reference/ops/op_causal_conv_with_state.py). Any floating element type; sums in
/// Double, rounded once to the element type.
struct CausalConvWithStateOperator: GraphOperator {
    let site: OperatorSite
    let silu: Bool

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["CausalConvWithState"] = { n, _ in try CausalConvWithStateOperator(n) }
    }

    /// - Throws: `GraphError` naming the node for an activation other than none, silu or swish.
    init(_ n: Node) throws {
        site = OperatorSite(n)
        let activation = try n.string("activation", default: "none")
        guard ["none", "silu", "swish"].contains(activation) else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "activation", expected: "none, silu or swish", got: activation)
        }
        silu = activation != "none"
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), w = try site.type(inputs, 1, "weight")
        guard x.dtype.isFloatingPoint, w.dtype == x.dtype else { throw site.error("needs floating-point input and weight of one type, got \(x.dtype) and \(w.dtype)") }
        for i in 2..<min(inputs.count, 4) where inputs[i] != nil && inputs[i]?.dtype != x.dtype {
            throw site.error("input \(i) (\(i == 2 ? "bias" : "past_state")) must be \(x.dtype), got \(inputs[i].map { "\($0.dtype)" } ?? "")")
        }
        guard let xs = x.shape, let ws = w.shape else { return [ValueType(x.dtype, x.shape), ValueType(x.dtype, nil)] }
        guard xs.rank == 3, ws.rank == 3 else { throw site.error("needs a B x C x L input and a C x 1 x k weight, got \(xs) and \(ws)") }
        let state: OctetCore.Dimension = ws.dims[2].value.map { .fixed($0 - 1) } ?? .symbol("\(site.node)_k-1")
        return [x, ValueType(x.dtype, SymbolicShape([xs.dims[0], xs.dims[1], state]))]
    }

    struct Kernel: FloatVisitor {
        let x: Tensor, w: Tensor, bias: Tensor?, past: Tensor?
        let silu: Bool

        func visit<T: FloatElement>(_: T.Type, into out: inout Tensor) throws -> Tensor {
            let (nb, c, l) = (x.shape.dims[0], x.shape.dims[1], x.shape.dims[2]), k = w.shape.dims[2], s = k - 1
            let xv = try x.scalars(as: T.self).map(\.asDouble), wv = try w.scalars(as: T.self).map(\.asDouble)
            let bv = try bias?.scalars(as: T.self).map(\.asDouble), pv = try past?.scalars(as: T.self)
            var state = try Tensor(zeros: x.dtype, shape: TensorShape([nb, c, s]))
            try out.withUnsafeMutableBufferPointer(as: T.self) { y in
                try state.withUnsafeMutableBufferPointer(as: T.self) { st in
                    var padded = [Double](repeating: 0, count: s + l)
                    for b in 0..<nb {
                        for ch in 0..<c {
                            let row = b * c + ch
                            for j in 0..<s { padded[j] = pv.map { $0[row * s + j].asDouble } ?? 0 }
                            for t in 0..<l { padded[s + t] = xv[row * l + t] }
                            for t in 0..<l {
                                var acc = bv?[ch] ?? 0
                                for j in 0..<k { acc += wv[ch * k + j] * padded[t + j] }
                                y[row * l + t] = T(converting: silu ? acc / (1 + exp(-acc)) : acc)
                            }
                            for j in 0..<s { st[row * s + j] = T(converting: padded[l + j]) }
                        }
                    }
                }
            }
            return state
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0), w = try site.tensor(inputs, 1)
        let bias = inputs.count > 2 ? inputs[2] : nil, past = inputs.count > 3 ? inputs[3] : nil
        guard x.shape.rank == 3, w.shape.rank == 3, w.shape.dims[0] == x.shape.dims[1], w.shape.dims[1] == 1, w.shape.dims[2] >= 1 else {
            throw site.error("needs a B x C x L input and a C x 1 x k weight (k ≥ 1), got \(x.shape) and \(w.shape)")
        }
        let (nb, c, k) = (x.shape.dims[0], x.shape.dims[1], w.shape.dims[2])
        if let bias, bias.shape.dims != [c] { throw site.error("bias (input 2) must hold \(c) values (one per channel), got \(bias.shape)") }
        if let past, past.shape.dims != [nb, c, k - 1] { throw site.error("past_state (input 3) must be \(nb) x \(c) x \(k - 1), got \(past.shape)") }
        let kernel = Kernel(x: x, w: w, bias: bias, past: past, silu: silu)
        guard let state = try x.dtype.visitFloat(kernel, into: &outputs[0]) else { throw site.error("needs a floating-point input, got \(x.dtype)") }
        if outputs.count > 1 { outputs[1] = state }
    }
}
