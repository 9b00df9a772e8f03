import OctetCore

/// 8-bit tensors read as Int32, for plain arithmetic.
enum QuantizedOperands {
    static func ints(_ t: Tensor) throws -> [Int32] {
        switch t.dtype {
        case .u8: return try t.scalars(as: UInt8.self).map(Int32.init)
        case .s8: return try t.scalars(as: Int8.self).map(Int32.init)
        case .s32: return try t.scalars(as: Int32.self)
        default: throw QNNPackError.operandType(t.dtype)
        }
    }

    /// Writes quantized values (already in range) into an u8 or s8 tensor.
    static func store(_ values: [Int32], into output: inout Tensor) throws {
        switch output.dtype {
        case .u8: try output.withUnsafeMutableBufferPointer(as: UInt8.self) { d in for i in values.indices { d[i] = UInt8(clamping: values[i]) } }
        case .s8: try output.withUnsafeMutableBufferPointer(as: Int8.self) { d in for i in values.indices { d[i] = Int8(clamping: values[i]) } }
        default: throw QNNPackError.operandType(output.dtype)
        }
    }

    static func store(_ values: [Float], into output: inout Tensor) throws {
        try output.withUnsafeMutableBufferPointer(as: Float.self) { d in for i in values.indices { d[i] = values[i] } }
    }
}

/// Why the reference backend could not prepare or run an op.
public enum QNNPackError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupported(String)
    case missing(String)
    case operandType(DType)
    case shape(String)

    public var description: String {
        switch self {
        case let .unsupported(s): "qnnpack-ref: \(s)"
        case let .missing(s): "qnnpack-ref: missing \(s)"
        case let .operandType(t): "qnnpack-ref: operand of type \(t) where an 8-bit quantized tensor was expected"
        case let .shape(s): "qnnpack-ref: \(s)"
        }
    }
}

