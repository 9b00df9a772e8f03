import OctetCore
import OctetDispatch
import Synchronization

/// The nodes of a graph that cannot be planned before running, because a shape depends
/// on a value computed while running (a Slice's starts fed as an input, a Reshape's
/// target computed from data) or on data itself (after NonZero). When the plan before it
/// has run, the values it reads are known: the first node's shape-deciding values
/// (`ValueBinding`) become constants, and the rest is planned for those values and the
/// shapes of the others, and kept (`PlanCache`, least recently used out first). Its own
/// plans may end in a continuation in turn.
final class Continuation: Sendable {
    /// The nodes left, reading the values computed before as graph inputs.
    let graph: Graph
    /// Why planning stopped before these nodes (for the trace).
    let pending: PendingRest
    private let options: SessionOptions
    private let counter: PlanCounter
    private let plans: PlanCache<Key>
    private let arenas = ArenaPool()
    /// The inputs taken as constants, per set of input shapes.
    private let bindings = Mutex<[[TensorShape]: [String]]>([:])

    /// A plan's key: every input's shape, and the bytes of those taken as constants.
    struct Key: Hashable, Sendable {
        var shapes: [TensorShape]
        var values: [[UInt8]]
    }

    init(graph: Graph, pending: PendingRest, options: SessionOptions, counter: PlanCounter) {
        self.graph = graph
        self.pending = pending
        self.options = options
        self.counter = counter
        plans = PlanCache(capacity: options.planCacheCapacity)
    }

    /// Plans (or finds the plan) for `values`, the graph's inputs, then runs it, writing
    /// the graph outputs it makes into `outputs` (as `ExecutionPlan.run`).
    func run(_ values: [String: Tensor], record: RunRecord?, into outputs: inout [String: Tensor]) throws {
        let plan = try plan(for: values)
        try arenas.withArena(bytes: plan.arenaSize) { arena in
            try plan.run(values, arena: arena, record: record, outputs: &outputs)
        }
    }

    /// The plan for `values`: their shapes, and the values of those the first node's
    /// shapes depend on, as constants.
    func plan(for values: [String: Tensor]) throws -> ExecutionPlan {
        let shapes = graph.inputs.map { values[$0.name]?.shape ?? .scalar }
        let bound: [String]
        if let known = bindings.withLock({ $0[shapes] }) {
            bound = known
        } else {
            guard let first = graph.nodes.first else { return try plans.plan(for: Key(shapes: shapes, values: [])) { try make(values, bound: []) } }
            bound = try ValueBinding.required(first, opset: graph.opset(of: first), values: values, constants: graph.initializers)
            bindings.withLock { $0[shapes] = bound }
        }
        let key = Key(shapes: shapes, values: bound.map { name in values[name]?.withUnsafeBytes { Array($0) } ?? [] })
        return try plans.plan(for: key) { try make(values, bound: bound) }
    }

    private func make(_ values: [String: Tensor], bound: [String]) throws -> ExecutionPlan {
        var g = graph
        var plannedFor: [PlannedValue] = []
        var shapes: [String: (DType, TensorShape)] = [:]
        for p in graph.inputs {
            guard let t = values[p.name] else { throw SessionError.missingInput(name: p.name, expected: p.type) }
            let type = "\(t.dtype)[\(t.shape)]"
            if bound.contains(p.name) {
                g.initializers[p.name] = t
                plannedFor.append(PlannedValue(name: p.name, type: type, value: ValueBinding.summary(t)))
            } else {
                shapes[p.name] = (t.dtype, t.shape)
                plannedFor.append(PlannedValue(name: p.name, type: type))
            }
        }
        g.inputs.removeAll { bound.contains($0.name) }
        return try ExecutionPlan(graph: g, inputShapes: shapes, options: options, counter: counter, plannedFor: plannedFor)
    }
}
