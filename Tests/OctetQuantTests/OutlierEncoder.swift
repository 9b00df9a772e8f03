import Foundation
import Octet
import OctetQuant

/// A synthetic two-block encoder with planted outlier channels: LayerNorm γ of 40 on
/// channels 5 and 20 (1 elsewhere), as pretrained transformers have at LayerNorm outputs.
///
///     x → LN1 → h ─→ MatMul W1 → +b1 → Relu → MatMul W2 ─→ + → LN2 → g → MatMul W3 → y
///                └──────────────── residual ────────────────┘
///
/// h is also read by the residual (SmoothQuant writes a Mul); g only by W3 (folded into LN2).
enum OutlierEncoder {
    static let width = 32, hidden = 64, out = 16, tokens = 16

    static func graph(seed: UInt64 = 11) throws -> Graph {
        var rng = SeededGenerator(seed: seed)
        func normal(_ n: Int, _ scale: Float) -> [Float] {
            (0..<n).map { _ in
                let u = Float.random(in: Float.ulpOfOne..<1, using: &rng), v = Float.random(in: 0..<1, using: &rng)
                return scale * (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
            }
        }
        var gamma = [Float](repeating: 1, count: width)
        gamma[5] = 40; gamma[20] = -40
        let inits: [String: Tensor] = [
            "ln1_g": try Tensor(gamma, shape: TensorShape([width])), "ln1_b": try Tensor(normal(width, 0.1), shape: TensorShape([width])),
            "w1": try Tensor(normal(width * hidden, 0.2), shape: TensorShape([width, hidden])),
            "b1": try Tensor(normal(hidden, 0.1), shape: TensorShape([hidden])),
            "w2": try Tensor(normal(hidden * width, 0.1), shape: TensorShape([hidden, width])),
            "ln2_g": try Tensor(gamma.reversed(), shape: TensorShape([width])), "ln2_b": try Tensor(normal(width, 0.1), shape: TensorShape([width])),
            "w3": try Tensor(normal(width * out, 0.2), shape: TensorShape([width, out])),
        ]
        let nodes = [
            Node(name: "ln1", opType: "LayerNormalization", inputs: ["x", "ln1_g", "ln1_b"], outputs: ["h"], attributes: ["axis": .int(-1)]),
            Node(name: "fc1", opType: "MatMul", inputs: ["h", "w1"], outputs: ["a"]),
            Node(name: "bias1", opType: "Add", inputs: ["a", "b1"], outputs: ["ab"]),
            Node(name: "relu", opType: "Relu", inputs: ["ab"], outputs: ["r"]),
            Node(name: "fc2", opType: "MatMul", inputs: ["r", "w2"], outputs: ["f"]),
            Node(name: "residual", opType: "Add", inputs: ["h", "f"], outputs: ["s"]),
            Node(name: "ln2", opType: "LayerNormalization", inputs: ["s", "ln2_g", "ln2_b"], outputs: ["g"], attributes: ["axis": .int(-1)]),
            Node(name: "head", opType: "MatMul", inputs: ["g", "w3"], outputs: ["y"]),
        ]
        return Graph(name: "outlier_encoder",
                     inputs: [Graph.Port(name: "x", type: ValueType(.f32, try TensorShape([1, tokens, width])))],
                     outputs: [Graph.Port(name: "y", type: nil)], nodes: nodes, initializers: inits)
    }

    static func samples(_ count: Int, seed: UInt64 = 5) throws -> [[String: Tensor]] {
        var rng = SeededGenerator(seed: seed)
        return try (0..<count).map { _ in
            ["x": try Tensor((0..<(tokens * width)).map { _ in Float.random(in: -2...2, using: &rng) }, shape: TensorShape([1, tokens, width]))]
        }
    }
}
