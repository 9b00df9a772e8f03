/// One dimension of a value's shape: a known size, or a name that stands for a size
/// fixed only when the model runs (batch, sequence length).
public enum Dimension: Sendable, Hashable, CustomStringConvertible {
    case fixed(Int)
    case symbol(String)

    /// The size, when known.
    public var value: Int? { if case let .fixed(v) = self { v } else { nil } }

    public var description: String {
        switch self {
        case let .fixed(v): String(v)
        case let .symbol(s): s
        }
    }
}

/// A shape whose dimensions may be symbolic.
public struct SymbolicShape: Sendable, Hashable, CustomStringConvertible {
    public var dims: [Dimension]

    public init(_ dims: [Dimension]) { self.dims = dims }

    /// A fully known shape.
    public init(_ shape: TensorShape) { dims = shape.dims.map(Dimension.fixed) }

    public var rank: Int { dims.count }

    /// The concrete shape, when every dimension is known.
    public var concrete: TensorShape? {
        var out: [Int] = []
        out.reserveCapacity(dims.count)
        for d in dims {
            guard let v = d.value else { return nil }
            out.append(v)
        }
        return try? TensorShape(out)
    }

    /// Whether the known dimensions' product fits in `Int` (a shape whose element count
    /// overflows describes no tensor, whatever its symbolic dimensions become).
    public var isAddressable: Bool { (try? dims.compactMap(\.value).checkedProduct()) != nil }

    /// Whether a concrete shape fits: same rank, equal fixed dimensions.
    public func admits(_ shape: TensorShape) -> Bool {
        guard shape.rank == rank else { return false }
        for (d, v) in zip(dims, shape.dims) {
            if let f = d.value, f != v { return false }
        }
        return true
    }

    public var description: String { dims.isEmpty ? "scalar" : dims.map(\.description).joined(separator: "x") }
}

/// The element type and (possibly symbolic, possibly unknown) shape of a graph value.
public struct ValueType: Sendable, Hashable, CustomStringConvertible {
    public var dtype: DType
    /// `nil` when not even the rank is known.
    public var shape: SymbolicShape?

    public init(_ dtype: DType, _ shape: SymbolicShape?) {
        self.dtype = dtype
        self.shape = shape
    }

    public init(_ dtype: DType, _ shape: TensorShape) {
        self.init(dtype, SymbolicShape(shape))
    }

    public var description: String { "\(dtype)[\(shape?.description ?? "?")]" }
}
