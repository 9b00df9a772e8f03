import COctetFP16Kernels

/// IEEE binary16 conversion, round to nearest even, with an account of what did not fit.
public enum FP16Conversion {
    /// The converted bits and what the conversion lost.
    public struct Result: Sendable {
        /// binary16 bit patterns, one per input value.
        public var bits: [UInt16]
        /// Finite inputs whose magnitude is 65520 or more: they became ±Inf.
        public var overflowed: Int
        /// Non-zero inputs below half the smallest subnormal (2^-25): they became ±0.
        public var flushedToZero: Int
    }

    /// Converts `values` (F16C when the machine has it, else portable code; the results
    /// are identical).
    public static func convert(_ values: [Float]) -> Result {
        var bits = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { src in
            bits.withUnsafeMutableBufferPointer { dst in
                if let s = src.baseAddress, let d = dst.baseAddress {
                    octet_f32_to_f16_array(s, d, values.count, FP16ISA.planned(for: .host))
                }
            }
        }
        var overflowed = 0, flushed = 0
        for (x, h) in zip(values, bits) {
            if x.isFinite && h & 0x7FFF == 0x7C00 { overflowed += 1 }
            if x != 0 && !x.isNaN && h & 0x7FFF == 0 { flushed += 1 }
        }
        return Result(bits: bits, overflowed: overflowed, flushedToZero: flushed)
    }

    /// binary32 → binary16 bits for one value (portable code).
    public static func bits(of value: Float) -> UInt16 { octet_f32_to_f16(value) }

    /// binary16 bits → binary32 (exact).
    public static func value(ofBits bits: UInt16) -> Float { octet_f16_to_f32(bits) }
}
