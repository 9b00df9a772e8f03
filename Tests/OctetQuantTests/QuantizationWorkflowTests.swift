import Foundation
import Octet
import OctetQuant
import Testing

/// The quantization workflow on real models: the bundled digits CNN (trained on
/// scikit-learn's digits, held-out split committed), the BERT-style test encoder, and the
/// QDQ files written and read back. Answers come from the labels, from the FP32 model, or
/// from the QDQ graph evaluated in floating point — never from the INT8 path itself.
@Suite struct QuantizationWorkflowTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let digits = root.appendingPathComponent("Models/digits")
    static let nets = root.appendingPathComponent("Tests/Models/nets")

    /// The module name is free for qualification (no `Octet` type shadows it).
    @Test func theModuleNameQualifiesItsTypes() throws {
        let t: Octet.Tensor = try Octet.Tensor([Float(1)], shape: .scalar)
        #expect(t.shape.elementCount == 1)
        #expect(Octet.BackendRegistry.builtIn().backend(named: "packed") != nil)
    }

    static func options(cpu: CPUFeatures = CPUFeatures.host, rules: RuleSet? = nil, optimize: Bool = true) throws -> SessionOptions {
        SessionOptions(threads: 1, cpu: cpu, registry: BackendRegistry.builtIn(), rules: try rules ?? RuleSet.builtIn(), optimize: optimize)
    }

    static func digitsModel() throws -> (graph: Graph, calibration: CalibrationData, test: [[String: Tensor]], labels: [Int]) {
        let model = try ONNXModel.load(contentsOf: digits.appendingPathComponent("digits_cnn.onnx").path)
        let calibration = try CalibrationData.load(digits.appendingPathComponent("calibration.npz").path, for: model.graph.inputs)
        let arrays = try NumPyFiles.readArchive(at: digits.appendingPathComponent("test.npz").path)
        let labels = try #require(arrays.first { $0.name == "labels" }?.tensor)
        let truth = try labels.scalars(as: Int64.self).map(Int.init)
        let test = try CalibrationData.split(arrays.filter { $0.name != "labels" }, model.graph.inputs, file: "test.npz")
        return (model.graph, calibration, test, truth)
    }

    static func top1(_ graph: Graph, _ samples: [[String: Tensor]], _ labels: [Int]) throws -> Double {
        let session = try Session(graph: graph, options: options())
        var right = 0
        for (sample, label) in zip(samples, labels) {
            let logits = try #require(try session.run(sample)[graph.outputs[0].name]).scalars(as: Float.self)
            if logits.indices.max(by: { logits[$0] < logits[$1] }) == label { right += 1 }
        }
        return 100 * Double(right) / Double(samples.count)
    }

    @Test(arguments: [CalibrationMethod.minMax, .entropy])
    func bundledModelKeepsItsAccuracy(method: CalibrationMethod) throws {
        let m = try Self.digitsModel()
        #expect(m.test.count >= 500)
        let quantizer = Quantizer(config: QuantizationConfig(global: QuantizationSetting(method: method)))
        let q = try quantizer.quantize(m.graph, data: m.calibration, options: Self.options())
        #expect(q.quantizedNodes.count == 5)
        let fp32 = try Self.top1(m.graph, m.test, m.labels), int8 = try Self.top1(q.graph, m.test, m.labels)
        #expect(fp32 > 95, "the bundled FP32 model should be accurate: \(fp32)%")
        #expect(abs(fp32 - int8) <= 0.5, "\(method): FP32 \(fp32)% vs INT8 \(int8)%")
        // The plan runs INT8 kernels, not the QDQ reference ops.
        let session = try Session(graph: q.graph, options: Self.options())
        let trace = try session.trace(inputShapes: m.test[0].mapValues(\.shape)).trace
        #expect(trace.ops.filter(\.signature.kind.isMatrixProduct).count == 5)
        // Where the planner chose 7 bits, the graph input is clipped to the 7-bit range in f32
        // before its QuantizeLinear; every other op runs on u8 codes.
        let onCodes = trace.ops.filter { $0.signature.label?.hasSuffix("_Clip7bit") != true }
        #expect(onCodes.allSatisfy { $0.signature.precision == .int8 && $0.signature.inputType == .u8 }, "\(trace.ops.map(\.signature))")
    }

    /// The INT8 plan against the same QDQ graph evaluated in floating point (reference
    /// Quantize/DequantizeLinear, FP32 matrix products, no fusion): within one step of
    /// each quantized edge, and within a step of the output's range.
    @Test func int8PlanMatchesTheQDQGraphInFloat() throws {
        let m = try Self.digitsModel()
        let q = try Quantizer().quantize(m.graph, data: m.calibration, options: Self.options())
        let exported = try ONNXModel(graph: q.graph).serialized()
        let reloaded = try ONNXModel(serialized: exported, path: "digits_int8.onnx")
        let int8 = try Session(graph: reloaded.graph, options: Self.options())
        let float = try Session(graph: reloaded.graph, options: Self.options(optimize: false))
        var worstSteps = 0.0
        for sample in m.test.prefix(100) {
            let a = try #require(try int8.run(sample)["logits"]).scalars(as: Float.self)
            let b = try #require(try float.run(sample)["logits"]).scalars(as: Float.self)
            let step = Double((b.max() ?? 0) - (b.min() ?? 0)) / 255
            worstSteps = max(worstSteps, zip(a, b).map { Double(abs($0 - $1)) / step }.max() ?? 0)
        }
        #expect(worstSteps <= 1, "INT8 differs from the QDQ float evaluation by \(worstSteps) output steps")
    }

    @Test func dynamicTransformerStaysClose() throws {
        let model = try ONNXModel.load(contentsOf: Self.nets.appendingPathComponent("bert_tiny.onnx").path)
        let inputs = Dictionary(uniqueKeysWithValues: try NumPyFiles.readArchive(at: Self.nets.appendingPathComponent("bert_tiny.inputs.npz").path).map { ($0.name, $0.tensor) })
        let q = try DynamicQuantizer().quantize(model.graph)
        #expect(q.quantizedNodes.count >= 12)
        #expect(q.graph.nodes.contains { $0.opType == "MatMulInteger" } && q.graph.nodes.contains { $0.opType == "DynamicQuantizeLinear" })
        let reloaded = try ONNXModel(serialized: try ONNXModel(graph: q.graph).serialized(), path: "bert_dynamic.onnx")
        let fp32 = try Session(graph: model.graph, options: Self.options()).run(inputs)
        let session = try Session(graph: reloaded.graph, options: Self.options())
        let dyn = try session.run(inputs)
        for name in ["hidden", "pooled"] {
            let a = try #require(fp32[name]).scalars(as: Float.self), b = try #require(dyn[name]).scalars(as: Float.self)
            let dot = zip(a, b).map { Double($0) * Double($1) }.reduce(0, +)
            let cos = dot / (a.map { Double($0 * $0) }.reduce(0, +).squareRoot() * b.map { Double($0 * $0) }.reduce(0, +).squareRoot())
            #expect(cos >= 0.99, "\(name): cosine \(cos)")
        }
        // Loaded back into the dynamic INT8 plan, not the integer reference ops.
        let trace = try session.trace(inputShapes: inputs.mapValues(\.shape)).trace
        #expect(trace.ops.filter { $0.signature.quantization?.dynamic == true }.count == q.quantizedNodes.count)
    }

    @Test func fp16WeightsLoadIntoTheFP16Plan() throws {
        let m = try Self.digitsModel()
        let q = try FP16Converter().convert(m.graph)
        let reloaded = try ONNXModel(serialized: try ONNXModel(graph: q.graph).serialized(), path: "digits_fp16.onnx")
        #expect(reloaded.graph.initializers.values.filter { $0.dtype == .f16 }.count == 5)
        let session = try Session(graph: reloaded.graph, options: Self.options())
        let trace = try session.trace(inputShapes: m.test[0].mapValues(\.shape)).trace
        #expect(trace.ops.filter(\.signature.kind.isMatrixProduct).allSatisfy { $0.signature.precision == .fp16 && $0.backend == "fp16" }, "\(trace.ops.map { "\($0.signature) on \($0.backend ?? "-")" })")
        let fp32 = try Session(graph: m.graph, options: Self.options())
        for sample in m.test.prefix(20) {
            let a = try #require(try fp32.run(sample)["logits"]).scalars(as: Float.self)
            let b = try #require(try session.run(sample)["logits"]).scalars(as: Float.self)
            let scale = a.map(abs).max() ?? 1
            #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 2e-3 * scale })
        }
    }

    /// On a CPU without VNNI, a rules file that sends INT8 convolutions to oneDNN makes
    /// those nodes 7-bit (oneDNN saturates there); with the default rules packed runs them,
    /// 7-bit where its faster kernel needs it (AVX2), 8-bit where it gains nothing.
    @Test func saturationPolicyAsksThePlanner() throws {
        let m = try Self.digitsModel()
        let avx2 = try CPUFeatures.assumed("zen3")
        let rules = try RuleSetParser.parse(Data("""
        { "schema_version": 1, "fallback": { "int8": ["qnnpack-ref"], "fp32": ["fp32-ref"], "fp16": ["fp32-ref"] },
          "rules": [ { "id": "conv-on-onednn", "ops": ["conv2d"], "precision": ["int8"], "backend": "onednn", "why": "test" } ] }
        """.utf8), source: "test-rules.json")
        let quantizer = Quantizer()
        let prepared = try quantizer.prepare(m.graph)
        let observers = try quantizer.calibrate(prepared, data: m.calibration, options: Self.options())
        let sevenBit = try quantizer.convert(prepared, observers: observers, options: Self.options(cpu: avx2, rules: rules), sample: m.test[0])
        let convs = sevenBit.decisions.filter { $0.node.hasSuffix("Conv") }
        #expect(convs.count == 3 && convs.allSatisfy { $0.reduceRange && $0.backend == "onednn" }, "\(sevenBit.decisions)")
        let gemms = sevenBit.decisions.filter { $0.node.hasSuffix("Gemm") }
        #expect(gemms.allSatisfy { !$0.reduceRange })
        // The convolutions' inputs are quantized to 0...127.
        let inputs = prepared.targets.filter { $0.opType == "Conv" }.map(\.input)
        #expect(inputs.allSatisfy { sevenBit.activationParameters[$0]?.qmax == 127 })
        // Default rules on AVX2 without VNNI: packed runs every node, faster on its 7-bit
        // (vpmaddubsw) kernel, so every node gets 7 bits, and the reason names both kernels.
        let packed7 = try quantizer.convert(prepared, observers: observers, options: Self.options(cpu: avx2), sample: m.test[0])
        #expect(!packed7.decisions.isEmpty && packed7.decisions.allSatisfy {
            $0.reduceRange && $0.backend == "packed" && $0.reason.contains("u7s8s32") && $0.reason.contains("u8s8s32")
        }, "\(packed7.decisions)")
        #expect(inputs.allSatisfy { packed7.activationParameters[$0]?.qmax == 127 })
        // Without AVX2, packed's portable kernel is as fast with 8 bits: full range is kept.
        let portable = try CPUFeatures.assumed("zen3,-avx2")
        let full = try quantizer.convert(prepared, observers: observers, options: Self.options(cpu: portable), sample: m.test[0])
        #expect(full.decisions.allSatisfy { !$0.reduceRange && $0.backend == "packed" }, "\(full.decisions)")
        #expect(inputs.allSatisfy { full.activationParameters[$0]?.qmax == 255 })
        // A configured `off` wins over the planner.
        var forced = Quantizer(config: QuantizationConfig(global: QuantizationSetting(reduceRange: .off)))
        forced.config.opTypes["Conv"] = QuantizationSetting(reduceRange: .off)
        let off = try forced.convert(try forced.prepare(m.graph), observers: observers, options: Self.options(cpu: avx2, rules: rules), sample: m.test[0])
        #expect(off.decisions.allSatisfy { !$0.reduceRange })
    }

    @Test func configFileResolvesNodeOverOpTypeOverGlobal() throws {
        let config = try QuantizationConfig.parse(Data("""
        { "global": { "method": "entropy" }, "op_types": { "Gemm": { "method": "minmax", "per_channel": false } },
          "nodes": { "fc2": { "method": "percentile", "percentile": 99.9 } }, "skip": ["conv1"] }
        """.utf8))
        #expect(config.setting(node: "conv0", opType: "Conv").method == .entropy)
        let fc1 = config.setting(node: "fc1", opType: "Gemm")
        #expect(fc1.method == .minMax && fc1.percentile == 99.99 && !fc1.perChannelWeights && fc1.reduceRange == .auto)
        #expect(config.setting(node: "fc2", opType: "Gemm").method == .percentile && config.setting(node: "fc2", opType: "Gemm").percentile == 99.9)
        #expect(config.skip == ["conv1"])
        let m = try Self.digitsModel()
        let skipped = try Quantizer(config: QuantizationConfig(skip: ["/features/features.0/Conv"])).prepare(m.graph)
        #expect(skipped.targets.count == 4 && !skipped.targets.contains { $0.node == "/features/features.0/Conv" })
    }

    @Test(arguments: [
        (#"{"global": {"methd": "minmax"}}"#, "global.methd"),
        (#"{"global": {"method": "kl"}}"#, "global.method"),
        (#"{"op_types": {"Conv": {"per_channel": "yes"}}}"#, "op_types.Conv.per_channel"),
        (#"{"skip": "conv1"}"#, "skip"),
        (#"{"nodes": []}"#, "nodes"),
        (#"{"globals": {}}"#, "globals"),
        ("{not json", "(file)"),
    ])
    func badConfigNamesTheField(json: String, field: String) {
        do {
            _ = try QuantizationConfig.parse(Data(json.utf8), file: "q.json")
            Issue.record("accepted \(json)")
        } catch let e as QuantizationConfigError {
            #expect(e.field == field && e.file == "q.json", "\(e)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func calibrationDataIsChecked() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-calibration-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = Graph.Port(name: "input", type: ValueType(.f32, SymbolicShape([.symbol("batch"), .fixed(1), .fixed(8), .fixed(8)])))
        func write(_ name: String, _ arrays: [(String, Tensor)]) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try NumPyFiles.writeArchive(arrays.map { (name: $0.0, tensor: $0.1) }, to: path)
            return path
        }
        var values = [Float](repeating: 0.5, count: 3 * 64)
        let good = try write("good.npz", [("input", try Tensor(values, shape: TensorShape([3, 1, 1, 8, 8])))])
        #expect(try CalibrationData.load(good, for: [port]).samples.count == 3)
        let wrongName = try write("name.npz", [("image", try Tensor(values, shape: TensorShape([3, 1, 1, 8, 8])))])
        #expect { try CalibrationData.load(wrongName, for: [port]) } throws: { "\($0)".contains("image") && "\($0)".contains("input") }
        let wrongShape = try write("shape.npz", [("input", try Tensor(values, shape: TensorShape([3, 1, 8, 8, 1])))])
        #expect { try CalibrationData.load(wrongShape, for: [port]) } throws: { "\($0)".contains("input") && "\($0)".contains("8x8x1") }
        values[64 + 5] = .nan
        let nan = try write("nan.npz", [("input", try Tensor(values, shape: TensorShape([3, 1, 1, 8, 8])))])
        #expect { try CalibrationData.load(nan, for: [port]) } throws: { e in
            guard case let .nonFinite(_, name, sample) = e as? CalibrationError else { return false }
            return name == "input" && sample == 1
        }
        // A tiny file declaring 2^40 empty samples: refused before any sample is made.
        let empty = Graph.Port(name: "input", type: ValueType(.f32, SymbolicShape([.symbol("batch"), .fixed(0)])))
        let many = try write("many.npz", [("input", try Tensor(zeros: .f32, shape: TensorShape([1 << 40, 1, 0])))])
        #expect { try CalibrationData.load(many, for: [empty]) } throws: { e in
            "\(e)".contains("many.npz") && "\(e)".contains("1099511627776 samples") && "\(e)".contains("at most \(CalibrationData.maximumSamples)")
        }
    }

    @Test func reportRanksNodesWorstFirstAndAgreesWithAnIndependentSQNR() throws {
        let m = try Self.digitsModel()
        let quantizer = Quantizer(config: QuantizationConfig(global: QuantizationSetting(method: .entropy)))
        let prepared = try quantizer.prepare(m.graph)
        let observers = try quantizer.calibrate(prepared, data: m.calibration, options: Self.options())
        let q = try quantizer.convert(prepared, observers: observers, options: Self.options(), sample: m.test[0])
        let report = try AccuracyReport.measure(fp32: prepared.graph, quantized: q, targets: prepared.targets, samples: Array(m.test.prefix(40)), options: Self.options())
        #expect(report.nodes.count == 5)
        #expect(zip(report.nodes, report.nodes.dropFirst()).allSatisfy { $0.sqnr <= $1.sqnr })
        #expect(report.nodes.allSatisfy { $0.sqnr > 5 && $0.sqnr < 80 && $0.cosine > 0.9 && $0.cosine <= 1 })
        // SQNR recomputed here for the output from the two models' logits.
        let a = try Session(graph: m.graph, options: Self.options()), b = try Session(graph: q.graph, options: Self.options())
        var signal = 0.0, noise = 0.0
        for sample in m.test.prefix(40) {
            let x = try #require(try a.run(sample)["logits"]).scalars(as: Float.self), y = try #require(try b.run(sample)["logits"]).scalars(as: Float.self)
            for (u, v) in zip(x, y) { signal += Double(u * u); noise += Double((u - v) * (u - v)) }
        }
        let outputSQNR = try #require(report.outputs.first).sqnr
        #expect(abs(outputSQNR - 10 * log10(signal / noise)) < 0.01)
    }
}

/// The quantizer rounds weights and biases with the runtime's one helper
/// (`AffineQuantization.quantizeDividing`): a NaN weight becomes the lowest code (it used to
/// trap converting NaN to an integer), and a bias beyond Int32 saturates (it used to become 0).
@Suite struct QuantizerRoundingTests {
    @Test func nanWeightAndHugeBiasAreCodesNotTraps() throws {
        var m = try QuantizationWorkflowTests.digitsModel()
        // The classifier: a NaN there reaches no observed edge (earlier, calibration would see it).
        let conv = try #require(m.graph.nodes.last { ["Conv", "Gemm"].contains($0.opType) && $0.inputs.count == 3 })
        let (wName, bName) = (conv.inputs[1], conv.inputs[2])
        var w = try #require(m.graph.initializers[wName]).scalars(as: Float.self)
        var b = try #require(m.graph.initializers[bName]).scalars(as: Float.self)
        w[0] = .nan
        b[0] = 3e38
        m.graph.initializers[wName] = try Tensor(w, shape: try #require(m.graph.initializers[wName]).shape)
        m.graph.initializers[bName] = try Tensor(b, shape: try #require(m.graph.initializers[bName]).shape)
        let q = try Quantizer(config: QuantizationConfig()).quantize(m.graph, data: m.calibration, options: QuantizationWorkflowTests.options())
        let wq = try #require(q.graph.initializers.first { $0.key.hasPrefix(wName + "_quantized") }?.value)
        #expect(try wq.scalars(as: Int8.self)[0] == -128)
        let bq = try #require(q.graph.initializers.first { $0.key.hasPrefix(bName + "_quantized") }?.value)
        #expect(try bq.scalars(as: Int32.self)[0] == Int32.max)
    }
}
