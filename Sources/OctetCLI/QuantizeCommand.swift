import ArgumentParser
import Foundation
import Octet
import Synchronization

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize an FP32 ONNX model (static INT8 with calibration, dynamic INT8, or FP16 weights), written as ONNX.",
        discussion: """
        Example (the model that ships with Octet):
          octet quantize Models/digits/digits_cnn.onnx -o digits_int8.onnx --calibration Models/digits/calibration.npz \\
            --eval Models/digits/test.npz --report
        """)

    @Argument(help: ArgumentHelp("The FP32 ONNX model.", valueName: "MODEL")) var model: String
    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the quantized model.", valueName: "OUT.onnx")) var output: String
    @Option(help: "static (INT8, calibrated activations, QDQ), dynamic (INT8 weights, activations quantized per call), fp16 (binary16 weights).")
    var mode: String = "static"
    @Option(help: ArgumentHelp("Calibration data: a .npz keyed by input name with a leading sample axis, a folder of them, or one .npy for a single-input model.", valueName: "PATH"))
    var calibration: String?
    @Option(help: "Range selection: \(CalibrationMethod.allCases.map(\.rawValue).joined(separator: ", ")).") var method: String?
    @Option(parsing: .unconditional, help: "Percentile for --method percentile, in (50, 100].") var percentile: Double?
    @Flag(name: .customLong("per-tensor"), help: "One weight scale per tensor (default: per output channel).") var perTensor = false
    @Option(name: .customLong("activations"), help: ArgumentHelp("Dynamic mode: one activation scale per token (row) or per tensor, per call. per-token is written as the per-tensor ONNX form plus the metadata entry octet.dynamic_activations (ONNX Runtime runs it per tensor).", valueName: "per-token|per-tensor"))
    var activations: String = DynamicActivations.perToken.rawValue
    @Option(name: .customLong("reduce-range"), help: "7-bit activations: auto (the planned backend decides, per node), on, off.")
    var reduceRange: String?
    @Option(help: ArgumentHelp("Settings per op type and node, and a skip list (JSON; see the README).", valueName: "FILE.json")) var config: String?
    @Option(name: .customLong("skip"), help: ArgumentHelp("Leave this node in FP32 (repeatable).", valueName: "NODE")) var skip: [String] = []
    @Flag(help: "Per quantized node: SQNR and cosine similarity against FP32 on held-out calibration samples, worst first.") var report = false
    @Option(name: .customLong("keep-fp32"), help: ArgumentHelp("Leave nodes in FP32: N (the N worst in the report) or auto (the fewest, by measured sensitivity, to reach --target-cosine); prints the gain.", valueName: "N|auto"))
    var keepFP32: String = "0"
    @Option(name: .customLong("target-cosine"), parsing: .unconditional, help: ArgumentHelp("With --keep-fp32 auto: the lowest per-sample output cosine to FP32 to reach on the held-out samples, in (0, 1].", valueName: "C"))
    var targetCosine: Double = 0.99
    @Option(name: .customLong("smooth"), parsing: .unconditional, help: ArgumentHelp("SmoothQuant (Xiao et al. 2023): migrate activation outliers into the weights with strength α in [0, 1] before calibration (static mode; folded into the LayerNorm before, or a Mul); 'default' is \(SmoothQuant.defaultAlpha), measured best on a pretrained sentence encoder.", valueName: "α|default"))
    var smoothText: String?
    @Flag(name: .customLong("float-outputs"), help: "Static: a quantized node whose result only float ops read (attention, GELU, LayerNorm, residual Adds) writes f32 from its kernel instead of u8.")
    var floatOutputs = false
    @Option(help: ArgumentHelp("Held-out data (.npz with the inputs and `labels`): print FP32 and quantized top-1 accuracy and latency.", valueName: "FILE.npz"))
    var eval: String?
    @Flag(help: "Print the dispatch trace of the quantized model.") var trace = false
    @Option(parsing: .unconditional, help: "Threads per kernel call: 1 to \(SessionOptions.maximumThreads).") var threads: Int = 1
    @OptionGroup var target: TargetCPUOptions
    @OptionGroup var backends: BackendOptions

    func run() throws {
        var cfg = try config.map { try QuantizationConfig.load(contentsOf: $0) } ?? QuantizationConfig()
        if let method {
            guard let m = CalibrationMethod(rawValue: method) else {
                throw ValidationError("--method: unknown '\(method)'; expected one of \(CalibrationMethod.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            cfg.global.method = m
        }
        if let percentile {
            // The same range as the config file's "percentile" (the lower tail is 100 - P).
            guard percentile > 50, percentile <= 100 else { throw ValidationError("--percentile must be in (50, 100], got \(percentile)") }
            cfg.global.percentile = percentile
        }
        if perTensor { cfg.global.perChannelWeights = false }
        if let reduceRange {
            guard let p = ReduceRangePolicy(rawValue: reduceRange) else { throw ValidationError("--reduce-range: expected auto, on or off, got '\(reduceRange)'") }
            cfg.global.reduceRange = p
        }
        cfg.skip.formUnion(skip)
        if floatOutputs { cfg.floatOutputs = true }
        let keep = try keepPolicy()
        let smooth = try smoothAlpha()
        if smooth != nil, mode != "static" { throw ValidationError("--smooth applies to --mode static") }
        let fp32 = try ONNXModel.load(contentsOf: model)
        let options = SessionOptions(threads: threads, cpu: try target.resolve(), registry: try backends.registry(), rules: try RuleSet.builtIn())
        let result: QuantizedModel
        switch mode {
        case "static":
            guard let calibration else { throw ValidationError("--mode static needs --calibration PATH (or use --mode dynamic, which needs none)") }
            result = try quantizeStatic(fp32.graph, calibration: calibration, config: cfg, keep: keep, smooth: smooth, options: options)
        case "dynamic":
            guard let granularity = DynamicActivations(rawValue: activations) else {
                throw ValidationError("--activations: expected per-token or per-tensor, got '\(activations)'")
            }
            result = try DynamicQuantizer(config: cfg, activations: granularity).quantize(fp32.graph)
            emit("dynamic: \(result.quantizedNodes.count) MatMul/Gemm nodes with s8 weights (\(cfg.global.perChannelWeights ?? true ? "per channel" : "per tensor")), activations quantized per call, \(granularity.rawValue)")
        case "fp16":
            result = try FP16Converter(config: cfg).convert(fp32.graph)
            emit("fp16: \(result.quantizedNodes.count) weights stored in binary16")
        default:
            throw ValidationError("--mode: expected static, dynamic or fp16, got '\(mode)'")
        }
        var out = fp32
        out.graph = result.graph
        out.producer = "octet \(octetVersion)"
        out.path = output
        try out.write(to: output)
        emit("wrote \(output)")
        if trace {
            // Concrete shapes for the plan: the first calibration sample's, else the declared ones with
            // symbolic dimensions at 1.
            var shapes: [String: TensorShape] = [:]
            if let calibration, mode == "static", let first = try CalibrationData.load(calibration, for: fp32.graph.inputs).samples.first {
                shapes = first.mapValues(\.shape)
            } else {
                for p in fp32.graph.inputs {
                    let dims = p.type?.shape?.dims.map { $0.value ?? 1 } ?? []
                    shapes[p.name] = try TensorShape(dims)
                }
            }
            emit("dispatch trace for input shapes " + shapes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
            try printTrace(try Session(graph: result.graph, options: options), shapes: shapes)
        }
        if let eval { try evaluate(fp32: fp32.graph, quantized: result.graph, file: eval, options: options) }
    }

    /// `--keep-fp32` and `--target-cosine` as a policy.
    func keepPolicy() throws -> AccuracyOptions.KeepFP32 {
        if keepFP32 == "auto" {
            guard targetCosine > 0, targetCosine <= 1 else { throw ValidationError("--target-cosine must be in (0, 1], got \(targetCosine)") }
            return .auto(targetCosine: targetCosine)
        }
        guard let n = Int(keepFP32), n >= 0 else { throw ValidationError("--keep-fp32: expected a count ≥ 0 or auto, got '\(keepFP32)'") }
        return n == 0 ? .none : .worst(n)
    }

    /// `--smooth` as α: a number in [0, 1] or `default`.
    func smoothAlpha() throws -> Float? {
        guard let smoothText else { return nil }
        if smoothText == "default" { return SmoothQuant.defaultAlpha }
        guard let a = Float(smoothText), a.isFinite, a >= 0, a <= 1 else {
            throw ValidationError("--smooth: α must be in [0, 1] (or 'default'), got '\(smoothText)'")
        }
        return a
    }

    func quantizeStatic(_ graph: Graph, calibration: String, config: QuantizationConfig, keep: AccuracyOptions.KeepFP32, smooth: Float?,
                        options: SessionOptions) throws -> QuantizedModel {
        let all = try CalibrationData.load(calibration, for: graph.inputs)
        let accuracy = AccuracyOptions(keepFP32: keep, smoothAlpha: smooth, report: report)
        if accuracy.report || keep != .none, all.samples.count < 2 {
            throw ValidationError("--report and --keep-fp32 need at least 2 calibration samples (the last fifth is held out)")
        }
        let bar = ProgressReporter(label: "calibrating (\(config.global.method ?? .minMax))")
        let r = try Quantizer(config: config).quantize(graph, data: all, accuracy: accuracy, options: options, progress: { done, total in bar.update(done, total) })
        bar.finish()
        if let smooth {
            let folded = r.smoothed.filter(\.folded).count
            emit(String(format: "smoothquant α=%.2f: %d activations smoothed (%d folded into LayerNorm, %d through a Mul)", smooth, r.smoothed.count, folded, r.smoothed.count - folded))
        }
        emit("static: quantized \(r.model.quantizedNodes.count) nodes, \(Set(r.model.activationParameters.values).count) activation ranges (\(config.global.method ?? .minMax)), weights \(config.global.perChannelWeights ?? true ? "per channel" : "per tensor")")
        for d in r.model.decisions { emit("  \(d)") }
        if let report = r.report { emit(report.text()) }
        if !r.sensitivity.isEmpty, report || keep != .none {
            emit(SensitivityAnalysis.text(r.sensitivity, cumulative: r.report, samples: r.heldOut, limit: report ? 40 : 10))
        }
        if keep != .none, let before = r.before, let after = r.after {
            if case let .auto(target) = keep {
                emit(String(format: "keep-fp32 auto (target min cosine %.4f): %d of %d nodes kept in FP32 after %d measured models%@",
                            target, r.kept.count, r.model.quantizedNodes.count + r.kept.count, r.evaluations, r.reached == false ? " (target not reached)" : ""))
            }
            emit("kept in FP32: \(r.kept.isEmpty ? "none" : r.kept.joined(separator: ", "))")
            emit(String(format: "  outputs on %d held-out samples: min cosine %.5f → %.5f, mean %.5f → %.5f, SQNR %.2f → %.2f dB",
                        r.heldOut, before.minCosine, after.minCosine, before.meanCosine, after.meanCosine, before.sqnr, after.sqnr))
            var cost = String(format: "  speed cost: %.1f%% of the quantized MACs run in FP32", 100 * r.keptMACShare)
            if let l = r.latency {
                cost += String(format: "; latency (one sample, median of 9) %.3f ms all INT8 → %.3f ms (%+.1f%%)", l.allINT8, l.withKept, 100 * (l.withKept / l.allINT8 - 1))
            }
            emit(cost)
        } else if report, let before = r.before {
            emit(String(format: "  outputs on %d held-out samples: min cosine %.5f, mean %.5f, SQNR %.2f dB", r.heldOut, before.minCosine, before.meanCosine, before.sqnr))
        }
        return r.model
    }

    /// Top-1 accuracy and latency of both models on held-out data.
    func evaluate(fp32: Graph, quantized: Graph, file: String, options: SessionOptions) throws {
        let arrays = try NumPyFiles.readArchive(at: file)
        guard let labels = arrays.first(where: { $0.name == "labels" })?.tensor else { throw ValidationError("\(file): no 'labels' array") }
        let truth = labels.dtype == .s64 ? try labels.scalars(as: Int64.self).map(Int.init) : try labels.scalars(as: Int32.self).map(Int.init)
        let data = try CalibrationData.split(arrays.filter { $0.name != "labels" }, fp32.inputs, file: file)
        guard data.count == truth.count else { throw ValidationError("\(file): \(data.count) samples but \(truth.count) labels") }
        let a = try Session(graph: fp32, options: options), b = try Session(graph: quantized, options: options)
        func top1(_ s: Session) throws -> Double {
            var right = 0
            for (i, sample) in data.enumerated() {
                guard let logits = try s.run(sample)[s.graph.outputs[0].name] else { continue }
                let v = try logits.scalars(as: Float.self)
                if let best = v.indices.max(by: { v[$0] < v[$1] }), best == truth[i] { right += 1 }
            }
            return 100 * Double(right) / Double(max(data.count, 1))
        }
        let (accA, accB) = (try top1(a), try top1(b))
        emit(String(format: "top-1 on %d held-out samples: FP32 %.2f%%, %@ %.2f%% (%+.2f points)", data.count, accA, mode.uppercased(), accB, accB - accA))
        // Latency on one sample, interleaved so that both see the same machine.
        guard let sample = data.first else { return }
        var ta: [Double] = [], tb: [Double] = []
        for _ in 0..<5 { _ = try a.run(sample); _ = try b.run(sample) }
        for _ in 0..<50 {
            var t = DispatchTime.now().uptimeNanoseconds
            _ = try a.run(sample)
            ta.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            t = DispatchTime.now().uptimeNanoseconds
            _ = try b.run(sample)
            tb.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        }
        let ma = ta.sorted()[ta.count / 2], mb = tb.sorted()[tb.count / 2]
        emit(String(format: "latency (one sample, median of 50, interleaved): FP32 %.3f ms, %@ %.3f ms (speed-up %.2fx)", ma, mode.uppercased(), mb, ma / mb))
    }
}

/// Progress on a terminal (count, rate, ETA, rewritten in place) or plain lines otherwise.
final class ProgressReporter: Sendable {
    private let label: String
    private let start = DispatchTime.now().uptimeNanoseconds
    private let terminal = isatty(2) != 0
    private let lastLine = Mutex(-1)

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let text = String(format: "%@: %d/%d samples, %.1f/s, ETA %.0f s", label, done, total, rate, eta)
        if terminal {
            FileHandle.standardError.write(Data("\r\(text)\u{1B}[K".utf8))
        } else {
            let decile = total > 0 ? done * 10 / total : 10
            let fresh = lastLine.withLock { last in
                defer { last = decile }
                return decile != last
            }
            if fresh || done == total { FileHandle.standardError.write(Data((text + "\n").utf8)) }
        }
    }

    func finish() { if terminal { FileHandle.standardError.write(Data("\n".utf8)) } }
}
