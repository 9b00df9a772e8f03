import Foundation
import Octet
import Synchronization
import Testing

/// The planner's stages seen from outside: every node is placed by the rules (a backend
/// registered for `add` gets the Adds), a plan-only trace prepares nothing, and a
/// quantized Add / MaxPool routed to `qnnpack-ref` agrees with the built-in integer ops.
@Suite struct PlannerStageTests {
    /// Counts calls to `prepare` and `run`.
    final class Calls: Sendable {
        let prepared = Atomic<Int>(0), ran = Atomic<Int>(0)
    }

    /// Runs f32 `add` of two tensors of one shape, and `linear` (for the packing test) by
    /// direct sums: independent of Octet's own kernels.
    struct CountingBackend: Backend {
        let name: String
        let kinds: Set<OpKind>
        let calls: Calls
        var version: String { "test" }
        var summary: String { "counts its calls" }
        var requirements: BackendRequirements { BackendRequirements() }

        func capability(for s: OpSignature, on cpu: CPUFeatures) -> Capability {
            guard kinds.contains(s.kind), s.precision == .fp32, s.activationLayout == .rowMajor else { return .declined(reason: "not a test op") }
            if s.kind == .add, s.attributes.otherInputs != [s.input] { return .declined(reason: "no broadcasting") }
            return .supported(kernel: "test-\(s.kind)")
        }

        func prepare(_ s: OpSignature, constants: OpConstants, context: PrepareContext) throws -> any Kernel {
            calls.prepared.add(1, ordering: .relaxed)
            return CountingKernel(kind: s.kind, weight: try constants.weight?.scalars(as: Float.self) ?? [], calls: calls)
        }
    }

    struct CountingKernel: Kernel {
        let kind: OpKind
        let weight: [Float]
        let calls: Calls
        var implementation: String { "test-\(kind)" }

        func run(inputs: [Tensor], output: inout Tensor) throws {
            calls.ran.add(1, ordering: .relaxed)
            let a = try inputs[0].scalars(as: Float.self)
            let b = kind == .add ? try inputs[1].scalars(as: Float.self) : []
            let n = output.shape.elementCount, columns = output.shape.dims.last ?? 1
            try output.withUnsafeMutableBufferPointer(as: Float.self) { o in
                for i in 0..<n {
                    if kind == .add {
                        o[i] = a[i] + b[i]
                    } else {
                        // linear, weight N x K: o[m, j] = Σ_k a[m, k] · w[j, k]
                        let k = weight.count / columns, j = i % columns, m = i / columns
                        o[i] = (0..<k).reduce(0) { $0 + a[m * k + $1] * weight[j * k + $1] }
                    }
                }
            }
        }
    }

    static func rules(_ routes: [(String, String)]) throws -> RuleSet {
        let list = routes.map { #"{"id": "to-\#($0.1)-\#($0.0)", "ops": ["\#($0.0)"], "backend": "\#($0.1)", "why": "test"}"# }
        return try RuleSetParser.parse(Data("""
        { "schema_version": 1, "fallback": { "int8": ["qnnpack-ref", "builtin"], "fp32": ["fp32-ref", "builtin"], "fp16": ["fp32-ref"] },
          "rules": [ \(list.joined(separator: ", ")) ] }
        """.utf8), source: "test-rules.json")
    }

    /// y = Relu(x + b) + x: two Adds, one Relu.
    static func addGraph() throws -> Graph {
        let shape = try TensorShape([2, 3, 4])
        return Graph(name: "adds", inputs: [.init(name: "x", type: ValueType(.f32, shape)), .init(name: "b", type: ValueType(.f32, shape))],
                     outputs: [.init(name: "y", type: nil)],
                     nodes: [Node(name: "add1", opType: "Add", inputs: ["x", "b"], outputs: ["s"]),
                             Node(name: "relu", opType: "Relu", inputs: ["s"], outputs: ["r"]),
                             Node(name: "add2", opType: "Add", inputs: ["r", "x"], outputs: ["y"])],
                     initializers: [:], opsets: ["": 17])
    }

    @Test func aBackendRegisteredForAddReceivesTheAdds() throws {
        let calls = Calls()
        let registry = BackendRegistry.builtIn()
        try registry.register(CountingBackend(name: "test-add", kinds: [.add], calls: calls))
        let options = SessionOptions(threads: 1, cpu: .host, registry: registry, rules: try Self.rules([("add", "test-add")]))
        let session = try Session(graph: try Self.addGraph(), options: options)
        #expect(calls.prepared.load(ordering: .relaxed) == 2)

        let trace = try session.trace().trace
        #expect(trace.placements.map(\.backend) == ["test-add", "builtin", "test-add"], "\(trace.placements)")
        let adds = trace.ops.filter { $0.signature.kind == .add }
        #expect(adds.count == 2 && adds.allSatisfy { $0.backend == "test-add" && $0.matchedRule == "to-test-add-add" && $0.kernel == "test-add" })
        #expect(trace.text.contains("to-test-add-add  MATCH → test-add"))

        var g = SeededGenerator(seed: 3)
        let x = (0..<24).map { _ in Float.random(in: -2...2, using: &g) }, b = (0..<24).map { _ in Float.random(in: -2...2, using: &g) }
        let shape = try TensorShape([2, 3, 4])
        let y = try #require(try session.run(["x": Tensor(x, shape: shape), "b": Tensor(b, shape: shape)])["y"]).scalars(as: Float.self)
        let expected: [Float] = (0..<24).map { i in max(x[i] + b[i], 0) + x[i] }
        #expect(y == expected)
        #expect(calls.ran.load(ordering: .relaxed) == 2)
    }

    @Test func everyNodeOfAModelIsTraced() throws {
        let url = ModelSuite.root.appendingPathComponent("Models/digits/digits_cnn.onnx")
        let graph = try ONNXModel.load(contentsOf: url.path).graph
        let options = SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn())
        let session = try Session(graph: graph, options: options)
        let trace = try Session.planTrace(graph: graph, options: options, inputShapes: ["input": try TensorShape([1, 1, 8, 8])])
        #expect(trace.nodes.map(\.node) == session.graph.nodes.map(\.name))
        // Matrix products on GEMM backends; pooling and the rest on the built-in ops.
        for (node, opType, backend) in trace.placements {
            if ["Conv", "Gemm", "MatMul"].contains(opType) { #expect(["onednn", "fp32-ref"].contains(backend), "\(node)") }
            if opType == "MaxPool" { #expect(backend == "builtin", "\(node)") }
        }
        let json = try JSONSerialization.jsonObject(with: Data(try trace.json().utf8)) as? [String: Any]
        #expect((json?["nodes"] as? [Any])?.count == trace.nodes.count)
    }

    @Test func aPlanOnlyTracePreparesNothing() throws {
        let calls = Calls()
        let registry = BackendRegistry.builtIn()
        try registry.register(CountingBackend(name: "test-linear", kinds: [.linear], calls: calls))
        let w = try Tensor((0..<12).map { Float($0) / 7 - 0.5 }, shape: TensorShape([4, 3]))
        let graph = Graph(name: "mm", inputs: [.init(name: "x", type: ValueType(.f32, try TensorShape([2, 4])))], outputs: [.init(name: "y", type: nil)],
                          nodes: [Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["y"])], initializers: ["w": w], opsets: ["": 17])
        let options = SessionOptions(threads: 1, cpu: try CPUFeatures.assumed("sapphire-rapids"), registry: registry,
                                     rules: try Self.rules([("linear", "test-linear")]))
        let trace = try Session.planTrace(graph: graph, options: options)
        #expect(calls.prepared.load(ordering: .relaxed) == 0)
        #expect(trace.ops.map(\.backend) == ["test-linear"])
        let session = try Session(graph: graph, options: options)
        #expect(calls.prepared.load(ordering: .relaxed) == 1)
        let x: [Float] = [1, 2, 3, 4, -1, 0.5, 0, 2]
        let y = try #require(try session.run(["x": Tensor(x, shape: TensorShape([2, 4]))])["y"]).scalars(as: Float.self)
        let wv = try w.scalars(as: Float.self)
        var expected = [Float](repeating: 0, count: 6)
        for i in 0..<6 {
            for k in 0..<4 { expected[i] += x[(i / 3) * 4 + k] * wv[k * 3 + i % 3] }
        }
        let close = zip(y, expected).allSatisfy { pair in abs(pair.0 - pair.1) <= 1e-5 }
        #expect(close, "\(y) vs \(expected)")
    }

    /// The residual add and max pool of a quantized model, routed by a rules file to the
    /// oracle, give what the built-in integer ops give (within one step).
    @Test func quantizedAddAndMaxPoolOnTheOracleAgreeWithTheBuiltIns() throws {
        let shape = [1, 4, 6, 6]
        let s = try TensorShape(shape)
        let inits: [String: Tensor] = [
            "sa": try Tensor([Float(0.031)], shape: .scalar), "za": try Tensor([UInt8(121)], shape: .scalar),
            "sb": try Tensor([Float(0.017)], shape: .scalar), "zb": try Tensor([UInt8(7)], shape: .scalar),
            "sy": try Tensor([Float(0.043)], shape: .scalar), "zy": try Tensor([UInt8(90)], shape: .scalar),
        ]
        let nodes = [
            Node(name: "qa", opType: "QuantizeLinear", inputs: ["a", "sa", "za"], outputs: ["aq"]),
            Node(name: "qb", opType: "QuantizeLinear", inputs: ["b", "sb", "zb"], outputs: ["bq"]),
            Node(name: "da", opType: "DequantizeLinear", inputs: ["aq", "sa", "za"], outputs: ["ad"]),
            Node(name: "db", opType: "DequantizeLinear", inputs: ["bq", "sb", "zb"], outputs: ["bd"]),
            Node(name: "add", opType: "Add", inputs: ["ad", "bd"], outputs: ["sum"]),
            Node(name: "qy", opType: "QuantizeLinear", inputs: ["sum", "sy", "zy"], outputs: ["yq"]),
            Node(name: "pool", opType: "MaxPool", inputs: ["yq"], outputs: ["pq"], attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])]),
            Node(name: "dy", opType: "DequantizeLinear", inputs: ["pq", "sy", "zy"], outputs: ["y"]),
        ]
        let graph = Graph(name: "qadd-pool", inputs: [.init(name: "a", type: ValueType(.f32, s)), .init(name: "b", type: ValueType(.f32, s))],
                          outputs: [.init(name: "y", type: nil)], nodes: nodes, initializers: inits, opsets: ["": 17])
        let registry = BackendRegistry.builtIn()
        let oracle = try Session(graph: graph, options: SessionOptions(threads: 1, cpu: .host, registry: registry,
                                                                        rules: try Self.rules([("add", "qnnpack-ref"), ("max_pool2d", "qnnpack-ref")])))
        let builtIn = try Session(graph: graph, options: SessionOptions(threads: 1, cpu: .host, registry: registry, rules: try RuleSet.builtIn()))
        let oracleTrace = try oracle.trace().trace, builtInTrace = try builtIn.trace().trace
        let int8Ops: (DispatchTrace) -> [String] = { t in t.ops.filter { $0.signature.precision == .int8 }.map { "\($0.signature.kind) \($0.backend ?? "-")" } }
        #expect(int8Ops(oracleTrace) == ["add qnnpack-ref", "max_pool2d qnnpack-ref"], "\(oracleTrace.text)")
        #expect(int8Ops(builtInTrace) == ["add builtin", "max_pool2d builtin"])

        var g = SeededGenerator(seed: 11)
        for _ in 0..<4 {
            let a = try Tensor((0..<s.elementCount).map { _ in Float.random(in: -5...5, using: &g) }, shape: s)
            let b = try Tensor((0..<s.elementCount).map { _ in Float.random(in: -5...5, using: &g) }, shape: s)
            let x = try #require(try oracle.run(["a": a, "b": b])["y"]).scalars(as: Float.self)
            let y = try #require(try builtIn.run(["a": a, "b": b])["y"]).scalars(as: Float.self)
            let withinAStep = zip(x, y).allSatisfy { pair in abs(pair.0 - pair.1) <= Float(0.043 * 1.01) }
            #expect(x.count == 36 && withinAStep, "\(x) vs \(y)")
        }
    }

    /// ONNX Runtime's QOperator form runs on the INT8 kernels, not on the built-in integer
    /// ops (the answers are checked against ONNX Runtime in OperatorConformanceTests).
    @Test(arguments: ["qlinear_conv_1x1_wide", "qlinear_conv_depthwise", "qlinear_matmul_3d"])
    func qOperatorNodesRunOnTheINT8Kernels(_ name: String) throws {
        let graph = try ONNXModel.load(contentsOf: ModelSuite.ops.appendingPathComponent("\(name).onnx").path).graph
        let options = SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn())
        let trace = try Session.planTrace(graph: graph, options: options)
        let op = try #require(trace.ops.first)
        #expect(trace.ops.count == 1 && op.signature.precision == .int8 && op.signature.kind.isMatrixProduct, "\(trace.text)")
        // `packed`, or `onednn` where the rules send convolutions there (AVX-512 VNNI CPUs).
        #expect(op.backend == "packed" || (op.signature.kind == .conv2d && op.backend == "onednn"), "\(trace.text)")
    }

    /// Outputs written into the caller's tensors: the same storage run after run, the
    /// same values as a run that allocates them.
    @Test func runWritesIntoTheCallersOutputs() throws {
        let session = try Session(graph: try Self.addGraph(), options: SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn()))
        let shape = try TensorShape([2, 3, 4])
        var outputs: [String: Tensor] = ["y": try Tensor(zeros: .f32, shape: shape)]
        let before = outputs["y"]?.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        var g = SeededGenerator(seed: 5)
        for _ in 0..<3 {
            let feeds = ["x": try Tensor((0..<24).map { _ in Float.random(in: -1...1, using: &g) }, shape: shape),
                         "b": try Tensor((0..<24).map { _ in Float.random(in: -1...1, using: &g) }, shape: shape)]
            try session.run(feeds, into: &outputs)
            let y = try #require(outputs["y"])
            #expect(y.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) } == before)
            #expect(try y.scalars(as: Float.self) == (try #require(try session.run(feeds)["y"])).scalars(as: Float.self))
        }
        // A tensor of another shape is replaced, not written past its end.
        var wrong: [String: Tensor] = ["y": try Tensor(zeros: .f32, shape: TensorShape([3]))]
        try session.run(["x": try Tensor(zeros: .f32, shape: shape), "b": try Tensor(zeros: .f32, shape: shape)], into: &wrong)
        #expect(wrong["y"]?.shape == shape)
    }

    /// A profiled trace gives every node that ran a time, and the dispatched ones in their
    /// `OpDispatch` too.
    @Test func aProfiledTraceTimesEveryNode() throws {
        let session = try Session(graph: try Self.addGraph(), options: SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn()))
        let shape = try TensorShape([2, 3, 4])
        let trace = try session.profiledTrace(["x": try Tensor(zeros: .f32, shape: shape), "b": try Tensor(zeros: .f32, shape: shape)], runs: 3)
        #expect(trace.nodes.count == 3 && trace.nodes.allSatisfy { $0.durationNanoseconds != nil })
        #expect(trace.ops.allSatisfy { $0.durationNanoseconds != nil })
        #expect(trace.text.contains(" ms"))
    }
}
