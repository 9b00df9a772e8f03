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
    /// What the plan was made for: each graph input's element type and shape, and the
    /// values the plan took as constants (inputs, or values computed while running, that
    /// decide a shape: a Slice's starts, a Reshape's target, …), in planning order. Empty
    /// for a trace of ops alone.
    public var plannedFor: [PlannedValue] = []

    public init(cpu: CPUFeatures, host: CPUFeatures? = nil, rulesSource: String, ops: [OpDispatch], nodes: [TracedNode] = []) {
        self.cpu = cpu
        self.host = host
        self.rulesSource = rulesSource
        self.ops = ops
        self.nodes = nodes
    }
}

/// One value a plan was made for (see `DispatchTrace.plannedFor`).
public struct PlannedValue: Sendable, Hashable, CustomStringConvertible {
    /// The value's name in the graph.
    public var name: String
    /// Element type and shape, as `s64[2]` or `f32[1x3x224x224]`.
    public var type: String
    /// The elements, when the plan holds the value as a constant (`nil`: only its shape).
    public var value: String?

    public init(name: String, type: String, value: String? = nil) {
        self.name = name
        self.type = type
        self.value = value
    }

    public var description: String { "\(name): \(type)" + (value.map { " = \($0)" } ?? "") }
}
