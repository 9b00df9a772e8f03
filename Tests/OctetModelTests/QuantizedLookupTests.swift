import Foundation
import Octet
import Testing

/// DequantizeLinear → Sigmoid / HardSwish / LeakyRelu / Clip / Tanh → QuantizeLinear
/// becomes one 256-entry table on the codes (`QuantizedLookupNode`), and gives exactly
/// what the QDQ graph evaluated op by op in f32 gives (the unoptimized session), on NCHW
/// values and on the channels-last output of a quantized convolution.
@Suite struct QuantizedLookupTests {
    static func graph(_ op: Node, extra: [String: Tensor], signed: Bool, conv: Bool) throws -> Graph {
        func zp(_ z: Int) throws -> Tensor { signed ? try Tensor([Int8(z)], shape: .scalar) : try Tensor([UInt8(z)], shape: .scalar) }
        var inits: [String: Tensor] = [
            "sx": try Tensor([Float(0.037)], shape: .scalar), "zx": try zp(signed ? -9 : 119),
            "sy": try Tensor([Float(0.0061)], shape: .scalar), "zy": try zp(signed ? -100 : 30),
        ].merging(extra) { a, _ in a }
        var nodes = [Node(name: "qx", opType: "QuantizeLinear", inputs: ["x", "sx", "zx"], outputs: ["xq"]),
                     Node(name: "dx", opType: "DequantizeLinear", inputs: ["xq", "sx", "zx"], outputs: ["xd"])]
        var opInput = "xd"
        if conv {
            var g = SeededGenerator(seed: 3)
            inits["w"] = try Tensor((0..<(8 * 8)).map { _ in Int8.random(in: -127...127, using: &g) }, shape: TensorShape([8, 8, 1, 1]))
            inits["sw"] = try Tensor([Float(0.01)], shape: .scalar)
            inits["zw"] = try Tensor([Int8(0)], shape: .scalar)
            nodes += [Node(name: "dw", opType: "DequantizeLinear", inputs: ["w", "sw", "zw"], outputs: ["wd"]),
                      Node(name: "conv", opType: "Conv", inputs: ["xd", "wd"], outputs: ["c"]),
                      Node(name: "qc", opType: "QuantizeLinear", inputs: ["c", "sx", "zx"], outputs: ["cq"]),
                      Node(name: "dc", opType: "DequantizeLinear", inputs: ["cq", "sx", "zx"], outputs: ["cd"])]
            opInput = "cd"
        }
        var n = op
        n.inputs[0] = opInput
        n.outputs = ["a"]
        nodes += [n, Node(name: "qy", opType: "QuantizeLinear", inputs: ["a", "sy", "zy"], outputs: ["yq"]),
                  Node(name: "dy", opType: "DequantizeLinear", inputs: ["yq", "sy", "zy"], outputs: ["y"])]
        return Graph(name: "lookup", inputs: [.init(name: "x", type: ValueType(.f32, try TensorShape([2, 8, 5, 6])))],
                     outputs: [.init(name: "y", type: nil)], nodes: nodes, initializers: inits, opsets: ["": 17])
    }

    static let cases: [(Node, [String: Tensor])] = {
        let lo = try? Tensor([Float(-0.2)], shape: .scalar), hi = try? Tensor([Float(0.6)], shape: .scalar)
        let bounds: [String: Tensor] = ["lo": lo, "hi": hi].compactMapValues { $0 }
        return [
            (Node(name: "op", opType: "Sigmoid", inputs: ["x"], outputs: []), [:]),
            (Node(name: "op", opType: "HardSwish", inputs: ["x"], outputs: []), [:]),
            (Node(name: "op", opType: "Tanh", inputs: ["x"], outputs: []), [:]),
            (Node(name: "op", opType: "LeakyRelu", inputs: ["x"], outputs: [], attributes: ["alpha": .float(0.13)]), [:]),
            (Node(name: "op", opType: "Clip", inputs: ["x", "lo", "hi"], outputs: []), bounds),
        ]
    }()

    @Test(arguments: 0..<5, [false, true])
    func tableEqualsTheQDQChainInFloat(_ which: Int, signed: Bool) throws {
        for conv in [false, true] {
            let (op, extra) = Self.cases[which]
            let graph = try Self.graph(op, extra: extra, signed: signed, conv: conv)
            var options = SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn())
            let fused = try Session(graph: graph, options: options)
            options.optimize = false
            let float = try Session(graph: graph, options: options)
            let nodes = try fused.trace().trace.nodes
            #expect(nodes.contains { $0.opType == "QuantizedLookup" } && !nodes.contains { $0.opType == op.opType }, "\(nodes.map(\.opType))")
            // After a channels-last convolution the table reads NHWC codes as they are: no reorder in between.
            if conv { #expect(nodes.filter { $0.opType == "Reorder" }.count <= 2, "\(nodes.map(\.opType))") }
            var g = SeededGenerator(seed: UInt64(which))
            let s = try TensorShape([2, 8, 5, 6])
            let x = try Tensor((0..<s.elementCount).map { _ in Float.random(in: -6...6, using: &g) }, shape: s)
            let a = try #require(try fused.run(["x": x])["y"]).scalars(as: Float.self)
            let b = try #require(try float.run(["x": x])["y"]).scalars(as: Float.self)
            #expect(a.count == 480)
            if conv {
                // The fused convolution's requantization may differ from Conv → QuantizeLinear in f32 by
                // one input step (0.037): the op moves that by at most its steepest slope, plus one output step.
                let slope: Float = ["Sigmoid": 0.25, "HardSwish": 1.5][op.opType] ?? 1
                let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
                #expect(worst <= (slope * 0.037 + 0.0061) * 1.01, "\(op.opType) signed=\(signed): \(worst)")
            } else {
                #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(op.opType) signed=\(signed)")
            }
        }
    }
}
