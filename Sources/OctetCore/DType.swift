/// The element types Octet's tensors hold: every tensor element type ONNX allows in the
/// ops Octet runs (`bool`, 8/16/32/64-bit signed and unsigned integers, binary16,
/// bfloat16, binary32 and binary64).
///
/// New cases are appended; the raw values are the names `octet` prints and reads.
public enum DType: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// IEEE binary32.
    case f32
    /// IEEE binary16 (weights of the FP16 path).
    case f16
    /// Unsigned 8-bit integer: quantized activations.
    case u8
    /// Signed 8-bit integer: quantized weights.
    case s8
    /// Signed 32-bit integer: accumulators and quantized bias.
    case s32
    /// Signed 64-bit integer: shapes, indices and axes of graph ops (ONNX `int64`).
    case s64
    /// Boolean, one byte per element (masks, comparison results).
    case bool
    /// Unsigned 16-bit integer (ONNX `uint16`).
    case u16
    /// Signed 16-bit integer (ONNX `int16`).
    case s16
    /// Unsigned 32-bit integer (ONNX `uint32`).
    case u32
    /// Unsigned 64-bit integer (ONNX `uint64`).
    case u64
    /// IEEE binary64 (ONNX `double`).
    case f64
    /// bfloat16: the upper 16 bits of a binary32 (ONNX `bfloat16`).
    case bf16

    /// Bytes one element occupies.
    public var byteSize: Int {
        switch self {
        case .s64, .u64, .f64: 8
        case .f32, .s32, .u32: 4
        case .f16, .bf16, .u16, .s16: 2
        case .u8, .s8, .bool: 1
        }
    }

    /// Whether this type is one of the 8-bit quantized integer types.
    public var isQuantized8Bit: Bool { self == .u8 || self == .s8 }

    /// The full representable range of an integer type of at most 32 bits; `nil` for
    /// floating types, bool, u32 and the 64-bit integers (wider than `Int32`).
    public var integerRange: ClosedRange<Int32>? {
        switch self {
        case .u8: 0...255
        case .s8: -128...127
        case .u16: 0...65535
        case .s16: -32768...32767
        case .s32: Int32.min...Int32.max
        case .f32, .f16, .bf16, .f64, .s64, .u32, .u64, .bool: nil
        }
    }

    /// Whether the type is a floating-point type.
    public var isFloatingPoint: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .f64 }

    /// Whether the type is an integer type (signed or not; bool is not).
    public var isInteger: Bool { [.u8, .s8, .u16, .s16, .s32, .u32, .s64, .u64].contains(self) }

    public var description: String { rawValue }
}

extension DType {
    /// The ONNX `TensorProto.DataType` code of this type (FLOAT = 1, UINT8 = 2, …, BFLOAT16 = 16).
    public var onnxCode: Int32 {
        switch self {
        case .f32: 1
        case .u8: 2
        case .s8: 3
        case .u16: 4
        case .s16: 5
        case .s32: 6
        case .s64: 7
        case .bool: 9
        case .f16: 10
        case .f64: 11
        case .u32: 12
        case .u64: 13
        case .bf16: 16
        }
    }

    /// The type whose ONNX `TensorProto.DataType` code is `code`; `nil` for types Octet
    /// does not hold (strings, complex, 8-bit and 4-bit floats, 4-bit and 2-bit integers).
    public init?(onnxCode code: Int) {
        guard let t = DType.allCases.first(where: { Int($0.onnxCode) == code }) else { return nil }
        self = t
    }

    /// The ONNX names of the types Octet holds, for messages.
    public static let onnxNames = "FLOAT, DOUBLE, FLOAT16, BFLOAT16, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, BOOL"
}
