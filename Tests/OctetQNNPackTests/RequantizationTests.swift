import Testing
import OctetCore
@testable import OctetQNNPack
import OctetConformance

@Suite struct RequantizationTests {
    @Test func q31FormOfKnownMultipliers() throws {
        // 0.5 = 0.5·2^0; 1 = 0.5·2^1; 3 = 0.75·2^2; 2^-40 = 0.5·2^-39.
        let half = try #require(FixedPointMultiplier(0.5))
        #expect(half.q31 == 1 << 30 && half.shift == 0)
        let one = try #require(FixedPointMultiplier(1))
        #expect(one.q31 == 1 << 30 && one.shift == 1)
        let three = try #require(FixedPointMultiplier(3))
        #expect(three.q31 == 3 << 29 && three.shift == 2)
        let tiny = try #require(FixedPointMultiplier(0x1p-40))
        #expect(tiny.q31 == 1 << 30 && tiny.shift == -39)
        #expect(FixedPointMultiplier(0) == nil && FixedPointMultiplier(-1) == nil && FixedPointMultiplier(.infinity) == nil)
    }

    @Test func fixedPointRoundingFollowsGemmlowp() throws {
        // Shift 0: all rounding is in the doubling high multiply, ties upward.
        let half = try #require(FixedPointMultiplier(0.5))
        #expect(half.apply(10) == 5)
        #expect(half.apply(5) == 3)      // 2.5 → 3 (float's half-even would give 2)
        #expect(half.apply(-5) == -2)    // −2.5 → −2
        #expect(half.apply(7) == 4)      // 3.5 → 4
        // 0.25 = 0.5·2^-1: the high multiply is exact (±5), the right shift rounds ties away from zero.
        let quarter = try #require(FixedPointMultiplier(0.25))
        #expect(quarter.shift == -1)
        #expect(quarter.apply(10) == 3)  // 2.5 → 3
        #expect(quarter.apply(-10) == -3) // −2.5 → −3
        #expect(quarter.apply(-9) == -2)  // −2.25 → −2
        let three = try #require(FixedPointMultiplier(3))
        #expect(three.apply(1000) == 3000)      // multipliers ≥ 1 shift left first
        #expect(three.apply(Int64(Int32.max)) == Int64(Int32.max)) // saturates like gemmlowp
        let tiny = try #require(FixedPointMultiplier(Double(Float.leastNormalMagnitude)))
        #expect(tiny.apply(Int64(Int32.max)) == 0)
    }

    /// The documented bound: the two styles never differ by more than one step, over
    /// random scales (≥ 1 and near the float minimum included) and accumulators.
    @Test func fixedPointAndFloatDifferByAtMostOneStep() {
        var g = SeededGenerator(seed: 99)
        var differing = 0, total = 0
        for trial in 0..<4000 {
            let multiplier: Float = switch trial % 4 {
            case 0: Float.random(in: 1e-6...1e-2, using: &g)
            case 1: Float.random(in: 0.01...1, using: &g)
            case 2: Float.random(in: 1...50, using: &g)
            default: Float.leastNormalMagnitude * Float.random(in: 1...1e6, using: &g)
            }
            guard let fixed = FixedPointMultiplier(Double(multiplier)) else { Issue.record("no Q31 form for \(multiplier)"); return }
            let zp = Int32.random(in: 0...255, using: &g)
            for _ in 0..<25 {
                // Accumulators whose real result lands inside or near the u8 range.
                let target = Float.random(in: -300...300, using: &g)
                let ideal = (Double(target) / Double(multiplier)).rounded()
                let acc = Int32(min(max(ideal, Double(Int32.min)), Double(Int32.max)))
                let f = AffineQuantization.requantize(acc, multiplier: multiplier, zeroPoint: zp, qmin: 0, qmax: 255)
                let q = Int32(min(max(fixed.apply(Int64(acc)) + Int64(zp), 0), 255))
                total += 1
                if f != q { differing += 1 }
                #expect(abs(f - q) <= 1, "acc \(acc) · \(multiplier): float \(f), fixed \(q)")
            }
        }
        #expect(differing < total / 20, "the styles should differ only near ties: \(differing) of \(total)")
    }
}
