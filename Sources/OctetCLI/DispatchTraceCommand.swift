import ArgumentParser
import Octet

struct DispatchTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch-trace",
        abstract: "Show which backend would run one op, every rule tried, and why.",
        discussion: """
        Examples:
          octet dispatch-trace --op conv2d --input 1x64x56x56 --weight 64x64x3x3 --stride 1 --pad 1 --groups 1 --dtype u8s8
          octet dispatch-trace --op linear --m 1 --k 768 --n 3072 --cpu sapphire-rapids
        """
    )

    @Option(help: "Op kind: conv2d, conv_transpose2d, linear, matmul.")
    var op: String

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

    func run() throws {
        let signature = try makeSignature()
        let cpu = try target.resolve()
        let selector = BackendSelector(rules: try rules.load(), registry: try backends.registry())
        let trace = selector.trace([signature], cpu: cpu)
        emit(json ? try trace.json() : trace.text)
    }

    func makeSignature() throws -> OpSignature {
        let traced: [OpKind] = [.conv2d, .convTranspose2d, .linear, .matmul]
        guard let kind = OpKind(rawValue: op), traced.contains(kind) else {
            throw ValidationError("--op: unknown op '\(op)'; expected one of \(traced.map(\.rawValue).joined(separator: ", "))")
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
