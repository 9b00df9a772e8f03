import OctetCore

/// The largest code a fused 8-bit op may write: 127 where the QDQ graph clips the op's output
/// to the 7-bit range before its QuantizeLinear (a `reduce_range` edge, as `octet quantize`
/// writes it for the packed 7-bit kernels). `QDQFusion` takes that Clip into the op as the
/// attribute `octet.qmax` on `QuantizedAdd`, `QuantizedMul` and the 8-bit pools. Since round-half-even and
/// the division by a positive scale are monotonic, `min(rne(x / s) + z, 127)` equals the
/// QuantizeLinear of `Clip(x, ·, (127 − z)·s)`, so the fused op still gives the QDQ graph's
/// codes exactly.
public enum OutputCodeLimit {
    public static let attribute = "octet.qmax"
    /// What a 7-bit Clip becomes.
    static let sevenBit: Int32 = 127

    /// The code bound written on `n` under `name` (the upper limit by default), or `nil` when it has none.
    /// - Throws: `GraphError` when the attribute is not an int in [-128, 255].
    static func read(_ n: Node, _ name: String = attribute) throws -> Int32? {
        guard let v = try n.int(name) else { return nil }
        guard (-128...255).contains(v) else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: name, expected: "an int in [-128, 255]", got: "\(v)")
        }
        return Int32(v)
    }

    /// Per-tensor parameters whose largest code is `limit` (the type's maximum when `nil`), as
    /// backends read an output range (`QuantParams.qmax`).
    /// - Throws: `QuantizationError` for a scale that is not finite and positive, or a zero
    ///   point outside the range.
    static func params(scale: Float, zeroPoint: Int32, dtype: DType, limit: Int32?) throws -> QuantParams {
        let full = try QuantParams.quantizedRange(dtype: dtype, reduceRange: false)
        let hi = min(limit ?? full.upperBound, full.upperBound)
        return try QuantParams(scales: [scale], zeroPoints: [zeroPoint], granularity: .perTensor, dtype: dtype,
                               qmin: full.lowerBound, qmax: hi, reduceRange: hi == sevenBit && dtype == .u8)
    }

    /// The limit to write for output parameters `y`: `nil` when `y` spans its type.
    static func limit(of y: QuantParams) -> Int32? {
        guard let full = y.dtype.integerRange, y.qmax < full.upperBound else { return nil }
        return y.qmax
    }
}
