import ArgumentParser
import Octet

struct DispatchTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch-trace",
        abstract: "Show which backend would run each node of a model (or one op), every rule tried, and why.",
        discussion: """
        With a model, every node is traced from the planner's select and layout stages \
        alone: no kernel is prepared and no weight packed, so it is fast and works for a \
        CPU this machine is not (--cpu).

        Examples:
          octet dispatch-trace Models/digits_cnn_int8.onnx
          octet dispatch-trace model.onnx --cpu sapphire-rapids --shape input_ids=1x128 --json
          octet dispatch-trace --op conv2d --input 1x64x56x56 --weight 64x64x3x3 --stride 1 --pad 1 --groups 1 --dtype u8s8
          octet dispatch-trace --op linear --m 1 --k 768 --n 3072 --cpu sapphire-rapids
        """
    )

    @Argument(help: "An ONNX model: trace every node (plan only; nothing is packed).")
    var model: String?
    @Option(name: .customLong("shape"), help: ArgumentHelp("Size for a model input with symbolic dimensions: NAME=1x128. Unset symbolic dimensions are 1.", valueName: "NAME=DIMS"))
    var shapes: [String] = []
    @Flag(name: .customLong("no-optimize"), help: "Trace the model without the graph passes (folding, fusion).")
    var noOptimize = false

    @Option(help: "Op kind (without a model): conv2d, conv_transpose2d, linear, matmul.")
    var op: String?

    @Option(help: ArgumentHelp("Convolution input N x C x H x W, or linear/matmul activations [..., M, K].", valueName: "SHAPE"))
    var input: String?
    @Option(help: ArgumentHelp("Convolution weight OC x IC/groups x KH x KW (transposed: IC x OC/groups x KH x KW); linear N x K.", valueName: "SHAPE"))
    var weight: String?
    @Option(help: "Rows of the activation (linear, matmul).") var m: Int?
    @Option(help: "Inner dimension (linear, matmul).") var k: Int?
    @Option(help: "Output features (linear, matmul).") var n: Int?
    @Option(help: "Batch count (matmul).") var batch: Int = 1

    @Option(help: ArgumentHelp("Stride: S or SHxSW.", valueName: "S")) var stride: String = "1"
    @Option(help: ArgumentHelp("Padding: P, PHxPW, or top,left,bottom,right.", valueName: "P")) var pad: String = "0"
    @Option(help: ArgumentHelp("Dilation: D or DHxDW.", valueName: "D")) var dilation: String = "1"
    @Option(help: "Groups.") var groups: Int = 1
    @Option(name: .customLong("output-padding"), help: ArgumentHelp("Output padding of a transposed convolution: P or PHxPW.", valueName: "P"))
    var outputPadding: String = "0"

    @Option(help: "Operand types: \(OperandTypes.spellings.joined(separator: ", ")).") var dtype: String = "u8s8"
    @Option(name: .customLong("out-dtype"), help: "Output type (default: u8 for INT8, f32 otherwise).") var outDtype: String?
    @Flag(name: .customLong("per-tensor"), help: "One weight scale for the whole tensor (default: per output channel).") var perTensor = false
    @Option(name: .customLong("input-zero-point"), help: "Activation zero point.") var inputZeroPoint: Int32 = 0
    @Option(name: .customLong("weight-zero-point"), help: "Weight zero point; non-zero makes the weights asymmetric.") var weightZeroPoint: Int32 = 0
    @Flag(name: .customLong("reduce-range"), help: "7-bit activations (PyTorch's reduce_range).") var reduceRange = false
    @Flag(help: "Dynamic quantization (activations quantized per call).") var dynamic = false
    @Option(name: .customLong("post-op"), help: "Fused post-op: none, relu, relu6.") var postOp: String = "none"
    @Option(help: "A name for the op in the trace.") var label: String?

    @OptionGroup var target: TargetCPUOptions
    @OptionGroup var rules: RulesOptions
    @OptionGroup var backends: BackendOptions
    @Flag(help: "Print the trace as JSON.") var json = false

    func validate() throws {
        guard (model == nil) != (op == nil) else { throw ValidationError("give a model, or one op with --op (not both)") }
    }

    func run() throws {
        if let model { return try traceModel(model) }
        let signature = try makeSignature()
        let cpu = try target.resolve()
        let selector = BackendSelector(rules: try rules.load(), registry: try backends.registry())
        let trace = selector.trace([signature], cpu: cpu)
        emit(json ? try trace.json() : trace.text)
    }

    /// Every node of the model at `path`, from the select and layout stages.
    func traceModel(_ path: String) throws {
        let graph = try ONNXModel.load(contentsOf: path).graph
        var sizes: [String: TensorShape] = [:]
        for spec in shapes {
            guard let eq = spec.firstIndex(of: "=") else { throw ValidationError("--shape: expected NAME=DIMS, got '\(spec)'") }
            let name = String(spec[..<eq])
            guard graph.inputs.contains(where: { $0.name == name }) else {
                throw ValidationError("--shape: the model has no input '\(name)'; its inputs are \(graph.inputs.map(\.name).joined(separator: ", "))")
            }
            do { sizes[name] = try TensorShape(parsing: String(spec[spec.index(after: eq)...])) } catch { throw ValidationError("--shape \(name): \(error)") }
        }
        for p in graph.inputs where sizes[p.name] == nil {
            guard let symbolic = p.type?.shape else { throw ValidationError("input '\(p.name)' has no declared shape; give it with --shape \(p.name)=DIMS") }
            sizes[p.name] = try TensorShape(symbolic.dims.map { $0.value ?? 1 })
        }
        let options = SessionOptions(threads: 1, cpu: try target.resolve(), registry: try backends.registry(),
                                     rules: try rules.load(), optimize: !noOptimize)
        let clock = ContinuousClock()
        var trace: DispatchTrace?
        let elapsed = try clock.measure { trace = try Session.planTrace(graph: graph, options: options, inputShapes: sizes) }
        guard let trace else { return }
        if json { return emit(try trace.json()) }
        emit(trace.text)
        let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3
        emit("plan   \(String(format: "%.1f", ms)) ms: select and layout stages only (no kernel prepared, no weight packed)")
    }

    func makeSignature() throws -> OpSignature {
        let traced: [OpKind] = [.conv2d, .convTranspose2d, .linear, .matmul]
        guard let op, let kind = OpKind(rawValue: op), traced.contains(kind) else {
            throw ValidationError("--op: unknown op '\(op ?? "")'; expected one of \(traced.map(\.rawValue).joined(separator: ", "))")
        }
        guard let types = OperandTypes(parsing: dtype) else {
            throw ValidationError("--dtype: unknown '\(dtype)'; expected one of \(OperandTypes.spellings.joined(separator: ", "))")
        }
        var output: DType?
        if let outDtype {
            guard let t = DType(rawValue: outDtype) else {
                throw ValidationError("--out-dtype: unknown '\(outDtype)'; expected one of \(DType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            output = t
        }
        let scheme = QuantizationScheme(
            perChannelWeights: !perTensor, symmetricWeights: weightZeroPoint == 0, inputZeroPoint: inputZeroPoint,
            weightZeroPoint: weightZeroPoint, reduceRange: reduceRange, dynamic: dynamic)
        let post: [PostOp]
        switch postOp {
        case "none": post = []
        case "relu": post = [.relu]
        case "relu6": post = [.clip(min: 0, max: 6)]
        default: throw ValidationError("--post-op: unknown '\(postOp)'; expected none, relu or relu6")
        }

        let signature: OpSignature
        switch kind {
        case .conv2d, .convTranspose2d:
            guard let input, let weight else { throw ValidationError("--op \(op) needs --input and --weight shapes") }
            let s = try pairOption("--stride", stride), d = try pairOption("--dilation", dilation), o = try pairOption("--output-padding", outputPadding)
            let geometry = ConvolutionGeometry(stride: s, pads: try padsOption(pad), dilation: d, groups: groups, outputPadding: o)
            signature = .convolution(input: try shapeOption("--input", input), weight: try shapeOption("--weight", weight),
                                     geometry: geometry, transposed: kind == .convTranspose2d, types: types, output: output,
                                     quantization: scheme, postOps: post, label: label)
        case .linear, .matmul:
            let inputShape: TensorShape, weightShape: TensorShape
            if let m, let k, let n {
                guard m > 0, k > 0, n > 0, batch > 0 else { throw ValidationError("--m, --k, --n and --batch must be ≥ 1") }
                inputShape = try kind == .linear ? TensorShape([m, k]) : TensorShape([batch, m, k])
                weightShape = try kind == .linear ? TensorShape([n, k]) : TensorShape([batch, k, n])
            } else if let input, let weight {
                inputShape = try shapeOption("--input", input)
                weightShape = try shapeOption("--weight", weight)
            } else {
                throw ValidationError("--op \(op) needs --m, --k and --n (or --input and --weight shapes)")
            }
            // Dynamic quantization takes f32 activations and gives f32 (quantized per call inside).
            let dynamicInt8 = dynamic && types.precision == .int8
            signature = OpSignature(kind: kind, precision: types.precision, inputType: dynamicInt8 ? .f32 : types.input, weightType: types.weight,
                                    outputType: output ?? (dynamicInt8 ? .f32 : types.defaultOutput), input: inputShape, weight: weightShape,
                                    quantization: types.precision == .int8 ? scheme : nil, postOps: post, label: label)
        default:
            throw ValidationError("--op \(op) cannot be traced from the command line")
        }
        do {
            try signature.validate()
        } catch {
            throw ValidationError("\(op): \(error)")
        }
        return signature
    }

    private func shapeOption(_ flag: String, _ text: String) throws -> TensorShape {
        do { return try TensorShape(parsing: text) } catch { throw ValidationError("\(flag): \(error)") }
    }

    private func pairOption(_ flag: String, _ text: String) throws -> (Int, Int) {
        let parts = text.split(whereSeparator: { $0 == "x" || $0 == "," }).map { Int($0) }
        switch parts.count {
        case 1: if let a = parts[0] { return (a, a) }
        case 2: if let a = parts[0], let b = parts[1] { return (a, b) }
        default: break
        }
        throw ValidationError("\(flag): cannot read '\(text)'; expected N or NxM")
    }

    private func padsOption(_ text: String) throws -> (top: Int, left: Int, bottom: Int, right: Int) {
        let parts = text.split(whereSeparator: { $0 == "x" || $0 == "," }).map { Int($0) }
        if parts.count == 4, let t = parts[0], let l = parts[1], let b = parts[2], let r = parts[3] { return (t, l, b, r) }
        let (h, w) = try pairOption("--pad", text)
        return (h, w, h, w)
    }
}
