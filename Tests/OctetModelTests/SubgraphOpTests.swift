import Foundation
import Octet
import OctetONNX
import Testing

/// If, Loop and Scan, whose subgraphs read values of the graph around them (issue 16).
/// Each graph is written as ONNX and read back, as a model file would be; the expected
/// values are computed by hand from the ops' definitions (stated in each test).
@Suite struct SubgraphOpTests {
    typealias H = HostileGraph

    func port(_ name: String, _ dtype: DType, _ dims: [Int]?) -> Graph.Port {
        Graph.Port(name: name, type: ValueType(dtype, dims.map { SymbolicShape($0.map(Dimension.fixed)) }))
    }

    /// `g` through ONNX bytes and back, then a session over it.
    func session(_ g: Graph) throws -> Session {
        let model = try ONNXModel(serialized: try ONNXModel(graph: g).serialized())
        return try Session(graph: model.graph, options: SessionOptions(threads: 1, cpu: .host, registry: H.registry, rules: try #require(H.rules)))
    }

    func sub(_ name: String, _ nodes: [Node], inputs: [Graph.Port] = [], outputs: [Graph.Port]) -> AttributeValue {
        .graph(Graph(name: name, inputs: inputs, outputs: outputs, nodes: nodes, opsets: ["": 17]))
    }

    @Test func ifRunsTheBranchCondChoosesWithOuterValues() throws {
        // Both branches read x and x2 = x * x from the outer graph: then x2 + x, else x2 - x.
        let thenBranch = sub("then", [Node(name: "add", opType: "Add", inputs: ["x2", "x"], outputs: ["t"])], outputs: [port("t", .f32, [3])])
        let elseBranch = sub("else", [Node(name: "sub", opType: "Sub", inputs: ["x2", "x"], outputs: ["e"])], outputs: [port("e", .f32, [3])])
        let g = Graph(name: "if", inputs: [port("x", .f32, [3]), port("cond", .bool, [])], outputs: [port("y", .f32, nil)],
                      nodes: [Node(name: "sq", opType: "Mul", inputs: ["x", "x"], outputs: ["x2"]),
                              Node(name: "if", opType: "If", inputs: ["cond"], outputs: ["y"],
                                   attributes: ["then_branch": thenBranch, "else_branch": elseBranch])],
                      opsets: ["": 17])
        let s = try session(g)
        let x = try H.floats([1, 2, 3], [3])
        #expect(try #require(try s.run(["x": x, "cond": try H.scalar(true)])["y"]).scalars(as: Float.self) == [2, 6, 12])
        #expect(try #require(try s.run(["x": x, "cond": try H.scalar(false)])["y"]).scalars(as: Float.self) == [0, 2, 6])
    }

    @Test func loopCarriesValuesAndStacksScanOutputs() throws {
        // acc starts at [0, 0] and gains the outer w = [1, 2] three times; each step's acc is stacked.
        let body = sub("body", [
            Node(name: "keep", opType: "Identity", inputs: ["c_in"], outputs: ["c_out"]),
            Node(name: "step", opType: "Add", inputs: ["acc_in", "w"], outputs: ["acc_out"]),
            Node(name: "copy", opType: "Identity", inputs: ["acc_out"], outputs: ["each"]),
        ], inputs: [port("i", .s64, []), port("c_in", .bool, []), port("acc_in", .f32, [2])],
           outputs: [port("c_out", .bool, []), port("acc_out", .f32, [2]), port("each", .f32, [2])])
        let g = Graph(name: "loop", inputs: [port("w", .f32, [2]), port("m", .s64, [])],
                      outputs: [port("acc", .f32, nil), port("all", .f32, nil)],
                      nodes: [Node(name: "loop", opType: "Loop", inputs: ["m", "", "acc0"], outputs: ["acc", "all"], attributes: ["body": body])],
                      initializers: ["acc0": try H.floats([0, 0], [2])], opsets: ["": 17])
        let s = try session(g)
        let out = try s.run(["w": try H.floats([1, 2], [2]), "m": try H.scalar(Int64(3))])
        #expect(try #require(out["acc"]).scalars(as: Float.self) == [3, 6])
        let all = try #require(out["all"])
        #expect(all.shape.dims == [3, 2])
        #expect(try all.scalars(as: Float.self) == [1, 2, 2, 4, 3, 6])
        let none = try s.run(["w": try H.floats([1, 2], [2]), "m": try H.scalar(Int64(0))])
        #expect(try #require(none["acc"]).scalars(as: Float.self) == [0, 0])
        #expect(try #require(none["all"]).shape.elementCount == 0)
    }

    @Test func scanRunsTheBodyOverRowsWithAnOuterValue() throws {
        // s accumulates the rows of X; each step outputs s * k (k from the outer graph).
        let body = sub("body", [
            Node(name: "acc", opType: "Add", inputs: ["s_in", "row"], outputs: ["s_out"]),
            Node(name: "scale", opType: "Mul", inputs: ["s_out", "k"], outputs: ["y"]),
        ], inputs: [port("s_in", .f32, [2]), port("row", .f32, [2])], outputs: [port("s_out", .f32, [2]), port("y", .f32, [2])])
        let g = Graph(name: "scan", inputs: [port("X", .f32, [3, 2]), port("k", .f32, [])],
                      outputs: [port("s", .f32, nil), port("ys", .f32, nil)],
                      nodes: [Node(name: "scan", opType: "Scan", inputs: ["s0", "X"], outputs: ["s", "ys"],
                                   attributes: ["body": body, "num_scan_inputs": .int(1)])],
                      initializers: ["s0": try H.floats([0, 0], [2])], opsets: ["": 17])
        let s = try session(g)
        let out = try s.run(["X": try H.floats([1, 2, 3, 4, 5, 6], [3, 2]), "k": try H.scalar(Float(2))])
        #expect(try #require(out["s"]).scalars(as: Float.self) == [9, 12])
        #expect(try #require(out["ys"]).scalars(as: Float.self) == [2, 4, 8, 12, 18, 24])
    }
    @Test func scanOfOpsetEightRunsOncePerBatchItem() throws {
        // Opset 8: inputs and outputs carry a batch axis first; s accumulates each item's rows.
        // Item 0: rows [1,2],[3,4],[5,6] from [0,0]; item 1: rows [1,1] x3 from [10,0].
        let body = sub("body", [
            Node(name: "acc", opType: "Add", inputs: ["s_in", "row"], outputs: ["s_out"]),
            Node(name: "copy", opType: "Identity", inputs: ["s_out"], outputs: ["y"]),
        ], inputs: [port("s_in", .f32, [2]), port("row", .f32, [2])], outputs: [port("s_out", .f32, [2]), port("y", .f32, [2])])
        let g = Graph(name: "scan8", inputs: [port("s0", .f32, [2, 2]), port("X", .f32, [2, 3, 2])],
                      outputs: [port("s", .f32, nil), port("ys", .f32, nil)],
                      nodes: [Node(name: "scan", opType: "Scan", inputs: ["", "s0", "X"], outputs: ["s", "ys"],
                                   attributes: ["body": body, "num_scan_inputs": .int(1)])],
                      opsets: ["": 8])
        let out = try session(g).run(["s0": try H.floats([0, 0, 10, 0], [2, 2]), "X": try H.floats([1, 2, 3, 4, 5, 6, 1, 1, 1, 1, 1, 1], [2, 3, 2])])
        #expect(try #require(out["s"]).scalars(as: Float.self) == [9, 12, 13, 3])
        let ys = try #require(out["ys"])
        #expect(ys.shape.dims == [2, 3, 2])
        #expect(try ys.scalars(as: Float.self) == [1, 2, 4, 6, 9, 12, 11, 1, 12, 2, 13, 3])
    }

    @Test func shapeInABranchReadsAValueOfUnknownRank() throws {
        // Squeeze with axes fed at run time has an unknown rank while the branch is typed;
        // Shape of it is known when it runs: x 1x3x1x2 squeezed on axes [0, 2] is 3x2.
        let thenBranch = sub("then", [
            Node(name: "squeeze", opType: "Squeeze", inputs: ["x", "axes"], outputs: ["sq"]),
            Node(name: "shape", opType: "Shape", inputs: ["sq"], outputs: ["t"]),
        ], outputs: [port("t", .s64, nil)])
        let elseBranch = sub("else", [Node(name: "shape_x", opType: "Shape", inputs: ["x"], outputs: ["e"])], outputs: [port("e", .s64, nil)])
        let g = Graph(name: "if_shape", inputs: [port("x", .f32, [1, 3, 1, 2]), port("axes", .s64, [2]), port("cond", .bool, [])],
                      outputs: [port("y", .s64, nil)],
                      nodes: [Node(name: "if", opType: "If", inputs: ["cond"], outputs: ["y"],
                                   attributes: ["then_branch": thenBranch, "else_branch": elseBranch])],
                      opsets: ["": 17])
        let s = try session(g)
        let feeds = ["x": try H.floats([1, 2, 3, 4, 5, 6], [1, 3, 1, 2]), "axes": try Tensor([0, 2] as [Int64], shape: TensorShape([2]))]
        #expect(try #require(try s.run(feeds.merging(["cond": try H.scalar(true)]) { $1 })["y"]).scalars(as: Int64.self) == [3, 2])
        #expect(try #require(try s.run(feeds.merging(["cond": try H.scalar(false)]) { $1 })["y"]).scalars(as: Int64.self) == [1, 3, 1, 2])
    }
}
