import Synchronization

/// The plans a session (or a `Continuation`) has made, by key, at most `capacity` of
/// them: a plan made when the cache is full replaces the one used least recently.
final class PlanCache<Key: Hashable & Sendable>: Sendable {
    private struct Entry {
        var plan: ExecutionPlan
        var lastUse: UInt64
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var clock: UInt64 = 0
        /// The key of the plan returned last.
        var recent: Key?
    }

    let capacity: Int
    private let state = Mutex(State())

    /// `capacity` is at least 1.
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The plan under `key`, made by `make` (outside the lock) when there is none.
    func plan(for key: Key, make: () throws -> ExecutionPlan) throws -> ExecutionPlan {
        let cached = state.withLock { s -> ExecutionPlan? in
            s.clock += 1
            s.entries[key]?.lastUse = s.clock
            if s.entries[key] != nil { s.recent = key }
            return s.entries[key]?.plan
        }
        if let cached { return cached }
        let made = try make()
        return state.withLock { s in
            s.clock += 1
            if let existing = s.entries[key] {
                s.recent = key
                return existing.plan
            }
            if s.entries.count >= capacity, let oldest = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
                s.entries.removeValue(forKey: oldest)
            }
            s.entries[key] = Entry(plan: made, lastUse: s.clock)
            s.recent = key
            return made
        }
    }

    /// The plan returned last, when `matches` accepts its key (counted as a use): a
    /// lookup that builds no key, so it allocates nothing.
    func recent(where matches: (Key) -> Bool) -> ExecutionPlan? {
        state.withLock { s -> ExecutionPlan? in
            guard let key = s.recent, matches(key), let plan = s.entries[key]?.plan else { return nil }
            s.clock += 1
            s.entries[key]?.lastUse = s.clock
            return plan
        }
    }

    /// Plans held now.
    var count: Int { state.withLock { $0.entries.count } }
}

/// How many plans were made (counted when made, whether or not a cache keeps them).
final class PlanCounter: Sendable {
    private let made = Atomic<Int>(0)

    func add() { made.add(1, ordering: .relaxed) }

    var count: Int { made.load(ordering: .relaxed) }
}
