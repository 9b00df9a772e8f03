import OctetCore

/// Replaces `Mul(x, Sigmoid(x))` (either operand order; the Sigmoid read by that Mul only),
/// the SiLU that YOLO-style detectors and exporters spell out, by one `Swish` node
/// (alpha = 1, ONNX opset 24; `FloatMapOperator`), so the activation takes one pass over memory instead of two.
/// On f32 the fused kernel computes the same bits as the two nodes (`OCTET_SILU`).
public struct SiLUFusion: GraphPass {
    public var name: String { "silu-fusion" }
    public init() {}

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        var removed: Set<Int> = []
        let readers = g.readers()
        for (si, sigmoid) in g.nodes.enumerated() where sigmoid.opType == "Sigmoid" && sigmoid.domain.isEmpty {
            guard let x = sigmoid.input(0), let s = sigmoid.outputs.first, sigmoid.outputs.count == 1,
                  let mi = readers[s]?.first, g.onlyFeeds(s, mi, readers: readers), !removed.contains(mi) else { continue }
            let mul = g.nodes[mi]
            guard mul.opType == "Mul", mul.domain.isEmpty, mul.inputs.count == 2, mul.outputs.count == 1,
                  (mul.inputs[0] == x && mul.inputs[1] == s) || (mul.inputs[0] == s && mul.inputs[1] == x) else { continue }
            removed.insert(si)
            g.nodes[mi] = Node(name: mul.name.isEmpty ? sigmoid.name + "_silu" : mul.name, opType: "Swish", inputs: [x], outputs: mul.outputs,
                               attributes: ["alpha": .float(1)])
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return g
    }
}
