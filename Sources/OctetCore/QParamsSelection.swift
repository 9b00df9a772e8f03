/// Chooses quantization parameters from an observed range, exactly as PyTorch's
/// observers do (`torch.ao.quantization.observer._calculate_qparams`), in `Float`:
///
/// - the range is widened to include 0 (`min_neg = min(min, 0)`, `max_pos = max(max, 0)`);
/// - affine: `scale = max((max_pos - min_neg) / (qmax - qmin), eps)`,
///   `zero_point = clamp(qmin - round_half_even(min_neg / scale), qmin, qmax)`;
/// - symmetric: `scale = max(max(-min_neg, max_pos) / ((qmax - qmin) / 2), eps)`,
///   zero point 0 for `s8`, and the middle of the range for `u8` (128 for 0...255;
///   64 for the reduced 0...127, where PyTorch keeps 128, outside its own range);
/// - `eps` is `Float.ulpOfOne` (PyTorch's `torch.finfo(torch.float32).eps`).
public enum QParamsSelection {
    /// Parameters for one tensor from its observed `min` and `max`.
    public static func choose(
        min lo: Float, max hi: Float, dtype: DType, symmetric: Bool = false, reduceRange: Bool = false
    ) throws(QuantizationError) -> QuantParams {
        let (scale, zp, range) = try scaleAndZeroPoint(min: lo, max: hi, dtype: dtype, symmetric: symmetric, reduceRange: reduceRange)
        return try QuantParams(scales: [scale], zeroPoints: [zp], granularity: .perTensor, dtype: dtype, qmin: range.lowerBound, qmax: range.upperBound, reduceRange: reduceRange)
    }

    /// Per-channel parameters along `axis` from per-channel `mins` and `maxs`.
    public static func choosePerChannel(
        mins: [Float], maxs: [Float], axis: Int, dtype: DType, symmetric: Bool = true, reduceRange: Bool = false
    ) throws(QuantizationError) -> QuantParams {
        guard mins.count == maxs.count, !mins.isEmpty else { throw .countMismatch(scales: mins.count, zeroPoints: maxs.count) }
        var scales: [Float] = []
        var zps: [Int32] = []
        var range: ClosedRange<Int32> = 0...1
        for c in mins.indices {
            let r = try scaleAndZeroPoint(min: mins[c], max: maxs[c], dtype: dtype, symmetric: symmetric, reduceRange: reduceRange)
            scales.append(r.scale)
            zps.append(r.zeroPoint)
            range = r.range
        }
        return try QuantParams(scales: scales, zeroPoints: zps, granularity: .perChannel(axis: axis), dtype: dtype, qmin: range.lowerBound, qmax: range.upperBound, reduceRange: reduceRange)
    }

    static func scaleAndZeroPoint(
        min lo: Float, max hi: Float, dtype: DType, symmetric: Bool, reduceRange: Bool
    ) throws(QuantizationError) -> (scale: Float, zeroPoint: Int32, range: ClosedRange<Int32>) {
        guard lo.isFinite, hi.isFinite else { throw .nonFiniteRange(min: lo, max: hi) }
        guard lo <= hi else { throw .invertedRange(min: lo, max: hi) }
        let range = try QuantParams.quantizedRange(dtype: dtype, reduceRange: reduceRange)
        let qmin = range.lowerBound, qmax = range.upperBound
        let eps = Float.ulpOfOne
        let minNeg = Swift.min(lo, 0)
        let maxPos = Swift.max(hi, 0)
        if symmetric {
            let amax = Swift.max(-minNeg, maxPos)
            let scale = Swift.max(amax / (Float(qmax - qmin) / 2), eps)
            let zp: Int32 = dtype == .u8 ? Int32((Int64(qmin) + Int64(qmax) + 1) / 2) : 0
            return (scale, zp, range)
        }
        let scale = Swift.max((maxPos - minNeg) / Float(qmax - qmin), eps)
        let zp = AffineQuantization.saturatingRound(-(minNeg / scale), zeroPoint: qmin, qmin: qmin, qmax: qmax)
        return (scale, zp, range)
    }
}
