import Dispatch
import OctetCore
import OctetCPU
import OctetDispatch

/// Where a planned node runs, for traces and `octet run --trace`.
public struct NodeAssignment: Sendable {
    public var node: String
    public var opType: String
    /// `folded` (computed while planning) or a backend name (`builtin` for Octet's own ops).
    public var runsOn: String
    /// The backend's kernel, when dispatched.
    public var kernel: String?
}

/// How long one node took (see `Session.profile`).
public struct NodeTiming: Sendable {
    public var node: String
    public var opType: String
    public var runsOn: String
    public var nanoseconds: UInt64
}

/// One step of a plan: a node with its operator and the slots it reads and writes.
struct ExecutionStep: Sendable {
    enum Action: Sendable {
        case swift(any GraphOperator)
        case kernel(any Kernel, MatrixCall)
        /// A non-matrix op on a backend kernel, fed these node inputs.
        case nodeKernel(any Kernel, operands: [Int])
        /// An op that allocates its outputs with the shapes its data gives them.
        case shaped(any DataShapedOperator)
    }

    var site: OperatorSite
    var action: Action
    /// Slot of each input (`nil` for an omitted optional input).
    var inputs: [Int?]
    var outputs: [Int]
    /// The shape a matrix kernel writes when it differs from the node's output
    /// (`MatrixCall.kernelOutputShape`), computed once here rather than per run.
    let kernelView: TensorShape?

    init(site: OperatorSite, action: Action, inputs: [Int?], outputs: [Int]) {
        self.site = site
        self.action = action
        self.inputs = inputs
        self.outputs = outputs
        kernelView = if case let .kernel(_, call) = action { call.kernelOutputShape } else { nil }
    }
}

/// Where a slot's tensor lives during a run.
enum SlotStorage: Sendable {
    case input(String)
    case constant(Tensor)
    /// Inside the arena at this offset.
    case arena(offset: Int, dtype: DType, shape: TensorShape, layout: TensorLayout)
    /// Allocated per run (graph outputs).
    case fresh(dtype: DType, shape: TensorShape, layout: TensorLayout)
    /// Allocated when running by the node that writes it, whose data gives its shape.
    case produced
}

/// A graph planned for one set of concrete input shapes: folded constants, a kernel per
/// matrix node, arena offsets for every intermediate value.
final class ExecutionPlan: Sendable {
    let steps: [ExecutionStep]
    let slots: [SlotStorage]
    /// Slot of each graph output, in order.
    let outputSlots: [(name: String, slot: Int)]
    let arenaSize: Int
    let trace: DispatchTrace
    let assignments: [NodeAssignment]
    /// For each step, slots whose last reader it is, dropped after it runs: graph inputs
    /// and values made by data-shaped ops (arena windows and constants stay).
    let releases: [[Int]]
    /// The slot of each graph input the steps read, by name.
    let inputSlots: [(slot: Int, name: String)]
    /// Slots a run leaves empty when it ends (inputs, graph outputs, values made by
    /// data-shaped ops), so it keeps no reference to the caller's tensors.
    let droppedAfterRun: [Int]
    /// Whether a step runs a subgraph (If, Loop, Scan), which reads `SubgraphContext`.
    let runsSubgraphs: Bool
    /// Threads a built-in op may use (`IntraOpParallelism`).
    let threads: Int
    /// What the subgraphs of If, Loop and Scan are planned with (`SubgraphContext`).
    let options: SessionOptions
    /// The nodes planned when running (`nil` when every node is planned here).
    let continuation: Continuation?
    /// Slot of each value the continuation reads, by name.
    let boundarySlots: [(name: String, slot: Int)]
    /// The graph inputs (and values) this plan was made for, for the trace.
    let plannedFor: [PlannedValue]

    /// Plans `graph` in stages: select (`PlanSelection`), layout (`LayoutAssignment`),
    /// prepare (kernels built, weights packed once), memory (`ArenaPlanner`).
    /// `counter` counts the plans made, this one and those its continuation makes.
    convenience init(graph: Graph, inputShapes: [String: (DType, TensorShape)], options: SessionOptions,
                     counter: PlanCounter = PlanCounter(), plannedFor: [PlannedValue]? = nil) throws {
        let selection = try PlanSelection(graph: graph, inputShapes: inputShapes, options: options)
        let layout = LayoutAssignment(selection, options: options)
        try self.init(graph: graph, selection: selection, layout: layout, inputShapes: inputShapes, options: options,
                      counter: counter, plannedFor: plannedFor)
    }

    /// The prepare and memory stages, after select and layout.
    init(graph: Graph, selection: PlanSelection, layout: LayoutAssignment, inputShapes: [String: (DType, TensorShape)], options: SessionOptions,
         counter: PlanCounter = PlanCounter(), plannedFor: [PlannedValue]? = nil) throws {
        counter.add()
        let context = PrepareContext(cpu: options.cpu, host: options.host, threads: options.threads, memoryBudget: options.memoryBudget)
        let known = selection.known
        var types = selection.types
        var slotOf: [String: Int] = [:]
        var slots: [SlotStorage] = []
        var steps: [ExecutionStep] = []
        var assignments: [NodeAssignment] = []
        var planned = layout.nodes

        func slot(for value: String) -> Int {
            if let s = slotOf[value] { return s }
            slots.append(known[value].map(SlotStorage.constant) ?? .input(value))
            slotOf[value] = slots.count - 1
            return slots.count - 1
        }

        // Memory order of computed values (absent: row-major), as the layout stage decided;
        // a reorder step is added where a value meets a reader that wants the other order.
        var layoutOf: [String: TensorLayout] = [:]
        func value(_ v: String, in layout: TensorLayout) -> String {
            guard (layoutOf[v] ?? .rowMajor) != layout, let (dtype, shape) = types[v] ?? known[v].map({ ($0.dtype, $0.shape) }) else { return v }
            let key = "\(v)#\(layout)"
            if slotOf[key] != nil { return key }
            let site = OperatorSite(Node(name: "reorder \(v) to \(layout)", opType: "Reorder", inputs: [v], outputs: [key]))
            let input = slot(for: v)
            slots.append(.fresh(dtype: dtype, shape: shape, layout: layout))
            slotOf[key] = slots.count - 1
            types[key] = (dtype, shape)
            layoutOf[key] = layout
            steps.append(ExecutionStep(site: site, action: .swift(LayoutConversion(site: site, target: layout)), inputs: [input], outputs: [slots.count - 1]))
            assignments.append(NodeAssignment(node: site.node, opType: "Reorder", runsOn: BuiltInBackend.name, kernel: "reorder"))
            return key
        }

        for k in planned.indices {
            let node = planned[k].node
            guard case let .runs(call, dispatch, reason) = planned[k].placement else {
                assignments.append(NodeAssignment(node: node.name, opType: node.opType, runsOn: "folded", kernel: nil))
                continue
            }
            let site = OperatorSite(node)
            var runLayout = layout.runLayouts[k]
            let action: ExecutionStep.Action
            let assignment: NodeAssignment
            switch call {
            case var .matrix(matrixCall):
                guard var dispatch else { throw SessionError.noBackend(node: node.name, signature: matrixCall.signature.description, reasons: []) }
                let (name, kernel) = try Self.prepareKernel(&dispatch, &matrixCall, layout: &runLayout, options: options, context: context, node: node)
                // The trace names what was prepared (oneDNN's implementation, say), not only
                // what the backend predicted while selecting.
                dispatch.kernel = kernel.implementation
                planned[k].placement = .runs(.matrix(matrixCall), dispatch: dispatch, reason: reason)
                action = .kernel(kernel, matrixCall)
                assignment = NodeAssignment(node: node.name, opType: node.opType, runsOn: name, kernel: kernel.implementation)
            case let .node(signature, constants, operands):
                guard var dispatch else { throw SessionError.noBackend(node: node.name, signature: signature.description, reasons: []) }
                if let kernel = try Self.prepareNodeKernel(&dispatch, signature, constants, nhwc: runLayout == .nhwc, options: options, context: context, node: node) {
                    dispatch.kernel = kernel.implementation
                    action = .nodeKernel(kernel, operands: operands)
                    assignment = NodeAssignment(node: node.name, opType: node.opType, runsOn: dispatch.backend ?? "?", kernel: kernel.implementation)
                } else {
                    action = .swift(planned[k].op)
                    assignment = NodeAssignment(node: node.name, opType: node.opType, runsOn: BuiltInBackend.name, kernel: dispatch.kernel)
                }
                planned[k].placement = .runs(call, dispatch: dispatch, reason: reason)
            case .builtIn where planned[k].shapedByData:
                guard let shaped = planned[k].op as? any DataShapedOperator else {
                    throw SessionError.node(node: node.name, opType: node.opType, detail: "planned as shaped by its data, but its operator is not")
                }
                action = .shaped(shaped)
                assignment = NodeAssignment(node: node.name, opType: node.opType, runsOn: BuiltInBackend.name, kernel: planned[k].builtInKernelName)
            case .builtIn:
                action = .swift(planned[k].op)
                assignment = NodeAssignment(node: node.name, opType: node.opType, runsOn: BuiltInBackend.name,
                                            kernel: dispatch?.kernel ?? planned[k].builtInKernelName)
            }
            // Inputs in the layout the node runs in (reorder steps added as needed). A
            // matrix kernel that fell back to a row-major kernel reads row-major.
            let wants = layout.inputLayouts[k]
            let inputSlots: [Int?] = node.inputs.enumerated().map { i, v in
                guard !v.isEmpty else { return nil }
                return slot(for: value(v, in: runLayout == .rowMajor ? .rowMajor : wants[i] ?? .rowMajor))
            }
            assignments.append(assignment)
            // GlobalAveragePool's N x C x 1 x 1 output is the same in both layouts.
            let outputLayout: TensorLayout = runLayout == .nhwc && node.opType != "GlobalAveragePool" ? .nhwc : .rowMajor
            var outputSlots: [Int] = []
            for (name, t) in zip(node.outputs, planned[k].outputTypes) {
                // Unused optional outputs still get a slot, so every operator sees all its outputs.
                let (bytes, overflow) = t.1.elementCount.multipliedReportingOverflow(by: t.0.byteSize)
                guard !overflow, bytes <= Tensor.maximumByteCount else {
                    throw SessionError.node(node: node.name, opType: node.opType, detail: "output '\(name)' (\(t.0) \(t.1)) exceeds the \(Tensor.maximumByteCount >> 30) GiB limit")
                }
                do { try options.memoryBudget.check(bytes, for: "output '\(name)' (\(t.0) \(t.1))") } catch {
                    throw SessionError.node(node: node.name, opType: node.opType, detail: "\(error)")
                }
                let key = name.isEmpty ? "\(node.name)#unused\(outputSlots.count)" : name
                types[key] = t
                slots.append(planned[k].shapedByData ? .produced : .fresh(dtype: t.0, shape: t.1, layout: outputLayout))
                slotOf[key] = slots.count - 1
                if outputLayout == .nhwc { layoutOf[key] = .nhwc }
                outputSlots.append(slots.count - 1)
            }
            steps.append(ExecutionStep(site: site, action: action, inputs: inputSlots, outputs: outputSlots))
        }

        // The rest of the graph, planned when running: it reads the values computed here
        // (and graph inputs) that its nodes or the graph outputs it makes need.
        var boundarySlots: [(name: String, slot: Int)] = []
        var continuation: Continuation?
        let producedLater = Set(selection.rest.flatMap(\.outputs).filter { !$0.isEmpty })
        if let pending = selection.pending {
            var needed: [String] = []
            for v in selection.rest.flatMap(\.inputs) + graph.outputs.map(\.name) where !v.isEmpty && !producedLater.contains(v) && !needed.contains(v) {
                needed.append(v)
            }
            var restInputs: [Graph.Port] = [], restConstants: [String: Tensor] = [:]
            for v in needed {
                if let t = known[v] { restConstants[v] = t; continue }
                guard let t = types[v] else { throw SessionError.graph(.undefinedValue(node: selection.rest.first?.name ?? graph.name, value: v)) }
                let boundary = slot(for: value(v, in: .rowMajor))
                let shapedByData = if case .produced = slots[boundary] { true } else { false }
                restInputs.append(Graph.Port(name: v, type: ValueType(t.0, shapedByData ? nil : SymbolicShape(t.1))))
                boundarySlots.append((v, boundary))
            }
            var rest = graph
            rest.nodes = selection.rest
            rest.inputs = restInputs
            rest.initializers = restConstants
            rest.outputs = graph.outputs.filter { producedLater.contains($0.name) }
            continuation = Continuation(graph: rest, pending: pending, options: options, counter: counter)
        }

        // Graph outputs: computed values, or constants/inputs passed straight through.
        var outputSlots: [(String, Int)] = []
        for o in graph.outputs where !producedLater.contains(o.name) {
            if slotOf[o.name] == nil, known[o.name] == nil, types[o.name] == nil { throw SessionError.graph(.undefinedOutput(o.name)) }
            outputSlots.append((o.name, slot(for: value(o.name, in: .rowMajor))))
        }

        // Memory: intermediate slots (not graph outputs) go to the arena, by liveness.
        let outputSet = Set(outputSlots.map(\.1) + boundarySlots.map(\.slot))
        var first: [Int: Int] = [:], last: [Int: Int] = [:]
        for (i, s) in steps.enumerated() {
            for o in s.outputs { first[o] = first[o] ?? i; last[o] = max(last[o] ?? i, i) }
            for case let v? in s.inputs { last[v] = max(last[v] ?? i, i) }
        }
        // A fused residual sum writes over its operand when nothing reads the operand later:
        // the two slots are one request, live from the operand's first write to the output's
        // last read (`PostOp.sum`: kernels read each operand element before writing there).
        let inPlace = Self.sumsInPlace(steps, slots: slots, last: last, excluded: outputSet)
        func root(_ slot: Int) -> Int { var r = slot; while let o = inPlace[r] { r = o }; return r }
        var requests: [ArenaPlanner.Request] = [], requestOfRoot: [Int: Int] = [:], arenaSlots: [(slot: Int, request: Int)] = []
        for (slotIndex, storage) in slots.enumerated() {
            guard case let .fresh(dtype, shape, _) = storage, !outputSet.contains(slotIndex), let f = first[slotIndex] else { continue }
            let l = last[slotIndex] ?? f, r = root(slotIndex)
            let request: Int
            if let shared = requestOfRoot[r] {
                request = shared
                requests[request].first = min(requests[request].first, f)
                requests[request].last = max(requests[request].last, l)
            } else {
                request = requests.count
                requestOfRoot[r] = request
                requests.append(.init(bytes: shape.elementCount * dtype.byteSize, first: f, last: l))
            }
            arenaSlots.append((slotIndex, request))
        }
        let (offsets, size) = ArenaPlanner.place(requests)
        do { try options.memoryBudget.check(size, for: "the arena of intermediate values (input shapes \(inputShapes.mapValues(\.1)))") } catch {
            throw SessionError.node(node: graph.name, opType: "graph", detail: "\(error)")
        }
        for (slotIndex, request) in arenaSlots {
            if case let .fresh(dtype, shape, layout) = slots[slotIndex] { slots[slotIndex] = .arena(offset: offsets[request], dtype: dtype, shape: shape, layout: layout) }
        }
        var releases = Array(repeating: [Int](), count: steps.count)
        var inputSlots: [(slot: Int, name: String)] = [], droppedAfterRun: [Int] = []
        for (slotIndex, storage) in slots.enumerated() {
            switch storage {
            case let .input(name):
                inputSlots.append((slotIndex, name))
                droppedAfterRun.append(slotIndex)
            case .fresh, .produced: droppedAfterRun.append(slotIndex)
            case .constant, .arena: continue
            }
            if let l = last[slotIndex], !outputSet.contains(slotIndex) { releases[l].append(slotIndex) }
        }

        self.steps = steps
        self.slots = slots
        self.outputSlots = outputSlots
        self.arenaSize = size
        self.releases = releases
        self.inputSlots = inputSlots
        self.droppedAfterRun = droppedAfterRun
        runsSubgraphs = steps.contains { ["If", "Loop", "Scan"].contains($0.site.opType) }
        self.assignments = assignments
        self.threads = options.threads
        self.options = options
        self.continuation = continuation
        self.boundarySlots = boundarySlots
        self.plannedFor = plannedFor ?? graph.inputs.compactMap { p in
            inputShapes[p.name].map { PlannedValue(name: p.name, type: "\($0.0)[\($0.1)]") }
        }
        var trace = PlanSelection.trace(planned, cpu: options.cpu, host: options.host, rulesSource: options.rules.source,
                                        pending: selection.pending, rest: selection.rest)
        trace.plannedFor = self.plannedFor
        self.trace = trace
    }

    static func wrap(_ error: any Error, _ node: Node) -> SessionError {
        if let e = error as? SessionError { return e }
        if let e = error as? GraphError { return .graph(e) }
        return .node(node: node.name, opType: node.opType, detail: "\(error)")
    }
}

extension ExecutionPlan {
    /// One trace of the plans a run went through, in order: each plan's nodes but those it
    /// left to the next, and what each plan was made for (a value a later plan took as a
    /// constant is listed with its elements).
    static func trace(of chain: [ExecutionPlan]) -> DispatchTrace {
        guard var merged = chain.first?.trace else {
            return DispatchTrace(cpu: .host, rulesSource: "", ops: [], nodes: [])
        }
        for (previous, plan) in zip(chain, chain.dropFirst()) {
            merged.nodes.removeLast(previous.pendingCount)
            let offset = merged.ops.count
            merged.ops += plan.trace.ops
            merged.nodes += plan.trace.nodes.map { n in
                var n = n
                if case let .dispatched(i) = n.placement { n.placement = .dispatched(opIndex: i + offset) }
                return n
            }
            for v in plan.plannedFor {
                if let i = merged.plannedFor.firstIndex(where: { $0.name == v.name }) {
                    if v.value != nil { merged.plannedFor[i] = v }
                } else {
                    merged.plannedFor.append(v)
                }
            }
        }
        return merged
    }

    /// Nodes at the end of `trace` left to the continuation.
    var pendingCount: Int { continuation?.graph.nodes.count ?? 0 }
}

extension ExecutionPlan {
    /// For each step whose kernel applies a fused residual sum (`PostOp.sum`, the operand at
    /// `ConvSumFusion.operandIndex`), output slot → operand slot when the output may take the
    /// operand's memory: both fresh intermediates of one type, shape and layout, neither in
    /// `excluded` (graph outputs, values handed on), and the operand read by no later step.
    static func sumsInPlace(_ steps: [ExecutionStep], slots: [SlotStorage], last: [Int: Int], excluded: Set<Int>) -> [Int: Int] {
        var shared: [Int: Int] = [:], taken: Set<Int> = []
        for (k, step) in steps.enumerated() {
            guard case let .kernel(_, call) = step.action, PostOp.sum(in: call.signature.postOps) != nil, step.outputs.count == 1,
                  ConvSumFusion.operandIndex < step.inputs.count, let operand = step.inputs[ConvSumFusion.operandIndex] else { continue }
            let output = step.outputs[0]
            guard last[operand] == k, !excluded.contains(operand), !excluded.contains(output), !taken.contains(operand),
                  case let .fresh(od, os, ol) = slots[operand], case let .fresh(yd, ys, yl) = slots[output], od == yd, os == ys, ol == yl else { continue }
            shared[output] = operand
            taken.insert(operand)
        }
        return shared
    }
}
