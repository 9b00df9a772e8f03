import OctetCore

/// The numeric element types of Octet's tensors (f32, u8, s8, s32, s64) with what the
/// generic kernels need: one kernel is written once, over `T: NumericElement`, and
/// `DType.visitNumeric` picks `T` from a tensor's element type.
protocol NumericElement: TensorElement, Comparable {
    /// The value of `d` in this type: floats round to nearest, integers truncate toward
    /// zero and saturate (NaN gives 0), as `Cast` does.
    init(converting d: Double)
    var asDouble: Double { get }
    /// The identities of max and min: -inf and +inf for floats, the type's bounds otherwise.
    static var lowest: Self { get }
    static var highest: Self { get }
    static var zero: Self { get }
    static var one: Self { get }
    static var isFloatingPoint: Bool { get }
    /// -x; integers wrap (the minimum negates to itself, as NumPy and ONNX Runtime).
    var wrappingNegated: Self { get }
    /// x + y and x * y; integers wrap (two's complement), as NumPy.
    func wrappingAdding(_ y: Self) -> Self
    func wrappingMultiplying(_ y: Self) -> Self
}

extension Float: NumericElement {
    init(converting d: Double) { self = Float(d) }
    var asDouble: Double { Double(self) }
    static var lowest: Float { -.infinity }
    static var highest: Float { .infinity }
    static var one: Float { 1 }
    static var isFloatingPoint: Bool { true }
    var wrappingNegated: Float { -self }
    func wrappingAdding(_ y: Float) -> Float { self + y }
    func wrappingMultiplying(_ y: Float) -> Float { self * y }
}

/// Integer conversions shared by the integer element types.
extension NumericElement where Self: FixedWidthInteger {
    init(converting d: Double) {
        if d.isNaN { self = 0 } else if d <= Double(Self.min) { self = Self.min } else if d >= Double(Self.max) { self = Self.max } else { self = Self(d.rounded(.towardZero)) }
    }
    var asDouble: Double { Double(self) }
    static var lowest: Self { Self.min }
    static var highest: Self { Self.max }
    static var one: Self { 1 }
    static var isFloatingPoint: Bool { false }
    var wrappingNegated: Self { 0 &- self }
    func wrappingAdding(_ y: Self) -> Self { self &+ y }
    func wrappingMultiplying(_ y: Self) -> Self { self &* y }
}

extension UInt8: NumericElement {}
extension Int8: NumericElement {}
extension Int32: NumericElement {}
extension Int64: NumericElement {}

/// A computation generic over the numeric element type, run by `DType.visitNumeric`.
protocol NumericVisitor {
    associatedtype Result
    func visit<T: NumericElement>(_ type: T.Type) throws -> Result
}

extension DType {
    /// Runs `visitor` with the Swift type of this element type; `nil` for bool and f16.
    func visitNumeric<V: NumericVisitor>(_ visitor: V) throws -> V.Result? {
        switch self {
        case .f32: try visitor.visit(Float.self)
        case .u8: try visitor.visit(UInt8.self)
        case .s8: try visitor.visit(Int8.self)
        case .s32: try visitor.visit(Int32.self)
        case .s64: try visitor.visit(Int64.self)
        case .bool, .f16: nil
        }
    }

    /// Whether this is one of the numeric types the generic kernels take.
    var isNumeric: Bool { self != .bool && self != .f16 }
}
