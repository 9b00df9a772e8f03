import Foundation
import Octet
import Testing

/// DequantizeLinear → AveragePool / GlobalAveragePool → QuantizeLinear runs on the 8-bit
/// codes (`PoolRequantization`): within one output step of the QDQ graph evaluated in f32
/// (the unoptimized session), bit for bit what `qnnpack-ref` (the oracle) computes when a
/// rules file sends the pool there, in NCHW and after a channels-last convolution.
@Suite struct QuantizedPoolingTests {
    static let (sx, zx, sy, zy): (Float, UInt8, Float, UInt8) = (0.047, 131, 0.021, 17)

    /// Q(x) → DQ → [Conv (QDQ weights) → Q → DQ →] pool → Q → DQ → y.
    static func graph(_ pool: Node, channels: Int, conv: Bool) throws -> Graph {
        var inits: [String: Tensor] = [
            "sx": try Tensor([sx], shape: .scalar), "zx": try Tensor([zx], shape: .scalar),
            "sy": try Tensor([sy], shape: .scalar), "zy": try Tensor([zy], shape: .scalar),
        ]
        var nodes = [Node(name: "qx", opType: "QuantizeLinear", inputs: ["x", "sx", "zx"], outputs: ["xq"]),
                     Node(name: "dx", opType: "DequantizeLinear", inputs: ["xq", "sx", "zx"], outputs: ["xd"])]
        var poolInput = "xd"
        if conv {
            var g = SeededGenerator(seed: 5)
            inits["w"] = try Tensor((0..<(channels * channels * 9)).map { _ in Int8.random(in: -127...127, using: &g) }, shape: TensorShape([channels, channels, 3, 3]))
            inits["sw"] = try Tensor([Float(0.004)], shape: .scalar)
            inits["zw"] = try Tensor([Int8(0)], shape: .scalar)
            inits["sc"] = try Tensor([Float(0.09)], shape: .scalar)
            inits["zc"] = try Tensor([UInt8(128)], shape: .scalar)
            nodes += [Node(name: "dw", opType: "DequantizeLinear", inputs: ["w", "sw", "zw"], outputs: ["wd"]),
                      Node(name: "conv", opType: "Conv", inputs: ["xd", "wd"], outputs: ["c"], attributes: ["pads": .ints([1, 1, 1, 1])]),
                      Node(name: "qc", opType: "QuantizeLinear", inputs: ["c", "sc", "zc"], outputs: ["cq"]),
                      Node(name: "dc", opType: "DequantizeLinear", inputs: ["cq", "sc", "zc"], outputs: ["cd"])]
            poolInput = "cd"
        }
        var p = pool
        p.inputs = [poolInput]
        p.outputs = ["p"]
        nodes += [p, Node(name: "qy", opType: "QuantizeLinear", inputs: ["p", "sy", "zy"], outputs: ["yq"]),
                  Node(name: "dy", opType: "DequantizeLinear", inputs: ["yq", "sy", "zy"], outputs: ["y"])]
        return Graph(name: "qpool", inputs: [.init(name: "x", type: ValueType(.f32, try TensorShape([2, channels, 9, 11])))],
                     outputs: [.init(name: "y", type: nil)], nodes: nodes, initializers: inits, opsets: ["": 19])
    }

    static let pools: [Node] = [
        Node(name: "pool", opType: "AveragePool", inputs: [], outputs: [],
             attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])]),
        Node(name: "pool", opType: "AveragePool", inputs: [], outputs: [],
             attributes: ["kernel_shape": .ints([3, 2]), "strides": .ints([1, 2]), "pads": .ints([1, 0, 2, 1]), "count_include_pad": .int(1), "ceil_mode": .int(1)]),
        Node(name: "pool", opType: "GlobalAveragePool", inputs: [], outputs: []),
    ]

    func options(_ rules: RuleSet, threads: Int = 1) -> SessionOptions {
        SessionOptions(threads: threads, cpu: .host, registry: BackendRegistry.builtIn(), rules: rules)
    }

    func input(_ channels: Int, seed: UInt64) throws -> [String: Tensor] {
        var g = SeededGenerator(seed: seed)
        let s = try TensorShape([2, channels, 9, 11])
        // Past both ends of the input's range, so that saturated codes are pooled too.
        return ["x": try Tensor((0..<s.elementCount).map { _ in Float.random(in: -7...7, using: &g) }, shape: s)]
    }

    @Test(arguments: [0, 1, 2], [false, true])
    func poolOnTheCodesAgreesWithFloatAndTheOracle(_ which: Int, conv: Bool) throws {
        let pool = Self.pools[which], channels = conv ? 37 : 5
        let graph = try Self.graph(pool, channels: channels, conv: conv)
        let kind = pool.opType == "GlobalAveragePool" ? "global_avg_pool" : "avg_pool2d"
        let fused = try Session(graph: graph, options: options(try RuleSet.builtIn()))
        let threaded = try Session(graph: graph, options: options(try RuleSet.builtIn(), threads: 2))
        var unoptimized = options(try RuleSet.builtIn())
        unoptimized.optimize = false
        let float = try Session(graph: graph, options: unoptimized)
        let oracle = try Session(graph: graph, options: options(try PlannerStageTests.rules([(kind, "qnnpack-ref")])))

        let poolOps: (DispatchTrace) -> [String] = { t in
            t.ops.filter { "\($0.signature.kind)" == kind }.map { "\($0.signature.precision) \($0.backend ?? "-") \($0.signature.activationLayout)" }
        }
        let trace = try fused.trace().trace
        #expect(poolOps(trace) == ["int8 builtin \(conv ? "nhwc" : "rowMajor")"], "\(trace.text)")
        #expect(poolOps(try oracle.trace().trace).first?.hasPrefix("int8 qnnpack-ref") == true)

        for seed in 0..<3 as Range<UInt64> {
            let x = try input(channels, seed: seed)
            let y = try #require(try fused.run(x)["y"]).scalars(as: Float.self)
            let f = try #require(try float.run(x)["y"]).scalars(as: Float.self)
            let o = try #require(try oracle.run(x)["y"]).scalars(as: Float.self)
            let t = try #require(try threaded.run(x)["y"]).scalars(as: Float.self)
            #expect(y.count == f.count && !y.isEmpty)
            let worst = zip(y, f).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= Self.sy * 1.01, "\(pool.opType): \(worst) from the QDQ graph in f32")
            #expect(y.map(\.bitPattern) == o.map(\.bitPattern), "\(pool.opType) differs from qnnpack-ref")
            #expect(y.map(\.bitPattern) == t.map(\.bitPattern), "\(pool.opType) on two threads differs from one")
        }
    }
}
