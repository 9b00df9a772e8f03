import OctetCPU
import OctetDispatch
import OctetRules

/// How a `Session` plans: which CPU, how many threads, which backends and rules.
public struct SessionOptions: Sendable {
    /// Threads one kernel call may use (intra-op); fixed for the session's life.
    public var threads: Int
    /// The CPU to plan for (this machine by default).
    public var cpu: CPUFeatures
    /// The machine that runs the plan: `CPUFeatures.host`, or a lower description of it
    /// (`CPUFeatures.host.capped(at:)`), never more. A backend the plan chose for `cpu`
    /// that cannot run on it is replaced through the fallback order, and the trace says so.
    public var host: CPUFeatures
    /// Backends available to the planner.
    public var registry: BackendRegistry
    /// Dispatch rules.
    public var rules: RuleSet
    /// Whether to run the graph passes (folding, fusion, dead-node removal) before planning.
    public var optimize: Bool

    public init(threads: Int, cpu: CPUFeatures, host: CPUFeatures = .host, registry: BackendRegistry, rules: RuleSet, optimize: Bool = true) {
        self.threads = max(1, threads)
        self.cpu = cpu
        self.host = host.limited(to: .host)
        self.registry = registry
        self.rules = rules
        self.optimize = optimize
    }
}
