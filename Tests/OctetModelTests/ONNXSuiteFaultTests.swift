import Foundation
import Octet
@testable import OctetONNX
import SwiftProtobuf
import Testing

/// The single faults ONNX's node conformance suite found (issue 16), each as a test with
/// the value ONNX Runtime 1.32 gives (computed once in Python and written here).
@Suite struct ONNXSuiteFaultTests {
    typealias H = HostileGraph

    func run(_ g: Graph, _ feeds: [String: Tensor]) throws -> [String: Tensor] {
        let rules = try RuleSet.builtIn()
        let session = try Session(graph: g, options: SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: rules))
        return try session.run(feeds)
    }

    /// The values of output `name`, which must be present.
    func values<T: TensorElement>(_ out: [String: Tensor], _ name: String, as: T.Type) throws -> [T] {
        let t = try #require(out[name])
        return try t.scalars(as: T.self)
    }

    func close(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
    }

    // MARK: LayerNormalization's optional outputs

    @Test func layerNormalizationGivesMeanAndInverseStandardDeviation() throws {
        let node = Node(name: "ln", opType: "LayerNormalization", inputs: ["x", "s", "b"], outputs: ["y", "mean", "inv"],
                        attributes: ["axis": .int(-1), "epsilon": .float(1e-5)])
        let g = H.graph([node], inputs: [("x", .f32, [2, 3]), ("s", .f32, [3]), ("b", .f32, [3])], outputs: ["y", "mean", "inv"])
        let out = try run(g, ["x": try Tensor([1, 2, 3, 4, 6, 9] as [Float], shape: TensorShape([2, 3])),
                              "s": try Tensor([1, 0.5, 2] as [Float], shape: TensorShape([3])),
                              "b": try Tensor([0, 1, -1] as [Float], shape: TensorShape([3]))])
        // ONNX Runtime 1.32.
        let y = try #require(out["y"]), mean = try #require(out["mean"]), inv = try #require(out["inv"])
        #expect(close(try y.scalars(as: Float.self), [-1.2247356, 1.0, 1.4494712, -1.1355487, 0.9188893, 1.5955398]))
        #expect(mean.shape.dims == [2, 1] && inv.shape.dims == [2, 1])
        #expect(close(try mean.scalars(as: Float.self), [2.0, 6.3333335]))
        #expect(close(try inv.scalars(as: Float.self), [1.2247356, 0.48666373]))
    }

    @Test func anOutputAnOpDoesNotMakeNamesTheNode() throws {
        // MaxPool's Indices output is not computed: the error names the node and the output,
        // not the graph output that nothing produces.
        let node = Node(name: "pool", opType: "MaxPool", inputs: ["x"], outputs: ["y", "idx"], attributes: ["kernel_shape": .ints([2, 2])])
        H.expectError(H.graph([node], inputs: [("x", .f32, [1, 1, 4, 4])], outputs: ["y", "idx"]), ["'pool'", "Indices"])
        let relu = Node(name: "act", opType: "Relu", inputs: ["x"], outputs: ["y", "extra"])
        H.expectError(H.graph([relu], inputs: [("x", .f32, [2])], outputs: ["y", "extra"]), ["'act'", "'extra'"])
    }

    // MARK: Zero-size dimensions

    @Test func matMulWithNoRowsGivesAnEmptyOutput() throws {
        // ONNX Runtime: [0, 3] x [3, 4] -> [0, 4].
        let g = H.graph([Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["y"])], inputs: [("x", .f32, [0, 3])], outputs: ["y"],
                        initializers: ["w": try Tensor((0..<12).map(Float.init), shape: TensorShape([3, 4]))])
        let out = try run(g, ["x": try Tensor(zeros: .f32, shape: TensorShape([0, 3]))])
        #expect(try #require(out["y"]).shape.dims == [0, 4])
    }

    @Test func convolutionOfAnEmptyBatchGivesAnEmptyOutput() throws {
        // ONNX Runtime: x [0, 3, 5, 5], w [2, 3, 3, 3], pads 1 -> [0, 2, 5, 5].
        let conv = Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"], attributes: ["pads": .ints([1, 1, 1, 1])])
        let g = H.graph([conv], inputs: [("x", .f32, [0, 3, 5, 5])], outputs: ["y"],
                        initializers: ["w": try Tensor([Float](repeating: 1, count: 54), shape: TensorShape([2, 3, 3, 3]))])
        let out = try run(g, ["x": try Tensor(zeros: .f32, shape: TensorShape([0, 3, 5, 5]))])
        #expect(try #require(out["y"]).shape.dims == [0, 2, 5, 5])
    }

    // MARK: DynamicQuantizeLinear

    @Test func dynamicQuantizeLinearOnAllZerosHasAPositiveScale() throws {
        let nodes = [
            Node(name: "dq", opType: "DynamicQuantizeLinear", inputs: ["x"], outputs: ["q", "scale", "zp"]),
            Node(name: "back", opType: "DequantizeLinear", inputs: ["q", "scale", "zp"], outputs: ["y"]),
        ]
        let g = H.graph(nodes, inputs: [("x", .f32, [2, 3])], outputs: ["q", "scale", "zp", "y"], opset: 11)
        let out = try run(g, ["x": try Tensor(zeros: .f32, shape: TensorShape([2, 3]))])
        // ONNX Runtime: scale 1, zero point 0, q all 0; dequantized back: all 0.
        #expect(try values(out, "scale", as: Float.self) == [1])
        #expect(try values(out, "zp", as: UInt8.self) == [0])
        #expect(try values(out, "q", as: UInt8.self) == [0, 0, 0, 0, 0, 0])
        #expect(try values(out, "y", as: Float.self) == [0, 0, 0, 0, 0, 0])
    }

    @Test func dynamicQuantizeLinearRoundsBeforeAddingTheZeroPoint() throws {
        // ONNX's test_dynamicquantizelinear: x = [0, 2, -3, -2.5, 1.34, 0.5].
        let g = H.graph([Node(name: "dq", opType: "DynamicQuantizeLinear", inputs: ["x"], outputs: ["q", "scale", "zp"])],
                        inputs: [("x", .f32, [6])], outputs: ["q", "scale", "zp"], opset: 11)
        let out = try run(g, ["x": try Tensor([0, 2, -3, -2.5, 1.34, 0.5] as [Float], shape: TensorShape([6]))])
        #expect(try values(out, "q", as: UInt8.self) == [153, 255, 0, 26, 221, 179])
        #expect(try values(out, "zp", as: UInt8.self) == [153])
        #expect(close(try values(out, "scale", as: Float.self), [0.019607844]))
    }

    // MARK: 8-bit arithmetic

    @Test(arguments: [("Add", [44, 44, 9, 3, 1]), ("Sub", [100, 156, 5, 253, 253]), ("Mul", [32, 32, 14, 0, 254]), ("Div", [2, 0, 3, 0, 127])] as [(String, [UInt8])])
    func unsignedArithmeticWrapsAsONNXRuntime(op: String, expected: [UInt8]) throws {
        let g = H.graph([Node(name: "op", opType: op, inputs: ["a", "b"], outputs: ["y"])], inputs: [("a", .u8, [5]), ("b", .u8, [5])], outputs: ["y"], opset: 14)
        let out = try run(g, ["a": try Tensor([200, 100, 7, 0, 255] as [UInt8], shape: TensorShape([5])),
                              "b": try Tensor([100, 200, 2, 3, 2] as [UInt8], shape: TensorShape([5]))])
        #expect(try values(out, "y", as: UInt8.self) == expected)
    }

    @Test(arguments: [("Add", [-56, 0, 9, -5, 127]), ("Sub", [0, 56, 5, -9, -127]), ("Mul", [16, -16, 14, -14, -128]), ("Div", [1, -1, 3, -3, -128])] as [(String, [Int8])])
    func signedArithmeticWrapsAsONNXRuntime(op: String, expected: [Int8]) throws {
        let g = H.graph([Node(name: "op", opType: op, inputs: ["a", "b"], outputs: ["y"])], inputs: [("a", .s8, [5]), ("b", .s8, [5])], outputs: ["y"], opset: 14)
        let out = try run(g, ["a": try Tensor([100, -100, 7, -7, -128] as [Int8], shape: TensorShape([5])),
                              "b": try Tensor([100, 100, 2, 2, -1] as [Int8], shape: TensorShape([5]))])
        #expect(try values(out, "y", as: Int8.self) == expected)
    }

    @Test func powOnEightBitIntegersIsRefusedByName() throws {
        let g = H.graph([Node(name: "p", opType: "Pow", inputs: ["a", "b"], outputs: ["y"])], inputs: [("a", .u8, [2]), ("b", .u8, [2])], outputs: ["y"])
        H.expectError(g, ["'p'", "u8"])
    }

    // MARK: Opsets

    func model(opset: Int, _ nodes: [Onnx_NodeProto], input: (String, [Int64]), output: String) throws -> Data {
        var g = Onnx_GraphProto()
        g.name = "g"
        g.node = nodes
        var x = Onnx_ValueInfoProto()
        x.name = input.0
        var tt = Onnx_TypeProto.Tensor()
        tt.elemType = 1
        tt.shape.dim = input.1.map { d in var v = Onnx_TensorShapeProto.Dimension(); v.dimValue = d; return v }
        x.type.tensorType = tt
        g.input = [x]
        var y = Onnx_ValueInfoProto()
        y.name = output
        g.output = [y]
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var o = Onnx_OperatorSetIdProto()
        o.version = Int64(opset)
        m.opsetImport = [o]
        m.graph = g
        return try m.serializedData()
    }

    func node(_ op: String, _ inputs: [String], _ outputs: [String], ints: [String: [Int64]] = [:]) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = op.lowercased()
        n.input = inputs
        n.output = outputs
        n.attribute = ints.sorted { $0.key < $1.key }.map { k, v in
            var a = Onnx_AttributeProto()
            a.name = k
            a.type = .ints
            a.ints = v
            return a
        }
        return n
    }

    @Test func everyOpsetFromSevenToTheNewestLoads() throws {
        for opset in ONNXModel.supportedOpsets {
            let data = try model(opset: opset, [node("Relu", ["x"], ["y"])], input: ("x", [2]), output: "y")
            let m = try ONNXModel(serialized: data)
            let out = try run(m.graph, ["x": try Tensor([-1, 2] as [Float], shape: TensorShape([2]))])
            #expect(try values(out, "y", as: Float.self) == [0, 2], "opset \(opset)")
        }
        #expect(ONNXModel.supportedOpsets.lowerBound == 7 && ONNXModel.supportedOpsets.upperBound >= 28)
        let newer = try model(opset: ONNXModel.supportedOpsets.upperBound + 1, [node("Relu", ["x"], ["y"])], input: ("x", [2]), output: "y")
        #expect { try ONNXModel(serialized: newer) } throws: { "\($0)".contains("opset \(ONNXModel.supportedOpsets.upperBound + 1)") }
    }

    @Test func opsetsBeforeSevenLoadOnlyOpsUnchangedSinceThen() throws {
        // Softsign is the same from opset 1 to 7: it loads and runs (x / (1 + |x|)).
        let softsign = try model(opset: 1, [node("Softsign", ["x"], ["y"])], input: ("x", [2]), output: "y")
        let m = try ONNXModel(serialized: softsign)
        let out = try run(m.graph, ["x": try Tensor([-1, 2] as [Float], shape: TensorShape([2]))])
        let y = try values(out, "y", as: Float.self)
        #expect(abs(y[0] + 0.5) < 1e-6 && abs(y[1] - 2.0 / 3) < 1e-6)
        // Relu changed at opset 6 (consumed_inputs dropped): refused, naming the node and op.
        let relu = try model(opset: 5, [node("Relu", ["x"], ["y"])], input: ("x", [2]), output: "y")
        #expect { try ONNXModel(serialized: relu) } throws: { "\($0)".contains("'relu' (Relu)") && "\($0)".contains("opset 5") }
    }

    @Test func sliceReadsItsAttributesBeforeOpsetTen() throws {
        // Opset 9: starts, ends, axes are attributes. ONNX's test_slice_default_axes shape, small.
        let data = try model(opset: 9, [node("Slice", ["x"], ["y"], ints: ["starts": [1, 0], "ends": [3, -1], "axes": [0, 1]])], input: ("x", [4, 3]), output: "y")
        let m = try ONNXModel(serialized: data)
        let out = try run(m.graph, ["x": try Tensor((0..<12).map(Float.init), shape: TensorShape([4, 3]))])
        let y = try #require(out["y"])
        #expect(y.shape.dims == [2, 2])
        #expect(try y.scalars(as: Float.self) == [3, 4, 6, 7])
    }

    @Test func batchNormalizationSpatialZeroIsRefusedByName() throws {
        var bn = node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])
        var a = Onnx_AttributeProto()
        a.name = "spatial"
        a.type = .int
        a.i = 0
        bn.attribute = [a]
        let nodes = ["s", "b", "m", "v"].map { name -> Onnx_NodeProto in
            var c = node("Constant", [], [name])
            c.name = "c_" + name
            var v = Onnx_AttributeProto()
            v.name = "value_floats"
            v.type = .floats
            v.floats = [1, 1]
            c.attribute = [v]
            return c
        } + [bn]
        let m = try ONNXModel(serialized: try model(opset: 7, nodes, input: ("x", [1, 2, 2, 2]), output: "y"))
        H.expectError(m.graph, ["'batchnormalization'", "spatial = 0"])
    }
}
