import OctetCore

extension QDQFusion {
    /// DQ(x₀), DQ(x₁), … → Concat → Q, all per tensor and of one 8-bit type: the Concat on the
    /// codes (ONNX Runtime's QLinearConcat). An input whose parameters differ from the output's
    /// is requantized first by a `QuantizedLookupNode` (the DQ → Q chain run on its 256 codes,
    /// so every value is what the QDQ graph computes in f32); the quantizer gives a Concat's
    /// inputs and output one set of parameters, and then no table is needed. A 7-bit Clip
    /// before the Q goes into every input's table (a code above 127 must not pass through).
    func fuseConcat(_ node: Node, _ g: Graph, dequantizer: (String) -> (index: Int, node: Node, params: QDQParameters)?,
                    quantizer: (String) -> Quantizer?) -> (node: Node, requantizers: [Node], consumed: [Int])? {
        guard node.outputs.count == 1, !node.inputs.isEmpty, !node.inputs.contains(where: \.isEmpty),
              let q = quantizer(node.outputs[0]), q.params.scales.count == 1 else { return nil }
        let codeType = q.params.zeroPointType ?? .u8
        var inputs: [String] = [], requantizers: [Node] = []
        for (k, x) in node.inputs.enumerated() {
            guard let d = dequantizer(x), d.params.scales.count == 1, (d.params.zeroPointType ?? .u8) == codeType,
                  let xq = d.node.input(0), g.initializers[xq] == nil else { return nil }
            if d.params.sameQuantization(as: q.params) && q.clip == nil {
                inputs.append(xq)
                continue
            }
            // (7-bit Clip →) Q reading this input's dequantized values, for the table's chain.
            var tail = q.tail(in: g)
            tail[0].inputs[0] = d.node.outputs[0]
            if tail.count == 2 { tail[1].inputs[0] = tail[0].outputs[0] }
            guard let table = try? Self.table(chain: [d.node] + tail, input: xq, codeType: codeType, graph: g) else { return nil }
            let name = g.freshName("\(node.name)_requantized_input\(k)")
            requantizers.append(QuantizedLookupNode.make(name: name, input: xq, output: name, table: table))
            inputs.append(name)
        }
        var fused = node
        fused.inputs = inputs
        fused.outputs = [q.node.outputs[0]]
        return (fused, requantizers, q.consumed)
    }
}
