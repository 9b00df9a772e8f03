import Foundation
import Octet
import Testing

/// Each graph pass on its own: it changes the graph as intended, and the outputs before
/// and after agree (within float rounding) when both graphs run unoptimized.
@Suite struct PassTests {
    func run(_ g: Graph, _ inputs: [String: Tensor]) throws -> [String: Tensor] {
        try Session(graph: g, options: SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn(),
                                                      optimize: false)).run(inputs)
    }

    func expectSameOutputs(_ a: Graph, _ b: Graph, _ inputs: [String: Tensor], tolerance: Double = 1e-5) throws {
        let x = try run(a, inputs), y = try run(b, inputs)
        #expect(x.keys.sorted() == y.keys.sorted())
        for (k, t) in x {
            let other = try #require(y[k])
            let err = try #require(ModelSuite.error(other, t))
            #expect(err <= tolerance, "output \(k) moved by \(err)")
        }
    }

    func random(_ dims: [Int], seed: UInt64) throws -> Tensor {
        var g = SeededGenerator(seed: seed)
        let shape = try TensorShape(dims)
        return try Tensor((0..<shape.elementCount).map { _ in Float.random(in: -1...1, using: &g) }, shape: shape)
    }

    func positive(_ n: Int, seed: UInt64) throws -> Tensor {
        var g = SeededGenerator(seed: seed)
        return try Tensor((0..<n).map { _ in Float.random(in: 0.5...1.5, using: &g) }, shape: TensorShape([n]))
    }

    /// Conv → BatchNormalization → Relu and Gemm → BatchNormalization.
    func convBNGraph() throws -> (Graph, [String: Tensor]) {
        let g = Graph(
            name: "bn", inputs: [.init(name: "x", type: ValueType(.f32, try TensorShape([2, 3, 8, 8]))), .init(name: "v", type: ValueType(.f32, try TensorShape([4, 5])))],
            outputs: [.init(name: "y", type: nil), .init(name: "z", type: nil)],
            nodes: [
                Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"], attributes: ["pads": .ints([1, 1, 1, 1])]),
                Node(name: "bn", opType: "BatchNormalization", inputs: ["c", "s", "o", "m", "var"], outputs: ["n"]),
                Node(name: "relu", opType: "Relu", inputs: ["n"], outputs: ["y"]),
                Node(name: "gemm", opType: "Gemm", inputs: ["v", "gw", "gb"], outputs: ["gc"], attributes: ["transB": .int(1), "alpha": .float(0.5)]),
                Node(name: "bn2", opType: "BatchNormalization", inputs: ["gc", "s2", "o2", "m2", "var2"], outputs: ["z"]),
            ],
            initializers: [
                "w": try random([6, 3, 3, 3], seed: 1), "b": try random([6], seed: 2), "s": try positive(6, seed: 3), "o": try random([6], seed: 4),
                "m": try random([6], seed: 5), "var": try positive(6, seed: 6),
                "gw": try random([7, 5], seed: 7), "gb": try random([7], seed: 8), "s2": try positive(7, seed: 9), "o2": try random([7], seed: 10),
                "m2": try random([7], seed: 11), "var2": try positive(7, seed: 12),
            ])
        return (g, ["x": try random([2, 3, 8, 8], seed: 20), "v": try random([4, 5], seed: 21)])
    }

    @Test func batchNormFoldsIntoConvAndGemm() throws {
        let (g, inputs) = try convBNGraph()
        let folded = try BatchNormFolding().run(g)
        #expect(!folded.nodes.contains { $0.opType == "BatchNormalization" })
        #expect(folded.nodes.count == g.nodes.count - 2)
        try expectSameOutputs(g, folded, inputs)
    }

    @Test func reluAndClipFuseIntoTheMatrixOp() throws {
        var (g, inputs) = try convBNGraph()
        g.nodes.append(Node(name: "clip", opType: "Clip", inputs: ["z", "lo", "hi"], outputs: ["zc"]))
        g.initializers["lo"] = try Tensor([Float(-0.1)], shape: .scalar)
        g.initializers["hi"] = try Tensor([Float(0.2)], shape: .scalar)
        g.outputs[1] = .init(name: "zc", type: nil)
        let fused = try ActivationFusion().run(try BatchNormFolding().run(g))
        #expect(!fused.nodes.contains { $0.opType == "Relu" || $0.opType == "Clip" })
        let conv = try #require(fused.nodes.first { $0.name == "conv" })
        guard case let .strings(acts)? = conv.attributes[FusedActivation.attribute] else { Issue.record("no fused activation"); return }
        #expect(acts == ["relu"])
        try expectSameOutputs(g, fused, inputs)
    }

    @Test func constantFoldingRemovesShapeArithmetic() throws {
        let c = try ModelSuite.load("bert_tiny", in: ModelSuite.nets)
        let folded = try ConstantFolding().run(c.model.graph)
        #expect(!folded.nodes.contains { $0.opType == "Constant" })
        #expect(folded.nodes.count < c.model.graph.nodes.count - 40, "\(c.model.graph.nodes.count) → \(folded.nodes.count) nodes")
        try expectSameOutputs(c.model.graph, folded, c.inputs, tolerance: 0)
    }

    @Test func exportedGeluBecomesOneNode() throws {
        let c = try ModelSuite.load("bert_tiny", in: ModelSuite.nets)
        let g = try ConstantFolding().run(c.model.graph)
        let fused = try GeluFusion().run(g)
        #expect(!fused.nodes.contains { $0.opType == "Erf" })
        #expect(fused.nodes.filter { $0.opType == "Gelu" }.count == 2)
        #expect(fused.nodes.count == g.nodes.count - 8)
        try expectSameOutputs(g, fused, c.inputs, tolerance: 1e-5)
    }

    @Test func linearBiasesFoldIntoTheMatMul() throws {
        let c = try ModelSuite.load("bert_tiny", in: ModelSuite.nets)
        let g = try ConstantFolding().run(c.model.graph)
        let fused = try MatMulBiasFusion().run(g)
        // Q, K, V, output, up and down projections in each of the 2 layers.
        #expect(fused.nodes.filter { $0.attributes[MatMulBiasFusion.attribute] != nil }.count == 12)
        #expect(fused.nodes.count == g.nodes.count - 12)
        try expectSameOutputs(g, fused, c.inputs, tolerance: 1e-5)
    }

    @Test func deadNodesAndUnusedInitializersAreRemoved() throws {
        var (g, inputs) = try convBNGraph()
        g.nodes.append(Node(name: "unused", opType: "Sigmoid", inputs: ["c"], outputs: ["nobody"]))
        g.initializers["orphan"] = try random([3], seed: 30)
        let cleaned = try DeadNodeElimination().run(g)
        #expect(!cleaned.nodes.contains { $0.name == "unused" })
        #expect(cleaned.initializers["orphan"] == nil)
        #expect(cleaned.nodes.count == g.nodes.count - 1)
        try expectSameOutputs(g, cleaned, inputs, tolerance: 0)
    }

    @Test func reshapeAndTransposeChainsCollapse() throws {
        let g = Graph(
            name: "chains", inputs: [.init(name: "x", type: ValueType(.f32, try TensorShape([2, 3, 4])))],
            outputs: [.init(name: "y", type: nil), .init(name: "t", type: nil)],
            nodes: [
                Node(name: "r1", opType: "Reshape", inputs: ["x", "s1"], outputs: ["a"]),
                Node(name: "r2", opType: "Reshape", inputs: ["a", "s2"], outputs: ["y0"]),
                Node(name: "id", opType: "Identity", inputs: ["y0"], outputs: ["y1"]),
                Node(name: "relu", opType: "Relu", inputs: ["y1"], outputs: ["y"]),
                Node(name: "t1", opType: "Transpose", inputs: ["x"], outputs: ["b"], attributes: ["perm": .ints([1, 2, 0])]),
                Node(name: "t2", opType: "Transpose", inputs: ["b"], outputs: ["c"], attributes: ["perm": .ints([2, 0, 1])]),
                Node(name: "t3", opType: "Transpose", inputs: ["c"], outputs: ["t"], attributes: ["perm": .ints([0, 2, 1])]),
            ],
            initializers: ["s1": try Tensor([Int64(6), 4], shape: TensorShape([2])), "s2": try Tensor([Int64(4), -1], shape: TensorShape([2]))])
        let simplified = try ReshapeChainSimplification().run(g)
        #expect(simplified.nodes.filter { $0.opType == "Reshape" }.count == 1)
        #expect(!simplified.nodes.contains { $0.name == "id" })
        // t1·t2 is the identity: only t3's permutation remains to be applied.
        #expect(simplified.nodes.filter { $0.opType == "Transpose" }.count <= 2)
        try expectSameOutputs(g, simplified, ["x": try random([2, 3, 4], seed: 40)], tolerance: 0)
    }

    @Test func declaredTypesThatDisagreeAreReported() throws {
        var (g, _) = try convBNGraph()
        g.valueTypes["c"] = ValueType(.f32, try TensorShape([2, 5, 8, 8]))
        #expect { try ShapeInference.run(g) } throws: { e in "\(e)".contains("node 'conv' makes 'c'") }
    }

    /// One session, many threads at once: every run gives ONNX Runtime's answer.
    @Test func concurrentRunsAgree() async throws {
        let c = try ModelSuite.load("bert_tiny", in: ModelSuite.nets)
        let session = try ModelSuite.session(c)
        let inputs = c.inputs
        let errors = try await withThrowingTaskGroup(of: Double.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let out = try session.run(inputs)
                    return c.expected.map { e in out[e.name].flatMap { ModelSuite.error($0, e.tensor) } ?? .infinity }.max() ?? 0
                }
            }
            return try await group.reduce(into: [Double]()) { $0.append($1) }
        }
        #expect(errors.count == 8 && errors.allSatisfy { $0 <= 1e-4 }, "\(errors)")
    }
}
