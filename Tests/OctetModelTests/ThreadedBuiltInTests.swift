import Octet
import Testing

/// Built-in ops split over the session's threads give the same bits as one thread: the
/// split is over disjoint rows or elements, each computed by the same code.
@Suite struct ThreadedBuiltInTests {
    @Test func threadedBuiltInsGiveTheBitsOfOneThread() throws {
        let shape = try TensorShape([4, 64, 512])
        var g = SeededGenerator(seed: 21)
        let gamma = try Tensor((0..<512).map { _ in Float.random(in: 0.5...1.5, using: &g) }, shape: TensorShape([512]))
        let beta = try Tensor((0..<512).map { _ in Float.random(in: -0.5...0.5, using: &g) }, shape: TensorShape([512]))
        let nodes = [
            Node(name: "ln", opType: "LayerNormalization", inputs: ["x", "gamma", "beta"], outputs: ["n"], attributes: ["axis": .int(-1)]),
            Node(name: "sm", opType: "Softmax", inputs: ["n"], outputs: ["p"], attributes: ["axis": .int(-1)]),
            Node(name: "sg", opType: "Sigmoid", inputs: ["x"], outputs: ["s"]),
            Node(name: "relu", opType: "Relu", inputs: ["n"], outputs: ["r"]),
            Node(name: "q", opType: "QuantizeLinear", inputs: ["r", "qs", "qz"], outputs: ["rq"]),
            Node(name: "dq", opType: "DequantizeLinear", inputs: ["rq", "qs", "qz"], outputs: ["rd"]),
        ]
        let graph = Graph(name: "threads", inputs: [.init(name: "x", type: ValueType(.f32, shape))],
                          outputs: ["p", "s", "rd"].map { .init(name: $0, type: nil) }, nodes: nodes,
                          initializers: ["gamma": gamma, "beta": beta, "qs": try Tensor([Float(0.02)], shape: .scalar), "qz": try Tensor([UInt8(3)], shape: .scalar)],
                          opsets: ["": 17])
        let x = try Tensor((0..<shape.elementCount).map { _ in Float.random(in: -4...4, using: &g) }, shape: shape)
        func run(_ threads: Int) throws -> [String: [UInt32]] {
            let session = try Session(graph: graph, options: SessionOptions(threads: threads, cpu: .host, registry: BackendRegistry.builtIn(),
                                                                            rules: try RuleSet.builtIn(), optimize: false))
            return try session.run(["x": x]).mapValues { try $0.scalars(as: Float.self).map(\.bitPattern) }
        }
        let one = try run(1)
        for threads in [2, 3, 8] {
            let many = try run(threads)
            for name in ["p", "s", "rd"] { #expect(many[name] == one[name], "\(name) with \(threads) threads") }
        }
    }
}
