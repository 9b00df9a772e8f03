/// The kinds of operation the dispatcher chooses a backend for.
public enum OpKind: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// 2-D convolution (groups and depthwise included).
    case conv2d
    /// 2-D transposed convolution.
    case convTranspose2d = "conv_transpose2d"
    /// Fully connected layer: activations times constant weights (`M x K · K x N`).
    case linear
    /// Batched matrix multiplication of two activations (attention).
    case matmul

    public var description: String { rawValue }

    /// Whether the op is a convolution of either direction.
    public var isConvolution: Bool { self == .conv2d || self == .convTranspose2d }
}

/// The arithmetic an op runs in.
public enum Precision: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// u8 activations, s8 (or u8) weights, s32 accumulation.
    case int8
    /// Single precision throughout.
    case fp32
    /// Binary16 weights, f32 activations and accumulation.
    case fp16

    public var description: String { rawValue }
}

/// An elementwise operation fused into the op's output.
public enum PostOp: Sendable, Hashable, CustomStringConvertible {
    case relu
    /// Clamp to `[min, max]` in real values (ReLU6 is `clip(0, 6)`).
    case clip(min: Float, max: Float)

    /// Name used by rules (`post_op` field).
    public var name: String {
        switch self {
        case .relu: "relu"
        case .clip: "clip"
        }
    }

    public var description: String {
        switch self {
        case .relu: "relu"
        case let .clip(lo, hi): "clip(\(lo), \(hi))"
        }
    }
}
