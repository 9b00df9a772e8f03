import Foundation
import Octet
import Testing

/// DequantizeLinear(a) + DequantizeLinear(b) (→ Relu) → QuantizeLinear runs as one
/// integer add (`QuantizedBinaryNode`), and the same with Mul as one integer product, and
/// gives exactly what the QDQ graph evaluated in f32 gives (the unoptimized session runs
/// the DQ / Add / Mul / Relu / Q ops one by one).
@Suite struct QuantizedAddTests {
    func graph(_ aDims: [Int], _ bDims: [Int], relu: Bool, signed: Bool = false, op: String = "Add") throws -> Graph {
        func zp(_ z: Int32) throws -> Tensor {
            signed ? try Tensor([Int8(truncatingIfNeeded: z)], shape: .scalar) : try Tensor([UInt8(truncatingIfNeeded: z)], shape: .scalar)
        }
        let inits: [String: Tensor] = [
            "sa": try Tensor([Float(0.031)], shape: .scalar), "za": try zp(signed ? -3 : 121),
            "sb": try Tensor([Float(0.017)], shape: .scalar), "zb": try zp(signed ? 5 : 7),
            "sy": try Tensor([Float(0.043)], shape: .scalar), "zy": try zp(signed ? -20 : 90),
        ]
        var nodes = [
            Node(name: "qa", opType: "QuantizeLinear", inputs: ["a", "sa", "za"], outputs: ["aq"]),
            Node(name: "qb", opType: "QuantizeLinear", inputs: ["b", "sb", "zb"], outputs: ["bq"]),
            Node(name: "da", opType: "DequantizeLinear", inputs: ["aq", "sa", "za"], outputs: ["ad"]),
            Node(name: "db", opType: "DequantizeLinear", inputs: ["bq", "sb", "zb"], outputs: ["bd"]),
            Node(name: "add", opType: op, inputs: ["ad", "bd"], outputs: ["s"]),
        ]
        if relu { nodes.append(Node(name: "relu", opType: "Relu", inputs: ["s"], outputs: ["r"])) }
        nodes += [
            Node(name: "qy", opType: "QuantizeLinear", inputs: [relu ? "r" : "s", "sy", "zy"], outputs: ["yq"]),
            Node(name: "dy", opType: "DequantizeLinear", inputs: ["yq", "sy", "zy"], outputs: ["y"]),
        ]
        return Graph(name: "qadd", inputs: [.init(name: "a", type: ValueType(.f32, try TensorShape(aDims))), .init(name: "b", type: ValueType(.f32, try TensorShape(bDims)))],
                     outputs: [.init(name: "y", type: nil)], nodes: nodes, initializers: inits, opsets: ["": 17])
    }

    func session(_ g: Graph, optimize: Bool) throws -> Session {
        try Session(graph: g, options: SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn(), optimize: optimize))
    }

    func inputs(_ aDims: [Int], _ bDims: [Int], seed: UInt64) throws -> [String: Tensor] {
        var g = SeededGenerator(seed: seed)
        func t(_ d: [Int]) throws -> Tensor {
            let s = try TensorShape(d)
            // Beyond both ranges, so that clamping at both ends is exercised.
            return try Tensor((0..<s.elementCount).map { _ in Float.random(in: -6...6, using: &g) }, shape: s)
        }
        return ["a": try t(aDims), "b": try t(bDims)]
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)], ["Add", "Mul"])
    func fusedOpEqualsTheQDQGraphInFloat(relu: (Bool, Bool), op: String) throws {
        let (relu, signed) = relu
        let dims = [2, 5, 7, 9]
        let g = try graph(dims, dims, relu: relu, signed: signed, op: op)
        let fused = try session(g, optimize: true), float = try session(g, optimize: false)
        let kinds = try fused.trace(inputShapes: ["a": try TensorShape(dims), "b": try TensorShape(dims)]).nodes.map(\.opType)
        #expect(kinds.contains("Quantized" + op), "\(kinds)")
        #expect(!kinds.contains(op) && !kinds.contains("Relu"))
        for seed in 0..<4 as Range<UInt64> {
            let x = try inputs(dims, dims, seed: seed)
            let a = try #require(try fused.run(x)["y"]).scalars(as: Float.self)
            let b = try #require(try float.run(x)["y"]).scalars(as: Float.self)
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
            if relu { #expect(a.allSatisfy { $0 >= 0 }) }
        }
    }

    @Test func aBroadcastAddStaysInFloat() throws {
        let g = try graph([2, 5, 7, 9], [1, 5, 1, 1], relu: true)
        let s = try session(g, optimize: true)
        let kinds = try s.trace(inputShapes: ["a": try TensorShape([2, 5, 7, 9]), "b": try TensorShape([1, 5, 1, 1])]).nodes.map(\.opType)
        #expect(kinds.contains("Add") && !kinds.contains("QuantizedAdd"))
        let x = try inputs([2, 5, 7, 9], [1, 5, 1, 1], seed: 9)
        let a = try #require(try s.run(x)["y"]).scalars(as: Float.self)
        let b = try #require(try session(g, optimize: false).run(x)["y"]).scalars(as: Float.self)
        #expect(a == b)
    }
}
