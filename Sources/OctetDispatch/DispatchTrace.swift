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
    /// One entry per op the rule engine placed, in execution order.
    public var ops: [OpDispatch]
    /// Every node of the model, in execution order, when the trace is of a whole model
    /// (empty for a trace of ops alone).
    public var nodes: [TracedNode]

    public init(cpu: CPUFeatures, host: CPUFeatures? = nil, rulesSource: String, ops: [OpDispatch], nodes: [TracedNode] = []) {
        self.cpu = cpu
        self.host = host
        self.rulesSource = rulesSource
        self.ops = ops
        self.nodes = nodes
    }
}
