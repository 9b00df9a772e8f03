import OctetCore

extension QDQParameters {
    /// The scale and zero point of a per-tensor QuantizeLinear / DequantizeLinear, read
    /// without building arrays, so that a warm run allocates nothing: `nil` unless the
    /// scale is one valid f32 (finite, > 0, finite reciprocal, as `scaleValues` requires)
    /// and the zero point, when given, one u8, s8, u16, s16 or s32. Otherwise the caller
    /// reads them with `init(scale:zeroPoint:axis:site:scaleInput:)`, which reports what is
    /// wrong.
    static func perTensor(scale: Tensor, zeroPoint: Tensor?) -> (scale: Float, zeroPoint: Int32)? {
        guard scale.dtype == .f32, scale.shape.elementCount == 1 else { return nil }
        let s = scale.withUnsafeBytes { $0.load(as: Float.self) }
        guard s.isFinite, s > 0, (1 / s).isFinite else { return nil }
        guard let zeroPoint else { return (s, 0) }
        guard zeroPoint.shape.elementCount == 1 else { return nil }
        let z: Int32? = zeroPoint.withUnsafeBytes { b in
            switch zeroPoint.dtype {
            case .u8: Int32(b.load(as: UInt8.self))
            case .s8: Int32(b.load(as: Int8.self))
            case .u16: Int32(b.load(as: UInt16.self))
            case .s16: Int32(b.load(as: Int16.self))
            case .s32: b.load(as: Int32.self)
            default: nil
            }
        }
        return z.map { (s, $0) }
    }

    /// A QuantizeLinear / DequantizeLinear's parameters as its run reads them: `single` when
    /// they are one scale and one zero point (read without arrays when valid), and `full`,
    /// the complete reading, only when the fast read did not apply.
    ///
    /// - Throws: `GraphError` naming the node when the parameters are invalid.
    static func read(scale: Tensor, zeroPoint: Tensor?, axis: Int, site: OperatorSite) throws
        -> (single: (scale: Float, zeroPoint: Int32)?, full: QDQParameters?) {
        if let single = perTensor(scale: scale, zeroPoint: zeroPoint) { return (single, nil) }
        let full = try QDQParameters(scale: scale, zeroPoint: zeroPoint, axis: axis, site: site)
        return (full.scales.count == 1 ? (full.scales[0], full.zeroPoints[0]) : nil, full)
    }
}
