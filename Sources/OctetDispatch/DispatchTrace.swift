import OctetCPU

/// Why each op of a plan runs where it runs: for people (`text`), for tools (`json`).
public struct DispatchTrace: Sendable {
    /// The CPU the plan is for.
    public var cpu: CPUFeatures
    /// The machine that runs the plan, when the trace comes from a session (`nil` for a
    /// plan only); differs from `cpu` when planning for another CPU.
    public var host: CPUFeatures?
    /// Where the rules came from (a path or `built-in backends.json`).
    public var rulesSource: String
    /// One entry per op, in execution order.
    public var ops: [OpDispatch]

    public init(cpu: CPUFeatures, host: CPUFeatures? = nil, rulesSource: String, ops: [OpDispatch]) {
        self.cpu = cpu
        self.host = host
        self.rulesSource = rulesSource
        self.ops = ops
    }
}
