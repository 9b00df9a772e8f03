import OctetCore
import Synchronization

/// Arenas kept between runs, so a run takes one of at least the size its plan needs
/// instead of allocating it; each concurrent run holds its own.
final class ArenaPool: Sendable {
    private let pool = Mutex<[AlignedBuffer<UInt8>]>([])

    /// Calls `body` with an arena of at least `bytes` bytes, returned to the pool after.
    func withArena<R>(bytes: Int, _ body: (AlignedBuffer<UInt8>) throws -> R) throws -> R {
        let arena = pool.withLock { p -> AlignedBuffer<UInt8>? in
            guard let i = p.firstIndex(where: { $0.count >= bytes }) else { return nil }
            return p.remove(at: i)
        } ?? AlignedBuffer<UInt8>(count: bytes)
        defer { pool.withLock { $0.append(arena) } }
        return try body(arena)
    }
}
