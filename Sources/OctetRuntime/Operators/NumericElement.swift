import Foundation
import OctetCore

/// A value of any element type, widened without loss: signed integers as `Int64`,
/// unsigned integers and bool as `UInt64`, floating types as `Double` (which holds every
/// f16, bf16 and f32 exactly). Casts go through it, so an s64 or u64 never passes
/// through a floating type on its way to another integer type.
enum WideValue: Sendable {
    case signed(Int64)
    case unsigned(UInt64)
    case float(Double)
}

/// Every element type of Octet's tensors (bool included), with the conversion `Cast`
/// needs. Kernels that only move or compare elements (Where, Equal, Cast) are written
/// once over `T: ElementValue`, and `DType.visitElement` picks `T` from a tensor's type.
protocol ElementValue: TensorElement, Equatable {
    /// The value, widened without loss.
    var wide: WideValue { get }
    /// The value of `w` in this type, as ONNX `Cast` (and NumPy's `astype`) give it:
    /// integer to integer keeps the low bits (two's complement wrap); float to integer
    /// truncates toward zero and saturates (NaN gives 0); to float rounds to nearest even;
    /// to bool is `w != 0` (NaN is true).
    init(wide w: WideValue)
}

/// The numeric element types (every type but bool) with what the generic kernels need:
/// one kernel is written once, over `T: NumericElement`, and `DType.visitNumeric` picks `T`.
protocol NumericElement: ElementValue, Comparable {
    /// The value of `d` in this type: floats round to nearest, integers truncate toward
    /// zero and saturate (NaN gives 0), as `Cast` does.
    init(converting d: Double)
    /// The value as a Double (exact for every type but 64-bit integers past 2^53).
    var asDouble: Double { get }
    /// The identities of max and min: -inf and +inf for floats, the type's bounds otherwise.
    static var lowest: Self { get }
    static var highest: Self { get }
    static var zero: Self { get }
    static var one: Self { get }
    static var isFloatingPoint: Bool { get }
    /// Whether the value is a NaN (never, for integers).
    var isNaNValue: Bool { get }
    /// -x; integers wrap (the minimum negates to itself, as NumPy and ONNX Runtime).
    var wrappingNegated: Self { get }
    /// x + y, x - y and x * y; integers wrap (two's complement), as NumPy.
    func wrappingAdding(_ y: Self) -> Self
    func wrappingSubtracting(_ y: Self) -> Self
    func wrappingMultiplying(_ y: Self) -> Self
    /// x / y; integers truncate toward zero, x / 0 gives 0 and min / -1 gives min (no
    /// trap; ONNX Runtime's result there is undefined).
    func dividing(_ y: Self) -> Self
    /// x^y: floats by `pow` in their own precision (f16 and bf16 through f32); integers by
    /// repeated wrapping multiplication, a negative exponent giving 0.
    func power(_ y: Self) -> Self
    /// The remainder: `fmod` true takes the dividend's sign (C's fmod), false the
    /// divisor's (Python's %). A zero integer divisor gives 0; floats give NaN.
    func remainder(_ y: Self, fmod: Bool) -> Self
}

// MARK: - Floating types

/// The floating element types, each computing in a native Swift floating type `Native`
/// (Float for f16, bf16 and f32, Double for f64).
protocol FloatElement: NumericElement {
    associatedtype Native: FloatMath
    init(native: Native)
    var native: Native { get }
}

extension FloatElement {
    init(converting d: Double) { self.init(native: Native(d)) }
    init(wide w: WideValue) {
        switch w {
        case let .signed(v): self.init(native: Native(v))
        case let .unsigned(v): self.init(native: Native(v))
        case let .float(d): self.init(converting: d)
        }
    }
    var wide: WideValue { .float(asDouble) }
    var asDouble: Double { Double(native) }
    static var lowest: Self { Self(native: -.infinity) }
    static var highest: Self { Self(native: .infinity) }
    static var one: Self { Self(native: 1) }
    static var isFloatingPoint: Bool { true }
    var isNaNValue: Bool { native.isNaN }
    var wrappingNegated: Self { Self(native: -native) }
    func wrappingAdding(_ y: Self) -> Self { Self(native: native + y.native) }
    func wrappingSubtracting(_ y: Self) -> Self { Self(native: native - y.native) }
    func wrappingMultiplying(_ y: Self) -> Self { Self(native: native * y.native) }
    func dividing(_ y: Self) -> Self { Self(native: native / y.native) }
    func remainder(_ y: Self, fmod: Bool) -> Self {
        let x = native, y = y.native
        let r = x.truncatingRemainder(dividingBy: y)
        if fmod || r == 0 || r.isNaN { return Self(native: r) }
        return Self(native: (r < 0) != (y < 0) ? r + y : r)
    }
}

extension Float: FloatElement {
    init(native: Float) { self = native }
    var native: Float { self }
    func power(_ y: Float) -> Float { y == 2 ? self * self : (y == 3 ? self * self * self : Foundation.pow(self, y)) }
}

extension Double: FloatElement {
    init(native: Double) { self = native }
    var native: Double { self }
    func power(_ y: Double) -> Double { Foundation.pow(self, y) }
}

#if arch(x86_64) || arch(arm64)
extension Float16: FloatElement {
    init(native: Float) { self = Float16(native) }
    /// Rounds once, from the double (not through f32).
    init(converting d: Double) { self = Float16(d) }
    var native: Float { Float(self) }
    func power(_ y: Float16) -> Float16 { Float16(Foundation.pow(native, y.native)) }
}
#endif

extension BFloat16: FloatElement {
    static var zero: BFloat16 { BFloat16(bits: 0) }
    init(native: Float) { self.init(native) }
    var native: Float { float }
    func power(_ y: BFloat16) -> BFloat16 { BFloat16(Foundation.pow(float, y.float)) }
}

// MARK: - Integer types

/// The integer element types (8 to 64 bits, signed and unsigned).
protocol IntegerElement: NumericElement, FixedWidthInteger {}

extension IntegerElement {
    init(converting d: Double) {
        if d.isNaN { self = 0 } else if d <= Double(Self.min) { self = Self.min } else if d >= Double(Self.max) { self = Self.max } else { self = Self(d.rounded(.towardZero)) }
    }
    init(wide w: WideValue) {
        switch w {
        case let .signed(v): self.init(truncatingIfNeeded: v)
        case let .unsigned(v): self.init(truncatingIfNeeded: v)
        case let .float(d): self.init(converting: d)
        }
    }
    var wide: WideValue { Self.isSigned ? .signed(Int64(truncatingIfNeeded: self)) : .unsigned(UInt64(truncatingIfNeeded: self)) }
    var asDouble: Double { Double(self) }
    static var lowest: Self { Self.min }
    static var highest: Self { Self.max }
    static var one: Self { 1 }
    static var isFloatingPoint: Bool { false }
    var isNaNValue: Bool { false }
    var wrappingNegated: Self { 0 &- self }
    func wrappingAdding(_ y: Self) -> Self { self &+ y }
    func wrappingSubtracting(_ y: Self) -> Self { self &- y }
    func wrappingMultiplying(_ y: Self) -> Self { self &* y }
    func dividing(_ y: Self) -> Self { y == 0 ? 0 : (Self.isSigned && self == Self.min && y == 0 &- 1 ? Self.min : self / y) }
    func power(_ y: Self) -> Self {
        guard y >= 0 else { return 0 }
        // Square and multiply: 64 squarings reach every exponent that does not wrap to 0 or ±1.
        var result: Self = 1, base = self, e = y
        while e > 0 {
            if e & 1 == 1 { result = result &* base }
            e >>= 1
            if e > 0 { base = base &* base }
        }
        return result
    }
    func remainder(_ y: Self, fmod: Bool) -> Self {
        guard y != 0 else { return 0 }
        if Self.isSigned && y == 0 &- 1 { return 0 }
        let r = self % y
        if fmod || r == 0 { return r }
        return (r < 0) != (y < 0) ? r + y : r
    }
}

extension UInt8: IntegerElement {}
extension Int8: IntegerElement {}
extension UInt16: IntegerElement {}
extension Int16: IntegerElement {}
extension UInt32: IntegerElement {}
extension Int32: IntegerElement {}
extension UInt64: IntegerElement {}
extension Int64: IntegerElement {}

extension Bool: ElementValue {
    init(wide w: WideValue) {
        switch w {
        case let .signed(v): self = v != 0
        case let .unsigned(v): self = v != 0
        case let .float(d): self = d != 0
        }
    }
    var wide: WideValue { .unsigned(self ? 1 : 0) }
}

// MARK: - Visitors: one dispatch table from DType to Swift type

/// A computation generic over every element type, run by `DType.visitElement`. `out`
/// (the node's output, or a scratch tensor) is passed in place so that writing it never
/// copies it first (copy-on-write).
protocol ElementVisitor {
    associatedtype Result
    func visit<T: ElementValue>(_ type: T.Type, into out: inout Tensor) throws -> Result
}

/// A computation generic over the numeric element type, run by `DType.visitNumeric`.
protocol NumericVisitor {
    associatedtype Result
    func visit<T: NumericElement>(_ type: T.Type, into out: inout Tensor) throws -> Result
}

/// A computation generic over the integer element types, run by `DType.visitInteger`.
protocol IntegerVisitor {
    associatedtype Result
    func visit<T: IntegerElement>(_ type: T.Type, into out: inout Tensor) throws -> Result
}

/// A computation generic over the floating element types, run by `DType.visitFloat`.
protocol FloatVisitor {
    associatedtype Result
    func visit<T: FloatElement>(_ type: T.Type, into out: inout Tensor) throws -> Result
}

/// Every `ElementVisitor` is also a numeric one (bool excluded by the caller).
private struct NumericAsElement<V: ElementVisitor>: NumericVisitor {
    let inner: V
    func visit<T: NumericElement>(_ type: T.Type, into out: inout Tensor) throws -> V.Result { try inner.visit(type, into: &out) }
}

extension DType {
    /// Runs `visitor` with the Swift type of this element type; `nil` for bool.
    func visitNumeric<V: NumericVisitor>(_ visitor: V, into out: inout Tensor) throws -> V.Result? {
        switch self {
        case .bool: nil
        case .f16, .bf16, .f32, .f64: try visitFloat(FloatAsNumeric(inner: visitor), into: &out)
        default: try visitInteger(IntegerAsNumeric(inner: visitor), into: &out)
        }
    }

    /// Runs `visitor` with the Swift type of this element type (every type).
    func visitElement<V: ElementVisitor>(_ visitor: V, into out: inout Tensor) throws -> V.Result? {
        if self == .bool { return try visitor.visit(Bool.self, into: &out) }
        return try visitNumeric(NumericAsElement(inner: visitor), into: &out)
    }

    /// Runs `visitor` with the Swift type of this integer type; `nil` for the others.
    func visitInteger<V: IntegerVisitor>(_ visitor: V, into out: inout Tensor) throws -> V.Result? {
        switch self {
        case .u8: try visitor.visit(UInt8.self, into: &out)
        case .s8: try visitor.visit(Int8.self, into: &out)
        case .u16: try visitor.visit(UInt16.self, into: &out)
        case .s16: try visitor.visit(Int16.self, into: &out)
        case .u32: try visitor.visit(UInt32.self, into: &out)
        case .s32: try visitor.visit(Int32.self, into: &out)
        case .u64: try visitor.visit(UInt64.self, into: &out)
        case .s64: try visitor.visit(Int64.self, into: &out)
        case .f32, .f16, .bf16, .f64, .bool: nil
        }
    }

    /// Runs `visitor` with the Swift type of this floating type; `nil` for the others.
    func visitFloat<V: FloatVisitor>(_ visitor: V, into out: inout Tensor) throws -> V.Result? {
        switch self {
        case .f32: return try visitor.visit(Float.self, into: &out)
        case .f64: return try visitor.visit(Double.self, into: &out)
        case .bf16: return try visitor.visit(BFloat16.self, into: &out)
        case .f16:
            #if arch(x86_64) || arch(arm64)
            return try visitor.visit(Float16.self, into: &out)
            #else
            return nil
            #endif
        default: return nil
        }
    }

    /// Whether this is one of the numeric types the generic kernels take (all but bool).
    var isNumeric: Bool { self != .bool }
}

private struct FloatAsNumeric<V: NumericVisitor>: FloatVisitor {
    let inner: V
    func visit<T: FloatElement>(_ type: T.Type, into out: inout Tensor) throws -> V.Result { try inner.visit(type, into: &out) }
}

private struct IntegerAsNumeric<V: NumericVisitor>: IntegerVisitor {
    let inner: V
    func visit<T: IntegerElement>(_ type: T.Type, into out: inout Tensor) throws -> V.Result { try inner.visit(type, into: &out) }
}
