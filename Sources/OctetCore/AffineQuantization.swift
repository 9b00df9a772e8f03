/// Scalar affine quantization with PyTorch's (ATen `quantize_val`, FBGEMM) semantics.
///
/// Defined behaviour for every `Float` input, with no trap:
/// - rounding is half to even (`std::nearbyint` in the default rounding mode);
/// - `quantize` multiplies by the reciprocal scale, `x * (1 / scale)`, as PyTorch does
///   (not `x / scale`; the two can differ by one ulp and so at exact ties);
/// - `+Inf` saturates to `qmax`, `-Inf` to `qmin`;
/// - `NaN` maps to `qmin`, which is what PyTorch's scalar and AVX2 paths produce on x86
///   (the float-to-int conversion yields the "integer indefinite" value, then clamps).
public enum AffineQuantization {
    /// `clamp(round_half_even(x * (1 / scale)) + zeroPoint, qmin, qmax)`.
    @inlinable
    public static func quantize(_ x: Float, scale: Float, zeroPoint: Int32, qmin: Int32, qmax: Int32) -> Int32 {
        let inverseScale: Float = 1 / scale
        return saturatingRound(x * inverseScale, zeroPoint: zeroPoint, qmin: qmin, qmax: qmax)
    }

    /// ONNX's QuantizeLinear: `clamp(round_half_even(x / scale) + zeroPoint, qmin, qmax)`,
    /// dividing by the scale as the ONNX specification and ONNX Runtime do (`quantize`
    /// multiplies by the reciprocal, as PyTorch does). Rounds before adding the zero point.
    @inlinable
    public static func quantizeDividing(_ x: Float, scale: Float, zeroPoint: Int32, qmin: Int32, qmax: Int32) -> Int32 {
        saturatingRound(x / scale, zeroPoint: zeroPoint, qmin: qmin, qmax: qmax)
    }

    /// `(q - zeroPoint) * scale`, the difference taken exactly in 64 bits.
    @inlinable
    public static func dequantize(_ q: Int32, scale: Float, zeroPoint: Int32) -> Float {
        Float(Int64(q) - Int64(zeroPoint)) * scale
    }

    /// Requantization of an int32 accumulator, FBGEMM's float path:
    /// `clamp(round_half_even(Float(acc) * multiplier) + zeroPoint, qmin, qmax)`, where
    /// `multiplier = s_in * s_w / s_out`. Fusing ReLU means `qmin = zeroPoint`.
    @inlinable
    public static func requantize(_ acc: Int32, multiplier: Float, zeroPoint: Int32, qmin: Int32, qmax: Int32) -> Int32 {
        saturatingRound(Float(acc) * multiplier, zeroPoint: zeroPoint, qmin: qmin, qmax: qmax)
    }

    /// `clamp(round_half_even(value) + zeroPoint, qmin, qmax)` with NaN → `qmin` and
    /// infinities saturating. The clamp happens in `Double`, which holds every sum of an
    /// integral `Float` below 2^53 and an `Int32` exactly, so nothing overflows.
    @inlinable
    public static func saturatingRound(_ value: Float, zeroPoint: Int32, qmin: Int32, qmax: Int32) -> Int32 {
        let r = value.rounded(.toNearestOrEven)
        if r.isNaN { return qmin }
        let shifted = Double(r) + Double(zeroPoint)
        return Int32(Swift.min(Swift.max(shifted, Double(qmin)), Double(qmax)))
    }
}

extension AffineQuantization {
    /// Quantizes an `f32` tensor with `params` (per tensor, or per channel along the
    /// axis of `params`; the axis indexes `dims` in storage order).
    public static func quantize(_ tensor: Tensor, with params: QuantParams) throws -> Tensor {
        let values: [Float] = try tensor.scalars()
        let channelOf = try channelIndexer(shape: tensor.shape, params: params)
        var out = try Tensor(zeros: params.dtype, shape: tensor.shape, layout: tensor.layout, quantization: params)
        switch params.dtype {
        case .u8:
            try out.withUnsafeMutableBufferPointer(as: UInt8.self) { dst in
                for i in values.indices {
                    let c = channelOf(i)
                    dst[i] = UInt8(quantize(values[i], scale: params.scale(channel: c), zeroPoint: params.zeroPoint(channel: c), qmin: params.qmin, qmax: params.qmax))
                }
            }
        case .s8:
            try out.withUnsafeMutableBufferPointer(as: Int8.self) { dst in
                for i in values.indices {
                    let c = channelOf(i)
                    dst[i] = Int8(quantize(values[i], scale: params.scale(channel: c), zeroPoint: params.zeroPoint(channel: c), qmin: params.qmin, qmax: params.qmax))
                }
            }
        case .s32:
            try out.withUnsafeMutableBufferPointer(as: Int32.self) { dst in
                for i in values.indices {
                    let c = channelOf(i)
                    dst[i] = quantize(values[i], scale: params.scale(channel: c), zeroPoint: params.zeroPoint(channel: c), qmin: params.qmin, qmax: params.qmax)
                }
            }
        default:
            throw QuantizationError.notAnIntegerType(params.dtype)
        }
        return out
    }

    /// Dequantizes a tensor that carries its `quantization` parameters into `f32`.
    public static func dequantize(_ tensor: Tensor) throws -> Tensor {
        guard let params = tensor.quantization else { throw TensorError.dtypeMismatch(expected: .f32, got: tensor.dtype) }
        let channelOf = try channelIndexer(shape: tensor.shape, params: params)
        let ints: [Int32] = switch tensor.dtype {
        case .u8: try tensor.scalars(as: UInt8.self).map(Int32.init)
        case .s8: try tensor.scalars(as: Int8.self).map(Int32.init)
        case .s32: try tensor.scalars(as: Int32.self)
        default: throw QuantizationError.notAnIntegerType(tensor.dtype)
        }
        var result = [Float](repeating: 0, count: ints.count)
        for i in ints.indices {
            let c = channelOf(i)
            result[i] = dequantize(ints[i], scale: params.scale(channel: c), zeroPoint: params.zeroPoint(channel: c))
        }
        return try Tensor(result, shape: tensor.shape, layout: tensor.layout)
    }

    /// Maps a flat row-major index to its channel under `params`.
    static func channelIndexer(shape: TensorShape, params: QuantParams) throws(QuantizationError) -> @Sendable (Int) -> Int {
        switch params.granularity {
        case .perTensor:
            return { _ in 0 }
        case let .perChannel(axis):
            guard axis < shape.rank, shape[axis] == params.scales.count else {
                throw .countMismatch(scales: params.scales.count, zeroPoints: axis < shape.rank ? shape[axis] : -1)
            }
            let inner = shape.dims[(axis + 1)...].reduce(1, *)
            let channels = shape[axis]
            return { i in (i / inner) % channels }
        }
    }
}
