/// How dynamic quantization scales activations: one (scale, zero point) per tensor per call,
/// or one per row (per token: the last dimension, leading dimensions flattened), each from
/// its own range.
///
/// In an ONNX file the per-tensor form (`DynamicQuantizeLinear` → `MatMulInteger`) is what
/// any runtime executes; the model metadata entry `metadataKey` = `per-token` asks Octet to
/// quantize those MatMuls' activations per row instead (`DynamicQuantizationFusion` reads it).
/// A file without the entry runs per tensor, as written.
public enum DynamicActivations: String, Sendable, CaseIterable {
    case perToken = "per-token"
    case perTensor = "per-tensor"

    /// The model metadata key (`metadata_props`) that carries the choice.
    public static let metadataKey = "octet.dynamic_activations"
}
