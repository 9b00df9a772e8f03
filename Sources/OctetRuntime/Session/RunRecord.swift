/// What one run went through: the plan it ran and those of its continuations, in order,
/// each with the time its steps took (nanoseconds, by step) when `timed`.
final class RunRecord {
    let timed: Bool
    var plans: [(plan: ExecutionPlan, timings: [UInt64])] = []

    init(timed: Bool) {
        self.timed = timed
    }
}
