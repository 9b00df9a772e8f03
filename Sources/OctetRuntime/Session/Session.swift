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
    private let plans = Mutex<[[TensorShape]: ExecutionPlan]>([:])
    private let arenas = Mutex<[AlignedBuffer<UInt8>]>([])

    /// Optimizes `graph` (unless `options.optimize` is false) and plans it for the shapes
    /// its inputs declare, when those are fully known.
    public init(graph: Graph, options: SessionOptions) throws {
        guard (1...SessionOptions.maximumThreads).contains(options.threads) else {
            throw SessionError.invalidOption(name: "threads", detail: "must be between 1 and \(SessionOptions.maximumThreads), got \(options.threads)")
        }
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
    public func run(_ inputs: [String: Tensor], into outputs: inout [String: Tensor]) throws {
        let shapes = try check(inputs)
        let plan = try plan(for: shapes)
        var provided: [Int: Tensor] = [:]
        for (name, slot) in plan.outputSlots {
            if let t = outputs.removeValue(forKey: name) { provided[slot] = t }
        }
        let arena = arenas.withLock { pool -> AlignedBuffer<UInt8>? in
            guard let i = pool.firstIndex(where: { $0.count >= plan.arenaSize }) else { return nil }
            return pool.remove(at: i)
        } ?? AlignedBuffer<UInt8>(count: plan.arenaSize)
        defer { arenas.withLock { $0.append(arena) } }
        let results = try plan.run(inputs, arena: arena, provided: &provided)
        for (name, t) in results { outputs[name] = t }
    }

    /// Runs the model `runs` times and returns the time each planned node took (median
    /// over the runs), in execution order; folded nodes take no time and are not listed.
    public func profile(_ inputs: [String: Tensor], runs: Int = 5) throws -> [NodeTiming] {
        let shapes = try check(inputs)
        let plan = try plan(for: shapes)
        let arena = AlignedBuffer<UInt8>(count: plan.arenaSize)
        var samples = Array(repeating: [UInt64](), count: plan.steps.count)
        var timings = [UInt64](repeating: 0, count: plan.steps.count)
        for _ in 0..<max(1, runs) {
            for i in timings.indices { timings[i] = 0 }
            var none: [Int: Tensor] = [:]
            try timings.withUnsafeMutableBufferPointer { t in _ = try plan.run(inputs, arena: arena, timings: t, provided: &none) }
            for i in timings.indices { samples[i].append(timings[i]) }
        }
        let placed = plan.assignments.filter { $0.runsOn != "folded" }
        return plan.steps.indices.map { i in
            let a = placed[i]
            return NodeTiming(node: a.node, opType: a.opType, runsOn: a.runsOn, nanoseconds: samples[i].sorted()[samples[i].count / 2])
        }
    }

    /// The dispatch trace of the plan for `inputs`' shapes with each node's time (median
    /// over `runs` runs, nanoseconds) in `TracedNode.durationNanoseconds` and in the
    /// `OpDispatch` of each node the rules placed. Reorders are timed in `profile` only.
    public func profiledTrace(_ inputs: [String: Tensor], runs: Int = 5) throws -> DispatchTrace {
        let timings = try profile(inputs, runs: runs)
        var trace = try trace(inputShapes: inputs.mapValues(\.shape)).trace
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
    /// with the kernels as prepared.
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
        return PlanSelection.trace(layout.nodes, cpu: options.cpu, host: options.host, rulesSource: options.rules.source)
    }

    /// `graph` sorted, checked against its declared types, and optimized when `options` say so.
    private static func prepared(_ graph: Graph, options: SessionOptions) throws -> Graph {
        var g: Graph
        do { g = try graph.sorted() } catch { throw SessionError.graph(error) }
        // Types agree with what the model declares, before anything is planned.
        do { _ = try ShapeInference.run(g) } catch let e as GraphError { throw SessionError.graph(e) }
        if options.optimize {
            g = try GraphOptimizer.standard.run(g)
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
        if let p = plans.withLock({ $0[key] }) { return p }
        let p = try ExecutionPlan(graph: graph, inputShapes: shapes, options: options)
        return plans.withLock { cache in
            if let existing = cache[key] { return existing }
            cache[key] = p
            return p
        }
    }

    /// Checks names, element types and shapes against the graph's declared inputs.
    private func check(_ inputs: [String: Tensor]) throws -> [String: (DType, TensorShape)] {
        let names = Set(graph.inputs.map(\.name))
        for name in inputs.keys where !names.contains(name) {
            throw SessionError.unknownInput(name: name, known: graph.inputs.map(\.name))
        }
        var out: [String: (DType, TensorShape)] = [:]
        for p in graph.inputs {
            guard let t = inputs[p.name] else { throw SessionError.missingInput(name: p.name, expected: p.type) }
            if let type = p.type {
                let shapeOK = type.shape?.admits(t.shape) ?? true
                guard type.dtype == t.dtype, shapeOK else {
                    throw SessionError.inputMismatch(name: p.name, expected: type, got: "\(t.dtype)[\(t.shape)]")
                }
            }
            out[p.name] = (t.dtype, t.shape)
        }
        return out
    }
}
