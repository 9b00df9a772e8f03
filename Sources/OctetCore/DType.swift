/// The element types Octet's tensors hold.
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

    /// Bytes one element occupies.
    public var byteSize: Int {
        switch self {
        case .s64: 8
        case .f32, .s32: 4
        case .f16: 2
        case .u8, .s8, .bool: 1
        }
    }

    /// Whether this type is one of the 8-bit quantized integer types.
    public var isQuantized8Bit: Bool { self == .u8 || self == .s8 }

    /// The full representable range of an integer type; `nil` for floating types.
    public var integerRange: ClosedRange<Int32>? {
        switch self {
        case .u8: 0...255
        case .s8: -128...127
        case .s32: Int32.min...Int32.max
        case .f32, .f16, .s64, .bool: nil
        }
    }

    /// Whether the type is a floating-point type.
    public var isFloatingPoint: Bool { self == .f32 || self == .f16 }

    public var description: String { rawValue }
}
