import OctetCore
import OctetCPU
import OctetDispatch

/// `qnnpack-ref`: every quantized op in plain, portable Swift, following QNNPACK's
/// semantics: u8 (or s8) activations with zero points; weights u8 asymmetric (QNNPACK)
/// or s8 symmetric per channel (PyTorch x86); convolution through an indirection buffer;
/// unary functions through 256-entry tables. It is small and obviously right: the oracle
/// every fast backend is tested against, and the backend of last resort. It runs on any
/// CPU, including AArch64.
public struct QNNPackReferenceBackend: Backend {
    /// How accumulators are requantized (traced in the kernel name).
    public let requantization: RequantizationStyle

    /// `requantization` defaults to `.float`, FBGEMM's arithmetic, so that the x86
    /// backends can be compared with it exactly.
    public init(requantization: RequantizationStyle = .float) {
        self.requantization = requantization
    }

    public var name: String { "qnnpack-ref" }
    public var version: String { "1" }
    public var summary: String { "portable Swift reference for every quantized op (the oracle); requant=\(requantization.rawValue)" }
    public var requirements: BackendRequirements { BackendRequirements(notes: "portable Swift; runs anywhere") }

    public func capability(for s: OpSignature, on cpu: CPUFeatures) -> Capability {
        if s.activationLayout != .rowMajor { return .declined(reason: "needs row-major (NCHW) activations, got \(s.activationLayout)") }
        guard s.precision == .int8 else { return .declined(reason: "runs int8 ops only; this op is \(s.precision)") }
        if s.quantization?.dynamic == true {
            guard s.kind == .linear || s.kind == .conv2d, s.inputType == .f32, s.outputType == .f32, s.weightType.isQuantized8Bit else {
                return .declined(reason: "dynamic quantization runs linear layers and 2-D convolutions with f32 input and output and 8-bit weights only, got \(s.kind) \(s.inputType)·\(s.weightType)→\(s.outputType)")
            }
            do { try s.validate() } catch { return .declined(reason: "invalid signature: \(error)") }
            if s.kind == .conv2d {
                if s.quantization?.perRowActivations == true || s.quantization?.reduceRange == true {
                    return .declined(reason: "a dynamic convolution quantizes its activation per tensor to full-range u8 (no per-token or 7-bit form)")
                }
                return .supported(kernel: "reference dynamic conv (ONNX DynamicQuantizeLinear)",
                                  notes: ["portable Swift oracle; activations quantized per call with ONNX's parameters, exact integer accumulation"])
            }
            return .supported(kernel: s.quantization?.perRowActivations == true ? "reference dynamic linear, per-token" : "reference dynamic linear",
                              notes: ["portable Swift oracle; activations quantized per call with PyTorch's parameters"])
        }
        guard s.inputType.isQuantized8Bit else { return .declined(reason: "needs u8 or s8 activations, got \(s.inputType)") }
        if PostOp.sum(in: s.postOps) != nil {
            guard s.kind == .conv2d, s.outputType.isQuantized8Bit, s.postOps.last.map({ PostOp.sum(in: [$0]) != nil }) == true else {
                return .declined(reason: "a fused residual sum (sum post-op) runs on conv2d with an 8-bit output only, as the last post-op")
            }
        }
        if s.kind.isMatrixProduct {
            guard s.weightType.isQuantized8Bit else { return .declined(reason: "needs u8 or s8 weights, got \(s.weightType)") }
            guard s.outputType.isQuantized8Bit || s.outputType == .f32 else { return .declined(reason: "output must be u8, s8 or f32, got \(s.outputType)") }
        } else {
            guard s.outputType.isQuantized8Bit else { return .declined(reason: "\(s.kind) output must be u8 or s8, got \(s.outputType)") }
            if !s.postOps.isEmpty && !(s.kind == .add || s.kind == .mul) {
                return .declined(reason: "fused post-ops on \(s.kind) are not supported")
            }
        }
        do { try s.validate() } catch { return .declined(reason: "invalid signature: \(error)") }
        let what = s.kind == .conv2d ? "indirection-buffer conv" : "reference \(s.kind)"
        return .supported(kernel: s.kind.isMatrixProduct ? "\(what), requant=\(requantization.rawValue)" : what,
                          notes: ["portable Swift oracle; exact integer accumulation"])
    }

    public func prepare(_ s: OpSignature, constants c: OpConstants, context: PrepareContext) throws -> any Kernel {
        if case let .declined(reason) = capability(for: s, on: context.cpu) { throw QNNPackError.unsupported(reason) }
        try Self.reserveWorkspace(s, context)
        if s.quantization?.dynamic == true {
            return s.kind == .conv2d ? try ReferenceDynamicConvKernel(s, c) : try ReferenceDynamicLinearKernel(s, c)
        }
        switch s.kind {
        case .linear: return try ReferenceLinearKernel(s, c, style: requantization)
        case .matmul: return try ReferenceMatmulKernel(s, c, style: requantization)
        case .conv2d: return try ReferenceConvKernel(s, c, style: requantization)
        case .convTranspose2d: return try ReferenceConvTransposeKernel(s, c, style: requantization)
        case .add, .mul: return try ReferenceBinaryKernel(s, c)
        case .relu, .clip, .sigmoid, .tanh, .hardswish, .gelu: return try ReferenceLookupKernel(s, c)
        case .maxPool2d, .avgPool2d, .globalAvgPool: return try ReferencePoolingKernel(s, c)
        case .concat: return try ReferenceConcatKernel(s, c)
        case .softmax, .layerNorm: return try ReferenceNormalizationKernel(s, c)
        }
    }

    /// The oracle's kernels copy their operands and results into `Int`/`Int32` arrays (at
    /// most 8 bytes per element) and a convolution builds an indirection table of one entry
    /// per output pixel and tap plus an NHWC copy of the image: each is checked against the
    /// budget before anything is allocated.
    static func reserveWorkspace(_ s: OpSignature, _ context: PrepareContext) throws(MemoryBudgetExceeded) {
        let largest = max(s.input.elementCount, s.outputShape?.elementCount ?? 0)
        try context.reserve(largest, of: 8, for: "the reference kernel's integer copy of \(s.kind) operands (\(s.input) → \(s.outputShape.map { "\($0)" } ?? "?"))")
        guard s.kind.isConvolution, s.input.rank == 4, s.weight.rank == 4, let (oh, ow) = s.outputSpatial else { return }
        try context.reserve(oh, ow, s.weight[2], s.weight[3], of: 4, for: "the reference convolution's indirection table (\(oh) x \(ow) pixels x \(s.weight[2]) x \(s.weight[3]) taps)")
        try context.reserve(s.input[2], s.input[3], s.input[1], of: 4, for: "the reference convolution's image copy (\(s.input))")
    }
}
