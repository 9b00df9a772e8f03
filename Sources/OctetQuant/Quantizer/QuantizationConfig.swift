import OctetCore

/// Whether a node's activations are quantized to 7 bits (PyTorch's `reduce_range`).
public enum ReduceRangePolicy: String, Sendable, Hashable, CaseIterable {
    /// Ask the planner: 7 bits only when the backend that will run the node needs them
    /// (a kernel that saturates without VNNI), full 8 bits otherwise.
    case auto
    /// Always 7 bits.
    case on
    /// Always 8 bits (a backend that cannot run them exactly is not chosen).
    case off
}

/// How one node is quantized. Unset fields inherit (node → op type → global).
public struct QuantizationSetting: Sendable, Hashable {
    /// Range selection of the node's output edge (and of its input when a graph input).
    public var method: CalibrationMethod?
    /// For `.percentile`.
    public var percentile: Double?
    /// One weight scale per output channel (or one per tensor).
    public var perChannelWeights: Bool?
    public var reduceRange: ReduceRangePolicy?

    public init(method: CalibrationMethod? = nil, percentile: Double? = nil, perChannelWeights: Bool? = nil, reduceRange: ReduceRangePolicy? = nil) {
        self.method = method
        self.percentile = percentile
        self.perChannelWeights = perChannelWeights
        self.reduceRange = reduceRange
    }

    /// `self`, with unset fields taken from `base`.
    func over(_ base: QuantizationSetting) -> QuantizationSetting {
        QuantizationSetting(method: method ?? base.method, percentile: percentile ?? base.percentile,
                            perChannelWeights: perChannelWeights ?? base.perChannelWeights, reduceRange: reduceRange ?? base.reduceRange)
    }
}

/// What to quantize and how, like PyTorch's `QConfigMapping`: a global setting, settings
/// per op type and per node name (the most specific wins, field by field), and nodes
/// left in FP32.
public struct QuantizationConfig: Sendable {
    public var global: QuantizationSetting
    /// By ONNX op type (`Conv`, `Gemm`, `MatMul`).
    public var opTypes: [String: QuantizationSetting]
    /// By node name.
    public var nodes: [String: QuantizationSetting]
    /// Nodes left in FP32, by name.
    public var skip: Set<String>
    /// Op types that are quantized.
    public var quantizedOpTypes: Set<String>
    /// A quantized node whose result no integer op reads (no quantized node, through
    /// MaxPool/Reshape/…, nor an Add whose result is quantized) writes f32 from its output
    /// stage instead of u8: the transformer case (Q/K/V into attention, the residual Adds,
    /// GELU, LayerNorm), where requantizing only loses precision. Off: every target's
    /// output is quantized (ONNX Runtime's QDQ layout).
    public var floatOutputs: Bool = false

    /// Defaults: min/max ranges, per-channel weights, 7-bit activations only where the
    /// planned backend needs them.
    public init(global: QuantizationSetting = QuantizationSetting(), opTypes: [String: QuantizationSetting] = [:],
                nodes: [String: QuantizationSetting] = [:], skip: Set<String> = [], quantizedOpTypes: Set<String> = ["Conv", "Gemm", "MatMul"]) {
        self.global = global
        self.opTypes = opTypes
        self.nodes = nodes
        self.skip = skip
        self.quantizedOpTypes = quantizedOpTypes
    }

    static let defaults = QuantizationSetting(method: .minMax, percentile: 99.99, perChannelWeights: true, reduceRange: .auto)

    /// The resolved setting of a node: its own, then its op type's, then the global one.
    public func setting(node: String, opType: String) -> ResolvedSetting {
        let s = (nodes[node] ?? QuantizationSetting()).over(opTypes[opType] ?? QuantizationSetting()).over(global).over(Self.defaults)
        return ResolvedSetting(method: s.method ?? .minMax, percentile: s.percentile ?? 99.99, perChannelWeights: s.perChannelWeights ?? true,
                               reduceRange: s.reduceRange ?? .auto)
    }
}

/// A node's setting with every field decided.
public struct ResolvedSetting: Sendable, Hashable {
    public var method: CalibrationMethod
    public var percentile: Double
    public var perChannelWeights: Bool
    public var reduceRange: ReduceRangePolicy

    func makeObserver() -> any Observer { method.makeObserver(percentile: percentile) }
}
