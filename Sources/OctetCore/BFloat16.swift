/// A bfloat16 value: the sign, the 8 exponent bits and the upper 7 mantissa bits of an
/// IEEE binary32 (`bits` is the binary32's upper half).
///
/// Conversion from `Float` rounds to nearest, ties to even, as NumPy's `ml_dtypes` and
/// ONNX's reference (`onnx.numpy_helper` / `float32_to_bfloat16`) do; a NaN stays a
/// quiet NaN. Arithmetic goes through `Float`, which holds every bfloat16 exactly.
public struct BFloat16: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The raw 16 bits.
    public var bits: UInt16

    public init(bits: UInt16) { self.bits = bits }

    public init(_ value: Float) {
        let b = value.bitPattern
        if value.isNaN {
            bits = UInt16(truncatingIfNeeded: b >> 16) | 0x0040
        } else {
            // Round to nearest even on the 16 dropped bits (carry may reach the exponent,
            // giving infinity for values past the largest finite bfloat16, as it should).
            let rounding = UInt32(0x7FFF) + ((b >> 16) & 1)
            bits = UInt16(truncatingIfNeeded: (b &+ rounding) >> 16)
        }
    }

    /// The value as a binary32 (exact).
    public var float: Float { Float(bitPattern: UInt32(bits) << 16) }

    public static func < (a: BFloat16, b: BFloat16) -> Bool { a.float < b.float }
    public static func == (a: BFloat16, b: BFloat16) -> Bool { a.float == b.float }
    public func hash(into h: inout Hasher) { h.combine(float) }

    public var description: String { float.description }
}
