import COctetFP16Kernels
import OctetCore
import OctetCPU
import OctetDispatch

/// The `fp16` backend: weights stored as IEEE binary16 (half the bytes of f32),
/// activations and accumulation in f32. AVX2 + FMA + F16C micro-kernel (`vcvtph2ps` +
/// `vfmadd231ps`, 6x16 tiles) where the CPU has them, portable C elsewhere.
/// PyTorch's counterpart is FBGEMM's `PackedGemmMatrixFP16`.
public struct FP16Backend: Backend {
    public init() {}

    public var name: String { "fp16" }
    public var version: String { "1" }
    public var summary: String { "binary16 weights, f32 accumulation: linear, matmul with constant weights, conv2d via im2col" }
    public var requirements: BackendRequirements {
        BackendRequirements(notes: "uses AVX2 + FMA + F16C when present; portable C otherwise")
    }

    public func capability(for s: OpSignature, on cpu: CPUFeatures) -> Capability {
        if s.activationLayout != .rowMajor { return .declined(reason: "needs row-major (NCHW) activations, got \(s.activationLayout)") }
        guard s.precision == .fp16 else { return .declined(reason: "runs fp16-weight ops only; this op is \(s.precision)") }
        guard s.inputType == .f32, s.outputType == .f32 else {
            return .declined(reason: "needs f32 activations and output, got \(s.inputType) → \(s.outputType)")
        }
        guard s.weightType == .f16 || s.weightType == .f32 else {
            return .declined(reason: "weights must be f16 (or f32 to convert at prepare), got \(s.weightType)")
        }
        switch s.kind {
        case .linear, .conv2d:
            break
        case .matmul:
            if s.weight.rank > 2 && s.weight.dims.dropLast(2).reduce(1, *) != s.input.dims.dropLast(2).reduce(1, *) {
                return .declined(reason: "matmul weight batch \(s.weight) does not match the input batch \(s.input)")
            }
        case .convTranspose2d:
            return .declined(reason: "no fp16 kernel for conv_transpose2d")
        default:
            return .declined(reason: "runs matrix products only (linear, matmul, conv2d), not \(s.kind)")
        }
        do { try s.validate() } catch { return .declined(reason: "invalid signature: \(error)") }
        return .supported(kernel: FP16ISA.name(FP16ISA.planned(for: cpu)),
                          notes: ["weights in binary16 (round to nearest even), f32 accumulation"])
    }

    public func prepare(_ s: OpSignature, constants: OpConstants, context: PrepareContext) throws -> any Kernel {
        if case let .declined(reason) = capability(for: s, on: context.cpu) { throw FP16BackendError.unsupported(reason) }
        guard let weight = constants.weight else { throw FP16BackendError.missingWeight(s.kind) }
        guard weight.shape == s.weight else { throw FP16BackendError.weightShape(expected: s.weight, got: weight.shape) }
        let gemm = PanelGEMM(isa: FP16ISA.executable(in: context), threads: context.threads)
        let bias = try constants.bias.map { b throws -> [Float] in
            guard b.dtype == .f32 else { throw FP16BackendError.biasType(b.dtype) }
            return try b.scalars(as: Float.self)
        }
        let clamp = PostOp.realRange(of: s.postOps)
        let name = s.label ?? "\(s.kind) weight"
        switch s.kind {
        case .linear:
            return try LinearFP16Kernel(signature: s, weight: weight, bias: bias, clamp: clamp, gemm: gemm, tensorName: name)
        case .matmul:
            return try MatmulFP16Kernel(signature: s, weight: weight, bias: bias, clamp: clamp, gemm: gemm, tensorName: name)
        case .conv2d:
            return try ConvFP16Kernel(signature: s, weight: weight, bias: bias, clamp: clamp, gemm: gemm, tensorName: name)
        default:
            throw FP16BackendError.unsupported("no fp16 kernel for \(s.kind)")
        }
    }
}

/// Why the fp16 backend could not prepare or run an op.
public enum FP16BackendError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupported(String)
    case missingWeight(OpKind)
    case weightShape(expected: TensorShape, got: TensorShape)
    case biasType(DType)
    case biasCount(expected: Int, got: Int)
    case inputShape(expected: String, got: String)
    case outputShape(expected: [Int], got: TensorShape)

    public var description: String {
        switch self {
        case let .unsupported(r): "fp16 backend: \(r)"
        case let .missingWeight(k): "fp16 backend: \(k) needs a constant weight"
        case let .weightShape(e, g): "fp16 backend: weight has shape \(g), the signature says \(e)"
        case let .biasType(t): "fp16 backend: bias must be f32, got \(t)"
        case let .biasCount(e, g): "fp16 backend: bias has \(g) values, expected \(e)"
        case let .inputShape(e, g): "fp16 backend: input has shape \(g), expected \(e)"
        case let .outputShape(e, g): "fp16 backend: output has shape \(g), expected \(e.map(String.init).joined(separator: "x"))"
        }
    }
}

/// Text for a kernel's warnings about weights that fp16 cannot hold.
func conversionWarnings(_ result: FP16Conversion.Result, tensorName: String, total: Int) -> [String] {
    var out: [String] = []
    if result.overflowed > 0 {
        out.append("weight '\(tensorName)': \(result.overflowed) of \(total) values are beyond fp16's range (±65504) and became ±Inf")
    }
    if result.flushedToZero > 0 {
        out.append("weight '\(tensorName)': \(result.flushedToZero) of \(total) non-zero values are below fp16's smallest subnormal and became 0")
    }
    return out
}

/// "1x3x8x8 f32", or "no input", for error messages.
func describeInput(_ inputs: [Tensor]) -> String {
    inputs.first.map { "\($0.shape) \($0.dtype)" } ?? "no input"
}
