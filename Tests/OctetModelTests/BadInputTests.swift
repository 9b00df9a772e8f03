import Foundation
import Octet
@testable import OctetONNX
import Testing

/// Broken models, tensors and inputs give errors that name the part at fault; nothing crashes.
@Suite struct BadInputTests {
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("octet-bad-\(UUID().uuidString)")

    init() throws { try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true) }

    func file(_ name: String, _ data: Data) throws -> String {
        let p = tmp.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: p))
        return p
    }

    func validModelBytes() throws -> Data {
        try Data(contentsOf: ModelSuite.nets.appendingPathComponent("resnet_tiny.onnx"))
    }

    /// A one-node model built in Swift.
    func model(_ nodes: [Node], inputs: [Graph.Port], outputs: [String], initializers: [String: Tensor] = [:], opset: Int = 17) -> ONNXModel {
        ONNXModel(graph: Graph(name: "g", inputs: inputs, outputs: outputs.map { Graph.Port(name: $0, type: nil) }, nodes: nodes,
                               initializers: initializers, opsets: ["": opset]))
    }

    @Test func truncatedFileIsRefused() throws {
        let bytes = try validModelBytes()
        let path = try file("truncated.onnx", bytes.prefix(bytes.count / 3))
        #expect { try ONNXModel.load(contentsOf: path) } throws: { "\($0)".contains(path) }
    }

    @Test func randomBytesAreRefused() throws {
        var g = SystemRandomNumberGenerator()
        let path = try file("random.onnx", Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &g) }))
        #expect { try ONNXModel.load(contentsOf: path) } throws: { e in
            let text = "\(e)"
            return text.contains(path) && (text.contains("not an ONNX model") || text.contains("opset") || text.contains("no graph"))
        }
    }

    @Test func missingFileIsRefused() {
        #expect { try ONNXModel.load(contentsOf: "/nonexistent/model.onnx") } throws: { "\($0)".contains("cannot read") }
    }

    @Test func danglingInputNamesNodeAndValue() throws {
        let m = model([Node(name: "add0", opType: "Add", inputs: ["x", "ghost"], outputs: ["y"])],
                      inputs: [Graph.Port(name: "x", type: ValueType(.f32, try TensorShape([2])))], outputs: ["y"])
        let path = try file("dangling.onnx", try m.serialized())
        #expect { try ONNXModel.load(contentsOf: path) } throws: { e in
            "\(e)".contains("node 'add0' reads 'ghost'")
        }
    }

    @Test func cycleIsRefused() throws {
        let m = model([Node(name: "a", opType: "Relu", inputs: ["z"], outputs: ["y"]), Node(name: "b", opType: "Relu", inputs: ["y"], outputs: ["z"])],
                      inputs: [], outputs: ["y"])
        #expect { try ONNXModel(serialized: try m.serialized()) } throws: { "\($0)".contains("cycle") }
    }

    @Test func unknownOpIsReportedWithOpsetNodeAndTheSupportedList() throws {
        let m = model([Node(name: "weird", opType: "FancyOp", inputs: ["x"], outputs: ["y"])],
                      inputs: [Graph.Port(name: "x", type: ValueType(.f32, try TensorShape([2])))], outputs: ["y"])
        let loaded = try ONNXModel(serialized: try m.serialized())
        #expect {
            try Session(graph: loaded.graph, options: SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn()))
        } throws: { e in
            let t = "\(e)"
            return t.contains("'weird'") && t.contains("FancyOp") && t.contains("opset 17") && t.contains("Conv") && t.contains("LayerNormalization")
        }
    }

    @Test func absurdInitializerDimensionsDoNotAllocate() throws {
        // A header claiming 2^40 x 2^40 floats with 4 bytes of data.
        var t = Onnx_TensorProto()
        t.name = "huge"
        t.dataType = 1
        t.dims = [1 << 40, 1 << 40]
        t.rawData = Data([0, 0, 0, 0])
        var g = Onnx_GraphProto()
        g.initializer = [t]
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var o = Onnx_OperatorSetIdProto()
        o.version = 17
        m.opsetImport = [o]
        m.graph = g
        #expect { try ONNXModel(serialized: try m.serializedData()) } throws: { "\($0)".contains("'huge'") }
        t.dims = [-3, 2]
        m.graph.initializer = [t]
        #expect { try ONNXModel(serialized: try m.serializedData()) } throws: { "\($0)".contains("dimension 0 is -3") }
        t.dims = [1 << 10, 1 << 10]
        t.clearRawData()
        m.graph.initializer = [t]
        #expect { try ONNXModel(serialized: try m.serializedData()) } throws: { "\($0)".contains("float_data holds 0 values") }
    }

    @Test func absurdDeclaredInputShapeIsRefusedWhenPlanning() throws {
        let m = model([Node(name: "r", opType: "Relu", inputs: ["x"], outputs: ["y"])],
                      inputs: [Graph.Port(name: "x", type: ValueType(.f32, try TensorShape([1 << 20, 1 << 20, 1 << 10])))], outputs: ["y"])
        #expect {
            try Session(graph: m.graph, options: SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn()))
        } throws: { "\($0)".contains("limit") }
    }

    @Test func wrongInputShapeAtRunTimeNamesTheInput() throws {
        let c = try ModelSuite.load("resnet_tiny", in: ModelSuite.nets)
        let session = try ModelSuite.session(c)
        #expect { try session.run(["input": try Tensor(zeros: .f32, shape: TensorShape([2, 4, 32, 32]))]) } throws: { e in
            "\(e)".contains("input 'input'") && "\(e)".contains("2x4x32x32")
        }
        #expect { try session.run(["input": try Tensor(zeros: .s32, shape: TensorShape([2, 3, 32, 32]))]) } throws: { "\($0)".contains("s32") }
        #expect { try session.run([:]) } throws: { "\($0)".contains("input 'input' is missing") }
        #expect { try session.run(["input": try Tensor(zeros: .f32, shape: TensorShape([2, 3, 32, 32])), "extra": try Tensor(zeros: .f32, shape: TensorShape([1]))]) } throws: {
            "\($0)".contains("no input 'extra'")
        }
    }

    @Test func externalDataOutsideTheModelFolderIsRefused() throws {
        for (location, expected) in [("../escape.bin", "escapes the model's folder"), ("/etc/passwd", "is absolute"), ("missing.bin", "cannot open")] {
            let path = try file("ext.onnx", try HostileGraph.externalDataModel([("location", location)], dims: [2]))
            #expect { try ONNXModel.load(contentsOf: path) } throws: { "\($0)".contains(expected) && "\($0)".contains("'w'") }
        }
    }

    @Test func externalDataBesideTheModelIsRead() throws {
        let values: [Float] = [1.5, -2, 3.25]
        let bytes = values.withUnsafeBytes { Data($0) }
        _ = try file("weights.bin", Data([9, 9, 9, 9]) + bytes)
        let model = try HostileGraph.externalDataModel([("location", "weights.bin"), ("offset", "4"), ("length", "12")], dims: [3])
        let loaded = try ONNXModel.load(contentsOf: try file("ext_ok.onnx", model))
        #expect(try loaded.graph.initializers["w"]?.scalars(as: Float.self) == values)
    }

    /// A few hundred mutations of valid models (flipped bytes, truncations, splices): each
    /// loads, plans and runs or fails with an error; none crashes.
    @Test func mutatedModelsNeverCrash() throws {
        var rng = SeededGenerator(seed: 2026)
        var loaded = 0, ran = 0
        for name in ["resnet_tiny", "bert_tiny", "qlinear_conv", "slice", "gather"] {
            let folder = name.contains("_tiny") ? ModelSuite.nets : ModelSuite.ops
            let c = try ModelSuite.load(name, in: folder)
            let original = try Data(contentsOf: folder.appendingPathComponent(name + ".onnx"))
            for round in 0..<60 {
                var bytes = [UInt8](original)
                switch round % 3 {
                case 0:
                    for _ in 0..<(1 + Int(rng.next() % 8)) { bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 << (rng.next() % 8)) }
                case 1:
                    bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
                default:
                    let at = Int(rng.next() % UInt64(bytes.count))
                    for k in 0..<min(16, bytes.count - at) { bytes[at + k] = UInt8(truncatingIfNeeded: rng.next()) }
                }
                guard let m = try? ONNXModel(serialized: Data(bytes)) else { continue }
                loaded += 1
                guard let session = try? ModelSuite.session(ModelSuite.Case(model: m, inputs: c.inputs, expected: [])) else { continue }
                if (try? session.run(c.inputs)) != nil { ran += 1 }
            }
        }
        // Some mutations land in weights and still load and run: the test exercises all stages.
        #expect(loaded > 0 && ran > 0, "loaded \(loaded), ran \(ran)")
    }
}

