/// Everything a backend needs to decide whether it can run an op and how: kind, types,
/// shapes, convolution geometry, quantization scheme and fused post-ops.
///
/// Shapes are NCHW-logical for convolutions (`input` N x C x H x W, `weight`
/// OC x IC/groups x KH x KW; for a transposed convolution `weight` is
/// IC x OC/groups x KH x KW as in ONNX and PyTorch) and `[batch..., M, K]`, `[K, N]`
/// for linear and matmul (`weight` is then N x K for linear, like PyTorch, and
/// `[batch..., K, N]` for matmul's second activation).
public struct OpSignature: Sendable, Hashable, CustomStringConvertible {
    public var kind: OpKind
    public var precision: Precision
    /// Element type of the (first) input activation.
    public var inputType: DType
    /// Element type of the weights, or of matmul's second input.
    public var weightType: DType
    /// Element type of the output (`u8` requantized, `f32` dequantized, ...).
    public var outputType: DType
    public var input: TensorShape
    public var weight: TensorShape
    /// Convolution geometry; `nil` for linear and matmul.
    public var convolution: ConvolutionGeometry?
    /// Quantization scheme; `nil` for fp32 and fp16.
    public var quantization: QuantizationScheme?
    /// Post-ops fused into the output, applied in order.
    public var postOps: [PostOp]
    /// Attributes of the ops that are not matrix products (pooling, axis, ...).
    public var attributes: OpAttributes
    /// Optional label (a graph node's name) for traces.
    public var label: String?
    /// Memory order of a convolution's activations: `.rowMajor` (NCHW) or `.nhwc`
    /// (channels last). Shapes stay logical NCHW either way.
    public var activationLayout: TensorLayout

    public init(
        kind: OpKind, precision: Precision, inputType: DType, weightType: DType, outputType: DType,
        input: TensorShape, weight: TensorShape, convolution: ConvolutionGeometry? = nil,
        quantization: QuantizationScheme? = nil, postOps: [PostOp] = [], attributes: OpAttributes = OpAttributes(),
        label: String? = nil, activationLayout: TensorLayout = .rowMajor
    ) {
        self.kind = kind
        self.precision = precision
        self.inputType = inputType
        self.weightType = weightType
        self.outputType = outputType
        self.input = input
        self.weight = weight
        self.convolution = convolution
        self.quantization = quantization
        self.postOps = postOps
        self.attributes = attributes
        self.label = label
        self.activationLayout = activationLayout
    }

    public var description: String { SignatureFormatter.oneLine(self) }
}

/// Attributes of ops other than matrix products.
public struct OpAttributes: Sendable, Hashable {
    /// The other operands: the second of `add` and `mul`, the rest of `concat`.
    public var otherInputs: [TensorShape]
    /// Kernel, strides and pads of `max_pool2d` / `avg_pool2d`.
    public var pooling: PoolingGeometry?
    /// The axis of `concat` and `softmax`; the first normalized axis of `layer_norm`.
    /// Negative counts from the end.
    public var axis: Int?
    /// Bounds of `clip`, in real values.
    public var clipMin: Float?, clipMax: Float?
    /// `layer_norm`'s epsilon.
    public var epsilon: Float?

    public init(otherInputs: [TensorShape] = [], pooling: PoolingGeometry? = nil, axis: Int? = nil,
                clipMin: Float? = nil, clipMax: Float? = nil, epsilon: Float? = nil) {
        self.otherInputs = otherInputs
        self.pooling = pooling
        self.axis = axis
        self.clipMin = clipMin
        self.clipMax = clipMax
        self.epsilon = epsilon
    }
}

/// Window of a 2-D pooling.
public struct PoolingGeometry: Sendable, Hashable {
    public var kernelH: Int, kernelW: Int
    public var strideH: Int, strideW: Int
    public var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    /// Whether padding counts in an average's divisor (ONNX `count_include_pad`).
    public var countIncludePad: Bool

    public init(kernel: (Int, Int), stride: (Int, Int) = (1, 1), pads: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0),
                countIncludePad: Bool = false) {
        (kernelH, kernelW) = kernel
        (strideH, strideW) = stride
        (padTop, padLeft, padBottom, padRight) = pads
        self.countIncludePad = countIncludePad
    }
}

/// Strides, pads, dilations, groups and output padding of a 2-D convolution.
public struct ConvolutionGeometry: Sendable, Hashable {
    public var strideH: Int, strideW: Int
    /// Padding: top, left, bottom, right.
    public var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    public var dilationH: Int, dilationW: Int
    public var groups: Int
    /// Extra output rows and columns of a transposed convolution.
    public var outputPaddingH: Int, outputPaddingW: Int

    public init(
        stride: (Int, Int) = (1, 1), pads: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0),
        dilation: (Int, Int) = (1, 1), groups: Int = 1, outputPadding: (Int, Int) = (0, 0)
    ) {
        (strideH, strideW) = stride
        (padTop, padLeft, padBottom, padRight) = pads
        (dilationH, dilationW) = dilation
        self.groups = groups
        (outputPaddingH, outputPaddingW) = outputPadding
    }
}

/// How an INT8 op's operands are quantized.
public struct QuantizationScheme: Sendable, Hashable {
    /// One weight scale per output channel (otherwise per tensor).
    public var perChannelWeights: Bool
    /// Every weight zero point is 0 (PyTorch's `is_weight_symmetric_quant`).
    public var symmetricWeights: Bool
    /// Activation zero point (per tensor).
    public var inputZeroPoint: Int32
    /// Weight zero point (per tensor; 0 when symmetric s8).
    public var weightZeroPoint: Int32
    /// Activations limited to 7 bits (PyTorch's `reduce_range`).
    public var reduceRange: Bool
    /// Activations quantized per call from their observed range (dynamic quantization).
    public var dynamic: Bool
    /// With `dynamic`: one scale and zero point per row of the activation (per token: a row is
    /// the last dimension, every leading dimension flattened), each from that row's own range;
    /// otherwise one pair for the whole tensor.
    public var perRowActivations: Bool

    public init(perChannelWeights: Bool = true, symmetricWeights: Bool = true, inputZeroPoint: Int32 = 0,
                weightZeroPoint: Int32 = 0, reduceRange: Bool = false, dynamic: Bool = false, perRowActivations: Bool = false) {
        self.perRowActivations = perRowActivations
        self.perChannelWeights = perChannelWeights
        self.symmetricWeights = symmetricWeights
        self.inputZeroPoint = inputZeroPoint
        self.weightZeroPoint = weightZeroPoint
        self.reduceRange = reduceRange
        self.dynamic = dynamic
    }
}
