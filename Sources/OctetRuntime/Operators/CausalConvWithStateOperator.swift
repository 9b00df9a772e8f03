import Foundation
import OctetCore

/// ONNX CausalConvWithState (opset 27; onnx/defs/nn/defs.cc, reference
/// onnx/reference/ops/op_causal_conv_with_state.py): a depthwise causal 1-D convolution
/// that carries its left context between calls, as state-space and linear-attention
/// models use. `input` is `B x C x L`, `weight` `C x 1 x k`, optional `bias` `C`, optional
/// `past_state` `B x C x (k-1)` (zeros when absent). The input is padded on the left with
/// the state, convolved per channel (valid, stride 1): `y[c, i] = bias[c] + Σ_j
/// w[c, j] · padded[c, i + j]`, then `activation` "silu" (or "swish") applies `y·σ(y)`
/// ("none", the default, nothing). Outputs: `B x C x L`, and `present_state`, the last
/// k-1 positions of the padded input. Any floating type; computed in Double, the
/// convolution rounded to the input's type before the activation (as the reference).
struct CausalConvWithStateOperator: GraphOperator {
    let site: OperatorSite
    let silu: Bool

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["CausalConvWithState"] = { n, _ in try CausalConvWithStateOperator(n) }
    }

    init(_ n: Node) throws {
        site = OperatorSite(n)
        let a = try n.string("activation", default: "none")
        guard ["none", "silu", "swish"].contains(a) else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "activation", expected: "none, silu or swish", got: a)
        }
        silu = a != "none"
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), w = try site.type(inputs, 1, "weight")
        guard x.dtype.isFloatingPoint, w.dtype == x.dtype else { throw site.error("input and weight must have one floating type, got \(x.dtype) and \(w.dtype)") }
        guard let xs = x.shape, let ws = w.shape else { return [ValueType(x.dtype, x.shape), ValueType(x.dtype, nil)] }
        guard xs.rank == 3, ws.rank == 3 else { throw site.error("input must be B x C x L and weight C x 1 x k, got \(xs) and \(ws)") }
        let state: OctetCore.Dimension = ws.dims[2].value.map { .fixed(max($0 - 1, 0)) } ?? .symbol("\(site.node):k-1")
        return [ValueType(x.dtype, xs), ValueType(x.dtype, SymbolicShape([xs.dims[0], xs.dims[1], state]))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let xt = try site.tensor(inputs, 0), wt = try site.tensor(inputs, 1)
        guard xt.shape.rank == 3 else { throw site.error("input must be B x C x L, got \(xt.shape)") }
        let (b, c, l) = (xt.shape.dims[0], xt.shape.dims[1], xt.shape.dims[2])
        // An empty input may declare axes beyond any real tensor: products of them would overflow.
        guard xt.shape.dims.allSatisfy({ $0 < 1 << 31 }) else { throw site.error("the axes of the input \(xt.shape) must each be below 2^31") }
        guard wt.shape.rank == 3, wt.shape.dims[0] == c, wt.shape.dims[1] == 1, wt.shape.dims[2] >= 1, wt.shape.dims[2] < 1 << 31 else {
            throw site.error("weight must be \(c)x1xk (1 ≤ k < 2^31), got \(wt.shape)")
        }
        let k = wt.shape.dims[2], width = l + k - 1
        let x = try Elementwise.doubles(xt), w = try Elementwise.doubles(wt)
        var bias = [Double](repeating: 0, count: c)
        if inputs.count > 2, let bt = inputs[2] {
            guard bt.shape.dims == [c] else { throw site.error("bias must be \(c), got \(bt.shape)") }
            bias = try Elementwise.doubles(bt)
        }
        var past = [Double](repeating: 0, count: b * c * (k - 1))
        if inputs.count > 3, let pt = inputs[3] {
            guard pt.shape.dims == [b, c, k - 1] else { throw site.error("past_state must be \(b)x\(c)x\(k - 1), got \(pt.shape)") }
            past = try Elementwise.doubles(pt)
        }
        let round = Self.rounding(xt.dtype)
        var y = [Double](repeating: 0, count: b * c * l), present = past
        var padded = [Double](repeating: 0, count: width)
        for row in 0..<(b * c) {
            let ch = row % c
            for i in 0..<(k - 1) { padded[i] = past[row * (k - 1) + i] }
            for i in 0..<l { padded[k - 1 + i] = x[row * l + i] }
            for i in 0..<l {
                var sum = bias[ch]
                for j in 0..<k { sum += w[ch * k + j] * padded[i + j] }
                let v = round(sum)
                y[row * l + i] = silu ? v / (1 + exp(-v)) : v
            }
            for i in 0..<(k - 1) { present[row * (k - 1) + i] = padded[width - (k - 1) + i] }
        }
        try CastOperator.convert(Tensor(y, shape: outputs[0].shape), into: &outputs[0])
        if outputs.count > 1 { try CastOperator.convert(Tensor(present, shape: outputs[1].shape), into: &outputs[1]) }
    }

    /// Rounds a Double to the nearest value of `dtype` (a floating type).
    static func rounding(_ dtype: DType) -> @Sendable (Double) -> Double {
        switch dtype {
        case .f32: return { Double(Float($0)) }
        case .bf16: return { Double(BFloat16(Float($0)).float) }
        #if arch(x86_64) || arch(arm64)
        case .f16: return { Double(Float16($0)) }
        #endif
        default: return { $0 }
        }
    }
}
