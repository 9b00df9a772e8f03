import Foundation
import OctetCore
import OctetQuant
import Testing

/// Observers on known distributions, checked against values computed here independently.
@Suite struct ObserverTests {
    /// 3 batches of N(0, 1) with a few outliers at ±40.
    static func gaussianWithOutliers() -> [[Float]] {
        var g = SeededGenerator(seed: 7)
        var batches = (0..<3).map { _ in (0..<40_000).map { _ in g.gaussian() } }
        batches[1][5] = 40
        batches[2][9] = -40
        batches[0][3] = 35
        return batches
    }

    /// Mean squared error of quantize-dequantize (u8, affine) of `values` with a range.
    static func quantizationError(_ values: [Float], _ range: (Float, Float)) throws -> Double {
        let p = try QParamsSelection.choose(min: range.0, max: range.1, dtype: .u8)
        let s = p.scales[0], z = p.zeroPoints[0]
        return values.reduce(0.0) { acc, x in
            let q = min(max((x / s).rounded(.toNearestOrEven) + Float(z), 0), 255)
            let d = Double((q - Float(z)) * s - x)
            return acc + d * d
        } / Double(values.count)
    }

    @Test func minMaxIsTheExtremes() throws {
        var o = MinMaxObserver()
        let batches = Self.gaussianWithOutliers()
        for b in batches { o.observe(b) }
        let all = batches.flatMap { $0 }
        let r = try o.range()
        #expect(r.min == all.min() && r.max == all.max())
    }

    @Test func movingAverageFollowsTheRecurrence() throws {
        var o = MovingAverageObserver(averagingConstant: 0.01)
        let batches: [[Float]] = [[-1, 2], [-3, 10], [0.5, 1], [-2, 4]]
        var lo = Float(-1), hi = Float(2)
        for b in batches.dropFirst() {
            lo += 0.01 * ((b.min() ?? 0) - lo)
            hi += 0.01 * ((b.max() ?? 0) - hi)
        }
        for b in batches { o.observe(b) }
        let r = try o.range()
        #expect(abs(r.min - lo) < 1e-6 && abs(r.max - hi) < 1e-6, "\(r) vs \(lo), \(hi)")
    }

    /// Laplace(0, 1) samples: a heavy tail that the L2-optimal range cuts.
    static func laplace() -> [Float] {
        var g = SeededGenerator(seed: 11)
        return (0..<120_000).map { _ in
            let u = Float.random(in: -0.5..<0.5, using: &g)
            return (u < 0 ? 1 : -1) * log(1 - 2 * abs(u))
        }
    }

    /// The histogram observer minimizes the L2 quantization error: measured directly on the
    /// samples, its range does no worse than min/max, and it cuts a heavy tail.
    @Test(arguments: ["laplace", "gaussian-with-outliers"])
    func histogramRangeLowersTheMeasuredError(_ data: String) throws {
        let all = data == "laplace" ? Self.laplace() : Self.gaussianWithOutliers().flatMap { $0 }
        var o = HistogramObserver()
        for start in stride(from: 0, to: all.count, by: 40_000) { o.observe(Array(all[start..<min(start + 40_000, all.count)])) }
        let r = try o.range()
        let chosen = try Self.quantizationError(all, r), full = try Self.quantizationError(all, (all.min() ?? 0, all.max() ?? 0))
        #expect(chosen <= full * 1.02, "\(data): L2 error \(chosen) with \(r) vs \(full) with the full range")
        if data == "laplace" {
            let width = (all.max() ?? 0) - (all.min() ?? 0)
            #expect(r.max - r.min < 0.95 * width, "the tail should be cut: \(r) of \(all.min() ?? 0)...\(all.max() ?? 0)")
            #expect(chosen < full, "cutting the tail should lower the error: \(chosen) vs \(full)")
        }
    }

    @Test func entropyThresholdSitsBetweenTheBulkAndTheOutliers() throws {
        var o = EntropyObserver()
        for b in Self.gaussianWithOutliers() { o.observe(b) }
        let t = o.threshold()
        #expect(t > 2.5 && t < 20, "threshold \(t)")
        let r = try o.range()
        #expect(r.min == -t && r.max == t)
        // Uniform data has no tail to cut: the threshold is (nearly) the maximum.
        var u = EntropyObserver()
        var g = SeededGenerator(seed: 3)
        u.observe((0..<50_000).map { _ in Float.random(in: 0...1, using: &g) })
        #expect(u.threshold() > 0.9, "uniform threshold \(u.threshold())")
        #expect(try u.range().min >= 0)
    }

    @Test func percentileMatchesTheSortedSamples() throws {
        var o = PercentileObserver(percentile: 99.9)
        let batches = Self.gaussianWithOutliers()
        for b in batches { o.observe(b) }
        let sorted = batches.flatMap { $0 }.sorted()
        let hi = sorted[Int(0.999 * Double(sorted.count - 1))], lo = sorted[Int(0.001 * Double(sorted.count - 1))]
        let r = try o.range()
        let bin = (sorted.last! - sorted.first!) / 2048
        #expect(abs(r.max - hi) <= 2 * bin && abs(r.min - lo) <= 2 * bin, "\(r) vs (\(lo), \(hi)), bin \(bin)")
    }

    @Test func emptyObserversSaySo() {
        for method in CalibrationMethod.allCases {
            #expect(throws: ObserverError.noData(method)) { try method.makeObserver().range() }
        }
    }

    @Test func histogramSurvivesAWideningRange() throws {
        var h = RangeHistogram(bins: 64)
        [Float](repeating: 1, count: 10).withUnsafeBufferPointer { h.add($0) }
        [Float(-5), 5].withUnsafeBufferPointer { h.add($0) }
        #expect(h.total == 12)
        #expect(h.lower == -5 && h.upper == 5)
    }
}

extension SeededGenerator {
    /// N(0, 1) by Box–Muller.
    mutating func gaussian() -> Float {
        let u = Double.random(in: Double.ulpOfOne..<1, using: &self), v = Double.random(in: 0..<1, using: &self)
        return Float((-2 * log(u)).squareRoot() * cos(2 * .pi * v))
    }
}
