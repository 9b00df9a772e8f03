import Foundation
import Octet
@testable import OctetONNX
import Testing

/// Shape arithmetic on hostile attributes and inputs (the cases of issue 19): every sum and
/// product is checked, and the error names the node, the attribute or input, and the values.
/// ONNX Runtime refuses each of these too (`scripts/make-fuzz-corpus.py --ort` prints its answers).
@Suite struct ShapeArithmeticTests {
    typealias H = HostileGraph
    static let max = Int.max, min = Int.min, big = 1 << 62

    let x4 = [("x", DType.f32, [1, 1, 8, 8])]
    func weight() throws -> Tensor { try H.floats(Array(repeating: 1, count: 9), [1, 1, 3, 3]) }

    func expectError(_ g: Graph, _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        H.expectError(g, fragments, sourceLocation: sourceLocation)
    }

    /// An empty tensor is not walked row by row: Concat of [2^63 - 1, 0] along axis 1 once
    /// looped 2^63 - 1 times copying nothing (found by fuzz-onnx); it now returns at once,
    /// as do the other ops that count the rows of their input.
    @Test func emptyTensorsAreNotWalkedRowByRow() throws {
        let cases: [(String, [String], [String: AttributeValue], [String: Tensor], [Int])] = [
            ("Concat", ["x"], ["axis": .int(1)], [:], [Self.max, 0]),
            ("Softmax", ["x"], ["axis": .int(1)], [:], [Self.max, 0]),
            ("Transpose", ["x"], [:], [:], [Self.max, 0]),
            ("Gather", ["x", "i"], ["axis": .int(1)], ["i": try H.ints([])], [Self.max, 0]),
            ("LayerNormalization", ["x", "g"], ["axis": .int(1)], ["g": try H.floats([], [0])], [Self.max, 0]),
            ("BatchNormalization", ["x", "s", "b", "m", "v"], [:], ["s": try H.floats([1], [1]), "b": try H.floats([0], [1]),
                                                                    "m": try H.floats([0], [1]), "v": try H.floats([1], [1])], [Self.max, 1, 0]),
        ]
        for (op, inputs, attributes, initializers, shape) in cases {
            let g = H.graph([Node(name: "n", opType: op, inputs: inputs, outputs: ["y"], attributes: attributes)],
                            inputs: [("x", .f32, shape)], outputs: ["y"], initializers: initializers)
            let y = try H.run(g).get()["y"]
            #expect(y?.shape.elementCount == 0, "\(op)")
        }
    }

    @Test func convolutionPadsAndDilationsNearTheTop() throws {
        for (attribute, value) in [("pads", [Self.max, 0, 0, 0]), ("dilations", [Self.big, 1]), ("dilations", [Self.max, 1]), ("strides", [Self.max, 1])] {
            let g = H.graph([Node(name: "cv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"], attributes: [attribute: .ints(value)])],
                            inputs: x4, outputs: ["y"], initializers: ["w": try weight()])
            if attribute == "strides" {
                // A huge stride is legal: one window (ONNX Runtime: 1x1x1x6).
                let y = try H.run(g).get()["y"]
                #expect(y?.shape.dims == [1, 1, 1, 6])
                continue
            }
            expectError(g, "node 'cv' (Conv)", attribute, "\(value[0])", "overflows")
        }
        // Pads that do not overflow but make an output too large to address.
        let g = H.graph([Node(name: "cv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"], attributes: ["pads": .ints([Self.big, Self.big, 0, 0])])],
                        inputs: x4, outputs: ["y"], initializers: ["w": try weight()])
        expectError(g, "node 'cv' (Conv)", "pads")
    }

    @Test func poolingPadsDilationsAndKernelsNearTheTop() throws {
        let cases: [(String, [String: AttributeValue], [String])] = [
            ("MaxPool", ["kernel_shape": .ints([2, 2]), "dilations": .ints([Self.max, 1])], ["dilations", "overflows"]),
            ("MaxPool", ["kernel_shape": .ints([2, 2]), "pads": .ints([Self.max, 0, 0, 0])], ["'pads'", "smaller than kernel_shape"]),
            ("AveragePool", ["kernel_shape": .ints([2, 2]), "pads": .ints([Self.big, 0, 0, 0])], ["'pads'", "smaller than kernel_shape"]),
            ("MaxPool", ["kernel_shape": .ints([Self.max, 2])], ["kernel"]),
            ("MaxPool", ["kernel_shape": .ints([2, 2]), "strides": .ints([Self.max, 1]), "ceil_mode": .int(1)], []),
        ]
        for (op, attributes, fragments) in cases {
            let g = H.graph([Node(name: "pool", opType: op, inputs: ["x"], outputs: ["y"], attributes: attributes)], inputs: x4, outputs: ["y"])
            if fragments.isEmpty {
                // One window per row (ONNX Runtime: 1x1x1x7).
                #expect(try H.run(g).get()["y"]?.shape.dims == [1, 1, 1, 7])
            } else {
                H.expectError(g, ["node 'pool' (\(op))"] + fragments)
            }
        }
    }

    @Test func transposedConvolutionStridesAndOutputPadding() throws {
        for (attribute, value, fragment) in [("strides", [Self.big, 1], "strides"), ("strides", [Self.max, 1], "strides"),
                                             ("output_padding", [Self.max, 0], "output_padding"), ("output_padding", [Self.big, 0], "output_padding"),
                                             ("dilations", [Self.big, 1], "dilations"), ("output_shape", [Self.max, 8], "output_shape")] {
            let g = H.graph([Node(name: "ct", opType: "ConvTranspose", inputs: ["x", "w"], outputs: ["y"], attributes: [attribute: .ints(value)])],
                            inputs: x4, outputs: ["y"], initializers: ["w": try weight()])
            expectError(g, "node 'ct' (ConvTranspose)", fragment)
        }
    }

    /// Steps of ±2^62 and -2^63 take one element; clamping follows the ONNX spec and ONNX
    /// Runtime (a backward start clamps to [0, dim - 1]; onnx.reference, which uses NumPy's
    /// clamping, returns an empty slice for the third case).
    @Test func sliceStepsAtTheExtremes() throws {
        let x = try H.floats((0..<24).map(Float.init), [4, 6])
        func slice(_ starts: [Int], _ ends: [Int], _ steps: [Int]) throws -> [Float] {
            let g = H.graph([Node(name: "sl", opType: "Slice", inputs: ["x", "s", "e", "a", "st"], outputs: ["y"])], outputs: ["y"],
                            initializers: ["x": x, "s": try H.ints(starts), "e": try H.ints(ends), "a": try H.ints([1]), "st": try H.ints(steps)])
            return try #require(try H.run(g).get()["y"]).scalars(as: Float.self)
        }
        // x[:, 0::2**62] is column 0; x[:, 5::-2**63] is column 5; x[:, -2**63:-2**63:-1] starts at 0 (clamped to [0, 5]) and takes
        // column 0; x[:, 0:2**63-1:-2**63] is empty (as in NumPy and onnx.reference; ONNX Runtime returns one column there).
        #expect(try slice([0], [Self.max], [Self.big]) == [0, 6, 12, 18])
        #expect(try slice([Self.max], [Self.min], [Self.min]) == [5, 11, 17, 23])
        #expect(try slice([Self.min], [Self.min], [-1]) == [0, 6, 12, 18])
        #expect(try slice([0], [Self.max], [Self.min]) == [])
        #expect(try slice([Self.max], [Self.min], [-2]) == [5, 3, 1, 11, 9, 7, 17, 15, 13, 23, 21, 19])
    }

    @Test func splitSizesSummingPastInt() throws {
        for sizes in [[Self.max, 8], [Self.max, Self.max, 8]] {
            let outs = sizes.indices.map { "y\($0)" }
            let g = H.graph([Node(name: "spl", opType: "Split", inputs: ["x", "sp"], outputs: outs, attributes: ["axis": .int(1)])],
                            inputs: [("x", .f32, [4, 6])], outputs: outs, initializers: ["sp": try H.ints(sizes)])
            expectError(g, "node 'spl' (Split)", "'split' sizes", "overflows")
        }
    }

    @Test func reshapeTargetsWhoseProductOverflows() throws {
        for target in [[Self.big, 4, -1], [-1, Self.big, 4]] {
            let g = H.graph([Node(name: "rs", opType: "Reshape", inputs: ["x", "s"], outputs: ["y"])], inputs: [("x", .f32, [4, 6])], outputs: ["y"],
                            initializers: ["s": try H.ints(target)])
            expectError(g, "node 'rs' (Reshape)", "target shape \(target)", "overflows")
        }
    }

    @Test func flattenOfAnUnaddressableProduct() throws {
        let x = Graph.Port(name: "x", type: ValueType(.f32, SymbolicShape([.symbol("N"), .fixed(1 << 32), .fixed(1 << 32)])))
        let g = Graph(name: "g", inputs: [x], outputs: [Graph.Port(name: "y", type: nil)],
                      nodes: [Node(name: "fl", opType: "Flatten", inputs: ["x"], outputs: ["y"], attributes: ["axis": .int(1)])])
        expectError(g, "node 'fl' (Flatten)", "4294967296 * 4294967296 overflows")
        // Declared in a file, the same shape is refused when the model is read, naming the value.
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var o = Onnx_OperatorSetIdProto()
        o.version = 17
        m.opsetImport = [o]
        m.graph.input = [ONNXModel.valueInfo("x", ValueType(.f32, SymbolicShape([.fixed(1 << 32), .fixed(1 << 32)])))]
        #expect { try ONNXModel(serialized: try m.serializedData()) } throws: { "\($0)".contains("value 'x'") && "\($0)".contains("more elements than can be addressed") }
    }

    @Test func rangeWithAnInfiniteLimitOrA64BitSpan() throws {
        func range<T: TensorElement>(_ start: T, _ limit: T, _ delta: T) throws -> Graph {
            H.graph([Node(name: "rg", opType: "Range", inputs: ["a", "b", "c"], outputs: ["y"])], outputs: ["y"],
                    initializers: ["a": try H.scalar(start), "b": try H.scalar(limit), "c": try H.scalar(delta)])
        }
        expectError(try range(Float(0), .infinity, 1), "node 'rg' (Range)", "not finite")
        expectError(try range(Float(0), .nan, 1), "node 'rg' (Range)", "not finite")
        expectError(try range(Int64.min, Int64.max, 1), "node 'rg' (Range)", "over the limit")
        // A span of 2^64 in steps of 2^62: four exact elements (ONNX Runtime gives the same).
        let y = try #require(try H.run(try range(Int64.min, Int64.max, Int64(1) << 62)).get()["y"])
        #expect(try y.scalars(as: Int64.self) == [Int64.min, -(1 << 62), 0, 1 << 62])
    }

    @Test func concatOfScalarsAndOfLengthsPastInt() throws {
        let scalars = H.graph([Node(name: "cc", opType: "Concat", inputs: ["a", "b"], outputs: ["y"], attributes: ["axis": .int(0)])],
                              inputs: [("a", .f32, []), ("b", .f32, [])], outputs: ["y"])
        expectError(scalars, "node 'cc' (Concat)", "cannot concatenate scalars")
        let long = Graph(name: "g", inputs: [Graph.Port(name: "a", type: ValueType(.f32, SymbolicShape([.fixed(Self.max), .fixed(0)])))],
                         outputs: [Graph.Port(name: "y", type: nil)],
                         nodes: [Node(name: "cc", opType: "Concat", inputs: ["a", "a"], outputs: ["y"], attributes: ["axis": .int(0)])])
        expectError(long, "node 'cc' (Concat)", "output length along axis 0", "overflows")
    }

    /// ONNX Runtime: "Gemm: Invalid bias shape for broadcast".
    @Test func gemmBiasShorterOrLongerThanN() throws {
        for c in [[2], [5], [3, 3]] {
            let g = H.graph([Node(name: "gm", opType: "Gemm", inputs: ["x", "b", "c"], outputs: ["y"])], inputs: [("x", .f32, [4, 6])], outputs: ["y"],
                            initializers: ["b": try H.floats(Array(repeating: 1, count: 18), [6, 3]),
                                           "c": try H.floats(Array(repeating: 1, count: c.reduce(1, *)), c)])
            expectError(g, "node 'gm' (Gemm)", "bias C (input 2)", "does not broadcast", "4x3")
        }
        // As a graph input rather than a constant: refused the same way.
        let g = H.graph([Node(name: "gm", opType: "Gemm", inputs: ["x", "b", "c"], outputs: ["y"])], inputs: [("x", .f32, [4, 6]), ("c", .f32, [2])],
                        outputs: ["y"], initializers: ["b": try H.floats(Array(repeating: 1, count: 18), [6, 3])])
        expectError(g, "node 'gm' (Gemm)", "bias C (input 2)")
    }

    @Test func duplicateGraphInputs() throws {
        let g = H.graph([Node(name: "r", opType: "Relu", inputs: ["x"], outputs: ["y"])], inputs: [("x", .f32, [2]), ("x", .f32, [2])], outputs: ["y"])
        expectError(g, "value 'x' is defined twice", "graph input 'x'")
    }
}
