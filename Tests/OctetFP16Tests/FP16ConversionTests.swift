import OctetCore
import Testing
import COctetFP16Kernels
import OctetConformance
@testable import OctetFP16

/// binary16 conversion against bit patterns worked out from IEEE 754 and against Swift's
/// own `Float16` (an independent implementation in the compiler runtime).
@Suite struct FP16ConversionTests {
    /// (value, expected bits), from the binary16 layout: sign | 5-bit exponent (bias 15) | 10-bit mantissa.
    static let handCases: [(Float, UInt16)] = [
        (1.0, 0x3C00), (-2.0, 0xC000), (0.5, 0x3800), (65504, 0x7BFF), (-65504, 0xFBFF),
        (0.0, 0x0000), (-0.0, 0x8000),
        (0.099975586, 0x2E66),                // nearest binary16 to 0.1
        (Float(1) + Float(1) / 2048, 0x3C00), // 1 + 2^-11: a tie, rounds to the even 1.0
        (Float(1) + Float(3) / 2048, 0x3C02), // 1 + 3·2^-11: a tie, rounds up to even mantissa 2
        (65519, 0x7BFF),                      // below the midpoint 65520: stays finite
        (65520, 0x7C00),                      // the midpoint: rounds to even, which is Inf
        (1e6, 0x7C00), (-1e6, 0xFC00),
        (.infinity, 0x7C00), (-.infinity, 0xFC00),
        (Float(1) / 16384, 0x0400),           // 2^-14, smallest normal
        (Float(1) / 16777216, 0x0001),        // 2^-24, smallest subnormal
        (Float(1) / 33554432, 0x0000),        // 2^-25: a tie between 0 and 2^-24, rounds to even 0
        (Float(3) / 33554432, 0x0002),        // 1.5·2^-24: a tie, rounds to even 2·2^-24
        (Float(1023) / 16777216, 0x03FF),     // largest subnormal
        (Float(2047) / 33554432, 0x0400),     // 1023.5·2^-24: a tie, rounds to even 1024 = smallest normal
        (-Float(5) / 16777216, 0x8005),
        (.leastNonzeroMagnitude, 0x0000),
    ]

    @Test func handWorkedBitPatterns() {
        for (x, bits) in Self.handCases {
            #expect(FP16Conversion.bits(of: x) == bits, "\(x): portable")
            #expect(FP16Conversion.convert([x]).bits == [bits], "\(x): bulk")
            // Eight at once exercises the F16C path where present.
            #expect(FP16Conversion.convert([Float](repeating: x, count: 8)).bits == [UInt16](repeating: bits, count: 8), "\(x): vector")
        }
    }

    @Test func nanStaysNaN() {
        for x: Float in [.nan, -.nan, .signalingNaN, Float(bitPattern: 0x7FA0_0001)] {
            let h = FP16Conversion.bits(of: x)
            #expect(h & 0x7C00 == 0x7C00 && h & 0x03FF != 0, "\(x) → \(String(h, radix: 16))")
            let v = FP16Conversion.convert([Float](repeating: x, count: 8)).bits
            #expect(v.allSatisfy { $0 == h }, "F16C and portable code agree on NaN payloads")
        }
    }

    @Test func agreesWithSwiftFloat16OnRandomValues() {
        var rng = SeededGenerator(seed: 0x0F16)
        var values: [Float] = []
        for _ in 0..<200_000 {
            let bits = UInt32(truncatingIfNeeded: rng.next())
            let x = Float(bitPattern: bits)
            if !x.isNaN { values.append(x) }
        }
        // Values in and around binary16's range, where rounding matters most.
        for _ in 0..<200_000 { values.append(Float(bitPattern: 0x3300_0000 + UInt32(truncatingIfNeeded: rng.next() % 0x1500_0000)) * (rng.next() & 1 == 0 ? 1 : -1)) }
        let bulk = FP16Conversion.convert(values).bits
        var mismatches = 0
        for (i, x) in values.enumerated() {
            let expected = Float16(x).bitPattern
            if bulk[i] != expected || FP16Conversion.bits(of: x) != expected {
                mismatches += 1
                if mismatches < 5 { Issue.record("\(x) (0x\(String(x.bitPattern, radix: 16))): expected 0x\(String(expected, radix: 16)), bulk 0x\(String(bulk[i], radix: 16)), portable 0x\(String(FP16Conversion.bits(of: x), radix: 16))") }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func widensEveryHalfExactly() {
        for bits in UInt16.min...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let got = FP16Conversion.value(ofBits: bits)
            if expected.isNaN {
                #expect(got.isNaN)
            } else if got.bitPattern != expected.bitPattern {
                Issue.record("0x\(String(bits, radix: 16)): expected \(expected), got \(got)")
                return
            }
        }
    }

    @Test func countsOverflowAndUnderflow() {
        let r = FP16Conversion.convert([1, 70000, -1e9, .infinity, 1e-10, 0, .nan, 3])
        #expect(r.overflowed == 2)       // 70000 and -1e9; Inf was not finite to begin with
        #expect(r.flushedToZero == 1)    // 1e-10
    }
}
