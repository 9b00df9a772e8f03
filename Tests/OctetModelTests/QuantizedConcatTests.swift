import Foundation
import Octet
import Testing

/// DequantizeLinear(a), DequantizeLinear(b), DequantizeLinear(c) → Concat → QuantizeLinear
/// runs on the codes: inputs with the output's parameters are copied as they are, the others
/// requantized by a table; the result is what the QDQ graph gives in f32, bit for bit.
@Suite struct QuantizedConcatTests {
    /// Input k has parameters (scales[k], zeros[k]); the output (0.05, 100) or s8 (0.05, -20).
    static func graph(signed: Bool, axis: Int) throws -> Graph {
        func zp(_ z: Int) throws -> Tensor { signed ? try Tensor([Int8(z)], shape: .scalar) : try Tensor([UInt8(z)], shape: .scalar) }
        let params: [(Float, Int)] = signed ? [(0.05, -20), (0.013, 3), (0.11, -128)] : [(0.05, 100), (0.013, 7), (0.11, 255)]
        var inits: [String: Tensor] = ["sy": try Tensor([Float(0.05)], shape: .scalar), "zy": try zp(signed ? -20 : 100)]
        var nodes: [Node] = []
        for (k, p) in params.enumerated() {
            inits["s\(k)"] = try Tensor([p.0], shape: .scalar)
            inits["z\(k)"] = try zp(p.1)
            nodes += [Node(name: "q\(k)", opType: "QuantizeLinear", inputs: ["x\(k)", "s\(k)", "z\(k)"], outputs: ["q\(k)"]),
                      Node(name: "d\(k)", opType: "DequantizeLinear", inputs: ["q\(k)", "s\(k)", "z\(k)"], outputs: ["d\(k)"])]
        }
        nodes += [Node(name: "cat", opType: "Concat", inputs: ["d0", "d1", "d2"], outputs: ["c"], attributes: ["axis": .int(axis)]),
                  Node(name: "qy", opType: "QuantizeLinear", inputs: ["c", "sy", "zy"], outputs: ["yq"]),
                  Node(name: "dy", opType: "DequantizeLinear", inputs: ["yq", "sy", "zy"], outputs: ["y"])]
        let shape = try TensorShape([2, 3, 4, 5])
        return Graph(name: "qconcat", inputs: (0..<3).map { .init(name: "x\($0)", type: ValueType(.f32, shape)) },
                     outputs: [.init(name: "y", type: nil)], nodes: nodes, initializers: inits, opsets: ["": 17])
    }

    @Test(arguments: [false, true], [1, -1, 0])
    func concatOnTheCodesEqualsTheQDQGraphInFloat(signed: Bool, axis: Int) throws {
        let graph = try Self.graph(signed: signed, axis: axis)
        var options = SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn())
        let fused = try Session(graph: graph, options: options)
        options.optimize = false
        let float = try Session(graph: graph, options: options)
        let nodes = try fused.trace().trace.nodes.map(\.opType)
        // Input 0 has the output's parameters; inputs 1 and 2 are requantized by tables.
        #expect(nodes.filter { $0 == "QuantizedLookup" }.count == 2 && nodes.contains("Concat"), "\(nodes)")
        #expect(nodes.filter { $0 == "DequantizeLinear" }.count == 1, "only the graph output is dequantized: \(nodes)")
        var g = SeededGenerator(seed: UInt64(axis + 5))
        let shape = try TensorShape([2, 3, 4, 5])
        var feeds: [String: Tensor] = [:]
        for k in 0..<3 { feeds["x\(k)"] = try Tensor((0..<shape.elementCount).map { _ in Float.random(in: -9...9, using: &g) }, shape: shape) }
        let a = try #require(try fused.run(feeds)["y"]).scalars(as: Float.self)
        let b = try #require(try float.run(feeds)["y"]).scalars(as: Float.self)
        #expect(a.count == 360 && a.map(\.bitPattern) == b.map(\.bitPattern))
    }
}
