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

    /// Whether oneDNN's INT8 kernels can take full-range u8 activations on `cpu`.
    public static func hasExactInt8(on cpu: CPUFeatures) -> Bool {
        let vnni = cpu.has(.avx512_vnni) || cpu.has(.avx_vnni) || cpu.has(.amx_int8)
        // On this machine, also ask oneDNN which ISA it really dispatches to
        // (DNNL_MAX_CPU_ISA can cap it below what the CPU has).
        return vnni && (cpu.origin != .detected || octet_dnnl_isa_has_vnni() != 0)
    }

    public func capability(for s: OpSignature, on cpu: CPUFeatures) -> Capability {
        if let reason = staticDecline(s, cpu) { return .declined(reason: reason) }
        guard cpu.origin == .detected else {
            return .supported(kernel: "oneDNN (implementation chosen on the target)", notes: notes(s, cpu))
        }
        // Planning for this machine: create the primitive to learn what oneDNN would run.
        do {
            let probe = try OneDNNKernel(s, constants: .zeros(for: s), threads: 1, sevenBitInputs: false)
            return .supported(kernel: probe.implementation, notes: notes(s, cpu))
        } catch {
            return .declined(reason: "\(error)")
        }
    }

    public func prepare(_ s: OpSignature, constants: OpConstants, context: PrepareContext) throws -> any Kernel {
        if let reason = staticDecline(s, context.cpu) { throw OneDNNError.unsupported(reason) }
        let host = CPUFeatures.detect()
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

extension OpConstants {
    /// Zero weights and unit parameters shaped for `s`, to probe what oneDNN would run.
    static func zeros(for s: OpSignature) throws -> OpConstants {
        guard s.precision == .int8 else {
            return OpConstants(weight: s.kind == .matmul ? nil : try Tensor(zeros: .f32, shape: s.weight))
        }
        let unit = try QuantParams(scale: 1, zeroPoint: s.quantization?.inputZeroPoint ?? 0, dtype: .u8)
        let channels = s.kind == .matmul ? 1 : (s.outputChannels ?? s.weight[0])
        let w = try QuantParams(scales: [Float](repeating: 1, count: channels), zeroPoints: [Int32](repeating: 0, count: channels),
                                granularity: channels > 1 ? .perChannel(axis: 0) : .perTensor, dtype: .s8)
        return OpConstants(weight: s.kind == .matmul ? nil : try Tensor(zeros: .s8, shape: s.weight, quantization: w),
                           inputQuantization: unit, outputQuantization: s.outputType == .u8 ? unit : nil,
                           otherInputQuantizations: s.kind == .matmul ? [try QuantParams(scale: 1, zeroPoint: 0, dtype: .s8)] : [])
    }
}
