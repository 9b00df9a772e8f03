import Synchronization

/// The plans a session (or a `Continuation`) has made, by key, at most `capacity` of
/// them: a plan made when the cache is full replaces the one used least recently.
final class PlanCache<Key: Hashable & Sendable>: Sendable {
    /// A class, so that marking a use changes no dictionary (a dictionary's in-place
    /// update allocates).
    private final class Entry {
        let plan: ExecutionPlan
        var lastUse: UInt64

        init(plan: ExecutionPlan, lastUse: UInt64) {
            self.plan = plan
            self.lastUse = lastUse
        }
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var clock: UInt64 = 0
        /// The entry returned last, and its key.
        var recent: (key: Key, entry: Entry)?

        mutating func use(_ entry: Entry, key: Key) -> ExecutionPlan {
            clock += 1
            entry.lastUse = clock
            recent = (key, entry)
            return entry.plan
        }
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
            s.entries[key].map { s.use($0, key: key) }
        }
        if let cached { return cached }
        let made = try make()
        return state.withLock { s in
            if let existing = s.entries[key] { return s.use(existing, key: key) }
            if s.entries.count >= capacity, let oldest = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
                s.entries.removeValue(forKey: oldest)
                if s.recent?.key == oldest { s.recent = nil }
            }
            let entry = Entry(plan: made, lastUse: 0)
            s.entries[key] = entry
            return s.use(entry, key: key)
        }
    }

    /// The plan returned last, when `matches` accepts its key (counted as a use): a
    /// lookup that builds no key and changes no dictionary, so it allocates nothing.
    func recent(where matches: (Key) -> Bool) -> ExecutionPlan? {
        state.withLock { s -> ExecutionPlan? in
            guard let (key, entry) = s.recent, matches(key) else { return nil }
            return s.use(entry, key: key)
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
