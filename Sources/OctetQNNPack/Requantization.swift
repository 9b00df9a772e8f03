import OctetCore

/// How an int32 accumulator becomes an 8-bit output.
///
/// - `float` is FBGEMM's (PyTorch x86's) arithmetic: `raw_f = Float(acc)`, plus
///   `bias_f32 / (s_in·s_w)` for a float bias; `q = lrintf(raw_f · m) + zp_out`, clamped,
///   with `m = (s_in·s_w) / s_out` in `Float` and rounding half to even.
/// - `fixedPoint` is gemmlowp's (QNNPACK's, TFLite's): `m = M0 · 2^shift` with `M0` a Q31
///   integer in [2^30, 2^31); a saturating rounding doubling high multiply (ties round
///   upward: 2.5 → 3, −2.5 → −2), then a rounding right shift (ties away from zero). A float bias is first rounded to s32
///   with scale `s_in·s_w`. Multipliers ≥ 1 shift left first; tiny ones shift right by up
///   to 63 bits, all in 64-bit arithmetic, so no scale is refused.
///
/// The two agree to within one quantization step: they differ only when `acc·m` lies
/// within about 2^-22 relative of a rounding tie, or exactly on one (half-even against
/// half-away). `RequantizationTests` checks the bound over random scales.
public enum RequantizationStyle: String, Sendable, Hashable, CaseIterable {
    case float
    case fixedPoint = "fixed-point"
}

/// A positive real multiplier as a Q31 integer and a power of two (gemmlowp's form).
public struct FixedPointMultiplier: Sendable, Hashable {
    /// `M0 · 2^31`, in [2^30, 2^31).
    public let q31: Int64
    /// Power of two: positive shifts left, negative right.
    public let shift: Int

    /// The Q31 form of `real`, which must be finite and > 0.
    public init?(_ real: Double) {
        guard real.isFinite, real > 0 else { return nil }
        // real = significand · 2^exponent with significand in [1, 2) = (significand/2) · 2^(exponent+1).
        var q = Int64((real.significand / 2 * 2_147_483_648).rounded(.toNearestOrAwayFromZero))
        var e = Int(real.exponent) + 1
        if q == 1 << 31 {
            q >>= 1
            e += 1
        }
        q31 = q
        shift = e
    }

    /// `round(x · real)` in gemmlowp's arithmetic (not yet offset or clamped).
    public func apply(_ x: Int64) -> Int64 {
        let left = max(shift, 0), right = max(-shift, 0)
        let saturated: Int64 = x > 0 ? Int64(Int32.max) : Int64(Int32.min)
        var v = min(max(x, Int64(Int32.min)), Int64(Int32.max))
        if left > 0 {
            // A left shift that leaves the int32 range saturates the result (gemmlowp's
            // SaturatingLeftShift); the multiplier, < 1 in Q31, cannot bring it back in.
            if v == 0 { return 0 }
            guard left < 32, abs(v) < Int64(1) << (31 - left) else { return saturated }
            v <<= left
        }
        // Saturating rounding doubling high multiply: (v · q31 + nudge) / 2^31, truncating.
        let product = v * q31
        let nudge: Int64 = product >= 0 ? 1 << 30 : 1 - (1 << 30)
        let high = (product + nudge) / (1 << 31)
        // Rounding divide by 2^right, ties away from zero.
        guard right > 0 else { return high }
        guard right < 63 else { return 0 }
        let mask = (Int64(1) << right) - 1
        let remainder = high & mask
        let threshold = (mask >> 1) + (high < 0 ? 1 : 0)
        return (high >> right) + (remainder > threshold ? 1 : 0)
    }
}

/// Turns one output channel's accumulators into quantized outputs (or f32).
struct ChannelRequantizer: Sendable {
    let style: RequantizationStyle
    /// `s_in · s_w` as FBGEMM computes it (Float).
    let inputTimesWeightScale: Float
    /// `(s_in · s_w) / s_out`.
    let multiplier: Float
    let fixed: FixedPointMultiplier?
    let zeroPoint: Int32
    let qmin: Int32, qmax: Int32
    /// Bias: one of these or neither.
    let biasS32: Int32?
    let biasF32: Float?
    /// Clamp for an f32 output (ReLU/Clip).
    let floatLo: Float, floatHi: Float

    /// Quantized output value of `acc` (s32 accumulator, zero points already removed).
    func quantized(_ acc: Int32) -> Int32 {
        switch style {
        case .float:
            var raw = acc
            if let b = biasS32 { raw = raw &+ b }
            var rawF = Float(raw)
            if let b = biasF32 { rawF += b / inputTimesWeightScale }
            return AffineQuantization.saturatingRound(rawF * multiplier, zeroPoint: zeroPoint, qmin: qmin, qmax: qmax)
        case .fixedPoint:
            let withBias = Int64(acc) + Int64(biasS32 ?? 0)
            let scaled = (fixed?.apply(withBias) ?? 0) + Int64(zeroPoint)
            return Int32(min(max(scaled, Int64(qmin)), Int64(qmax)))
        }
    }

    /// Dequantized (f32) output of `acc`: `acc · s_in·s_w + bias`, clamped.
    func real(_ acc: Int32) -> Float {
        var raw = acc
        if let b = biasS32 { raw = raw &+ b }
        let v = Float(raw) * inputTimesWeightScale + (biasF32 ?? 0)
        return min(max(v, floatLo), floatHi)
    }
}
