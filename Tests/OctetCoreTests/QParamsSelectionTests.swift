import Testing
@testable import OctetCore

/// Expected values follow PyTorch's observer formulas, worked by hand.
@Suite struct QParamsSelectionTests {
    @Test func affineU8() throws {
        // scale = 4/255; zp = 0 - round(-1 / (4/255)) = round(63.75) = 64.
        let p = try QParamsSelection.choose(min: -1, max: 3, dtype: .u8)
        #expect(p.scale() == Float(4) / 255)
        #expect(p.zeroPoint() == 64)
        #expect(p.qmin == 0 && p.qmax == 255)
    }

    @Test func rangeAlwaysIncludesZero() throws {
        let positive = try QParamsSelection.choose(min: 2, max: 5, dtype: .u8)
        #expect(positive.scale() == Float(5) / 255)
        #expect(positive.zeroPoint() == 0)
        let negative = try QParamsSelection.choose(min: -5, max: -2, dtype: .u8)
        #expect(negative.scale() == Float(5) / 255)
        #expect(negative.zeroPoint() == 255)
    }

    @Test func emptyRangeUsesEpsilonScale() throws {
        let p = try QParamsSelection.choose(min: 0, max: 0, dtype: .u8)
        #expect(p.scale() == Float.ulpOfOne)
        #expect(p.zeroPoint() == 0)
    }

    @Test func reduceRange() throws {
        // u8 reduced to 0...127: scale = 4/127, zp = round(1 / (4/127)) = round(31.75) = 32.
        let p = try QParamsSelection.choose(min: -1, max: 3, dtype: .u8, reduceRange: true)
        #expect(p.qmin == 0 && p.qmax == 127 && p.reduceRange)
        #expect(p.scale() == Float(4) / 127)
        #expect(p.zeroPoint() == 32)
        let s = try QParamsSelection.choose(min: -1, max: 1, dtype: .s8, symmetric: true, reduceRange: true)
        #expect(s.qmin == -64 && s.qmax == 63)
        #expect(s.scale() == 1 / Float(63.5))
    }

    @Test func symmetricWeights() throws {
        // amax = 2; scale = 2 / ((127 - -128) / 2) = 2 / 127.5.
        let s8 = try QParamsSelection.choose(min: -2, max: 1, dtype: .s8, symmetric: true)
        #expect(s8.scale() == 2 / Float(127.5))
        #expect(s8.zeroPoint() == 0)
        #expect(s8.isSymmetric)
        let u8 = try QParamsSelection.choose(min: -2, max: 1, dtype: .u8, symmetric: true)
        #expect(u8.zeroPoint() == 128)
    }

    @Test func perChannel() throws {
        let p = try QParamsSelection.choosePerChannel(mins: [-1, -0.5, 0], maxs: [1, 2, 0], axis: 0, dtype: .s8)
        #expect(p.scales == [1 / Float(127.5), 2 / Float(127.5), Float.ulpOfOne])
        #expect(p.zeroPoints == [0, 0, 0])
        #expect(p.isPerChannel)
    }

    @Test func refusesNonFiniteAndInvertedRanges() {
        #expect(throws: QuantizationError.nonFiniteRange(min: -.infinity, max: 1)) { try QParamsSelection.choose(min: -.infinity, max: 1, dtype: .u8) }
        #expect(throws: QuantizationError.self) { try QParamsSelection.choose(min: .nan, max: 1, dtype: .u8) }
        #expect(throws: QuantizationError.invertedRange(min: 2, max: 1)) { try QParamsSelection.choose(min: 2, max: 1, dtype: .u8) }
        #expect(throws: QuantizationError.notAnIntegerType(.f32)) { try QParamsSelection.choose(min: 0, max: 1, dtype: .f32) }
    }
}
