import Foundation
import Octet
import Testing

/// A 7-bit (`reduce_range`) edge is written as Clip(x, (0 − z)·s, (127 − z)·s) → QuantizeLinear.
/// After a residual Add, a Mul, a table op, a pool or a Concat, `QDQFusion` takes that Clip into the
/// fused integer op (`octet.qmax`, or the table itself), so a 7-bit CNN stays on its codes; the
/// result must still be what the QDQ graph evaluated op by op in f32 gives (exactly; the
/// pools to one step, since they sum in another order), and never above code 127.
@Suite struct SevenBitFusionTests {
    static let (sy, zy): (Float, UInt8) = (0.005, 30)

    static func graph(_ op: Node, twoInputs: Bool, shape: [Int]) throws -> Graph {
        let inits: [String: Tensor] = [
            "sa": try Tensor([Float(0.031)], shape: .scalar), "za": try Tensor([UInt8(60)], shape: .scalar),
            "sb": try Tensor([Float(0.017)], shape: .scalar), "zb": try Tensor([UInt8(7)], shape: .scalar),
            "sy": try Tensor([sy], shape: .scalar), "zy": try Tensor([zy], shape: .scalar),
            "lo7": try Tensor([Float(0 - Int(zy)) * sy], shape: .scalar), "hi7": try Tensor([Float(127 - Int(zy)) * sy], shape: .scalar),
        ]
        var nodes = [Node(name: "qa", opType: "QuantizeLinear", inputs: ["a", "sa", "za"], outputs: ["aq"]),
                     Node(name: "da", opType: "DequantizeLinear", inputs: ["aq", "sa", "za"], outputs: ["ad"])]
        if twoInputs {
            nodes += [Node(name: "qb", opType: "QuantizeLinear", inputs: ["b", "sb", "zb"], outputs: ["bq"]),
                      Node(name: "db", opType: "DequantizeLinear", inputs: ["bq", "sb", "zb"], outputs: ["bd"])]
        }
        var n = op
        n.inputs = twoInputs ? ["ad", "bd"] : ["ad"]
        n.outputs = ["o"]
        nodes += [n,
                  Node(name: "clip7", opType: "Clip", inputs: ["o", "lo7", "hi7"], outputs: ["o7"]),
                  Node(name: "qy", opType: "QuantizeLinear", inputs: ["o7", "sy", "zy"], outputs: ["yq"]),
                  Node(name: "dy", opType: "DequantizeLinear", inputs: ["yq", "sy", "zy"], outputs: ["y"])]
        let t = ValueType(.f32, try TensorShape(shape))
        let inputs: [Graph.Port] = twoInputs ? [.init(name: "a", type: t), .init(name: "b", type: t)] : [.init(name: "a", type: t)]
        return Graph(name: "seven-bit", inputs: inputs, outputs: [.init(name: "y", type: nil)], nodes: nodes, initializers: inits, opsets: ["": 17])
    }

    static let cases: [(op: Node, twoInputs: Bool, fusedAs: String)] = [
        (Node(name: "op", opType: "Add", inputs: [], outputs: []), true, "QuantizedAdd"),
        (Node(name: "op", opType: "Mul", inputs: [], outputs: []), true, "QuantizedMul"),
        (Node(name: "op", opType: "Sigmoid", inputs: [], outputs: []), false, "QuantizedLookup"),
        (Node(name: "op", opType: "AveragePool", inputs: [], outputs: [],
              attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])]), false, "AveragePool"),
        (Node(name: "op", opType: "GlobalAveragePool", inputs: [], outputs: []), false, "GlobalAveragePool"),
        (Node(name: "op", opType: "Concat", inputs: [], outputs: [], attributes: ["axis": .int(1)]), true, "Concat"),
    ]

    @Test(arguments: 0..<6)
    func clipIsFusedAndTheCodesMatchTheQDQGraph(_ which: Int) throws {
        let c = Self.cases[which]
        let shape = [2, 6, 7, 9]
        let graph = try Self.graph(c.op, twoInputs: c.twoInputs, shape: shape)
        var options = SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn())
        let fused = try Session(graph: graph, options: options)
        options.optimize = false
        let float = try Session(graph: graph, options: options)
        let kinds = try fused.trace().trace.nodes.map(\.opType)
        // Only the graph's own QuantizeLinears and the last DequantizeLinear stay: the op runs on codes, the Clip is inside it.
        #expect(kinds.contains(c.fusedAs) && !kinds.contains("Clip") && kinds.filter { $0 == "DequantizeLinear" }.count == 1, "\(kinds)")
        var g = SeededGenerator(seed: UInt64(which))
        let s = try TensorShape(shape)
        func t() throws -> Tensor { try Tensor((0..<s.elementCount).map { _ in Float.random(in: -3...6, using: &g) }, shape: s) }
        let x: [String: Tensor] = c.twoInputs ? ["a": try t(), "b": try t()] : ["a": try t()]
        let a = try #require(try fused.run(x)["y"]).scalars(as: Float.self)
        let b = try #require(try float.run(x)["y"]).scalars(as: Float.self)
        if c.op.opType.hasSuffix("Pool") {
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= Self.sy * 1.001, "\(c.op.opType): \(worst)")
        } else {
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(c.op.opType)")
        }
        // The 7-bit limit is reached (the inputs go well beyond it) and never passed.
        let top = Float(127 - Int(Self.zy)) * Self.sy
        #expect(a.allSatisfy { $0 <= top } && a.contains(top), "\(c.op.opType): max \(a.max() ?? .nan), limit \(top)")
    }

    /// The input edge of a 7-bit CNN: Clip(x, lo, hi) → QuantizeLinear becomes one
    /// QuantizeLinear with code bounds (`ClipQuantizeFusion`). Its codes must be those of the two
    /// ops run one after the other (unoptimized), for values inside, outside and exactly on the
    /// bounds, ±infinity, any zero point, u8 and s8, and for bounds that are not the 7-bit ones.
    @Test(arguments: [(UInt8(30), false), (UInt8(0), false), (UInt8(200), false), (UInt8(30), true)])
    func inputClipIsFusedIntoTheQuantizeLinear(zeroPoint: UInt8, signed: Bool) throws {
        let s: Float = 0.013
        let z: Tensor = signed ? try Tensor([Int8(-20)], shape: .scalar) : try Tensor([zeroPoint], shape: .scalar)
        let zi = signed ? -20 : Int(zeroPoint)
        for (lo, hi) in [(Float(0 - zi) * s, Float(127 - zi) * s), (-0.4, 0.9), (0.25, 0.25), (-1e30, 1e30)] {
            let graph = Graph(
                name: "input-clip", inputs: [.init(name: "x", type: ValueType(.f32, try TensorShape([4, 300])))], outputs: [.init(name: "y", type: nil)],
                nodes: [Node(name: "clip", opType: "Clip", inputs: ["x", "lo", "hi"], outputs: ["xc"]),
                        Node(name: "q", opType: "QuantizeLinear", inputs: ["xc", "s", "z"], outputs: ["y"])],
                initializers: ["lo": try Tensor([lo], shape: .scalar), "hi": try Tensor([hi], shape: .scalar), "s": try Tensor([s], shape: .scalar), "z": z],
                opsets: ["": 17])
            var options = SessionOptions(threads: 2, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn())
            let fused = try Session(graph: graph, options: options)
            options.optimize = false
            let separate = try Session(graph: graph, options: options)
            #expect(try fused.trace().trace.nodes.map(\.opType) == ["QuantizeLinear"], "bounds \(lo)...\(hi)")
            var g = SeededGenerator(seed: UInt64(zi + 300))
            var values = (0..<1200).map { _ in Float.random(in: -4...4, using: &g) }
            values[0...5] = [lo, hi, .infinity, -.infinity, lo.nextDown, hi.nextUp]
            for i in 6..<40 { values[i] = Float(i - 23) * s / 2 } // halfway points: round half to even
            let x = ["x": try Tensor(values, shape: try TensorShape([4, 300]))]
            let a = try #require(try fused.run(x)["y"]), b = try #require(try separate.run(x)["y"])
            if signed {
                #expect(try a.scalars(as: Int8.self) == b.scalars(as: Int8.self), "bounds \(lo)...\(hi)")
            } else {
                #expect(try a.scalars(as: UInt8.self) == b.scalars(as: UInt8.self), "bounds \(lo)...\(hi)")
            }
        }
    }
}
