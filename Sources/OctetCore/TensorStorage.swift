/// A 64-byte-aligned, zero-initialised byte buffer owned by one or more tensors.
///
/// Mutation goes through `Tensor`, which copies the storage first when it is shared,
/// so a storage reachable from two threads is never written.
final class TensorStorage: @unchecked Sendable {
    static let alignment = 64

    let bytes: UnsafeMutableRawPointer
    let byteCount: Int
    /// The buffer this storage is a window of (an execution arena), kept alive by it;
    /// `nil` when the storage owns its bytes.
    private let owner: AnyObject?

    init(byteCount: Int) {
        self.byteCount = byteCount
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: Self.alignment)
        bytes.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
        owner = nil
    }

    /// A window of `byteCount` bytes at `bytes`, which `owner` keeps alive.
    init(window bytes: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        self.bytes = bytes
        self.byteCount = byteCount
        self.owner = owner
    }

    /// Whether this storage is a window of `owner` starting at `bytes`.
    func isWindow(of owner: AnyObject, at bytes: UnsafeMutableRawPointer) -> Bool {
        self.owner === owner && self.bytes == bytes
    }

    func copy() -> TensorStorage {
        let other = TensorStorage(byteCount: byteCount)
        other.bytes.copyMemory(from: bytes, byteCount: byteCount)
        return other
    }

    deinit { if owner == nil { bytes.deallocate() } }
}
