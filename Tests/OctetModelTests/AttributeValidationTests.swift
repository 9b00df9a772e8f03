import Foundation
import Octet
import Testing

/// Attributes and constants ONNX Runtime refuses are refused here too, naming the node and
/// the attribute or input, instead of returning partial data or nonsense.
@Suite struct AttributeValidationTests {
    typealias H = HostileGraph

    /// ONNX Runtime: "Number of outputs (2) does not match num_outputs (3)".
    @Test func splitNumOutputsMustMatchTheOutputs() throws {
        let g = H.graph([Node(name: "spl", opType: "Split", inputs: ["x"], outputs: ["a", "b"], attributes: ["axis": .int(1), "num_outputs": .int(3)])],
                        inputs: [("x", .f32, [4, 6])], outputs: ["a", "b"], opset: 18)
        H.expectError(g, ["node 'spl' (Split)", "'num_outputs'", "number of outputs (2)", "got 3"])
    }

    /// A scalar has no axis (ONNX: an axis is in [-r, r - 1]); Gather of a scalar once
    /// trapped in shape inference (found by fuzz-onnx). Every op that takes an axis of
    /// its input refuses one on a scalar, naming the node.
    @Test func noAxisOfAScalar() throws {
        let cases: [(String, [String], [String: AttributeValue], [String: Tensor])] = [
            ("Gather", ["x", "i"], ["axis": .int(0)], ["i": try H.ints([0])]),
            ("Squeeze", ["x", "a"], [:], ["a": try H.ints([0])]),
            ("Split", ["x"], ["axis": .int(0)], [:]),
            ("Slice", ["x", "s", "e", "a"], [:], ["s": try H.ints([0]), "e": try H.ints([1]), "a": try H.ints([0])]),
            ("Softmax", ["x"], ["axis": .int(0)], [:]),
            ("LayerNormalization", ["x", "g"], ["axis": .int(0)], ["g": try H.floats([1], [1])]),
        ]
        for (op, inputs, attributes, initializers) in cases {
            let g = H.graph([Node(name: "n", opType: op, inputs: inputs, outputs: ["y"], attributes: attributes)],
                            inputs: [("x", .f32, [])], outputs: ["y"], initializers: initializers)
            H.expectError(g, ["node 'n' (\(op))", "scalar (rank 0)"])
        }
    }

    /// ConvInteger / QLinearConv read the weight's dimensions for an input of symbolic
    /// height and width before checking its rank: a scalar weight trapped in shape
    /// inference (`octet info`; found by fuzz-onnx). It is refused, naming the node.
    @Test func integerConvWeightRankIsCheckedForSymbolicInputs() throws {
        let x = Graph.Port(name: "x", type: ValueType(.u8, SymbolicShape([.fixed(1), .fixed(4), .fixed(6), .symbol("n")])))
        let g = Graph(name: "hostile", inputs: [x], outputs: [Graph.Port(name: "y", type: nil)],
                      nodes: [Node(name: "ci", opType: "ConvInteger", inputs: ["x", "w"], outputs: ["y"])],
                      initializers: ["w": try H.scalar(UInt8(3))], opsets: ["": 14])
        #expect {
            try ShapeInference.run(g)
        } throws: { error in
            "\(error)".contains("node 'ci' (ConvInteger)") && "\(error)".contains("weight is")
        }
    }

    /// A computed shape input declared with 2^63 - 2 elements once had shape inference make
    /// that many unknown dimensions (an allocation of 2^67 bytes; found by fuzz-onnx): the
    /// output rank is checked first.
    @Test func computedShapeInputsHaveASaneLength() throws {
        for (op, inputs) in [("ConstantOfShape", ["s"]), ("Reshape", ["x", "s"])] {
            let ports = [Graph.Port(name: "s", type: ValueType(.s64, SymbolicShape([.fixed(Int.max - 1)]))),
                         Graph.Port(name: "x", type: ValueType(.f32, SymbolicShape([.fixed(2)])))]
            let g = Graph(name: "hostile", inputs: ports, outputs: [Graph.Port(name: "y", type: nil)],
                          nodes: [Node(name: "n", opType: op, inputs: inputs, outputs: ["y"])], opsets: ["": 17])
            #expect {
                try ShapeInference.run(g)
            } throws: { error in
                "\(error)".contains("node 'n' (\(op))") && "\(error)".contains("at most 64 dimensions")
            }
        }
    }

    /// DynamicQuantizeLinear with one output once wrote its scale past the node's outputs
    /// (an index out of range at run time; found by fuzz-onnx): its three outputs are required.
    @Test func dynamicQuantizeLinearNeedsItsThreeOutputs() throws {
        let g = H.graph([Node(name: "dq", opType: "DynamicQuantizeLinear", inputs: ["x"], outputs: ["y"])],
                        inputs: [("x", .f32, [2, 3])], outputs: ["y"])
        H.expectError(g, ["node 'dq' (DynamicQuantizeLinear)", "needs 3 outputs", "has 1"])
    }

    /// ONNX Runtime (opset 17): "The input is not evenly splittable"; at opset 18 with
    /// num_outputs the last part is smaller, as the spec says.
    @Test func unevenSplitNeedsOpset18() throws {
        let outs = ["a", "b", "c", "d"]
        let g17 = H.graph([Node(name: "spl", opType: "Split", inputs: ["x"], outputs: outs, attributes: ["axis": .int(1)])],
                          inputs: [("x", .f32, [4, 6])], outputs: outs, opset: 17)
        H.expectError(g17, ["node 'spl' (Split)", "does not split evenly into 4"])
        let g18 = H.graph([Node(name: "spl", opType: "Split", inputs: ["x"], outputs: ["a", "b", "c"], attributes: ["axis": .int(1), "num_outputs": .int(3)])],
                          inputs: [("x", .f32, [4, 7])], outputs: ["a", "b", "c"], opset: 18)
        let r = try H.run(g18).get()
        #expect(["a", "b", "c"].map { r[$0]?.shape.dims } == [[4, 3], [4, 3], [4, 1]])
    }

    /// A QDQ Conv whose scales are set one at a time to NaN, ±Inf, 0 or a negative value:
    /// refused with the node and input, whichever scale it is (the bias scale included).
    @Test(arguments: ["x_scale", "w_scale", "b_scale", "y_scale"])
    func everyQDQScaleMustBeFiniteAndPositive(_ which: String) throws {
        for bad in [Float.nan, .infinity, -.infinity, 0, -0.5] {
            var scales: [String: Float] = ["x_scale": 0.05, "w_scale": 0.01, "b_scale": 0.0005, "y_scale": 0.1]
            scales[which] = bad
            var initializers: [String: Tensor] = [
                "x_zp": try H.scalar(UInt8(128)), "w_q": try Tensor([Int8](repeating: 3, count: 9), shape: TensorShape([1, 1, 3, 3])),
                "b_q": try Tensor([Int32(100)], shape: TensorShape([1])), "y_zp": try H.scalar(UInt8(0)),
            ]
            for (k, v) in scales { initializers[k] = try H.scalar(v) }
            let nodes = [
                Node(name: "q_x", opType: "QuantizeLinear", inputs: ["x", "x_scale", "x_zp"], outputs: ["xq"]),
                Node(name: "dq_x", opType: "DequantizeLinear", inputs: ["xq", "x_scale", "x_zp"], outputs: ["xd"]),
                Node(name: "dq_w", opType: "DequantizeLinear", inputs: ["w_q", "w_scale"], outputs: ["wd"]),
                Node(name: "dq_b", opType: "DequantizeLinear", inputs: ["b_q", "b_scale"], outputs: ["bd"]),
                Node(name: "conv", opType: "Conv", inputs: ["xd", "wd", "bd"], outputs: ["c"]),
                Node(name: "q_y", opType: "QuantizeLinear", inputs: ["c", "y_scale", "y_zp"], outputs: ["yq"]),
                Node(name: "dq_y", opType: "DequantizeLinear", inputs: ["yq", "y_scale", "y_zp"], outputs: ["y"]),
            ]
            let g = H.graph(nodes, inputs: [("x", .f32, [1, 1, 4, 4])], outputs: ["y"], initializers: initializers)
            let readers = nodes.filter { $0.inputs.contains(which) }.map(\.name)
            guard let text = H.error(g) else {
                Issue.record("\(which) = \(bad) was accepted")
                continue
            }
            #expect(readers.contains { text.contains("node '\($0)'") } && text.contains("input 1") && text.contains("finite and > 0") && text.contains("\(bad)"),
                    "\(which) = \(bad): \(text)")
        }
    }

    /// The same model with sound scales runs (the refusals above are about the values).
    @Test func soundQDQScalesRun() throws {
        let nodes = [
            Node(name: "dq_w", opType: "DequantizeLinear", inputs: ["w_q", "w_scale"], outputs: ["wd"]),
            Node(name: "dq_b", opType: "DequantizeLinear", inputs: ["b_q", "b_scale"], outputs: ["bd"]),
            Node(name: "conv", opType: "Conv", inputs: ["x", "wd", "bd"], outputs: ["y"]),
        ]
        let g = H.graph(nodes, inputs: [("x", .f32, [1, 1, 4, 4])], outputs: ["y"],
                        initializers: ["w_q": try Tensor([Int8](repeating: 3, count: 9), shape: TensorShape([1, 1, 3, 3])), "w_scale": try H.scalar(Float(0.01)),
                                       "b_q": try Tensor([Int32(100)], shape: TensorShape([1])), "b_scale": try H.scalar(Float(0.0005))])
        // Zero input: every output is the bias, 100 · 0.0005.
        let y = try #require(try H.run(g).get()["y"]).scalars(as: Float.self)
        #expect(y.count == 4 && y.allSatisfy { abs($0 - 0.05) < 1e-6 }, "\(y)")
    }

    /// Session threads outside 1...1024 are refused before any kernel (and OpenMP) sees them.
    @Test func threadCountsOutOfRange() throws {
        let g = H.graph([Node(name: "r", opType: "Relu", inputs: ["x"], outputs: ["y"])], inputs: [("x", .f32, [2])], outputs: ["y"])
        for threads in [0, -1, 1025, 65535, Int.max] {
            let options = SessionOptions(threads: threads, cpu: .host, registry: H.registry, rules: try #require(H.rules))
            #expect { try Session(graph: g, options: options) } throws: { "\($0)".contains("'threads'") && "\($0)".contains("got \(threads)") }
        }
    }
}
