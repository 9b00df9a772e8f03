import COctetPackedKernels
import OctetCore
import OctetCPU
import OctetDispatch

/// `packed`: Octet's own INT8 GEMM (FBGEMM's role in PyTorch's x86 engine). Weights are
/// packed once into 16-column panels of s16 pairs with their column sums; activations
/// are packed block by block inside the GEMM with their row sums (from u8 rows, an NHWC
/// image through an indirection buffer, or f32 rows quantized on the fly); convolutions
/// run channels-last when the planner asks (no im2col, no reorders between convolutions),
/// depthwise ones on a 32-channel-per-step vector kernel; the AVX2 micro-kernel multiplies with
/// `vpmaddwd`, so u8·s8 products never pass through a saturating int16 — exact for
/// full-range activations and weights, on any AVX2 CPU, without `reduce_range`. The
/// output pipeline (zero-point compensation, bias, per-channel requantization with
/// rounding half to even, ReLU/Clip, or dequantization) is fused into the store.
public struct PackedBackend: Backend {
    public init() {}

    public var name: String { "packed" }
    public var version: String { "1" }
    public var summary: String {
        "Octet's packed INT8 kernels: exact for full-range u8·s8 (vpmaddwd on s16 pairs); linear, matmul, dynamic linear, dynamic conv2d, conv2d (NHWC without im2col), NHWC depthwise"
    }
    public var requirements: BackendRequirements {
        BackendRequirements(notes: "AVX-512 VNNI or AVX-VNNI GEMM micro-kernels (vpdpbusd) where present, AVX2 + FMA ones otherwise, portable C without AVX2")
    }

    public func capability(for s: OpSignature, on cpu: CPUFeatures) -> Capability {
        if s.activationLayout == .nhwc && s.kind != .conv2d { return .declined(reason: "channels-last activations apply to conv2d only, not \(s.kind)") }
        if s.activationLayout != .rowMajor && s.activationLayout != .nhwc { return .declined(reason: "needs NCHW or NHWC activations, got \(s.activationLayout)") }
        if let reason = decline(s) { return .declined(reason: reason) }
        let isa = PackedISA.select(for: cpu)
        let dynamic = s.quantization?.dynamic == true
        let kernel = Self.kernelName(s, isa)
        let note: String
        if kernel.contains("-dwconv-") && kernel.hasSuffix("-avx512vnni") {
            note = "vpdpbusd over groups of four taps: exact for full-range u8 activations and symmetric s8 weights"
        } else if kernel.contains("-dwconv-") || PackedISA.format(s, isa) == .pairs {
            // The depthwise kernels multiply s16 pairs (vpmaddwd) whatever the GEMM's format.
            note = "exact for full-range u8 activations and s8 weights: no int16 saturation, reduce_range not needed"
        } else if PackedISA.hasVNNI(isa) {
            note = "vpdpbusd sums four u8·s8 products into s32 with no int16 step: exact for full-range u8 activations and s8 weights"
                + (s.quantization?.reduceRange == true ? " (7-bit activations are not needed here)" : "")
        } else if dynamic {
            note = "7-bit dynamic activations (reduce_range, as PyTorch's fbgemm dynamic linear on x86): each call quantizes to [0, 127], so vpmaddubsw pairs cannot saturate (2·127·128 < 32767), exact"
        } else {
            note = "7-bit activations (reduce_range): vpmaddubsw pairs cannot saturate (2·127·128 < 32767), exact; a value above 127 fails the call"
        }
        if dynamic && s.kind == .conv2d {
            return .supported(kernel: kernel, notes: ["activations quantized per call with ONNX's DynamicQuantizeLinear parameters, then the u8 convolution with f32 output: " + note])
        }
        return .supported(kernel: kernel, notes: [note])
    }

    /// On AVX2 without VNNI, 7-bit activations run the `vpmaddubsw` k-quad kernel
    /// (`u7s8s32-gemm-6x16c4-avx2`: four u7·s8 products per lane per step, which cannot
    /// saturate) instead of `vpmaddwd` on s16 pairs (two per step). Measured on Zen 3,
    /// ResNet-18 static INT8, 2 threads: 16.3 ms against 25.8 ms. The dynamic linear quantizes
    /// its activations itself, to [0, 127] on the same kernel (PyTorch's fbgemm dynamic linear
    /// uses `reduce_range` on x86 too). Depthwise kernels have no 7-bit form, so nothing is gained there;
    /// the dynamic convolution quantizes to full-range u8 as ONNX's DynamicQuantizeLinear does.
    public func reducedRangeSpeedup(for s: OpSignature, on cpu: CPUFeatures) -> String? {
        guard let q = s.quantization, !q.reduceRange, !(q.dynamic && s.kind == .conv2d), capability(for: s, on: cpu).isSupported else { return nil }
        var seven = s
        seven.quantization?.reduceRange = true
        let isa = PackedISA.select(for: cpu)
        let (full, reduced) = (Self.kernelName(s, isa), Self.kernelName(seven, isa))
        guard isa == OCTET_PACKED_AVX2, full != reduced else { return nil }
        return "\(reduced) (vpmaddubsw, 4 products per step, cannot saturate on 7-bit codes) instead of \(full) (vpmaddwd, 2 per step)"
    }

    /// The kernel that runs `s` with `isa`, as `Kernel.implementation` names it.
    static func kernelName(_ s: OpSignature, _ isa: octet_packed_isa) -> String {
        let format = PackedISA.format(s, isa)
        if let q = s.quantization, q.dynamic {
            guard s.kind == .conv2d else { return PackedISA.dqgemm(isa, perToken: q.perRowActivations, sevenBit: q.reduceRange, format) }
            // The static u8 convolution on the call's codes; depthwise ones as a grouped GEMM.
            let conv = s.activationLayout == .nhwc ? PackedISA.conv(isa, form: PackedChannelsLastConvKernel.isDirect(s) ? "1x1" : "indirect", format)
                                                   : "u8-im2col-nchw + " + PackedISA.gemm(isa, format)
            return PackedISA.dynamicQuantize(isa) + " + " + conv
        }
        guard s.kind == .conv2d else { return PackedISA.gemm(isa, format) }
        if s.activationLayout == .nhwc {
            if usesDepthwiseKernel(s) {
                let vnni = PackedChannelsLastDepthwiseKernel.usesVNNI(s, isa)
                return PackedISA.dwconv(isa, kh: s.weight[2], kw: s.weight[3],
                                        rowPairs: PackedChannelsLastDepthwiseKernel.usesRowPairs(s, isa, vnni: vnni), vnni: vnni)
            }
            return PackedISA.conv(isa, form: PackedChannelsLastConvKernel.isDirect(s) ? "1x1" : "indirect", format)
        }
        return usesDepthwiseKernel(s) ? "u8s8s32-dwconv-nchw-scalar" : "u8-im2col-nchw + " + PackedISA.gemm(isa, format)
    }

    /// `w` as s8 with its parameters: u8 weights lose 128 from every value and zero point, which
    /// keeps each difference w − zp_w (and so every product) the same; per-channel weights must
    /// then be symmetric.
    static func signedWeights(_ w: Tensor, _ q: QuantParams) throws -> (Tensor, QuantParams) {
        switch w.dtype {
        case .s8:
            if q.isPerChannel && !q.zeroPoints.allSatisfy({ $0 == 0 }) { throw PackedError.unsupported("per-channel weights must be symmetric") }
            return (w, q)
        case .u8:
            let zeroPoints = q.zeroPoints.map { $0 - 128 }
            if q.isPerChannel && !zeroPoints.allSatisfy({ $0 == 0 }) { throw PackedError.unsupported("per-channel u8 weights must have zero point 128") }
            let params = try QuantParams(scales: q.scales, zeroPoints: zeroPoints, granularity: q.granularity, dtype: .s8)
            let values = try w.scalars(as: UInt8.self).map { Int8(truncatingIfNeeded: Int16($0) - 128) }
            return (try Tensor(values, shape: w.shape, layout: w.layout, quantization: params), params)
        default:
            throw PackedError.unsupported("weights must be s8 or u8, got \(w.dtype)")
        }
    }

    /// Depthwise with one output per input channel runs on the direct kernel; channel
    /// multipliers go through the grouped GEMM.
    static func usesDepthwiseKernel(_ s: OpSignature) -> Bool {
        s.isDepthwise && s.outputChannels == s.inputChannels
    }

    private func decline(_ s: OpSignature) -> String? {
        guard s.precision == .int8, let q = s.quantization else { return "runs int8 ops only; this op is \(s.precision)" }
        if q.dynamic && s.kind == .conv2d {
            guard s.inputType == .f32, s.outputType == .f32, s.weightType == .s8 || s.weightType == .u8 else {
                return "dynamic conv needs f32 activations and output and s8 or u8 weights, got \(s.inputType)·\(s.weightType)→\(s.outputType)"
            }
            if q.perRowActivations || q.reduceRange { return "dynamic conv quantizes its activation per tensor to full-range u8 (no per-token or 7-bit form)" }
            if q.perChannelWeights && (s.weightType == .u8 || !q.symmetricWeights) {
                return "per-channel weights must be s8 and symmetric (zero point 0); per-channel \(s.weightType) weights with zero points run elsewhere"
            }
            if PostOp.sum(in: s.postOps) != nil { return "a fused residual sum needs a u8 output" }
            do { try s.validate() } catch { return "invalid signature: \(error)" }
            return nil
        }
        if q.dynamic {
            guard s.kind == .linear else { return "dynamic quantization is implemented for linear layers and 2-D convolutions only" }
            guard s.inputType == .f32, s.outputType == .f32, s.weightType == .s8 || s.weightType == .u8 else {
                return "dynamic linear needs f32 activations and output and s8 or u8 weights, got \(s.inputType)·\(s.weightType)→\(s.outputType)"
            }
            if q.perChannelWeights && (s.weightType == .u8 || !q.symmetricWeights) {
                return "per-channel weights must be s8 and symmetric (zero point 0); per-channel \(s.weightType) weights with zero points run elsewhere"
            }
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
        if PostOp.sum(in: s.postOps) != nil {
            // The GEMM stores apply the sum; the depthwise kernels' stores do not.
            guard s.kind == .conv2d, s.outputType == .u8, !Self.usesDepthwiseKernel(s) else {
                return "a fused residual sum runs in the GEMM convolutions' u8 store only, not on \(s.kind)\(Self.usesDepthwiseKernel(s) ? " (depthwise)" : "") → \(s.outputType)"
            }
        }
        do { try s.validate() } catch { return "invalid signature: \(error)" }
        return nil
    }

    public func prepare(_ s: OpSignature, constants c: OpConstants, context: PrepareContext) throws -> any Kernel {
        if s.activationLayout == .nhwc && s.kind != .conv2d { throw PackedError.unsupported("channels-last activations apply to conv2d only") }
        if let reason = decline(s) { throw PackedError.unsupported(reason) }
        let isa = PackedISA.select(for: context.cpu, host: context.host)
        let runner = PackedRunner(isa: isa, format: PackedISA.format(s, isa), threads: context.threads, l1DataBytes: context.cpu.caches.l1d,
                                  l2Bytes: context.cpu.caches.l2, budget: context.memoryBudget)
        if s.kind == .matmul {
            guard let bQ = c.otherInputQuantizations.first, !bQ.isPerChannel else { throw PackedError.missing("the second operand's per-tensor parameters") }
            return try PackedMatmulKernel(s, c, bQ, runner: runner)
        }
        if s.quantization?.dynamic == true && s.kind == .conv2d {
            guard let w = c.weight, w.shape == s.weight, let wQ = w.quantization else {
                throw PackedError.missing("a weight tensor of shape \(s.weight) with its quantization parameters")
            }
            let (weight, params) = try Self.signedWeights(w, wQ)
            let staticRunner = PackedRunner(isa: isa, format: PackedISA.format(PackedDynamicConvKernel.staticForm(s), isa), threads: context.threads,
                                            l1DataBytes: context.cpu.caches.l1d, l2Bytes: context.cpu.caches.l2, budget: context.memoryBudget)
            return try PackedDynamicConvKernel(s, c, weight, params, runner: staticRunner)
        }
        if s.quantization?.dynamic == true {
            guard let w = c.weight, w.shape == s.weight, let wQ = w.quantization else {
                throw PackedError.missing("a weight tensor of shape \(s.weight) with its quantization parameters")
            }
            let (weight, params) = try Self.signedWeights(w, wQ)
            return try PackedDynamicLinearKernel(s, c, weight, params, runner: runner)
        }
        guard let w = c.weight, w.dtype == .s8, w.shape == s.weight, let wQ = w.quantization else {
            throw PackedError.missing("an s8 weight tensor of shape \(s.weight) with its quantization parameters")
        }
        if wQ.isPerChannel && !wQ.zeroPoints.allSatisfy({ $0 == 0 }) { throw PackedError.unsupported("per-channel weights must be symmetric") }
        if s.kind == .linear { return try PackedLinearKernel(s, c, w, wQ, runner: runner) }
        if s.activationLayout == .nhwc {
            if Self.usesDepthwiseKernel(s) { return try PackedChannelsLastDepthwiseKernel(s, c, w, wQ, isa: isa, threads: context.threads) }
            return try PackedChannelsLastConvKernel(s, c, w, wQ, runner: runner)
        }
        if Self.usesDepthwiseKernel(s) { return try PackedDepthwiseKernel(s, c, w, wQ, threads: context.threads) }
        return try PackedConvKernel(s, c, w, wQ, runner: runner)
    }
}
