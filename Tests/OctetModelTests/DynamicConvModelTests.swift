import Foundation
import Octet
import Testing

/// CNNs quantized by ONNX Runtime's `quantize_dynamic` (`DynamicQuantizeLinear` →
/// `ConvInteger` → `Cast` → `Mul` → `Add` bias; scripts/make-dynamic-conv-models.py writes
/// them and ONNX Runtime's outputs under Tests/Models/dynamic) run as dynamic INT8
/// convolutions on packed, and match ONNX Runtime.
///
/// Tolerance: 1e-6 of the output's largest magnitude. The activation codes are ONNX's (same
/// parameters, same division and rounding) and the accumulators are exact integers on both
/// sides, so the only freedom is the order of the f32 rescale (`acc · (s_x · s_w) + b`), which
/// Octet's store computes as ONNX Runtime's Cast → Mul → Add nodes do (one multiply by the
/// rounded scale product, then one add, no FMA): measured bit for bit on AMD Zen 4. An
/// intermediate that differed by an ulp could move a later layer's code by one (a step of
/// that layer's scale), which the bound would show.
@Suite struct DynamicConvModelTests {
    static let folder = ModelSuite.root.appendingPathComponent("Tests/Models/dynamic")

    /// The dynamic convolutions each case holds.
    static let cases: [(name: String, convolutions: Int)] = [("cnn_qint8", 4), ("cnn_quint8", 4), ("conv_per_channel", 1)]

    @Test(arguments: cases.map(\.name))
    func runsOnPackedAndMatchesONNXRuntime(name: String) throws {
        let c = try ModelSuite.load(name, in: Self.folder)
        let count = try #require(Self.cases.first { $0.name == name }).convolutions
        for threads in [1, 2] {
            let session = try ModelSuite.session(c, threads: threads)
            let trace = try session.trace(inputShapes: c.inputs.mapValues(\.shape)).trace
            // Nothing of the chain is left but the fused convolutions (the CNN's ReLUs fused too).
            let left = trace.nodes.filter { ["ConvInteger", "DynamicQuantizeLinear", "Cast", "Mul", "Add", "Relu"].contains($0.opType) }
            #expect(left.isEmpty, "unfused: \(left.map { "\($0.opType) '\($0.node)'" })")
            let convs = trace.ops.filter { $0.signature.kind == .conv2d && $0.signature.quantization?.dynamic == true }
            #expect(convs.count == count)
            for op in convs {
                #expect(op.backend == "packed", "\(op.signature): \(op.attempts.map { "\($0.backend): \($0.reason)" })")
                #expect(op.kernel?.hasPrefix("f32u8-quantize-") == true, "\(op.kernel ?? "-")")
                #expect(op.notes.contains { $0.contains("fused DynamicQuantizeLinear") })
            }
            let outputs = try session.run(c.inputs)
            for (output, want) in c.expected {
                let got = try #require(outputs[output])
                let error = try #require(ModelSuite.error(got, want), "\(output): \(got.shape) \(got.dtype) vs \(want.shape) \(want.dtype)")
                #expect(error <= 1e-6, "\(name) \(output), \(threads) threads: relative error \(error)")
            }
        }
    }

    /// The oracle alone (packed and oneDNN not registered): the same convolutions fall back to
    /// qnnpack-ref, and its outputs match ONNX Runtime's too.
    @Test(arguments: cases.map(\.name))
    func oracleMatchesONNXRuntime(name: String) throws {
        let c = try ModelSuite.load(name, in: Self.folder)
        let session = try ModelSuite.session(c, registry: try ModelSuite.registry([QNNPackReferenceBackend(), BuiltInBackend()]))
        let trace = try session.trace(inputShapes: c.inputs.mapValues(\.shape)).trace
        let convs = trace.ops.filter { $0.signature.kind == .conv2d && $0.signature.quantization?.dynamic == true }
        #expect(!convs.isEmpty && convs.allSatisfy { $0.backend == "qnnpack-ref" && $0.kernel == "reference dynamic conv (ONNX DynamicQuantizeLinear)" })
        let outputs = try session.run(c.inputs)
        for (output, want) in c.expected {
            let got = try #require(outputs[output])
            let error = try #require(ModelSuite.error(got, want))
            #expect(error <= 1e-6, "\(name) \(output): relative error \(error)")
        }
    }

    // MARK: - Chains built in Swift

    /// The inputs and initializers of a ConvInteger chain: x 1 x 4 x 6 x 5, weight 6 x 2 x 3 x 3
    /// (groups 2), pads 1.
    struct Chain {
        var weight: Tensor
        var weightZeroPoint: Tensor?
        var weightScale: Tensor
        var bias: Tensor?
        var weightIsInput = false
        var castTo = 1
        var convName = "conv"
        /// A Relu after the chain (fused into the convolution).
        var relu = false

        static func standard() throws -> Chain {
            var rng = SeededGenerator(seed: 77)
            let w = try Tensor((0..<108).map { _ in Int8.random(in: -127...127, using: &rng) }, shape: TensorShape([6, 2, 3, 3]))
            return Chain(weight: w, weightZeroPoint: try Tensor([Int8(0)], shape: .scalar), weightScale: try Tensor([Float(0.01)], shape: .scalar),
                         bias: try Tensor((0..<6).map { Float($0) - 2.5 }, shape: TensorShape([1, 6, 1, 1])))
        }

        func graph() -> Graph {
            var nodes = [
                Node(name: "dql", opType: "DynamicQuantizeLinear", inputs: ["x"], outputs: ["xq", "xs", "xz"]),
                Node(name: convName, opType: "ConvInteger", inputs: ["xq", "w", "xz"] + (weightZeroPoint == nil ? [] : ["wz"]), outputs: ["acc"],
                     attributes: ["pads": .ints([1, 1, 1, 1]), "group": .int(2)]),
                Node(name: "cast", opType: "Cast", inputs: ["acc"], outputs: ["accf"], attributes: ["to": .int(castTo)]),
                Node(name: "scale", opType: "Mul", inputs: ["xs", "ws"], outputs: ["s"]),
                Node(name: "rescale", opType: "Mul", inputs: ["accf", "s"], outputs: [bias == nil ? "y" : "mm"]),
            ]
            if bias != nil { nodes.append(Node(name: "bias_add", opType: "Add", inputs: ["mm", "b"], outputs: ["y"])) }
            if relu {
                nodes[nodes.count - 1].outputs = ["pre"]
                nodes.append(Node(name: "relu", opType: "Relu", inputs: ["pre"], outputs: ["y"]))
            }
            var initializers: [String: Tensor] = ["ws": weightScale]
            if !weightIsInput { initializers["w"] = weight }
            if let weightZeroPoint { initializers["wz"] = weightZeroPoint }
            if let bias { initializers["b"] = bias }
            var inputs: [(String, DType, [Int])] = [("x", .f32, [1, 4, 6, 5])]
            if weightIsInput { inputs.append(("w", weight.dtype, weight.shape.dims)) }
            return HostileGraph.graph(nodes, inputs: inputs, outputs: ["y"], initializers: initializers)
        }

        func feeds() throws -> [String: Tensor] {
            var rng = SeededGenerator(seed: 78)
            var f = ["x": try Tensor((0..<120).map { _ in Float.random(in: -1.5...3, using: &rng) }, shape: TensorShape([1, 4, 6, 5]))]
            if weightIsInput { f["w"] = weight }
            return f
        }
    }

    static func options(registry: BackendRegistry = .builtIn(), optimize: Bool = true) throws -> SessionOptions {
        SessionOptions(threads: 1, cpu: .host, registry: registry, rules: try RuleSet.builtIn(), optimize: optimize)
    }

    /// Fused (one dynamic convolution) and unfused (the built-in ConvInteger and the f32 nodes,
    /// no graph passes) give the same floats: both follow ONNX exactly.
    @Test func fusedEqualsUnfused() throws {
        var perChannel = try Chain.standard()
        perChannel.weightScale = try Tensor((0..<6).map { 0.004 * Float($0 + 1) }, shape: TensorShape([6, 1, 1]))
        var noBias = try Chain.standard()
        noBias.bias = nil
        noBias.weightZeroPoint = nil
        var relu = try Chain.standard()
        relu.relu = true
        for chain in [try Chain.standard(), perChannel, noBias, relu] {
            let g = chain.graph()
            let fused = try Session(graph: g, options: try Self.options())
            let trace = try fused.trace(inputShapes: ["x": TensorShape([1, 4, 6, 5])]).trace
            #expect(trace.nodes.map(\.opType) == ["QuantizedMatrix"], "\(trace.nodes.map(\.opType))")
            let unfused = try Session(graph: g, options: try Self.options(optimize: false))
            let a = try #require(try fused.run(try chain.feeds())["y"]).scalars(as: Float.self)
            let b = try #require(try unfused.run(try chain.feeds())["y"]).scalars(as: Float.self)
            #expect(a == b)
        }
    }

    /// Per-channel u8 weights with zero points packed declines (its per-channel weights must be
    /// symmetric s8): the trace says so and the convolution falls back to qnnpack-ref, exactly.
    @Test func perChannelU8FallsBackWithAReason() throws {
        var chain = try Chain.standard()
        let signed = try chain.weight.scalars(as: Int8.self)
        chain.weight = try Tensor(signed.map { UInt8(Int16($0) + 128) }, shape: chain.weight.shape)
        chain.weightZeroPoint = try Tensor((0..<6).map { UInt8(120 + $0 * 3) }, shape: TensorShape([6]))
        chain.weightScale = try Tensor((0..<6).map { 0.003 * Float($0 + 1) }, shape: TensorShape([1, 6, 1, 1]))
        let g = chain.graph()
        let session = try Session(graph: g, options: try Self.options())
        let trace = try session.trace(inputShapes: ["x": TensorShape([1, 4, 6, 5])]).trace
        let op = try #require(trace.ops.first { $0.signature.kind == .conv2d })
        #expect(op.signature.quantization?.dynamic == true && op.signature.weightType == .u8)
        #expect(op.backend == "qnnpack-ref")
        let packed = try #require(op.attempts.first { $0.backend == "packed" })
        #expect(packed.reason.contains("per-channel"), "\(packed.reason)")
        let unfused = try Session(graph: g, options: try Self.options(optimize: false))
        #expect(try session.run(try chain.feeds())["y"]?.scalars(as: Float.self) == unfused.run(try chain.feeds())["y"]?.scalars(as: Float.self))
    }

    /// Chains that are not the pattern stay as written (a ConvInteger node is left) and still
    /// run, to ONNX's answer, or fail with an error naming the node; none crashes.
    @Test func malformedChainsStayUnfused() throws {
        var weightInput = try Chain.standard()
        weightInput.weightIsInput = true
        var wrongCast = try Chain.standard()
        wrongCast.castTo = 6 // int32: the Mul then multiplies int32 by f32, which ONNX refuses
        var rowScale = try Chain.standard()
        rowScale.weightScale = try Tensor((0..<5).map { 0.01 * Float($0 + 1) }, shape: TensorShape([5])) // broadcasts over W, not channels
        var mismatchedZeroPoint = try Chain.standard()
        mismatchedZeroPoint.weightZeroPoint = try Tensor([UInt8(3)], shape: .scalar) // u8 zero point for s8 weights
        var rank3 = try Chain.standard()
        rank3.weight = try Tensor([Int8](repeating: 1, count: 36), shape: TensorShape([6, 2, 3])) // a 1-D convolution's weight
        rank3.convName = "conv1d"
        for (label, chain) in [("weight input", weightInput), ("cast to int32", wrongCast), ("1-D scale", rowScale),
                               ("u8 zero point", mismatchedZeroPoint), ("rank-3 weight", rank3)] {
            let g = chain.graph()
            let fused: [Float]
            do {
                let session = try Session(graph: g, options: try Self.options())
                let trace = try session.trace(inputShapes: Dictionary(uniqueKeysWithValues: try chain.feeds().map { ($0.key, $0.value.shape) })).trace
                #expect(trace.nodes.contains { $0.opType == "ConvInteger" }, "\(label): fused")
                fused = try #require(try session.run(try chain.feeds())["y"]).scalars(as: Float.self)
            } catch {
                #expect("\(error)".contains(chain.convName) || "\(error)".contains("cast") || "\(error)".contains("rescale"), "\(label): \(error)")
                continue
            }
            let unfused = try Session(graph: g, options: try Self.options(optimize: false))
            #expect(try unfused.run(try chain.feeds())["y"]?.scalars(as: Float.self) == fused, "\(label)")
        }
    }
}
