import Foundation
import OctetCore

/// ONNX LinearAttention (opset 27; onnx/defs/nn/defs.cc, reference
/// onnx/reference/ops/op_linear_attention.py): attention as a recurrence over a state
/// `S` (`batch x kv_heads x d_k x d_v`) per key/value head, one step per position t:
///
/// - `gated`, `gated_delta`: `S ← S · exp(g_t)` (decay per head or per key feature),
/// - `delta`, `gated_delta`: `v_t ← β_t (v_t - Sᵀ k_t)`,
/// - always: `S ← S + k_t ⊗ v_t`, then `o_t = scale · qᵀ S` (query head h reads kv head
///   h / (q_num_heads / kv_num_heads), grouped-query attention).
///
/// Inputs: query `B x T x q_heads·d_k`, key `B x T x kv_heads·d_k`, value
/// `B x T x kv_heads·d_v`, optional past_state (zeros when absent), decay
/// (`B x T x kv_heads` or `B x T x kv_heads·d_k`, required by the gated rules, refused by
/// the others), beta (`B x T x kv_heads` or `B x T x 1`, required by the delta rules,
/// refused by the others). `scale` 0 or absent means `1/√d_k`; `chunk_size` does not
/// change the result. Outputs: `B x T x q_heads·d_v` in the query's type, and the final
/// state in past_state's type (the query's without one). Any floating type; computed in Double.
struct LinearAttentionOperator: GraphOperator {
    let site: OperatorSite
    let qHeads: Int
    let kvHeads: Int
    let scale: Double?
    let gated: Bool
    let delta: Bool
    /// The most values one head's d_k x d_v state may hold.
    static let maximumHeadState = 1 << 24

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["LinearAttention"] = { n, _ in try LinearAttentionOperator(n) }
    }

    /// - Throws: `GraphError` naming the node for a missing or non-dividing head count or
    ///   an unknown `update_rule`.
    init(_ n: Node) throws {
        site = OperatorSite(n)
        guard let q = try n.int("q_num_heads"), let kv = try n.int("kv_num_heads"), q > 0, kv > 0, q % kv == 0 else {
            throw site.error("q_num_heads and kv_num_heads are required, positive, and q_num_heads a multiple of kv_num_heads")
        }
        (qHeads, kvHeads) = (q, kv)
        let s = try n.float("scale", default: 0)
        scale = s == 0 ? nil : Double(s)
        let rule = try n.string("update_rule", default: "gated_delta")
        switch rule {
        case "linear": (gated, delta) = (false, false)
        case "gated": (gated, delta) = (true, false)
        case "delta": (gated, delta) = (false, true)
        case "gated_delta": (gated, delta) = (true, true)
        default: throw GraphError.attribute(node: n.name, opType: n.opType, name: "update_rule", expected: "linear, gated, delta or gated_delta", got: rule)
        }
    }

    private func given(_ inputs: [ValueType?], _ i: Int) -> ValueType? { i < inputs.count ? inputs[i] : nil }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let q = try site.type(inputs, 0, "query"), k = try site.type(inputs, 1, "key"), v = try site.type(inputs, 2, "value")
        for (i, t) in [q, k, v].enumerated() where !t.dtype.isFloatingPoint { throw site.error("input \(i) must be floating-point, got \(t.dtype)") }
        if gated != (given(inputs, 4) != nil) { throw site.error("update_rule \(gated ? "needs" : "forbids") input 4 (decay)") }
        if delta != (given(inputs, 5) != nil) { throw site.error("update_rule \(delta ? "needs" : "forbids") input 5 (beta)") }
        let stateType = given(inputs, 3)?.dtype ?? q.dtype
        guard let qs = q.shape, let ks = k.shape, let vs = v.shape else { return [ValueType(q.dtype, nil), ValueType(stateType, nil)] }
        guard qs.rank == 3, ks.rank == 3, vs.rank == 3 else { throw site.error("query, key and value must have rank 3 (batch x seq x heads·dim), got \(qs), \(ks), \(vs)") }
        var outLast: OctetCore.Dimension = .symbol("\(site.node):q_heads*d_v"), dk: OctetCore.Dimension = .symbol("\(site.node):d_k"), dv: OctetCore.Dimension = .symbol("\(site.node):d_v")
        if let vl = vs.dims[2].value {
            guard let width = try? (vl / kvHeads).multiplied(by: qHeads) else { throw site.error("value width \(vl) / kv_num_heads \(kvHeads) · q_num_heads \(qHeads) overflows a 64-bit integer") }
            outLast = .fixed(width)
            dv = .fixed(vl / kvHeads)
        }
        if let ql = qs.dims[2].value { dk = .fixed(ql / qHeads) }
        return [ValueType(q.dtype, SymbolicShape([qs.dims[0], qs.dims[1], outLast])),
                ValueType(stateType, SymbolicShape([qs.dims[0], .fixed(kvHeads), dk, dv]))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let qt = try site.tensor(inputs, 0), kt = try site.tensor(inputs, 1), vt = try site.tensor(inputs, 2)
        guard qt.shape.rank == 3, kt.shape.rank == 3, vt.shape.rank == 3 else { throw site.error("query, key and value must have rank 3") }
        let (b, t) = (qt.shape.dims[0], qt.shape.dims[1])
        guard qt.shape.dims[2] % qHeads == 0, vt.shape.dims[2] % kvHeads == 0 else {
            throw site.error("query's last axis (\(qt.shape.dims[2])) must divide into \(qHeads) heads and value's (\(vt.shape.dims[2])) into \(kvHeads)")
        }
        let dk = qt.shape.dims[2] / qHeads, dv = vt.shape.dims[2] / kvHeads, group = qHeads / kvHeads
        // Heads of no features would leave q_num_heads unbounded by the data (loops and sizes of 2^62).
        guard dk > 0, dv > 0 else {
            throw site.error("query's last axis (\(qt.shape.dims[2])) must hold \(qHeads) heads (q_num_heads) and value's (\(vt.shape.dims[2])) \(kvHeads) heads (kv_num_heads) of at least one feature each")
        }
        guard kt.shape.dims == [b, t, kvHeads * dk], vt.shape.dims[0] == b, vt.shape.dims[1] == t else {
            throw site.error("key must be \(b)x\(t)x\(kvHeads * dk) and value \(b)x\(t)x\(kvHeads)·d_v, got \(kt.shape) and \(vt.shape)")
        }
        // One head's state is d_k x d_v (each bounded by an input, not their product); the
        // whole state is kept only for the present_state output, whose size the plan checked.
        let (perHead, overflow) = dk.multipliedReportingOverflow(by: dv)
        guard !overflow, perHead <= Self.maximumHeadState else {
            throw site.error("a head's state of d_k \(dk) x d_v \(dv) exceeds \(Self.maximumHeadState) values")
        }
        let keepsState = outputs.count > 1
        let q = try Elementwise.doubles(qt), k = try Elementwise.doubles(kt), v = try Elementwise.doubles(vt)
        var past: [Double]?
        if inputs.count > 3, let p = inputs[3] {
            guard p.shape.dims == [b, kvHeads, dk, dv] else { throw site.error("past_state must be \(b)x\(kvHeads)x\(dk)x\(dv), got \(p.shape)") }
            past = try Elementwise.doubles(p)
        }
        var state = [Double](repeating: 0, count: keepsState ? b * kvHeads * perHead : 0)
        var decay: [Double] = [], decayWidth = 0, beta: [Double] = [], betaWidth = 0
        if gated {
            let d = try site.tensor(inputs, 4)
            guard d.shape.rank == 3, d.shape.dims[0] == b, d.shape.dims[1] == t, d.shape.dims[2] == kvHeads || d.shape.dims[2] == kvHeads * dk else {
                throw site.error("decay must be \(b)x\(t)x\(kvHeads) or \(b)x\(t)x\(kvHeads * dk), got \(d.shape)")
            }
            decay = try Elementwise.doubles(d)
            decayWidth = d.shape.dims[2]
        }
        if delta {
            let be = try site.tensor(inputs, 5)
            guard be.shape.rank == 3, be.shape.dims[0] == b, be.shape.dims[1] == t, be.shape.dims[2] == kvHeads || be.shape.dims[2] == 1 else {
                throw site.error("beta must be \(b)x\(t)x\(kvHeads) or \(b)x\(t)x1, got \(be.shape)")
            }
            beta = try Elementwise.doubles(be)
            betaWidth = be.shape.dims[2]
        }
        let s = scale ?? 1 / Double(dk).squareRoot()
        var out = [Double](repeating: 0, count: b * t * qHeads * dv)
        var value = [Double](repeating: 0, count: dv), local = [Double](repeating: 0, count: perHead)
        // Each (batch, kv head) runs its recurrence alone; with no step and no state output
        // there is nothing to compute, however large the declared batch.
        for n in 0..<(t == 0 && !keepsState ? 0 : b) {
            for h in 0..<kvHeads {
                let st = (n * kvHeads + h) * perHead
                for i in 0..<perHead { local[i] = past?[st + i] ?? 0 }
                for step in 0..<t {
                    let row = n * t + step
                    let kAt = row * kvHeads * dk + h * dk, vAt = row * kvHeads * dv + h * dv
                    if gated {
                        for d in 0..<dk {
                            let g = exp(decayWidth == kvHeads ? decay[row * kvHeads + h] : decay[row * decayWidth + h * dk + d])
                            for m in 0..<dv { local[d * dv + m] *= g }
                        }
                    }
                    for m in 0..<dv { value[m] = v[vAt + m] }
                    if delta {
                        let bt = beta[row * betaWidth + (betaWidth == 1 ? 0 : h)]
                        for m in 0..<dv {
                            var retrieved = 0.0
                            for d in 0..<dk { retrieved += local[d * dv + m] * k[kAt + d] }
                            value[m] = bt * (value[m] - retrieved)
                        }
                    }
                    for d in 0..<dk {
                        for m in 0..<dv { local[d * dv + m] += k[kAt + d] * value[m] }
                    }
                    // The query heads that read this kv head.
                    for qh in (h * group)..<((h + 1) * group) {
                        let qAt = row * qHeads * dk + qh * dk, oAt = row * qHeads * dv + qh * dv
                        for m in 0..<dv {
                            var sum = 0.0
                            for d in 0..<dk { sum += q[qAt + d] * local[d * dv + m] }
                            out[oAt + m] = s * sum
                        }
                    }
                }
                if keepsState { for i in 0..<perHead { state[st + i] = local[i] } }
            }
        }
        try CastOperator.convert(Tensor(out, shape: outputs[0].shape), into: &outputs[0])
        if outputs.count > 1 { try CastOperator.convert(Tensor(state, shape: outputs[1].shape), into: &outputs[1]) }
    }
}
