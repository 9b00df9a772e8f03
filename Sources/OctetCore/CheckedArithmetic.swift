/// Integer arithmetic on sizes that come from files or arguments (dimensions, pads,
/// strides, split sizes, offsets): an overflow is an error naming the operation, never a
/// trap. Chains read like ordinary arithmetic: `try input.adding(pad).subtracting(kernel)`.
public struct ArithmeticOverflow: Error, Sendable, Equatable, CustomStringConvertible {
    /// The operation that overflowed, e.g. `9223372036854775807 + 8`.
    public var operation: String

    public init(_ operation: String) { self.operation = operation }

    public var description: String { "\(operation) overflows a 64-bit integer" }
}

extension Int {
    /// `self + other`, or an error on overflow.
    @inlinable public func adding(_ other: Int) throws(ArithmeticOverflow) -> Int {
        let (r, o) = addingReportingOverflow(other)
        if o { throw ArithmeticOverflow("\(self) + \(other)") }
        return r
    }

    /// `self - other`, or an error on overflow.
    @inlinable public func subtracting(_ other: Int) throws(ArithmeticOverflow) -> Int {
        let (r, o) = subtractingReportingOverflow(other)
        if o { throw ArithmeticOverflow("\(self) - \(other)") }
        return r
    }

    /// `self * other`, or an error on overflow.
    @inlinable public func multiplied(by other: Int) throws(ArithmeticOverflow) -> Int {
        let (r, o) = multipliedReportingOverflow(by: other)
        if o { throw ArithmeticOverflow("\(self) * \(other)") }
        return r
    }

    /// `⌈self / divisor⌉` for `self ≥ 0` and `divisor > 0`, without forming `self + divisor - 1`.
    @inlinable public func dividedRoundingUp(by divisor: Int) -> Int {
        self / divisor + (self % divisor == 0 ? 0 : 1)
    }
}

extension Sequence where Element == Int {
    /// The sum, or an error on overflow.
    @inlinable public func checkedSum() throws(ArithmeticOverflow) -> Int {
        var total = 0
        for v in self { total = try total.adding(v) }
        return total
    }

    /// The product, or an error on overflow.
    @inlinable public func checkedProduct() throws(ArithmeticOverflow) -> Int {
        var total = 1
        for v in self { total = try total.multiplied(by: v) }
        return total
    }
}
