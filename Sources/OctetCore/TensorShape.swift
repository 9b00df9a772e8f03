/// The dimensions of a tensor, outermost first. Every dimension is non-negative and
/// the element count fits in `Int`.
public struct TensorShape: Sendable, Hashable, CustomStringConvertible {
    /// The dimensions, outermost first.
    public let dims: [Int]

    /// Creates a shape, refusing negative dimensions and element counts that overflow.
    /// The product of the non-zero dimensions must fit too, so that the product of any
    /// run of dimensions (outer and inner counts around an axis) fits even when another
    /// dimension is 0: `[0, 2^40, 2^40]` is refused.
    public init(_ dims: [Int]) throws(ShapeError) {
        for (axis, d) in dims.enumerated() where d < 0 {
            throw .negativeDimension(axis: axis, value: d)
        }
        var nonZero = 1
        for d in dims where d != 0 {
            let (product, overflow) = nonZero.multipliedReportingOverflow(by: d)
            if overflow { throw .tooLarge(dims) }
            nonZero = product
        }
        self.dims = dims
        self.elementCount = dims.contains(0) ? 0 : nonZero
    }

    /// Parses `1x64x56x56` (also accepts `,` as the separator; `scalar` or `` is rank 0).
    public init(parsing text: String) throws(ShapeError) {
        if text.isEmpty || text == "scalar" {
            try self.init([])
            return
        }
        var dims: [Int] = []
        for part in text.split(omittingEmptySubsequences: false, whereSeparator: { "xX,".contains($0) }) {
            guard let d = Int(part.trimmingCharactersInWhitespace()) else { throw .unparsable(text) }
            dims.append(d)
        }
        try self.init(dims)
    }

    /// The rank-0 shape of a single value.
    public static let scalar = TensorShape(validated: [], count: 1)

    private init(validated dims: [Int], count: Int) {
        self.dims = dims
        elementCount = count
    }

    /// Number of elements (1 for a scalar).
    public let elementCount: Int

    /// Number of dimensions.
    public var rank: Int { dims.count }

    /// Dimension `i`; negative `i` counts from the end like Python.
    public subscript(i: Int) -> Int { dims[i < 0 ? dims.count + i : i] }

    public var description: String { dims.isEmpty ? "scalar" : dims.map(String.init).joined(separator: "x") }
}

/// A shape that cannot exist or cannot be parsed.
public enum ShapeError: Error, Sendable, Equatable, CustomStringConvertible {
    case negativeDimension(axis: Int, value: Int)
    case tooLarge([Int])
    case unparsable(String)
    case rankMismatch(expected: Int, got: Int, what: String)

    public var description: String {
        switch self {
        case let .negativeDimension(axis, value): "dimension \(axis) is \(value); dimensions must be ≥ 0"
        case let .tooLarge(dims): "shape \(dims) has more elements than can be addressed"
        case let .unparsable(text): "cannot read '\(text)' as a shape; expected dimensions joined by 'x', e.g. 1x64x56x56"
        case let .rankMismatch(expected, got, what): "\(what) must have \(expected) dimensions, got \(got)"
        }
    }
}

extension Substring {
    func trimmingCharactersInWhitespace() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}
