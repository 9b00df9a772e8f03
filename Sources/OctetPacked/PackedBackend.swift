import COctetPackedKernels
import OctetCore
import OctetCPU
import OctetDispatch

/// `packed`: Octet's own INT8 GEMM (FBGEMM's role in PyTorch's x86 engine). Weights are
/// packed once into 16-column panels of s16 pairs with their column sums; activations
/// are packed per call with their row sums; the AVX2 micro-kernel multiplies with
/// `vpmaddwd`, so u8·s8 products never pass through a saturating int16 — exact for
/// full-range activations and weights, on any AVX2 CPU, without `reduce_range`. The
/// output pipeline (zero-point compensation, bias, per-channel requantization with
/// rounding half to even, ReLU/Clip, or dequantization) is fused into the store.
public struct PackedBackend: Backend {
    public init() {}

    public var name: String { "packed" }
    public var version: String { "1" }
    public var summary: String { "Octet's packed INT8 GEMM: exact for full-range u8·s8 (vpmaddwd on s16 pairs); linear, matmul, conv2d via im2col" }
    public var requirements: BackendRequirements { BackendRequirements(notes: "AVX2 micro-kernel where present, portable C otherwise") }

    public func capability(for s: OpSignature, on cpu: CPUFeatures) -> Capability {
        if s.activationLayout != .rowMajor { return .declined(reason: "needs row-major (NCHW) activations, got \(s.activationLayout)") }
        if let reason = decline(s) { return .declined(reason: reason) }
        let kernel = s.quantization?.dynamic == true ? "dynamic (per-call u8 range) + " + PackedISA.name(PackedISA.planned(for: cpu))
            : Self.usesDepthwiseKernel(s) ? "depthwise direct (exact)" : PackedISA.name(PackedISA.planned(for: cpu))
        return .supported(kernel: kernel,
                          notes: ["exact for full-range u8 activations and s8 weights: no int16 saturation, reduce_range not needed"])
    }

    /// Depthwise with one output per input channel runs on the direct kernel; channel
    /// multipliers go through the grouped GEMM.
    static func usesDepthwiseKernel(_ s: OpSignature) -> Bool {
        s.isDepthwise && s.outputChannels == s.inputChannels
    }

    private func decline(_ s: OpSignature) -> String? {
        guard s.precision == .int8, let q = s.quantization else { return "runs int8 ops only; this op is \(s.precision)" }
        if q.dynamic {
            guard s.kind == .linear else { return "dynamic quantization is implemented for linear layers only" }
            guard s.inputType == .f32, s.outputType == .f32, s.weightType == .s8 else {
                return "dynamic linear needs f32 activations and output and s8 weights, got \(s.inputType)·\(s.weightType)→\(s.outputType)"
            }
            if q.perChannelWeights && !q.symmetricWeights { return "per-channel weights must be symmetric (zero point 0)" }
            do { try s.validate() } catch { return "invalid signature: \(error)" }
            return nil
        }
        switch s.kind {
        case .linear, .matmul, .conv2d: break
        case .convTranspose2d: return "transposed convolution is not implemented yet"
        default: return "runs matrix products only (linear, matmul, conv2d), not \(s.kind)"
        }
        guard s.inputType == .u8 else { return "needs u8 activations, got \(s.inputType)" }
        guard s.weightType == .s8 else { return "needs s8 weights, got \(s.weightType)" }
        guard s.outputType == .u8 || s.outputType == .f32 else { return "output must be u8 or f32, got \(s.outputType)" }
        if q.perChannelWeights && !q.symmetricWeights { return "per-channel weights must be symmetric (zero point 0)" }
        do { try s.validate() } catch { return "invalid signature: \(error)" }
        return nil
    }

    public func prepare(_ s: OpSignature, constants c: OpConstants, context: PrepareContext) throws -> any Kernel {
        if let reason = decline(s) { throw PackedError.unsupported(reason) }
        let runner = PackedRunner(isa: PackedISA.executable(in: context), threads: context.threads, l1DataBytes: context.cpu.caches.l1d)
        if s.kind == .matmul {
            guard let bQ = c.otherInputQuantizations.first, !bQ.isPerChannel else { throw PackedError.missing("the second operand's per-tensor parameters") }
            return try PackedMatmulKernel(s, c, bQ, runner: runner)
        }
        guard let w = c.weight, w.dtype == .s8, w.shape == s.weight, let wQ = w.quantization else {
            throw PackedError.missing("an s8 weight tensor of shape \(s.weight) with its quantization parameters")
        }
        if wQ.isPerChannel && !wQ.zeroPoints.allSatisfy({ $0 == 0 }) { throw PackedError.unsupported("per-channel weights must be symmetric") }
        if s.quantization?.dynamic == true { return try PackedDynamicLinearKernel(s, c, w, wQ, runner: runner) }
        if s.kind == .linear { return try PackedLinearKernel(s, c, w, wQ, runner: runner) }
        if Self.usesDepthwiseKernel(s) { return try PackedDepthwiseKernel(s, c, w, wQ, threads: context.threads) }
        return try PackedConvKernel(s, c, w, wQ, runner: runner)
    }
}
