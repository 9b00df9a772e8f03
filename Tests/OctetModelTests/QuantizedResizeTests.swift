import Foundation
import Octet
import Testing

/// DequantizeLinear → Resize (nearest) → QuantizeLinear with one set of parameters runs the
/// Resize on the codes (nearest copies values, so it commutes with the dequantization),
/// giving what the QDQ graph evaluated in f32 gives; a linear Resize stays in f32.
@Suite struct QuantizedResizeTests {
    static func graph(mode: String, signed: Bool, scales: [Float], transform: String = "asymmetric") throws -> Graph {
        let zp: Tensor = signed ? try Tensor([Int8(-7)], shape: .scalar) : try Tensor([UInt8(121)], shape: .scalar)
        let inits: [String: Tensor] = [
            "s": try Tensor([Float(0.05)], shape: .scalar), "z": zp,
            "roi": try Tensor([Float](), shape: TensorShape([0])), "scales": try Tensor(scales, shape: TensorShape([scales.count])),
        ]
        let nodes = [
            Node(name: "q", opType: "QuantizeLinear", inputs: ["x", "s", "z"], outputs: ["xq"]),
            Node(name: "dq", opType: "DequantizeLinear", inputs: ["xq", "s", "z"], outputs: ["xd"]),
            Node(name: "resize", opType: "Resize", inputs: ["xd", "roi", "scales"], outputs: ["r"],
                 attributes: ["mode": .string(mode), "coordinate_transformation_mode": .string(transform)]),
            Node(name: "q2", opType: "QuantizeLinear", inputs: ["r", "s", "z"], outputs: ["rq"]),
            Node(name: "dq2", opType: "DequantizeLinear", inputs: ["rq", "s", "z"], outputs: ["y"]),
        ]
        return Graph(name: "resize", inputs: [.init(name: "x", type: ValueType(.f32, try TensorShape([1, 3, 5, 7])))],
                     outputs: [.init(name: "y", type: nil)], nodes: nodes, initializers: inits, opsets: ["": 19])
    }

    func sessions(_ g: Graph) throws -> (fused: Session, float: Session) {
        var options = SessionOptions(threads: 2, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn())
        let fused = try Session(graph: g, options: options)
        options.optimize = false
        return (fused, try Session(graph: g, options: options))
    }

    @Test(arguments: [false, true], [("asymmetric", [Float(1), 1, 2, 2]), ("half_pixel", [1, 1, 0.6, 1.5]), ("align_corners", [1, 1, 3, 0.5])])
    func nearestRunsOnTheCodes(signed: Bool, geometry: (String, [Float])) throws {
        let g = try Self.graph(mode: "nearest", signed: signed, scales: geometry.1, transform: geometry.0)
        let (fused, float) = try sessions(g)
        let nodes = try fused.trace().trace.nodes.map(\.opType)
        // The Resize reads the codes: only the last DequantizeLinear is left.
        #expect(nodes.contains("Resize") && nodes.filter { $0 == "DequantizeLinear" }.count == 1, "\(nodes)")
        var r = SeededGenerator(seed: signed ? 1 : 2)
        let x = try Tensor((0..<105).map { _ in Float.random(in: -8...8, using: &r) }, shape: TensorShape([1, 3, 5, 7]))
        let a = try #require(try fused.run(["x": x])["y"]), b = try #require(try float.run(["x": x])["y"])
        #expect(a.shape == b.shape)
        #expect(try a.scalars(as: Float.self).map(\.bitPattern) == b.scalars(as: Float.self).map(\.bitPattern))
    }

    @Test func linearStaysInFloat() throws {
        let (fused, _) = try sessions(try Self.graph(mode: "linear", signed: false, scales: [1, 1, 2, 2]))
        let nodes = try fused.trace().trace.nodes.map(\.opType)
        #expect(nodes.filter { $0 == "DequantizeLinear" }.count == 2, "\(nodes)")
    }
}
