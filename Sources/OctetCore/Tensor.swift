/// A dense tensor: element type, shape, layout, optional quantization parameters and
/// 64-byte-aligned storage. A value type with copy-on-write storage, safe to send
/// between threads.
public struct Tensor: Sendable {
    /// Element type.
    public let dtype: DType
    /// Dimensions.
    public private(set) var shape: TensorShape
    /// Memory order of the dimensions.
    public private(set) var layout: TensorLayout
    /// Quantization parameters of a `u8`/`s8`/`s32` tensor that stands for real values.
    public var quantization: QuantParams?

    private var storage: TensorStorage

    /// A zero-filled tensor.
    public init(zeros dtype: DType, shape: TensorShape, layout: TensorLayout = .rowMajor, quantization: QuantParams? = nil) throws(TensorError) {
        try Self.checkLayout(layout, shape: shape)
        let (bytes, overflow) = shape.elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes <= Self.maximumByteCount else {
            throw .tooLarge(shape: shape, dtype: dtype)
        }
        self.dtype = dtype
        self.shape = shape
        self.layout = layout
        self.quantization = quantization
        self.storage = TensorStorage(byteCount: bytes)
    }

    /// A tensor holding `values`, whose count must equal the shape's element count.
    public init<T: TensorElement>(_ values: [T], shape: TensorShape, layout: TensorLayout = .rowMajor, quantization: QuantParams? = nil) throws(TensorError) {
        guard values.count == shape.elementCount else {
            throw .elementCountMismatch(expected: shape.elementCount, got: values.count, shape: shape)
        }
        try self.init(zeros: T.dtype, shape: shape, layout: layout, quantization: quantization)
        values.withUnsafeBytes { src in
            if let base = src.baseAddress { storage.bytes.copyMemory(from: base, byteCount: src.count) }
        }
    }

    /// A tensor over `byteCount` bytes of `arena` at `offset` (no copy, no zeroing): the
    /// runtime's way to place intermediate values in one buffer planned by liveness.
    package init(window arena: AlignedBuffer<UInt8>, offset: Int, dtype: DType, shape: TensorShape, layout: TensorLayout = .rowMajor) throws(TensorError) {
        try Self.checkLayout(layout, shape: shape)
        let bytes = shape.elementCount * dtype.byteSize
        guard offset >= 0, offset + bytes <= arena.count else { throw .tooLarge(shape: shape, dtype: dtype) }
        self.dtype = dtype
        self.shape = shape
        self.layout = layout
        self.quantization = nil
        storage = TensorStorage(window: UnsafeMutableRawPointer(arena.pointer + offset), byteCount: bytes, owner: arena)
    }

    /// Whether this tensor's storage is the window `Tensor(window:)` makes of `arena` at
    /// `offset` (or another window of those same bytes), for the runtime to reuse it.
    package func isWindow(of arena: AlignedBuffer<UInt8>, offset: Int) -> Bool {
        storage.isWindow(of: arena, at: UnsafeMutableRawPointer(arena.pointer + offset))
    }

    /// A u8 scalar that nothing writes: what the runtime's reusable arrays of tensors hold
    /// between uses (one shared storage, so holding it costs no allocation).
    package static let unused = Tensor(dtype: .u8, shape: .scalar, storage: TensorStorage(byteCount: 1))

    private init(dtype: DType, shape: TensorShape, storage: TensorStorage) {
        self.dtype = dtype
        self.shape = shape
        layout = .rowMajor
        quantization = nil
        self.storage = storage
    }

    /// The largest tensor Octet allocates (16 GiB): a hostile header cannot ask for more.
    public static let maximumByteCount = 1 << 34

    /// Bytes the elements occupy.
    public var byteCount: Int { storage.byteCount }

    /// The elements as an array of `T`; `T` must match `dtype`.
    public func scalars<T: TensorElement>(as type: T.Type = T.self) throws(TensorError) -> [T] {
        guard T.dtype == dtype else { throw .dtypeMismatch(expected: dtype, got: T.dtype) }
        let p = storage.bytes.assumingMemoryBound(to: T.self)
        return Array(UnsafeBufferPointer(start: p, count: shape.elementCount))
    }

    /// Read-only access to the elements as `T`; `T` must match `dtype`.
    public func withUnsafeBufferPointer<T: TensorElement, R>(
        as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R
    ) throws -> R {
        guard T.dtype == dtype else { throw TensorError.dtypeMismatch(expected: dtype, got: T.dtype) }
        return try body(UnsafeBufferPointer(start: storage.bytes.assumingMemoryBound(to: T.self), count: shape.elementCount))
    }

    /// Mutable access to the elements as `T`; copies shared storage first.
    public mutating func withUnsafeMutableBufferPointer<T: TensorElement, R>(
        as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R
    ) throws -> R {
        guard T.dtype == dtype else { throw TensorError.dtypeMismatch(expected: dtype, got: T.dtype) }
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.bytes.assumingMemoryBound(to: T.self), count: shape.elementCount))
    }

    /// Read-only access to the raw bytes of the elements.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.bytes, count: storage.byteCount))
    }

    /// Mutable access to the raw bytes of the elements; copies shared storage first.
    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableRawBufferPointer(start: storage.bytes, count: storage.byteCount))
    }

    /// The same elements under another shape with the same element count (no copy).
    public func reshaped(to newShape: TensorShape) throws(TensorError) -> Tensor {
        guard newShape.elementCount == shape.elementCount else {
            throw .elementCountMismatch(expected: newShape.elementCount, got: shape.elementCount, shape: newShape)
        }
        var t = self
        t.shape = newShape
        t.layout = .rowMajor
        return t
    }

    private static func checkLayout(_ layout: TensorLayout, shape: TensorShape) throws(TensorError) {
        if layout != .rowMajor && shape.rank != 4 {
            throw .layoutNeedsRank4(layout: layout, shape: shape)
        }
    }
}

/// Swift types that can be a tensor's element.
public protocol TensorElement: Sendable {
    /// The dtype this Swift type stands for.
    static var dtype: DType { get }
}

extension Float: TensorElement { public static var dtype: DType { .f32 } }
extension UInt8: TensorElement { public static var dtype: DType { .u8 } }
extension Int8: TensorElement { public static var dtype: DType { .s8 } }
extension Int32: TensorElement { public static var dtype: DType { .s32 } }
extension Int64: TensorElement { public static var dtype: DType { .s64 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }
extension UInt16: TensorElement { public static var dtype: DType { .u16 } }
extension Int16: TensorElement { public static var dtype: DType { .s16 } }
extension UInt32: TensorElement { public static var dtype: DType { .u32 } }
extension UInt64: TensorElement { public static var dtype: DType { .u64 } }
extension Double: TensorElement { public static var dtype: DType { .f64 } }
extension BFloat16: TensorElement { public static var dtype: DType { .bf16 } }
#if arch(x86_64) || arch(arm64)
extension Float16: TensorElement { public static var dtype: DType { .f16 } }
#endif

/// A tensor that cannot be created or accessed as asked.
public enum TensorError: Error, Sendable, Equatable, CustomStringConvertible {
    case elementCountMismatch(expected: Int, got: Int, shape: TensorShape)
    case dtypeMismatch(expected: DType, got: DType)
    case tooLarge(shape: TensorShape, dtype: DType)
    case layoutNeedsRank4(layout: TensorLayout, shape: TensorShape)

    public var description: String {
        switch self {
        case let .elementCountMismatch(expected, got, shape):
            "shape \(shape) holds \(expected) elements, but \(got) values were given"
        case let .dtypeMismatch(expected, got):
            "tensor holds \(expected), accessed as \(got)"
        case let .tooLarge(shape, dtype):
            "a \(dtype) tensor of shape \(shape) exceeds the \(Tensor.maximumByteCount >> 30) GiB limit"
        case let .layoutNeedsRank4(layout, shape):
            "layout \(layout) needs a 4-D shape, got \(shape)"
        }
    }
}
