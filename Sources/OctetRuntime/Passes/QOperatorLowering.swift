import OctetCore

/// Lowers ONNX's operator-form quantized ops (what ONNX Runtime's `QuantFormat.QOperator`
/// writes) to the node the QDQ form becomes, so both run on the same INT8 kernels:
///
/// - `QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp[, B])` with a constant
///   weight → `QuantizedMatrixNode` (source `Conv`, the same attributes) with inputs
///   `x, x_scale, x_zp, w, w_scale, w_zp, B, y_scale, y_zp`;
/// - `QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)` with a constant 2-D
///   `b` → `QuantizedMatrixNode` (source `MatMul`).
///
/// Semantics are those of the ONNX operators: `B` is int32 with scale `x_scale · w_scale`,
/// the output is requantized to `y_scale`, `y_zp` (round half to even, saturated). Nodes
/// whose weight is computed, or whose parameters are not constants, stay as they are and
/// run on the built-in integer operators.
public struct QOperatorLowering: GraphPass {
    public var name: String { "qoperator-lowering" }
    public init() {}

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        for i in g.nodes.indices {
            let n = g.nodes[i]
            guard n.domain.isEmpty || n.domain == "ai.onnx" else { continue }
            switch n.opType {
            case "QLinearConv":
                guard n.inputs.count >= 8, Self.constant(n, [1, 2, 3, 4, 5, 6, 7], in: g),
                      n.input(8).map({ g.initializers[$0]?.dtype == .s32 }) ?? true else { continue }
                g.nodes[i] = Self.lowered(n, source: "Conv", inputs: Array(n.inputs[0..<6]) + [n.input(8) ?? "", n.inputs[6], n.inputs[7]])
            case "QLinearMatMul":
                guard n.inputs.count == 8, Self.constant(n, [1, 2, 3, 4, 5, 6, 7], in: g),
                      g.initializers[n.inputs[3]]?.shape.rank == 2 else { continue }
                g.nodes[i] = Self.lowered(n, source: "MatMul", inputs: Array(n.inputs[0..<6]) + ["", n.inputs[6], n.inputs[7]])
            default:
                continue
            }
        }
        return g
    }

    /// Whether every input at `indices` is present and an initializer.
    private static func constant(_ n: Node, _ indices: [Int], in g: Graph) -> Bool {
        indices.allSatisfy { i in n.input(i).map { g.initializers[$0] != nil } ?? false }
    }

    private static func lowered(_ n: Node, source: String, inputs: [String]) -> Node {
        var attributes = n.attributes
        attributes[QuantizedMatrixNode.sourceAttribute] = .string(source)
        return Node(name: n.name, opType: QuantizedMatrixNode.opType, domain: QuantizedMatrixNode.domain,
                    inputs: inputs, outputs: n.outputs, attributes: attributes)
    }
}
