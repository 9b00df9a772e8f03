import OctetCore
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
    /// The largest allocation a plan may make (each output, folded constant and the arena),
    /// checked while planning; by default from the machine's memory.
    public var memoryBudget: MemoryBudget
    /// The most plans a session keeps per set of keys (input shapes; and, where a shape
    /// depends on values known only when running, those values): a run that needs another
    /// replaces the one used least recently. At least 1.
    public var planCacheCapacity: Int
    /// The most iterations one `Loop` node may run in one call; a loop about to run more
    /// throws an error naming the node. ONNX sets no limit (a trip count of 2^63 − 1 is
    /// legal), so neither does the default; a service running models it does not trust
    /// sets one, as the fuzz targets do, so that a hostile trip count cannot hang a run.
    public var maximumLoopIterations: Int = .max

    /// The most threads a session takes: more is a mistake, and OpenMP would abort on it.
    public static let maximumThreads = 1024

    /// `threads` must be in `1...maximumThreads`; `Session` refuses other values.
    public init(threads: Int, cpu: CPUFeatures, host: CPUFeatures = .host, registry: BackendRegistry, rules: RuleSet, optimize: Bool = true,
                memoryBudget: MemoryBudget = .machineDefault, planCacheCapacity: Int = 16) {
        self.threads = threads
        self.cpu = cpu
        self.host = host.limited(to: .host)
        self.registry = registry
        self.rules = rules
        self.optimize = optimize
        self.memoryBudget = memoryBudget
        self.planCacheCapacity = planCacheCapacity
    }
}
