import Foundation
import OctetCore

/// `Attention` (opsets 23 to 25, f32): `Y = softmax(Q·Kᵀ · scale + bias) · V` per head.
///
/// Inputs Q, K, V are 4-D (batch, heads, sequence, head size) or 3-D (batch, sequence,
/// heads · head size, with `q_num_heads` / `kv_num_heads`); fewer K/V heads than Q heads
/// are shared (grouped-query attention). Optional inputs: `attn_mask` (bool, true =
/// attend, or an additive f32 bias; broadcast to batch x heads x q x kv, its last axis
/// padded as masked up to the total kv length), `past_key` / `past_value` (prepended to K
/// and V along the sequence), `nonpad_kv_seqlen` (opset 24: keys at or beyond each batch's
/// length are masked). Attributes: `scale` (default 1/√head size), `is_causal` (query i sees
/// keys j ≤ i + past length), `softcap` (> 0: `softcap · tanh(x / softcap)` on the scores),
/// `left_window_size` / `right_window_size` (opset 25), `qk_matmul_output_mode` (what the
/// fourth output holds: 0 or 1 the scaled scores, 2 with the bias, 3 after the softmax).
/// A row whose bias masks every key gives zeros. Outputs: Y, present_key, present_value,
/// qk_matmul_output. f16 and bf16 Q, K, V (and float mask, past) are computed in f32 and
/// the outputs rounded back to their type, as ONNX Runtime's CPU kernel does.
struct AttentionOperator: GraphOperator {
    let site: OperatorSite
    let scale: Float?
    let causal: Bool
    let qHeads: Int?
    let kvHeads: Int?
    let softcap: Float
    let qkMode: Int
    let leftWindow: Int
    let rightWindow: Int

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["Attention"] = { n, _ in try AttentionOperator(n) }
    }

    init(_ n: Node) throws {
        site = OperatorSite(n)
        scale = n.attributes["scale"] == nil ? nil : try n.float("scale", default: 1)
        causal = try n.int("is_causal", default: 0) != 0
        qHeads = try n.int("q_num_heads")
        kvHeads = try n.int("kv_num_heads")
        softcap = try n.float("softcap", default: 0)
        qkMode = try n.int("qk_matmul_output_mode", default: 0)
        leftWindow = try n.int("left_window_size", default: -1)
        rightWindow = try n.int("right_window_size", default: -1)
        guard (0...3).contains(qkMode) else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "qk_matmul_output_mode", expected: "0, 1, 2 or 3", got: "\(qkMode)")
        }
        guard leftWindow >= -1, rightWindow >= -1 else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "left_window_size/right_window_size", expected: "-1 or ≥ 0", got: "\(leftWindow), \(rightWindow)")
        }
    }

    /// The 4-D geometry: batch, q heads, kv heads, q length, kv length (new), head sizes.
    struct Geometry {
        var batch, qHeads, kvHeads, qLength, kvLength, headSize, valueSize, past: Int
        var rank3: Bool
        var total: Int { past + kvLength }
    }

    func geometry(_ q: [Int], _ k: [Int], _ v: [Int], past: [Int]?) throws -> Geometry {
        guard q.count == k.count, k.count == v.count, q.count == 3 || q.count == 4 else {
            throw site.error("Q, K, V must all be 3-D or all 4-D, got \(q), \(k), \(v)")
        }
        var g: Geometry
        if q.count == 4 {
            g = Geometry(batch: q[0], qHeads: q[1], kvHeads: k[1], qLength: q[2], kvLength: k[2], headSize: q[3], valueSize: v[3], past: 0, rank3: false)
            guard k[3] == q[3], v[1] == k[1], v[2] == k[2] else { throw site.error("K \(k) and V \(v) do not match Q \(q)") }
        } else {
            guard let qh = qHeads, let kvh = kvHeads, qh > 0, kvh > 0, q[2] % qh == 0, k[2] % kvh == 0, v[2] % kvh == 0 else {
                throw site.error("3-D inputs need q_num_heads and kv_num_heads dividing the hidden sizes (Q \(q), K \(k), V \(v))")
            }
            g = Geometry(batch: q[0], qHeads: qh, kvHeads: kvh, qLength: q[1], kvLength: k[1], headSize: q[2] / qh, valueSize: v[2] / kvh, past: 0, rank3: true)
            guard k[2] / kvh == g.headSize, v[1] == k[1] else { throw site.error("K \(k) and V \(v) do not match Q \(q)") }
        }
        guard k[0] == g.batch, v[0] == g.batch, g.kvHeads > 0, g.qHeads % g.kvHeads == 0 else {
            throw site.error("the batch sizes must agree and the Q heads (\(g.qHeads)) must be a multiple of the K/V heads (\(g.kvHeads))")
        }
        if let past {
            guard past.count == 4, past[0] == g.batch, past[1] == g.kvHeads, past[3] == g.headSize else {
                throw site.error("past_key \(past) must be batch x kv heads x length x head size")
            }
            g.past = past[2]
        }
        // Empty tensors may declare lengths no real one has: past + new keys must be countable,
        // and so must every output's elements (a head count as large as Int.max divides 0).
        guard !g.past.addingReportingOverflow(g.kvLength).overflow else {
            throw site.error("past_key's \(g.past) keys and K's \(g.kvLength) add past \(Int.max)")
        }
        let outputs = [("Y", [g.batch, g.qHeads, g.qLength, g.valueSize]), ("qk_matmul_output", [g.batch, g.qHeads, g.qLength, g.total]),
                       ("present_key", [g.batch, g.kvHeads, g.total, g.headSize]), ("present_value", [g.batch, g.kvHeads, g.total, g.valueSize])]
        for (name, dims) in outputs {
            do { _ = try TensorShape(dims) } catch { throw site.error("\(name) cannot be \(dims.map(String.init).joined(separator: "x")): \(error)") }
        }
        return g
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let q = try site.type(inputs, 0), k = try site.type(inputs, 1), v = try site.type(inputs, 2)
        let t = q.dtype
        guard [.f32, .f16, .bf16].contains(t), k.dtype == t, v.dtype == t else {
            throw site.error("needs f32, f16 or bf16 Q, K, V of one type, got \(q.dtype), \(k.dtype), \(v.dtype)")
        }
        if inputs.count > 3, let m = inputs[3], m.dtype != t, m.dtype != .f32, m.dtype != .bool { throw site.error("attn_mask must be bool or \(t), got \(m.dtype)") }
        guard let qs = q.shape?.concrete, let ks = k.shape?.concrete, let vs = v.shape?.concrete else {
            return [ValueType(t, nil), ValueType(t, nil), ValueType(t, nil), ValueType(t, nil)]
        }
        let past = inputs.count > 4 ? inputs[4]?.shape?.concrete?.dims : nil
        if inputs.count > 4, inputs[4] != nil, past == nil { return [ValueType(t, nil), ValueType(t, nil), ValueType(t, nil), ValueType(t, nil)] }
        let g = try geometry(qs.dims, ks.dims, vs.dims, past: past)
        let width = try site.checked("the output width (q_num_heads \(g.qHeads) x value head size \(g.valueSize))") { () throws(ArithmeticOverflow) in
            try g.qHeads.multiplied(by: g.valueSize)
        }
        let y = g.rank3 ? [g.batch, g.qLength, width] : [g.batch, g.qHeads, g.qLength, g.valueSize]
        return [ValueType(t, try TensorShape(y)), ValueType(t, try TensorShape([g.batch, g.kvHeads, g.total, g.headSize])),
                ValueType(t, try TensorShape([g.batch, g.kvHeads, g.total, g.valueSize])), ValueType(t, try TensorShape([g.batch, g.qHeads, g.qLength, g.total]))]
    }

    /// `x` as batch x heads x length x size (3-D inputs are split into heads).
    static func heads(_ x: [Float], _ dims: [Int], heads: Int) -> [Float] {
        // An empty tensor stays empty, whatever head count it declares (the loops below
        // would otherwise count through every head of size 0).
        guard dims.count == 3, !x.isEmpty else { return x }
        let (b, s, hidden) = (dims[0], dims[1], dims[2]), size = hidden / heads
        var out = [Float](repeating: 0, count: x.count)
        for i in 0..<b { for t in 0..<s { for h in 0..<heads { for d in 0..<size {
            out[((i * heads + h) * s + t) * size + d] = x[(i * s + t) * hidden + h * size + d]
        } } } }
        return out
    }

    /// The past values followed by the new ones along the sequence axis.
    static func concat(_ past: [Float]?, _ new: [Float], _ g: Geometry, size: Int) -> [Float] {
        guard let past, g.past > 0 else { return new }
        var out = [Float](repeating: 0, count: g.batch * g.kvHeads * g.total * size)
        for bh in 0..<(g.batch * g.kvHeads) {
            for t in 0..<g.past { for d in 0..<size { out[(bh * g.total + t) * size + d] = past[(bh * g.past + t) * size + d] } }
            for t in 0..<g.kvLength { for d in 0..<size { out[(bh * g.total + g.past + t) * size + d] = new[(bh * g.kvLength + t) * size + d] } }
        }
        return out
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let q = try site.tensor(inputs, 0), k = try site.tensor(inputs, 1), v = try site.tensor(inputs, 2)
        if q.dtype != .f32 {
            // f16 / bf16: widened to f32, computed, and rounded back once.
            let wide = try inputs.map { t in try t.map { $0.dtype == .f16 || $0.dtype == .bf16 ? try CastOperator.convert($0, to: .f32) : $0 } }
            var results = try outputs.map { try Tensor(zeros: .f32, shape: $0.shape) }
            try run(wide, outputs: &results)
            for i in outputs.indices { try CastOperator.convert(results[i], into: &outputs[i]) }
            return
        }
        func optional(_ i: Int) -> Tensor? { i < inputs.count ? inputs[i] : nil }
        let mask = optional(3), pastKey = optional(4), pastValue = optional(5), nonpad = optional(6)
        guard (pastKey == nil) == (pastValue == nil) else { throw site.error("past_key and past_value must be given together") }
        let g = try geometry(q.shape.dims, k.shape.dims, v.shape.dims, past: pastKey?.shape.dims)
        if let pastValue, pastValue.shape.dims != [g.batch, g.kvHeads, g.past, g.valueSize] {
            throw site.error("past_value \(pastValue.shape) must be \(g.batch)x\(g.kvHeads)x\(g.past)x\(g.valueSize)")
        }
        let qv = Self.heads(try q.scalars(as: Float.self), q.shape.dims, heads: g.qHeads)
        let keys = Self.concat(try pastKey?.scalars(as: Float.self), Self.heads(try k.scalars(as: Float.self), k.shape.dims, heads: g.kvHeads), g, size: g.headSize)
        let values = Self.concat(try pastValue?.scalars(as: Float.self), Self.heads(try v.scalars(as: Float.self), v.shape.dims, heads: g.kvHeads), g, size: g.valueSize)
        let lengths = try nonpad.map { try site.indices($0, "nonpad_kv_seqlen") }
        if let lengths, lengths.count != g.batch || !lengths.allSatisfy({ (0...g.total).contains($0) }) {
            throw site.error("nonpad_kv_seqlen must hold \(g.batch) lengths in 0...\(g.total), got \(lengths.prefix(8))")
        }
        let bias = try maskBias(mask, g)
        let scale = Double(scale ?? Float(1 / Double(g.headSize).squareRoot()))
        var y = [Float](repeating: 0, count: g.batch * g.qHeads * g.qLength * g.valueSize)
        // The scores are kept only for the fourth output (whose size the plan checked); with
        // neither it nor any Y element there is nothing to compute, however many keys are declared.
        let wantsScores = outputs.count > 3
        var qk = [Float](repeating: 0, count: wantsScores ? g.batch * g.qHeads * g.qLength * g.total : 0)
        let group = g.qHeads / g.kvHeads
        let computes = !y.isEmpty || !qk.isEmpty
        var scores = [Double](repeating: 0, count: computes ? g.total : 0), biasRow = scores
        for b in 0..<(computes ? g.batch : 0) {
            // The causal / window frontier: past length, or each batch's length minus q length.
            let offset = pastKey == nil && lengths != nil ? (lengths?[b] ?? 0) - g.qLength : g.past
            for h in 0..<g.qHeads {
                let kh = h / group
                for i in 0..<g.qLength {
                    let qBase = ((b * g.qHeads + h) * g.qLength + i) * g.headSize
                    for j in 0..<g.total {
                        var s = 0.0
                        let kBase = ((b * g.kvHeads + kh) * g.total + j) * g.headSize
                        for d in 0..<g.headSize { s += Double(qv[qBase + d]) * Double(keys[kBase + d]) }
                        s *= scale
                        if softcap > 0 { s = Double(softcap) * Foundation.tanh(s / Double(softcap)) }
                        var m = bias?(b, h, i, j) ?? 0
                        if causal && j > i + offset { m = -.infinity }
                        let diff = i + offset - j
                        if leftWindow >= 0 && diff > leftWindow { m = -.infinity }
                        if rightWindow >= 0 && -diff > rightWindow { m = -.infinity }
                        if let lengths, j >= lengths[b] { m = -.infinity }
                        scores[j] = s
                        biasRow[j] = m
                    }
                    let row = ((b * g.qHeads + h) * g.qLength + i) * g.total
                    var top = -Double.infinity
                    for j in 0..<g.total { top = max(top, scores[j] + biasRow[j]) }
                    let masked = biasRow.prefix(g.total).allSatisfy { $0 == -.infinity }
                    var sum = 0.0
                    var probabilities = [Double](repeating: 0, count: g.total)
                    if !masked {
                        let shift = top == -.infinity ? 0 : top
                        for j in 0..<g.total { probabilities[j] = Foundation.exp(scores[j] + biasRow[j] - shift); sum += probabilities[j] }
                        if sum > 0 { for j in 0..<g.total { probabilities[j] /= sum } }
                    }
                    for j in 0..<(wantsScores ? g.total : 0) {
                        switch qkMode {
                        case 2: qk[row + j] = Float(scores[j] + biasRow[j])
                        case 3: qk[row + j] = Float(probabilities[j])
                        default: qk[row + j] = Float(scores[j])
                        }
                    }
                    let yBase = ((b * g.qHeads + h) * g.qLength + i) * g.valueSize
                    for j in 0..<g.total where probabilities[j] != 0 {
                        let vBase = ((b * g.kvHeads + kh) * g.total + j) * g.valueSize
                        for d in 0..<g.valueSize { y[yBase + d] += Float(probabilities[j] * Double(values[vBase + d])) }
                    }
                }
            }
        }
        if g.rank3, !y.isEmpty {
            // Back to batch x sequence x (heads · size).
            var merged = [Float](repeating: 0, count: y.count)
            for b in 0..<g.batch { for h in 0..<g.qHeads { for t in 0..<g.qLength { for d in 0..<g.valueSize {
                merged[(b * g.qLength + t) * g.qHeads * g.valueSize + h * g.valueSize + d] = y[((b * g.qHeads + h) * g.qLength + t) * g.valueSize + d]
            } } } }
            y = merged
        }
        try write(y, &outputs, 0)
        if outputs.count > 1 { try write(keys, &outputs, 1) }
        if outputs.count > 2 { try write(values, &outputs, 2) }
        if outputs.count > 3 { try write(qk, &outputs, 3) }
    }

    private func write(_ values: [Float], _ outputs: inout [Tensor], _ i: Int) throws {
        try outputs[i].withUnsafeMutableBufferPointer(as: Float.self) { d in
            guard d.count == values.count else { return }
            for k in 0..<d.count { d[k] = values[k] }
        }
    }

    /// The mask's additive bias at (batch, head, query, key): bool true → 0, false → -inf;
    /// f32 added as it is; keys beyond the mask's last axis are masked.
    func maskBias(_ mask: Tensor?, _ g: Geometry) throws -> ((Int, Int, Int, Int) -> Double)? {
        guard let mask else { return nil }
        let dims = mask.shape.dims
        guard (1...4).contains(dims.count) else { throw site.error("attn_mask must have rank 1 to 4, got \(mask.shape)") }
        let full = [g.batch, g.qHeads, g.qLength, g.total]
        let padded = Array(repeating: 1, count: 4 - dims.count) + dims
        for a in 0..<3 where padded[a] != 1 && padded[a] != full[a] {
            throw site.error("attn_mask \(mask.shape) does not broadcast to \(full.map(String.init).joined(separator: "x"))")
        }
        guard padded[3] <= g.total else { throw site.error("attn_mask \(mask.shape) is longer than the \(g.total) keys") }
        let strides = Strided.strides(try TensorShape(padded))
        let values: [Double] = mask.dtype == .bool ? try mask.scalars(as: Bool.self).map { $0 ? 0 : -.infinity } : try mask.scalars(as: Float.self).map(Double.init)
        return { b, h, i, j in
            guard j < padded[3] else { return -.infinity }
            let idx = (padded[0] == 1 ? 0 : b) * strides[0] + (padded[1] == 1 ? 0 : h) * strides[1] + (padded[2] == 1 ? 0 : i) * strides[2] + j * strides[3]
            return values[idx]
        }
    }
}
