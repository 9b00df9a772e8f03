import OctetCore
import Synchronization

/// Arenas kept between runs, so a run takes one of at least the size its plan needs
/// instead of allocating it; each concurrent run holds its own.
final class ArenaPool: Sendable {
    private let pool = Mutex<[RunArena]>([])

    /// Calls `body` with an arena of at least `bytes` bytes, returned to the pool after.
    /// The one taken last is tried first, so a session run from one thread gets the same
    /// arena (and its `RunState`) every time.
    func withArena<R>(bytes: Int, _ body: (RunArena) throws -> R) throws -> R {
        let arena = pool.withLock { p -> RunArena? in
            guard let i = p.lastIndex(where: { $0.buffer.count >= bytes }) else { return nil }
            return p.remove(at: i)
        } ?? RunArena(bytes: bytes)
        defer { pool.withLock { $0.append(arena) } }
        return try body(arena)
    }
}

/// One arena for intermediate values, with the working state of the plan that ran in it
/// last (its tensors are windows of this arena, so the next run of that plan here makes
/// none). Held by one run at a time (`ArenaPool`).
final class RunArena: @unchecked Sendable {
    let buffer: AlignedBuffer<UInt8>
    private var state: RunState?

    init(bytes: Int) {
        buffer = AlignedBuffer<UInt8>(count: bytes)
    }

    /// The working state for `plan` in this arena: the one kept from the last run when it
    /// was `plan`'s, else a new one (kept for the next run).
    func state(for plan: ExecutionPlan) -> RunState {
        if let state, state.plan === plan { return state }
        let made = RunState(plan: plan)
        state = made
        return made
    }

    /// Forgets the kept state (after a run that threw part way).
    func discardState() {
        state = nil
    }
}
