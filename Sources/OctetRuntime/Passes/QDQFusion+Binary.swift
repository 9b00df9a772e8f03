import OctetCore

/// The node `QDQFusion` makes of DequantizeLinear(a), DequantizeLinear(b) → Add or Mul
/// (→ Relu) → QuantizeLinear, ONNX Runtime's QLinearAdd / QLinearMul: the residual add of a
/// quantized CNN, or the product of SiLU (`x · Sigmoid(x)`), on its 8-bit values.
///
/// Domain `octet`, op type `QuantizedAdd` or `QuantizedMul`. Inputs: `a_q`, `b_q` (u8 or
/// s8, one type, one shape). Attributes: `octet.scales` = [s_a, s_b, s_y], `octet.zero_points` = [z_a, z_b,
/// z_y], `octet.relu` = 1 when a Relu was fused, `octet.qmax` = 127 when a 7-bit Clip was
/// (`OutputCodeLimit`). Output: `y_q` of the inputs' type.
///
/// Each element is computed as the QDQ graph evaluated in f32 computes it:
/// `y = clamp(rne(((a − z_a)·s_a + (b − z_b)·s_b) / s_y) + z_y, qmin, qmax)` (the product
/// `((a − z_a)·s_a)·((b − z_b)·s_b)` for Mul), with the Relu
/// as `qmin = z_y` — the same float operations in the same order, so the result equals
/// that evaluation bit for bit.
public enum QuantizedBinaryNode {
    public static let domain = "octet"
    /// The op type the fusion gives each ONNX op.
    public static let opTypes: [String: String] = ["Add": "QuantizedAdd", "Mul": "QuantizedMul"]
    public static let scalesAttribute = "octet.scales"
    public static let zeroPointsAttribute = "octet.zero_points"
    public static let reluAttribute = "octet.relu"

    static func matches(_ n: Node) -> Bool { n.domain == domain && opTypes.values.contains(n.opType) }
    /// Whether `n` (which `matches`) multiplies.
    static func multiplies(_ n: Node) -> Bool { n.opType == opTypes["Mul"] }
}

extension QDQFusion {
    /// DQ(a) + DQ(b) or DQ(a) · DQ(b) (→ Relu) → Q, all per tensor, as one
    /// `QuantizedBinaryNode`; `nil` when the pattern does not hold (a broadcast, a constant
    /// operand, a value read elsewhere).
    func fuseBinary(_ node: Node, _ g: Graph, dequantizer: (String) -> (index: Int, node: Node, params: QDQParameters)?,
                 quantizer: (String) -> Quantizer?, readers: [String: [Int]], types: [String: ValueType]) -> (node: Node, consumed: [Int])? {
        guard node.inputs.count == 2, let a = dequantizer(node.inputs[0]), let b = dequantizer(node.inputs[1]),
              a.params.scales.count == 1, b.params.scales.count == 1,
              let aq = a.node.input(0), let bq = b.node.input(0), g.initializers[aq] == nil, g.initializers[bq] == nil,
              (a.params.zeroPointType ?? .u8) == (b.params.zeroPointType ?? .u8)
        else { return nil }
        // The fused ops do not broadcast: both shapes must be known and equal.
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
        guard let opType = QuantizedBinaryNode.opTypes[node.opType] else { return nil }
        var fused = Node(name: node.name, opType: opType, domain: QuantizedBinaryNode.domain,
                         inputs: [aq, bq], outputs: [q.node.outputs[0]])
        fused.attributes[QuantizedBinaryNode.scalesAttribute] = .floats(scales)
        fused.attributes[QuantizedBinaryNode.zeroPointsAttribute] = .ints([a.params.zeroPoints[0], b.params.zeroPoints[0], q.params.zeroPoints[0]].map(Int.init))
        fused.attributes[QuantizedBinaryNode.reluAttribute] = .int(relu ? 1 : 0)
        if q.clip != nil { fused.attributes[OutputCodeLimit.attribute] = .int(Int(OutputCodeLimit.sevenBit)) }
        return (fused, consumed)
    }
}
