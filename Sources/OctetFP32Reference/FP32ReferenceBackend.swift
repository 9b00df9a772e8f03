import OctetCore
import OctetCPU
import OctetDispatch

/// The `fp32-ref` backend: FP32 convolution (groups, dilations, transposed), linear and
/// batched matmul in plain Swift, on any CPU. It is the FP32 fallback when oneDNN is not
/// registered or declines an op, and an independent check on it.
public struct FP32ReferenceBackend: Backend {
    public init() {}

    public var name: String { "fp32-ref" }
    public var version: String { "1" }
    public var summary: String { "plain Swift FP32: conv2d, conv_transpose2d, linear, matmul (any CPU; the FP32 fallback)" }
    public var requirements: BackendRequirements { BackendRequirements(notes: "portable Swift, no ISA requirement") }

    public func capability(for s: OpSignature, on cpu: CPUFeatures) -> Capability {
        if s.activationLayout != .rowMajor { return .declined(reason: "needs row-major (NCHW) activations, got \(s.activationLayout)") }
        if let reason = decline(s) { return .declined(reason: reason) }
        return .supported(kernel: s.kind.isConvolution ? "swift im2col + blocked gemm" : "swift blocked gemm", notes: ["fp32"])
    }

    public func prepare(_ s: OpSignature, constants: OpConstants, context: PrepareContext) throws -> any Kernel {
        if let reason = decline(s) { throw FP32ReferenceError.unsupported(reason) }
        if s.kind.isConvolution, s.input.rank == 4, s.weight.rank == 4, let (oh, ow) = s.outputSpatial {
            // im2col: a row of channels-per-group · kh · kw values per output pixel (per input
            // pixel for a transposed convolution, whose columns are output channels · taps).
            let (pixels, k) = s.kind == .convTranspose2d ? (s.input[2] * s.input[3], s.weight[1] * s.weight[2] * s.weight[3])
                                                         : (oh * ow, s.weight[1] * s.weight[2] * s.weight[3])
            try context.reserve(pixels, k, of: 4, for: "the im2col columns of \(s.kind) (\(pixels) pixels x \(k))")
        }
        return try FP32ReferenceKernel(s, constants: constants)
    }

    private func decline(_ s: OpSignature) -> String? {
        guard s.kind.isMatrixProduct else { return "runs matrix products only (conv2d, conv_transpose2d, linear, matmul), not \(s.kind)" }
        guard s.precision == .fp32, s.inputType == .f32, s.weightType == .f32, s.outputType == .f32 else {
            return "fp32 only (f32 operands), got \(s.precision) \(s.inputType)/\(s.weightType)→\(s.outputType)"
        }
        do { try s.validate() } catch { return "invalid signature: \(error)" }
        return nil
    }
}

/// Why the fp32-ref backend could not prepare or run an op.
public enum FP32ReferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupported(String)
    case operand(String)

    public var description: String {
        switch self {
        case let .unsupported(s), let .operand(s): "fp32-ref: \(s)"
        }
    }
}
