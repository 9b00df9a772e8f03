import OctetCore

/// The node `QDQFusion` makes of DequantizeLinear(a), DequantizeLinear(b) → Add (→ Relu)
/// → QuantizeLinear, ONNX Runtime's QLinearAdd: the residual add of a quantized CNN on
/// its 8-bit values.
///
/// Domain `octet`, op type `QuantizedAdd`. Inputs: `a_q`, `b_q` (u8 or s8, one type, one
/// shape). Attributes: `octet.scales` = [s_a, s_b, s_y], `octet.zero_points` = [z_a, z_b,
/// z_y], `octet.relu` = 1 when a Relu was fused, `octet.qmax` = 127 when a 7-bit Clip was
/// (`OutputCodeLimit`). Output: `y_q` of the inputs' type.
///
/// Each element is computed as the QDQ graph evaluated in f32 computes it:
/// `y = clamp(rne(((a − z_a)·s_a + (b − z_b)·s_b) / s_y) + z_y, qmin, qmax)`, with the Relu
/// as `qmin = z_y` — the same float operations in the same order, so the result equals
/// that evaluation bit for bit.
public enum QuantizedAddNode {
    public static let domain = "octet"
    public static let opType = "QuantizedAdd"
    public static let scalesAttribute = "octet.scales"
    public static let zeroPointsAttribute = "octet.zero_points"
    public static let reluAttribute = "octet.relu"

    static func matches(_ n: Node) -> Bool { n.domain == domain && n.opType == opType }
}

extension QDQFusion {
    /// DQ(a) + DQ(b) (→ Relu) → Q, all per tensor, as one `QuantizedAddNode`; `nil` when
    /// the pattern does not hold (a broadcast, a constant operand, a value read elsewhere).
    func fuseAdd(_ node: Node, _ g: Graph, dequantizer: (String) -> (index: Int, node: Node, params: QDQParameters)?,
                 quantizer: (String) -> Quantizer?, readers: [String: [Int]], types: [String: ValueType]) -> (node: Node, consumed: [Int])? {
        guard node.inputs.count == 2, let a = dequantizer(node.inputs[0]), let b = dequantizer(node.inputs[1]),
              a.params.scales.count == 1, b.params.scales.count == 1,
              let aq = a.node.input(0), let bq = b.node.input(0), g.initializers[aq] == nil, g.initializers[bq] == nil,
              (a.params.zeroPointType ?? .u8) == (b.params.zeroPointType ?? .u8)
        else { return nil }
        // QuantizedAdd does not broadcast: both shapes must be known and equal.
        guard let sa = types[node.inputs[0]]?.shape, let sb = types[node.inputs[1]]?.shape, sa == sb else { return nil }
        var output = node.outputs[0]
        var consumed: [Int] = []
        var relu = false
        if let r = readers[output], r.count == 1, !g.outputNames.contains(output), g.nodes[r[0]].opType == "Relu", g.nodes[r[0]].domain.isEmpty {
            relu = true
            consumed.append(r[0])
            output = g.nodes[r[0]].outputs[0]
        }
        guard let q = quantizer(output), (q.params.zeroPointType ?? .u8) == (a.params.zeroPointType ?? .u8) else { return nil }
        consumed += q.consumed
        let scales = [a.params.scales[0], b.params.scales[0], q.params.scales[0]]
        guard scales.allSatisfy({ $0.isFinite && $0 > 0 }) else { return nil }
        var fused = Node(name: node.name, opType: QuantizedAddNode.opType, domain: QuantizedAddNode.domain,
                         inputs: [aq, bq], outputs: [q.node.outputs[0]])
        fused.attributes[QuantizedAddNode.scalesAttribute] = .floats(scales)
        fused.attributes[QuantizedAddNode.zeroPointsAttribute] = .ints([a.params.zeroPoints[0], b.params.zeroPoints[0], q.params.zeroPoints[0]].map(Int.init))
        fused.attributes[QuantizedAddNode.reluAttribute] = .int(relu ? 1 : 0)
        if q.clip != nil { fused.attributes[OutputCodeLimit.attribute] = .int(Int(OutputCodeLimit.sevenBit)) }
        return (fused, consumed)
    }
}
