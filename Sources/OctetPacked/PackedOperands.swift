import COctetPackedKernels
import OctetCore

/// The first element of a non-empty buffer; an empty one is an error, not a crash.
func base<T>(_ p: UnsafeBufferPointer<T>) throws -> UnsafePointer<T> {
    guard let b = p.baseAddress else { throw PackedError.shape("empty operand") }
    return b
}

func base<T>(_ p: UnsafeMutableBufferPointer<T>) throws -> UnsafeMutablePointer<T> {
    guard let b = p.baseAddress else { throw PackedError.shape("empty output") }
    return b
}

/// The caller's output buffer, raw (u8 or f32).
func withOutput<R>(_ t: inout Tensor, _ body: (UnsafeMutableRawPointer) throws -> R) throws -> R {
    switch t.dtype {
    case .u8: return try t.withUnsafeMutableBufferPointer(as: UInt8.self) { p in try body(UnsafeMutableRawPointer(try base(p))) }
    case .f32: return try t.withUnsafeMutableBufferPointer(as: Float.self) { p in try body(UnsafeMutableRawPointer(try base(p))) }
    default: throw PackedError.unsupported("\(t.dtype) output")
    }
}

/// Input `i`, which must have this shape, type and (for 4-D operands) channels-last or not.
func checked(_ inputs: [Tensor], _ i: Int, _ shape: TensorShape, _ type: DType, channelsLast: Bool = false) throws -> Tensor {
    guard i < inputs.count, inputs[i].shape == shape, inputs[i].dtype == type, (inputs[i].layout == .nhwc) == channelsLast else {
        throw PackedError.shape("input \(i) must be \(shape) \(type)\(channelsLast ? " nhwc" : ""), got " +
                                (i < inputs.count ? "\(inputs[i].shape) \(inputs[i].dtype) \(inputs[i].layout)" : "nothing"))
    }
    return inputs[i]
}

func checkOutput(_ t: Tensor, _ shape: TensorShape, _ type: DType, channelsLast: Bool = false) throws {
    guard t.shape == shape, t.dtype == type, (t.layout == .nhwc) == channelsLast else {
        throw PackedError.shape("output must be \(shape) \(type)\(channelsLast ? " nhwc" : ""), got \(t.shape) \(t.dtype) \(t.layout)")
    }
}

/// A direct u8 source: row m at `x + m · lda`.
func directSource(_ x: UnsafePointer<UInt8>, lda: Int) -> octet_packed_a_source {
    octet_packed_a_source(x: x, xf: nil, lda: lda, offsets: nil, taps: 0, channels: 0, zero: nil, inv_scale: 0, zero_point: 0, row_scales: nil, row_zero_points: nil)
}

extension Optional {
    func orThrow() throws -> Wrapped {
        guard let v = self else { throw PackedError.shape("cannot infer the output shape") }
        return v
    }
}

/// The u8 bytes of `t` (a fused sum's operand), or `nil` without one, valid inside `body`.
func withOptionalBytes<R>(_ t: Tensor?, _ body: (UnsafePointer<UInt8>?) throws -> R) throws -> R {
    guard let t else { return try body(nil) }
    return try t.withUnsafeBufferPointer(as: UInt8.self) { try body(try base($0)) }
}
