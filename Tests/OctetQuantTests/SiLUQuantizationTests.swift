import Foundation
import Octet
import Testing

/// SiLU (`x · Sigmoid(x)`, YOLO's activation) between two convolutions: the quantizer gives
/// the Sigmoid's output parameters of its own, so that the planner runs the Sigmoid as a
/// table on the codes and the product as a `QuantizedMul`, and the model stays in 8 bits
/// from the first QuantizeLinear to the last DequantizeLinear.
@Suite struct SiLUQuantizationTests {
    static func model() throws -> (graph: Graph, samples: [[String: Tensor]]) {
        var g = SeededGenerator(seed: 11)
        func weights(_ dims: [Int]) throws -> Tensor {
            let s = try TensorShape(dims)
            return try Tensor((0..<s.elementCount).map { _ in Float.random(in: -0.4...0.4, using: &g) }, shape: s)
        }
        let inits: [String: Tensor] = ["w1": try weights([8, 4, 3, 3]), "b1": try weights([8]), "w2": try weights([6, 8, 3, 3]), "b2": try weights([6])]
        let pads: [String: AttributeValue] = ["pads": .ints([1, 1, 1, 1])]
        let nodes = [
            Node(name: "conv1", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c1"], attributes: pads),
            Node(name: "sigmoid", opType: "Sigmoid", inputs: ["c1"], outputs: ["s1"]),
            Node(name: "silu", opType: "Mul", inputs: ["c1", "s1"], outputs: ["m1"]),
            Node(name: "conv2", opType: "Conv", inputs: ["m1", "w2", "b2"], outputs: ["y"], attributes: pads),
        ]
        let graph = Graph(name: "silu", inputs: [.init(name: "x", type: ValueType(.f32, try TensorShape([1, 4, 10, 10])))],
                          outputs: [.init(name: "y", type: nil)], nodes: nodes, initializers: inits, opsets: ["": 17])
        let samples = try (0..<24).map { _ in ["x": try Tensor((0..<400).map { _ in Float.random(in: -2...2, using: &g) }, shape: TensorShape([1, 4, 10, 10]))] }
        return (graph, samples)
    }

    @Test func siluRunsOnTheCodes() throws {
        let m = try Self.model()
        let options = SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn())
        let q = try Quantizer().quantize(m.graph, data: CalibrationData(samples: Array(m.samples.prefix(16))), options: options)
        // The Sigmoid's output is quantized too: QuantizeLinear on x, c1, s1 and m1 (y stays f32).
        let quantized = Set(q.graph.nodes.filter { $0.opType == "QuantizeLinear" }.compactMap { $0.input(0) })
        #expect(quantized.contains("s1"), "\(quantized.sorted())")
        let int8 = try Session(graph: q.graph, options: options)
        let kinds = try int8.trace().trace.nodes.map(\.opType)
        #expect(kinds.contains("QuantizedMul") && kinds.contains("QuantizedLookup") && !kinds.contains("Mul") && !kinds.contains("Sigmoid"), "\(kinds)")
        #expect(kinds.filter { $0 == "DequantizeLinear" }.isEmpty, "\(kinds)")
        // Accuracy on held-out samples: the INT8 model against FP32, and against its own QDQ graph in f32.
        let fp32 = try Session(graph: m.graph, options: options)
        var float = options
        float.optimize = false
        let qdq = try Session(graph: q.graph, options: float)
        for sample in m.samples.suffix(8) {
            let a = try #require(try fp32.run(sample)["y"]).scalars(as: Float.self)
            let b = try #require(try int8.run(sample)["y"]).scalars(as: Float.self)
            let c = try #require(try qdq.run(sample)["y"]).scalars(as: Float.self)
            let dot = zip(a, b).map { $0 * $1 }.reduce(0, +)
            let cosine = dot / (sqrt(a.map { $0 * $0 }.reduce(0, +)) * sqrt(b.map { $0 * $0 }.reduce(0, +)))
            #expect(cosine > 0.995, "cosine to FP32 \(cosine)")
            let range = a.map(abs).max() ?? 1
            #expect(zip(b, c).allSatisfy { abs($0 - $1) <= 0.02 * range }, "INT8 plan vs its QDQ graph in f32")
        }
    }
}
