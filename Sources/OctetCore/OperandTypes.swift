/// Element types of an op's activation and weight, and the precision they imply.
/// Spelled as on the command line: `u8s8` (PyTorch x86), `u8u8` (QNNPACK), `s8s8`,
/// `f32`, `f16` (fp16 weights, f32 activations).
public struct OperandTypes: Sendable, Hashable, CustomStringConvertible {
    public var input: DType
    public var weight: DType
    public var precision: Precision

    public static let u8s8 = OperandTypes(input: .u8, weight: .s8, precision: .int8)
    public static let u8u8 = OperandTypes(input: .u8, weight: .u8, precision: .int8)
    public static let s8s8 = OperandTypes(input: .s8, weight: .s8, precision: .int8)
    public static let f32 = OperandTypes(input: .f32, weight: .f32, precision: .fp32)
    public static let f16 = OperandTypes(input: .f32, weight: .f16, precision: .fp16)

    /// Every spelling `init(parsing:)` accepts.
    public static let spellings = ["u8s8", "u8u8", "s8s8", "f32", "fp32", "f16", "fp16"]

    /// Parses one of `spellings`; `nil` otherwise.
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "u8s8": self = .u8s8
        case "u8u8": self = .u8u8
        case "s8s8": self = .s8s8
        case "f32", "fp32": self = .f32
        case "f16", "fp16": self = .f16
        default: return nil
        }
    }

    public init(input: DType, weight: DType, precision: Precision) {
        self.input = input
        self.weight = weight
        self.precision = precision
    }

    /// The output type an op of these types produces by default (requantized u8 for
    /// INT8, f32 otherwise).
    public var defaultOutput: DType { precision == .int8 ? input : .f32 }

    public var description: String { precision == .int8 ? "\(input)\(weight)" : "\(weight)" }
}

extension OpSignature {
    /// A 2-D convolution (or transposed convolution) signature.
    public static func convolution(
        input: TensorShape, weight: TensorShape, geometry: ConvolutionGeometry = ConvolutionGeometry(),
        transposed: Bool = false, types: OperandTypes = .u8s8, output: DType? = nil,
        quantization: QuantizationScheme? = nil, postOps: [PostOp] = [], label: String? = nil
    ) -> OpSignature {
        OpSignature(kind: transposed ? .convTranspose2d : .conv2d, precision: types.precision, inputType: types.input,
                    weightType: types.weight, outputType: output ?? types.defaultOutput, input: input, weight: weight,
                    convolution: geometry, quantization: types.precision == .int8 ? quantization ?? QuantizationScheme() : nil,
                    postOps: postOps, label: label)
    }

    /// A linear layer: `[m, k]` activations times an `n x k` weight.
    public static func linear(
        m: Int, k: Int, n: Int, types: OperandTypes = .u8s8, output: DType? = nil,
        quantization: QuantizationScheme? = nil, postOps: [PostOp] = [], label: String? = nil
    ) throws(ShapeError) -> OpSignature {
        OpSignature(kind: .linear, precision: types.precision, inputType: types.input, weightType: types.weight,
                    outputType: output ?? types.defaultOutput, input: try TensorShape([m, k]), weight: try TensorShape([n, k]),
                    quantization: types.precision == .int8 ? quantization ?? QuantizationScheme() : nil,
                    postOps: postOps, label: label)
    }

    /// A batched matmul of two activations: `[batch, m, k] · [batch, k, n]`.
    public static func matmul(
        batch: Int, m: Int, k: Int, n: Int, types: OperandTypes = .u8s8, output: DType? = nil,
        quantization: QuantizationScheme? = nil, postOps: [PostOp] = [], label: String? = nil
    ) throws(ShapeError) -> OpSignature {
        OpSignature(kind: .matmul, precision: types.precision, inputType: types.input, weightType: types.weight,
                    outputType: output ?? types.defaultOutput, input: try TensorShape([batch, m, k]), weight: try TensorShape([batch, k, n]),
                    quantization: types.precision == .int8 ? quantization ?? QuantizationScheme(perChannelWeights: false) : nil,
                    postOps: postOps, label: label)
    }
}
