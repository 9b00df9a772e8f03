/// A 64-byte-aligned, zero-initialised byte buffer owned by one or more tensors.
///
/// Mutation goes through `Tensor`, which copies the storage first when it is shared,
/// so a storage reachable from two threads is never written.
final class TensorStorage: @unchecked Sendable {
    static let alignment = 64

    let bytes: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: Self.alignment)
        bytes.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
    }

    func copy() -> TensorStorage {
        let other = TensorStorage(byteCount: byteCount)
        other.bytes.copyMemory(from: bytes, byteCount: byteCount)
        return other
    }

    deinit { bytes.deallocate() }
}
