/// A fixed number of equal bins over a range that widens as values arrive: when a batch
/// falls outside, the counts are redistributed over the wider range in proportion to how
/// each old bin overlaps the new ones.
public struct RangeHistogram: Sendable {
    public let binCount: Int
    public private(set) var lower: Float = 0
    public private(set) var upper: Float = 0
    public private(set) var counts: [Double]
    public private(set) var total: Double = 0

    /// Whether the range always starts at 0 (histograms of magnitudes).
    public let anchoredAtZero: Bool

    public init(bins: Int = 2048, anchoredAtZero: Bool = false) {
        binCount = max(bins, 1)
        counts = Array(repeating: 0, count: binCount)
        self.anchoredAtZero = anchoredAtZero
    }

    public var isEmpty: Bool { total == 0 }
    public var binWidth: Float { (upper - lower) / Float(binCount) }

    public mutating func add(_ values: UnsafeBufferPointer<Float>, transform: (Float) -> Float = { $0 }) {
        var lo = Float.infinity, hi = -Float.infinity
        for v in values where v.isFinite {
            let t = transform(v)
            lo = min(lo, t)
            hi = max(hi, t)
        }
        guard lo <= hi else { return }
        if anchoredAtZero { lo = min(lo, 0) }
        if isEmpty {
            lower = lo
            upper = hi > lo ? hi : lo + max(abs(lo) * 1e-6, 1e-12)
        } else if lo < lower || hi > upper {
            widen(to: min(lo, lower), max(hi, upper))
        }
        let scale = Double(binCount) / Double(upper - lower)
        for v in values where v.isFinite {
            let b = Int((Double(transform(v) - lower) * scale).rounded(.down))
            counts[min(max(b, 0), binCount - 1)] += 1
        }
        total = counts.reduce(0, +)
    }

    private mutating func widen(to lo: Float, _ hi: Float) {
        let oldWidth = Double(upper - lower) / Double(binCount)
        let newWidth = Double(hi - lo) / Double(binCount)
        var fresh = [Double](repeating: 0, count: binCount)
        for (i, c) in counts.enumerated() where c > 0 {
            let a = Double(lower) + Double(i) * oldWidth, b = a + oldWidth
            var j = Int(((a - Double(lo)) / newWidth).rounded(.down))
            j = min(max(j, 0), binCount - 1)
            while j < binCount {
                let s = Double(lo) + Double(j) * newWidth, e = s + newWidth
                let overlap = min(b, e) - max(a, s)
                if overlap > 0 { fresh[j] += c * overlap / oldWidth }
                if e >= b { break }
                j += 1
            }
        }
        counts = fresh
        lower = lo
        upper = hi
    }

    /// The value below which `fraction` of the counts lie (linear within a bin).
    public func quantile(_ fraction: Double) -> Float {
        let target = fraction * total
        var acc = 0.0
        for (i, c) in counts.enumerated() {
            if acc + c >= target {
                let within = c > 0 ? (target - acc) / c : 0
                return lower + binWidth * (Float(i) + Float(within))
            }
            acc += c
        }
        return upper
    }
}
