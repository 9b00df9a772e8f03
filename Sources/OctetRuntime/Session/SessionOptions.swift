import OctetCPU
import OctetDispatch
import OctetRules

/// How a `Session` plans: which CPU, how many threads, which backends and rules.
public struct SessionOptions: Sendable {
    /// Threads one kernel call may use (intra-op); fixed for the session's life.
    public var threads: Int
    /// The CPU to plan for (detected by default).
    public var cpu: CPUFeatures
    /// Backends available to the planner.
    public var registry: BackendRegistry
    /// Dispatch rules.
    public var rules: RuleSet
    /// Whether to run the graph passes (folding, fusion, dead-node removal) before planning.
    public var optimize: Bool

    public init(threads: Int, cpu: CPUFeatures, registry: BackendRegistry, rules: RuleSet, optimize: Bool = true) {
        self.threads = max(1, threads)
        self.cpu = cpu
        self.registry = registry
        self.rules = rules
        self.optimize = optimize
    }
}
