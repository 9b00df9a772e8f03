import OctetCore
import OctetCPU
import OctetDispatch
import Synchronization

/// A model ready to run: optimized once, planned once per set of input shapes (backend
/// per node through the rule engine, weights prepacked, intermediate buffers placed in an
/// arena by liveness), then run many times, from many threads at once.
///
/// ```swift
/// let session = try Session(graph: model.graph, options: options)
/// let outputs = try session.run(["input": image])
/// ```
public final class Session: Sendable {
    /// The graph as planned (after the passes).
    public let graph: Graph
    public let options: SessionOptions
    private let plans: PlanCache<[TensorShape]>
    private let arenas = ArenaPool()
    private let counter = PlanCounter()

    /// Optimizes `graph` (unless `options.optimize` is false) and plans it for the shapes
    /// its inputs declare, when those are fully known. Nodes whose output shapes depend on
    /// values known only when running (a Slice's starts fed as an input, a Reshape to a
    /// computed shape, the nodes after a NonZero) are planned when running, for those
    /// values, and the plan is kept for the next run with the same ones (see
    /// `SessionOptions.planCacheCapacity`).
    public init(graph: Graph, options: SessionOptions) throws {
        guard (1...SessionOptions.maximumThreads).contains(options.threads) else {
            throw SessionError.invalidOption(name: "threads", detail: "must be between 1 and \(SessionOptions.maximumThreads), got \(options.threads)")
        }
        guard options.planCacheCapacity >= 1 else {
            throw SessionError.invalidOption(name: "planCacheCapacity", detail: "must be at least 1, got \(options.planCacheCapacity)")
        }
        plans = PlanCache(capacity: options.planCacheCapacity)
        let g = try Self.prepared(graph, options: options)
        self.graph = g
        self.options = options
        let declared = g.inputs.compactMap { p in p.type?.shape?.concrete.map { (p.name, $0) } }
        if declared.count == g.inputs.count {
            _ = try plan(for: Dictionary(uniqueKeysWithValues: g.inputs.map { p in (p.name, (p.type?.dtype ?? .f32, p.type?.shape?.concrete ?? .scalar)) }))
        }
    }

    /// Runs the model; `inputs` are keyed by graph input name. Returns every graph output.
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        var outputs: [String: Tensor] = [:]
        try run(inputs, into: &outputs)
        return outputs
    }

    /// Runs the model, writing each graph output into the tensor `outputs` holds under its
    /// name when that tensor has the output's element type and shape (row-major): its
    /// storage is reused, so a caller that keeps its output tensors between runs lets the
    /// outputs be written without allocating them. Outputs without a matching tensor are
    /// added (or replaced) with new tensors.
    ///
    /// For in-place writing, `outputs` must hold the only reference to each tensor's
    /// storage (a copy kept elsewhere makes the write copy first, as any Swift value).
    ///
    /// - Throws: `SessionError` as `run(_:)`.
    ///
    /// Once warm (the plan for these input shapes made, the caller's output tensors kept
    /// between runs, run from one thread or from as many threads as ran it before), a run
    /// allocates nothing on the heap: its kernels' working buffers, its intermediate values'
    /// arena and the tables its steps use are kept from the runs before.
    public func run(_ inputs: [String: Tensor], into outputs: inout [String: Tensor]) throws {
        try check(inputs)
        let plan = try plan(for: inputs)
        try arenas.withArena(bytes: plan.arenaSize) { arena in try plan.run(inputs, arena: arena, outputs: &outputs) }
    }

    /// Plans made since the session was created: one per set of input shapes, and, where
    /// a shape depends on values known only when running, one per set of those values
    /// (a plan evicted from the cache and needed again is made again, and counted).
    public var planCount: Int { counter.count }

    /// Runs the model on `inputs` and returns the dispatch trace of the plans that run
    /// went through: every node, and in `plannedFor` the input shapes and the values the
    /// plans took as constants (a Slice's starts, a Reshape's target, …).
    ///
    /// - Throws: `SessionError` as `run(_:)`.
    public func trace(inputs: [String: Tensor]) throws -> DispatchTrace {
        try record(inputs, timed: false).trace
    }

    /// Runs once, recording the plans the run went through (see `RunRecord`).
    private func record(_ inputs: [String: Tensor], timed: Bool) throws -> (plans: RunRecord, trace: DispatchTrace) {
        try check(inputs)
        let plan = try plan(for: inputs)
        let record = RunRecord(timed: timed)
        var outputs: [String: Tensor] = [:]
        try arenas.withArena(bytes: plan.arenaSize) { arena in try plan.run(inputs, arena: arena, record: record, outputs: &outputs) }
        return (record, ExecutionPlan.trace(of: record.plans.map(\.plan)))
    }

    /// Runs the model `runs` times and returns the time each planned node took (median
    /// over the runs), in execution order; folded nodes take no time and are not listed.
    public func profile(_ inputs: [String: Tensor], runs: Int = 5) throws -> [NodeTiming] {
        try profiled(inputs, runs: runs).timings
    }

    private func profiled(_ inputs: [String: Tensor], runs: Int) throws -> (timings: [NodeTiming], trace: DispatchTrace) {
        var samples: [[UInt64]] = []
        var placed: [NodeAssignment] = []
        var trace: DispatchTrace?
        for _ in 0..<max(1, runs) {
            let (record, t) = try record(inputs, timed: true)
            let times = record.plans.flatMap(\.timings)
            if trace == nil {
                trace = t
                placed = record.plans.flatMap { $0.plan.assignments.filter { $0.runsOn != "folded" } }
                samples = Array(repeating: [], count: times.count)
            }
            // The same inputs go through the same plans, so the steps line up run to run.
            for (i, ns) in times.enumerated() where i < samples.count { samples[i].append(ns) }
        }
        let timings = zip(placed, samples).map { a, s in
            NodeTiming(node: a.node, opType: a.opType, runsOn: a.runsOn, nanoseconds: s.sorted()[s.count / 2])
        }
        return (timings, trace ?? ExecutionPlan.trace(of: []))
    }

    /// The dispatch trace of the plans for `inputs` (their shapes, and the values that
    /// decide shapes) with each node's time (median over `runs` runs, nanoseconds) in
    /// `TracedNode.durationNanoseconds` and in the `OpDispatch` of each node the rules
    /// placed. Reorders are timed in `profile` only.
    public func profiledTrace(_ inputs: [String: Tensor], runs: Int = 5) throws -> DispatchTrace {
        let (timings, traced) = try profiled(inputs, runs: runs)
        var trace = traced
        var byNode: [String: UInt64] = [:]
        for t in timings { byNode[t.node, default: 0] += t.nanoseconds }
        for i in trace.nodes.indices {
            guard let ns = byNode[trace.nodes[i].node] else { continue }
            trace.nodes[i].durationNanoseconds = ns
            if case let .dispatched(k) = trace.nodes[i].placement { trace.ops[k].durationNanoseconds = ns }
        }
        return trace
    }

    /// The dispatch trace of the plan for these input shapes (default: the declared ones),
    /// with the kernels as prepared. Nodes planned only when running (their shapes depend
    /// on values) are listed on `when running`, with the reason; `trace(inputs:)` shows
    /// how they were planned for given values.
    public func trace(inputShapes: [String: TensorShape]? = nil) throws -> (trace: DispatchTrace, nodes: [NodeAssignment], arenaBytes: Int) {
        let plan = try plan(for: Self.concreteInputs(graph, inputShapes))
        return (plan.trace, plan.assignments, plan.arenaSize)
    }

    /// The dispatch trace of `graph` (optimized as a session would) for `inputShapes`
    /// (default: the declared ones), from the select and layout stages alone: every node,
    /// the rule or default that placed it and the kernel its backend predicts. No kernel is
    /// prepared and no weight packed, so it is cheap, and `options.cpu` may be a CPU this
    /// machine is not.
    ///
    /// - Throws: `SessionError` for a graph that cannot be planned (the node and why), or
    ///   an input whose shape is neither declared nor given.
    public static func planTrace(graph: Graph, options: SessionOptions, inputShapes: [String: TensorShape]? = nil) throws -> DispatchTrace {
        let g = try prepared(graph, options: options)
        let selection = try PlanSelection(graph: g, inputShapes: concreteInputs(g, inputShapes), options: options)
        let layout = LayoutAssignment(selection, options: options)
        return PlanSelection.trace(layout.nodes, cpu: options.cpu, host: options.host, rulesSource: options.rules.source,
                                   pending: selection.pending, rest: selection.rest)
    }

    /// `graph` sorted, checked against its declared types, and optimized when `options` say so.
    private static func prepared(_ graph: Graph, options: SessionOptions) throws -> Graph {
        var g: Graph
        do { g = try graph.sorted() } catch { throw SessionError.graph(error) }
        // Types agree with what the model declares, before anything is planned.
        do { _ = try ShapeInference.run(g) } catch let e as GraphError { throw SessionError.graph(e) }
        if options.optimize {
            g = try GraphOptimizer.planning(on: options.cpu).run(g)
        }
        return g
    }

    /// Each input's type with `shapes[name]` or its declared concrete shape.
    private static func concreteInputs(_ graph: Graph, _ shapes: [String: TensorShape]?) throws -> [String: (DType, TensorShape)] {
        var out: [String: (DType, TensorShape)] = [:]
        for p in graph.inputs {
            guard let s = shapes?[p.name] ?? p.type?.shape?.concrete else {
                throw SessionError.missingInput(name: p.name, expected: p.type)
            }
            out[p.name] = (p.type?.dtype ?? .f32, s)
        }
        return out
    }

    private func plan(for shapes: [String: (DType, TensorShape)]) throws -> ExecutionPlan {
        let key = graph.inputs.map { shapes[$0.name]?.1 ?? .scalar }
        return try plans.plan(for: key) { try ExecutionPlan(graph: graph, inputShapes: shapes, options: options, counter: counter) }
    }

    /// The plan for the shapes of `inputs` (checked): the one used last when they match it
    /// (found without building a key, so a warm run allocates nothing), else from the cache.
    private func plan(for inputs: [String: Tensor]) throws -> ExecutionPlan {
        let ports = graph.inputs
        let recent = plans.recent { key in
            key.count == ports.count && zip(ports, key).allSatisfy { p, shape in inputs[p.name]?.shape == shape }
        }
        if let recent { return recent }
        var shapes: [String: (DType, TensorShape)] = [:]
        for (name, t) in inputs { shapes[name] = (t.dtype, t.shape) }
        return try plan(for: shapes)
    }

    /// Checks names, element types and shapes against the graph's declared inputs.
    private func check(_ inputs: [String: Tensor]) throws {
        // As many inputs as the graph's, all found below: no name is unknown.
        if inputs.count != graph.inputs.count { try checkNames(inputs) }
        for p in graph.inputs {
            guard let t = inputs[p.name] else {
                try checkNames(inputs)
                throw SessionError.missingInput(name: p.name, expected: p.type)
            }
            if let type = p.type {
                let shapeOK = type.shape?.admits(t.shape) ?? true
                guard type.dtype == t.dtype, shapeOK else {
                    throw SessionError.inputMismatch(name: p.name, expected: type, got: "\(t.dtype)[\(t.shape)]")
                }
            }
        }
    }

    /// Throws for the first name in `inputs` that is not a graph input.
    private func checkNames(_ inputs: [String: Tensor]) throws {
        let names = Set(graph.inputs.map(\.name))
        for name in inputs.keys where !names.contains(name) {
            throw SessionError.unknownInput(name: name, known: graph.inputs.map(\.name))
        }
    }
}
