import OctetCPU

/// Why each op of a plan runs where it runs: for people (`text`), for tools (`json`).
public struct DispatchTrace: Sendable {
    /// The CPU the plan is for.
    public var cpu: CPUFeatures
    /// Where the rules came from (a path or `built-in backends.json`).
    public var rulesSource: String
    /// One entry per op, in execution order.
    public var ops: [OpDispatch]

    public init(cpu: CPUFeatures, rulesSource: String, ops: [OpDispatch]) {
        self.cpu = cpu
        self.rulesSource = rulesSource
        self.ops = ops
    }
}
