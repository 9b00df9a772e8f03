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
    /// Elementwise sum of two tensors (NumPy broadcasting), each with its own scale.
    case add
    /// Elementwise product of two tensors (NumPy broadcasting).
    case mul
    /// `max(x, 0)`.
    case relu
    /// `min(max(x, clipMin), clipMax)`.
    case clip
    case sigmoid
    case tanh
    /// `x · relu6(x + 3) / 6`.
    case hardswish
    /// `x · Φ(x)` (the exact, erf-based form).
    case gelu
    /// 2-D max pooling (NCHW).
    case maxPool2d = "max_pool2d"
    /// 2-D average pooling (NCHW).
    case avgPool2d = "avg_pool2d"
    /// Average over H and W, keeping N x C x 1 x 1.
    case globalAvgPool = "global_avg_pool"
    /// Join tensors along `axis`.
    case concat
    /// Softmax along `axis`.
    case softmax
    /// Layer normalization over the dimensions from `axis` to the last.
    case layerNorm = "layer_norm"

    public var description: String { rawValue }

    /// Whether the op is a convolution of either direction.
    public var isConvolution: Bool { self == .conv2d || self == .convTranspose2d }

    /// Whether the op multiplies by a weight matrix (the ops the GEMM backends run).
    public var isMatrixProduct: Bool { isConvolution || self == .linear || self == .matmul }

    /// Unary elementwise functions.
    public var isUnaryElementwise: Bool { [.relu, .clip, .sigmoid, .tanh, .hardswish, .gelu].contains(self) }
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
    /// A second tensor of the output's shape added to the op's 8-bit codes after its
    /// requantization (the residual add of an INT8 CNN; see `QuantizedSum`). Always last; the
    /// operand is the kernel's second input. The operand may share the output's memory (the
    /// planner writes the result over an operand nothing reads later): a kernel reads each
    /// operand element before it writes the output element at the same position, and writes
    /// nothing else into the output before that.
    case sum(QuantizedSum)

    /// Name used by rules (`post_op` field).
    public var name: String {
        switch self {
        case .relu: "relu"
        case .clip: "clip"
        case .sum: "sum"
        }
    }

    public var description: String {
        switch self {
        case .relu: "relu"
        case let .clip(lo, hi): "clip(\(lo), \(hi))"
        case let .sum(s): s.description
        }
    }
}

extension PostOp {
    /// The fused residual sum of `postOps`, if any.
    public static func sum(in postOps: [PostOp]) -> QuantizedSum? {
        for case let .sum(s) in postOps { return s }
        return nil
    }

    /// The interval a sequence of ReLU / Clip post-ops confines real outputs to (before a
    /// `sum`, which has its own code bounds).
    public static func realRange(of postOps: [PostOp]) -> (lo: Float, hi: Float) {
        var lo = -Float.infinity, hi = Float.infinity
        for p in postOps {
            switch p {
            case .relu: lo = max(lo, 0)
            case let .clip(a, b):
                lo = max(lo, a)
                hi = min(hi, b)
            case .sum: break
            }
        }
        return (lo, hi)
    }

    /// Clamps real outputs to `[lo, hi]` in place, keeping NaN as ONNX's Relu and Clip do
    /// (the value is the first operand of `max` and `min`, which return it when unordered).
    public static func clamp(_ values: UnsafeMutableBufferPointer<Float>, lo: Float, hi: Float) {
        guard lo > -.infinity || hi < .infinity else { return }
        for i in values.indices { values[i] = min(max(values[i], lo), hi) }
    }
}
