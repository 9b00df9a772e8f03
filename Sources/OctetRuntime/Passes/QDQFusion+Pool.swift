import OctetCore

extension QDQFusion {
    /// DQ(x) → AveragePool / GlobalAveragePool → Q, per tensor, one 8-bit type, no dilation:
    /// the pool on the codes, with both parameters written on it (`PoolRequantization`).
    func fusePool(_ node: Node, _ g: Graph, dequantizer: (String) -> (index: Int, node: Node, params: QDQParameters)?,
                  quantizer: (String) -> Quantizer?) -> (node: Node, consumed: [Int])? {
        guard node.outputs.count == 1, let x = node.input(0), let d = dequantizer(x), d.params.scales.count == 1,
              let xq = d.node.input(0), g.initializers[xq] == nil,
              ((try? node.ints("dilations")) ?? nil).map({ $0.allSatisfy { $0 == 1 } }) ?? true,
              let q = quantizer(node.outputs[0]), q.params.scales.count == 1,
              (q.params.zeroPointType ?? .u8) == (d.params.zeroPointType ?? .u8),
              [d.params.scales[0], q.params.scales[0]].allSatisfy({ $0.isFinite && $0 > 0 }) else { return nil }
        var fused = node
        fused.inputs[0] = xq
        fused.outputs = [q.node.outputs[0]]
        PoolRequantization(inputScale: d.params.scales[0], inputZeroPoint: d.params.zeroPoints[0],
                           outputScale: q.params.scales[0], outputZeroPoint: q.params.zeroPoints[0],
                           outputMax: q.clip.map { _ in OutputCodeLimit.sevenBit }).annotate(&fused.attributes)
        return (fused, q.consumed)
    }
}
