import OctetCore
import OctetCPU
import OctetDispatch

/// Octet's own graph ops (Swift, and C kernels for the hot elementwise and pooling
/// loops), registered under the stable name `builtin` so that rules place non-matrix ops
/// on it as on any other backend (`backends.json` makes it the default for them).
///
/// It runs every node the runtime supports, in the graph's own types, and takes
/// channels-last values where its neighbours produce them. In a session the planner builds
/// its operators from the graph node (attributes, opset); `prepare` builds the same
/// operator from a bare signature (`BuiltInSignatureKernel`), so the conformance harness
/// checks it against `qnnpack-ref` like any backend.
public struct BuiltInBackend: Backend {
    /// The name rules and traces use.
    public static let name = "builtin"

    public init() {}

    public var name: String { Self.name }
    public var version: String { "1" }
    public var summary: String { "Octet's built-in graph ops: every non-matrix node (elementwise, pooling, normalization, shape ops, quantize/dequantize), in its own types and layouts" }
    public var requirements: BackendRequirements { BackendRequirements(notes: "portable; AVX2 loops when the host has AVX2") }

    public func capability(for signature: OpSignature, on cpu: CPUFeatures) -> Capability {
        let s = signature
        if s.kind.isMatrixProduct {
            return .declined(reason: "matrix products run on the GEMM backends (packed, onednn, fp16, fp32-ref, qnnpack-ref)")
        }
        if s.activationLayout == .nhwc, ![.add, .mul, .relu, .clip, .sigmoid, .tanh, .hardswish, .gelu, .maxPool2d, .avgPool2d, .globalAvgPool].contains(s.kind) {
            return .declined(reason: "\(s.kind) runs on row-major values only")
        }
        switch s.precision {
        case .int8:
            switch s.kind {
            case .add:
                guard s.attributes.otherInputs == [s.input] else { return .declined(reason: "a quantized add of two shapes (broadcasting) runs in f32 between DequantizeLinear and QuantizeLinear") }
                guard s.inputType.isQuantized8Bit, s.outputType == s.inputType else { return .declined(reason: "a quantized add needs operands and output of one 8-bit type") }
                guard s.postOps.isEmpty || s.postOps == [.relu] else { return .declined(reason: "a quantized add fuses ReLU only") }
            case .maxPool2d, .avgPool2d, .globalAvgPool:
                guard s.inputType.isQuantized8Bit, s.outputType == s.inputType, s.postOps.isEmpty else { return .declined(reason: "a quantized \(s.kind) needs input and output of one 8-bit type") }
            default:
                return .declined(reason: "the built-in ops run a quantized \(s.kind) in f32 between DequantizeLinear and QuantizeLinear; qnnpack-ref runs it on 8-bit values")
            }
        case .fp32, .fp16:
            guard s.postOps.isEmpty else { return .declined(reason: "fused post-ops on a \(s.precision) \(s.kind) are not built in") }
        }
        return .supported(kernel: Self.kernelName(s))
    }

    public func prepare(_ signature: OpSignature, constants: OpConstants, context: PrepareContext) throws -> any Kernel {
        if case let .declined(reason) = capability(for: signature, on: context.cpu) { throw SignatureKernelError.missing("a supported op: \(reason)") }
        return try BuiltInSignatureKernel(signature, constants)
    }

    /// `u8-add`, `f32-max_pool2d`: operand type, then op kind.
    static func kernelName(_ s: OpSignature) -> String { "\(s.inputType)-\(s.kind)" }
}

extension OpDispatch {
    /// Records that the built-in ops run the op after all (`why`: no rule or fallback placed
    /// it, or the chosen backend failed to prepare it).
    mutating func fallBackToBuiltIn(_ why: String) {
        let kernel = BuiltInBackend.kernelName(signature)
        attempts.append(.init(backend: BuiltInBackend.name, source: .fallback(signature.precision), chosen: true, reason: "kernel \(kernel) (\(why))"))
        backend = BuiltInBackend.name
        self.kernel = kernel
        notes = []
    }
}
