import Foundation

/// PyTorch's HistogramObserver: a 2048-bin histogram of the values; the range is the
/// sub-range of bins that minimizes the L2 error of quantizing the histogram to 256 levels
/// (128 with `reduceRange`), searched along PyTorch's path of shrinking from both ends
/// (`_non_linear_param_search`), keeping the best point of the whole path.
public struct HistogramObserver: Observer {
    public private(set) var histogram: RangeHistogram
    public let levels: Int
    public var method: CalibrationMethod { .histogram }

    public init(bins: Int = 2048, reduceRange: Bool = false) {
        histogram = RangeHistogram(bins: bins)
        levels = reduceRange ? 128 : 256
    }

    public mutating func observe(_ values: UnsafeBufferPointer<Float>) { histogram.add(values) }

    public func range() throws(ObserverError) -> (min: Float, max: Float) {
        guard !histogram.isEmpty else { throw .noData(method) }
        let h = histogram.counts, bins = histogram.binCount, total = histogram.total
        var cumulative = [Double](repeating: 0, count: bins)
        var acc = 0.0
        for i in 0..<bins { acc += h[i]; cumulative[i] = acc }
        let step = 1e-5
        var alpha = 0.0, beta = 1.0
        var start = 0, end = bins - 1
        // PyTorch stops at the first cut that raises the error (and always takes the first
        // cut); Octet walks the whole shrinking path and keeps its best point, the full
        // range included, so the result is never worse than min/max.
        var best = error(start: 0, end: bins - 1), bestStart = 0, bestEnd = bins - 1
        while alpha < beta && start < end {
            let nextAlpha = alpha + step, nextBeta = beta - step
            var l = start, r = end
            while l < end && cumulative[l] <= nextAlpha * total { l += 1 }
            while r > start && cumulative[r] > nextBeta * total { r -= 1 }
            if l - start > end - r {
                alpha = nextAlpha
                guard l != start else { continue }
                start = l
            } else {
                beta = nextBeta
                guard r != end else { continue }
                end = r
            }
            let norm = error(start: start, end: end)
            if norm < best { (best, bestStart, bestEnd) = (norm, start, end) }
        }
        (start, end) = (bestStart, bestEnd)
        let width = histogram.binWidth
        return (histogram.lower + width * Float(start), histogram.lower + width * Float(end + 1))
    }

    /// L2 error of mapping source bins `start...end` onto `levels` equal destination bins,
    /// with the density of each source bin uniform (PyTorch's `_compute_quantization_error`).
    func error(start: Int, end: Int) -> Double {
        let bins = histogram.binCount
        let width = Double(histogram.binWidth)
        let dstWidth = width * Double(end - start + 1) / Double(levels)
        guard dstWidth > 0 else { return 0 }
        func norm(_ a: Double, _ b: Double, _ density: Double) -> Double { density * (b * b * b - a * a * a) / 3 }
        var total = 0.0
        for i in 0..<bins where histogram.counts[i] > 0 {
            let density = histogram.counts[i] / width
            let begin = Double(i - start) * width, finish = begin + width
            let dstBegin = min(max((begin / dstWidth).rounded(.down), 0), Double(levels - 1))
            let dstEnd = min(max((finish / dstWidth).rounded(.down), 0), Double(levels - 1))
            let beginCenter = (dstBegin + 0.5) * dstWidth
            total += norm(begin - beginCenter, dstWidth / 2, density)
            total += (dstEnd - dstBegin - 1) * norm(-dstWidth / 2, dstWidth / 2, density)
            let endCenter = dstEnd * dstWidth + dstWidth / 2
            total += norm(-dstWidth / 2, finish - endCenter, density)
        }
        return total
    }
}

/// TensorRT's entropy calibration: a 2048-bin histogram of |x|; for each candidate
/// threshold (bin 128 to 2048) the clipped distribution P (outliers folded into the last
/// bin) is compared with its 128-level quantization Q, and the threshold with the least
/// KL(P‖Q) wins (256 levels when the data is non-negative, as u8 quantizes it after a ReLU).
/// The range is symmetric, cut to what was observed.
public struct EntropyObserver: Observer {
    public private(set) var magnitudes: RangeHistogram
    public private(set) var minimum = Float.infinity
    public private(set) var maximum = -Float.infinity
    public let levels: Int
    public var method: CalibrationMethod { .entropy }

    public init(bins: Int = 2048, levels: Int = 128) {
        magnitudes = RangeHistogram(bins: bins, anchoredAtZero: true)
        self.levels = levels
    }

    public mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        let (lo, hi) = batchRange(values)
        guard lo <= hi else { return }
        minimum = min(minimum, lo)
        maximum = max(maximum, hi)
        magnitudes.add(values, transform: abs)
    }

    public func range() throws(ObserverError) -> (min: Float, max: Float) {
        guard minimum <= maximum, !magnitudes.isEmpty else { throw .noData(method) }
        let t = threshold()
        return (max(minimum, -t), min(maximum, t))
    }

    /// The |x| threshold with the least KL divergence.
    public func threshold() -> Float {
        // Non-negative data (after ReLU) is quantized to u8 over [0, t]: all 256 levels serve it.
        let levels = self.levels
        let h = magnitudes.counts, bins = h.count
        guard bins > levels else { return magnitudes.upper }
        var bestKL = Double.infinity, bestBin = bins
        for i in levels...bins {
            var p = Array(h[0..<i])
            p[i - 1] += h[i...].reduce(0, +)
            // Q: merge the first i bins into `levels` groups, spread each group's mass over its non-empty bins.
            var q = [Double](repeating: 0, count: i)
            let perGroup = Double(i) / Double(levels)
            for g in 0..<levels {
                let a = Int((Double(g) * perGroup).rounded(.down)), b = g == levels - 1 ? i : Int((Double(g + 1) * perGroup).rounded(.down))
                guard b > a else { continue }
                var mass = 0.0, nonEmpty = 0
                for k in a..<b where h[k] > 0 { mass += h[k]; nonEmpty += 1 }
                guard nonEmpty > 0 else { continue }
                for k in a..<b where h[k] > 0 { q[k] = mass / Double(nonEmpty) }
            }
            let kl = divergence(p, q)
            if kl < bestKL { bestKL = kl; bestBin = i }
        }
        return magnitudes.lower + magnitudes.binWidth * (Float(bestBin) + 0.5) > magnitudes.upper
            ? magnitudes.upper : magnitudes.lower + magnitudes.binWidth * (Float(bestBin) + 0.5)
    }

    /// KL(P‖Q) after MXNet/TensorRT's smoothing: zero bins of each distribution get a small
    /// mass taken evenly from its non-zero bins, so the divergence stays finite.
    func divergence(_ p: [Double], _ q: [Double]) -> Double {
        guard let ps = Self.smoothed(p), let qs = Self.smoothed(q) else { return .infinity }
        var kl = 0.0
        for k in ps.indices where ps[k] > 0 { kl += ps[k] * log(ps[k] / qs[k]) }
        return kl
    }

    static func smoothed(_ d: [Double], eps: Double = 0.0001) -> [Double]? {
        let sum = d.reduce(0, +)
        guard sum > 0 else { return nil }
        let zeros = d.filter { $0 == 0 }.count, nonZeros = d.count - zeros
        guard nonZeros > 0 else { return nil }
        let taken = eps * Double(zeros) / Double(nonZeros)
        guard taken < 1 else { return nil }
        return d.map { $0 == 0 ? eps : max($0 / sum - taken, eps * 0.5) }
    }
}

/// The `percentile` and `100 - percentile` points of the values, from a 2048-bin histogram.
public struct PercentileObserver: Observer {
    public let percentile: Double
    public private(set) var histogram = RangeHistogram(bins: 2048)
    public var method: CalibrationMethod { .percentile }

    public init(percentile: Double = 99.99) { self.percentile = min(max(percentile, 50), 100) }

    public mutating func observe(_ values: UnsafeBufferPointer<Float>) { histogram.add(values) }

    public func range() throws(ObserverError) -> (min: Float, max: Float) {
        guard !histogram.isEmpty else { throw .noData(method) }
        return (histogram.quantile(1 - percentile / 100), histogram.quantile(percentile / 100))
    }
}
