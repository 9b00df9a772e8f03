import COctetDNNLGlue
import OctetCore
import OctetCPU
import OctetDispatch

/// The `onednn` backend: oneDNN 2.6 (Debian's libdnnl) for INT8 and FP32 convolution,
/// linear (as a matmul with constant weights) and batched matmul of two activations.
///
/// Weights are reordered once, at prepare, into the layout oneDNN prefers; the primitive
/// is created once and reused; the implementation oneDNN picked is reported.
///
/// **Saturation.** Without VNNI, oneDNN's INT8 kernels multiply with `vpmaddubsw`, which
/// adds two u8·s8 products into a saturating int16: with full-range activations the
/// results are silently wrong. On such a CPU this backend needs 7-bit activations
/// (`reduce_range`) and declines other signatures, so the rule engine falls back; at run
/// time it checks that the activations really are ≤ 127 and throws otherwise.
///
/// **Threads.** oneDNN here runs on OpenMP, whose thread count belongs to the calling
/// thread: before every execution the kernel calls `omp_set_num_threads` with the
/// session's thread count on the thread that executes it.
public struct OneDNNBackend: Backend {
    public init() {}

    public var name: String { "onednn" }
    public var version: String { String(cString: octet_dnnl_version()) }
    public var summary: String { "oneDNN: INT8 (u8·s8) and FP32 conv2d, linear, batched matmul; weights reordered at prepare" }
    public var requirements: BackendRequirements {
        BackendRequirements(architectures: ["x86_64"],
                            notes: "INT8 without VNNI needs 7-bit activations (vpmaddubsw saturates); uses AVX-512 VNNI / AVX-VNNI / AMX when present")
    }

    /// Whether oneDNN's INT8 kernels can take full-range u8 activations on `cpu`: with
    /// VNNI (or AMX) u8·s8 products are summed into s32 and cannot saturate. A pure
    /// function of the description, detected or assumed alike; the host description's
    /// cap is handed on to oneDNN, so on this machine oneDNN uses what it says.
    public static func hasExactInt8(on cpu: CPUFeatures) -> Bool {
        cpu.has(.avx512_vnni) || cpu.has(.avx_vnni) || cpu.has(.amx_int8)
    }

    /// oneDNN's name for the best ISA it would use on `cpu` (`avx512_core_vnni`, ...).
    public static func isaName(on cpu: CPUFeatures) -> String {
        if cpu.hasAll([.amx_tile, .amx_int8, .avx512_bf16]) { return "avx512_core_amx" }
        if cpu.hasAll([.avx512f, .avx512bw, .avx512vl, .avx512dq]) {
            if cpu.has(.avx512_bf16) { return "avx512_core_bf16" }
            return cpu.has(.avx512_vnni) ? "avx512_core_vnni" : "avx512_core"
        }
        if cpu.hasAll([.avx2, .fma]) { return cpu.has(.avx_vnni) ? "avx2_vnni" : "avx2" }
        return "sse41"
    }

    /// The ISA oneDNN dispatches to in this process, as oneDNN reports it.
    public static var effectiveISA: String { String(cString: octet_dnnl_effective_isa()) }

    /// Why a fused residual sum (`QuantizedSum`) is declined, or nil when oneDNN's `sum`
    /// post-op takes it. oneDNN 2.6 adds `(s_b / s_y)·(b − z_b)` to the convolution's result
    /// scaled straight to the output (`s_x·s_w / s_y`) and rounds once, where the QDQ graph
    /// first rounds the convolution to its own code (`s_a`, `z_a`, saturated to u8) and then
    /// rounds the sum: the two differ by at most one output step while the convolution's code
    /// does not saturate (FBGEMM's and PyTorch's x86 `conv_add` do the same). Taken: a
    /// convolution with a u8 output and the full u8 result range, or its ReLU (`qmin = z_y`).
    static func sumDecline(_ s: OpSignature) -> String? {
        guard let sum = PostOp.sum(in: s.postOps) else { return nil }
        guard s.kind == .conv2d, s.outputType == .u8 else { return "a fused residual sum runs on u8-output convolutions only, not \(s.kind) → \(s.outputType)" }
        guard sum.qmax == 255, sum.qmin == 0 || sum.qmin == sum.outputZeroPoint else {
            return "a fused residual sum with result codes [\(sum.qmin), \(sum.qmax)] (7-bit or clipped) is not mapped to oneDNN's sum post-op"
        }
        guard (0...255).contains(sum.operandZeroPoint), (0...255).contains(sum.outputZeroPoint) else { return "a fused residual sum needs u8 zero points" }
        return nil
    }

    public func capability(for s: OpSignature, on cpu: CPUFeatures) -> Capability {
        if let reason = staticDecline(s, cpu) { return .declined(reason: reason) }
        // Answered from the description alone: no primitive is built to answer.
        return .supported(kernel: "oneDNN \(s.precision == .int8 ? "int8" : "f32") jit:\(Self.isaName(on: cpu))", notes: notes(s, cpu))
    }

    public func prepare(_ s: OpSignature, constants: OpConstants, context: PrepareContext) throws -> any Kernel {
        if let reason = staticDecline(s, context.cpu) { throw OneDNNError.unsupported(reason) }
        let host = context.host
        if s.precision == .int8 && !Self.hasExactInt8(on: host) && s.quantization?.reduceRange != true {
            throw OneDNNError.unsupported(saturationReason(host))
        }
        return try OneDNNKernel(s, constants: constants, threads: context.threads,
                                sevenBitInputs: s.precision == .int8 && !Self.hasExactInt8(on: host))
    }

    private func notes(_ s: OpSignature, _ cpu: CPUFeatures) -> [String] {
        guard s.precision == .int8 else { return ["fp32"] }
        return Self.hasExactInt8(on: cpu)
            ? ["VNNI: exact for full-range u8 activations"]
            : ["no VNNI: vpmaddubsw saturates; 7-bit activations (reduce_range) required and checked at run time"]
    }

    private func saturationReason(_ cpu: CPUFeatures) -> String {
        "on \(cpu.displayName) oneDNN's INT8 kernels add u8·s8 pairs with vpmaddubsw into saturating int16 (no VNNI); " +
            "full-range u8 activations can give wrong results, so it needs 7-bit activations (reduce_range)"
    }

    private func staticDecline(_ s: OpSignature, _ cpu: CPUFeatures) -> String? {
        guard cpu.architecture == "x86_64" else { return "oneDNN is used on x86-64 only; this is \(cpu.architecture)" }
        switch s.kind {
        case .conv2d, .linear, .matmul: break
        case .convTranspose2d: return "transposed convolution is not mapped to oneDNN yet"
        default: return "runs matrix products only (conv2d, linear, matmul), not \(s.kind)"
        }
        do { try s.validate() } catch { return "invalid signature: \(error)" }
        if let reason = Self.sumDecline(s) { return reason }
        if s.activationLayout == .nhwc && s.kind != .conv2d { return "channels-last activations apply to convolutions only" }
        switch s.precision {
        case .fp16: return "fp16 weights run on the fp16 backend; oneDNN 2.6 has no f16 kernels for this CPU class"
        case .fp32:
            guard s.inputType == .f32, s.weightType == .f32, s.outputType == .f32 else { return "fp32 ops need f32 operands" }
        case .int8:
            guard let q = s.quantization else { return "int8 op without a quantization scheme" }
            if q.dynamic { return "dynamic quantization runs on the packed GEMM" }
            guard s.inputType == .u8 else { return "needs u8 activations (PyTorch's x86 scheme), got \(s.inputType)" }
            guard s.weightType == .s8 else { return "oneDNN 2.6 INT8 kernels need s8 weights, got \(s.weightType)" }
            guard s.outputType == .u8 || s.outputType == .f32 else { return "output must be u8 or f32, got \(s.outputType)" }
            if s.kind != .matmul && !(q.symmetricWeights && q.weightZeroPoint == 0) {
                return "oneDNN 2.6 convolution and linear need symmetric weights (zero point 0)"
            }
            if !Self.hasExactInt8(on: cpu) && !q.reduceRange { return saturationReason(cpu) }
        }
        return nil
    }
}

/// Why the oneDNN backend could not prepare or run an op.
public enum OneDNNError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupported(String)
    case oneDNN(String)
    case operand(String)

    public var description: String {
        switch self {
        case let .unsupported(s): "onednn: \(s)"
        case let .oneDNN(s): "onednn: \(s)"
        case let .operand(s): "onednn: \(s)"
        }
    }
}
