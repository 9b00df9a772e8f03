import Testing
@testable import OctetCore

/// Expected values are worked out by hand from q = clamp(round_half_even(x / s) + zp).
@Suite struct AffineQuantizationTests {
    @Test func roundsHalfToEven() {
        // scale 0.5: x / s = 2x. zp 10.
        let cases: [(Float, Int32)] = [
            (1.0, 12),   // 2.0
            (0.25, 10),  // 0.5 → 0
            (0.75, 12),  // 1.5 → 2
            (1.25, 12),  // 2.5 → 2
            (1.75, 14),  // 3.5 → 4
            (-0.25, 10), // -0.5 → -0
            (-0.75, 8),  // -1.5 → -2
        ]
        for (x, q) in cases {
            #expect(AffineQuantization.quantize(x, scale: 0.5, zeroPoint: 10, qmin: 0, qmax: 255) == q, "x = \(x)")
        }
    }

    @Test func saturatesAtBothEnds() {
        #expect(AffineQuantization.quantize(1000, scale: 1, zeroPoint: 0, qmin: 0, qmax: 255) == 255)
        #expect(AffineQuantization.quantize(-1000, scale: 1, zeroPoint: 0, qmin: 0, qmax: 255) == 0)
        #expect(AffineQuantization.quantize(1e30, scale: 1e-3, zeroPoint: 0, qmin: -128, qmax: 127) == 127)
        #expect(AffineQuantization.quantize(-Float.greatestFiniteMagnitude, scale: 1e-3, zeroPoint: 0, qmin: -128, qmax: 127) == -128)
    }

    @Test func nanAndInfinityAreDefined() {
        #expect(AffineQuantization.quantize(.nan, scale: 0.1, zeroPoint: 128, qmin: 0, qmax: 255) == 0)
        #expect(AffineQuantization.quantize(.infinity, scale: 0.1, zeroPoint: 128, qmin: 0, qmax: 255) == 255)
        #expect(AffineQuantization.quantize(-.infinity, scale: 0.1, zeroPoint: 128, qmin: 0, qmax: 255) == 0)
        #expect(AffineQuantization.quantize(.nan, scale: 0.1, zeroPoint: -5, qmin: -128, qmax: 127) == -128)
        #expect(AffineQuantization.requantize(100, multiplier: .infinity, zeroPoint: 3, qmin: 0, qmax: 255) == 255)
        #expect(AffineQuantization.requantize(0, multiplier: .infinity, zeroPoint: 3, qmin: 0, qmax: 255) == 0) // 0·∞ = NaN → qmin
    }

    @Test func zeroPointAtTheEndsOfTheRange() {
        // zp = 0 (u8): only non-negative reals are representable.
        #expect(AffineQuantization.quantize(-0.3, scale: 0.1, zeroPoint: 0, qmin: 0, qmax: 255) == 0)
        #expect(AffineQuantization.quantize(25.5, scale: 0.1, zeroPoint: 0, qmin: 0, qmax: 255) == 255)
        // zp = 255 (u8): only non-positive reals.
        #expect(AffineQuantization.quantize(0.3, scale: 0.1, zeroPoint: 255, qmin: 0, qmax: 255) == 255)
        #expect(AffineQuantization.quantize(-25.5, scale: 0.1, zeroPoint: 255, qmin: 0, qmax: 255) == 0)
        // s8 ends.
        #expect(AffineQuantization.quantize(1, scale: 1, zeroPoint: 127, qmin: -128, qmax: 127) == 127)
        #expect(AffineQuantization.quantize(-1, scale: 1, zeroPoint: -128, qmin: -128, qmax: 127) == -128)
        #expect(AffineQuantization.quantize(-255, scale: 1, zeroPoint: 127, qmin: -128, qmax: 127) == -128)
    }

    @Test func scaleNearTheFloatMinimum() throws {
        let tiny = Float.leastNormalMagnitude
        let p = try QuantParams(scale: tiny, zeroPoint: 7, dtype: .u8)
        #expect(AffineQuantization.quantize(0, scale: p.scale(), zeroPoint: 7, qmin: 0, qmax: 255) == 7)
        #expect(AffineQuantization.quantize(1, scale: p.scale(), zeroPoint: 7, qmin: 0, qmax: 255) == 255)
        #expect(AffineQuantization.quantize(-1, scale: p.scale(), zeroPoint: 7, qmin: 0, qmax: 255) == 0)
        // 3 steps of the tiny scale above zero: 3·tiny / tiny = 3.
        #expect(AffineQuantization.quantize(3 * tiny, scale: tiny, zeroPoint: 7, qmin: 0, qmax: 255) == 10)
        // A subnormal scale has an infinite reciprocal: refused, as PyTorch avoids it.
        #expect(throws: QuantizationError.self) { try QuantParams(scale: .leastNonzeroMagnitude, zeroPoint: 0, dtype: .u8) }
        #expect(throws: QuantizationError.self) { try QuantParams(scale: 0, zeroPoint: 0, dtype: .u8) }
        #expect(throws: QuantizationError.self) { try QuantParams(scale: .nan, zeroPoint: 0, dtype: .u8) }
        #expect(throws: QuantizationError.self) { try QuantParams(scale: -1, zeroPoint: 0, dtype: .u8) }
    }

    @Test func dequantizeIsScaleTimesOffset() {
        #expect(AffineQuantization.dequantize(255, scale: 0.1, zeroPoint: 0) == Float(255) * Float(0.1))
        #expect(AffineQuantization.dequantize(0, scale: 0.5, zeroPoint: 128) == -64)
        #expect(AffineQuantization.dequantize(-128, scale: 2, zeroPoint: 127) == -510)
        // The offset is exact in 64 bits even for s32 extremes.
        #expect(AffineQuantization.dequantize(Int32.max, scale: 1, zeroPoint: Int32.min) == Float(UInt32.max))
    }

    @Test func requantizeRoundsHalfEvenAndClamps() {
        #expect(AffineQuantization.requantize(1000, multiplier: 0.01, zeroPoint: 5, qmin: 0, qmax: 255) == 15)
        #expect(AffineQuantization.requantize(5, multiplier: 0.5, zeroPoint: 0, qmin: 0, qmax: 255) == 2)   // 2.5 → 2
        #expect(AffineQuantization.requantize(7, multiplier: 0.5, zeroPoint: 0, qmin: 0, qmax: 255) == 4)   // 3.5 → 4
        #expect(AffineQuantization.requantize(-5, multiplier: 0.5, zeroPoint: 10, qmin: 0, qmax: 255) == 8) // -2.5 → -2
        #expect(AffineQuantization.requantize(Int32.max, multiplier: 1, zeroPoint: 0, qmin: 0, qmax: 255) == 255)
        #expect(AffineQuantization.requantize(Int32.min, multiplier: 1, zeroPoint: 0, qmin: -128, qmax: 127) == -128)
        // ReLU fused by clamping at the output zero point.
        #expect(AffineQuantization.requantize(-400, multiplier: 0.25, zeroPoint: 20, qmin: 20, qmax: 255) == 20)
    }

    @Test func multipliesByTheReciprocalScaleLikePyTorch() {
        // For every x = k·s with small k the result is exactly k + zp: no drift from the
        // reciprocal, whatever the scale.
        for s: Float in [0.1, 0.3, 1.0 / 3.0, 0.007, 12.5] {
            for k in -20...20 {
                let q = AffineQuantization.quantize(Float(k) * s, scale: s, zeroPoint: 100, qmin: 0, qmax: 255)
                #expect(q == Int32(100 + k), "s = \(s), k = \(k)")
            }
        }
    }
}
