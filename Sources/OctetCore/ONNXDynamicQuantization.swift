/// ONNX `DynamicQuantizeLinear`'s parameters (per tensor, u8), which differ from PyTorch's
/// observers (`QParamsSelection`) in two ways: an empty range gets scale 1 (not `eps`), and
/// values are quantized by dividing by the scale (`AffineQuantization.quantizeDividing`).
public enum ONNXDynamicQuantization {
    /// Scale and zero point for values in `lo...hi` (finite): the range widened to hold 0,
    /// `scale = (max − min) / 255` (1 when the range is empty or not finite, as ONNX Runtime),
    /// `zero point = round_half_even(clamp(−min / scale, 0, 255))`.
    public static func parameters(min lo: Float, max hi: Float) -> (scale: Float, zeroPoint: Int32) {
        let minNeg = Swift.min(lo, 0), maxPos = Swift.max(hi, 0)
        let range = maxPos - minNeg
        let scale: Float = range > 0 && range.isFinite ? range / 255 : 1
        let zp = Int32(Swift.min(Swift.max(-minNeg / scale, 0), 255).rounded(.toNearestOrEven))
        return (scale, zp)
    }
}
