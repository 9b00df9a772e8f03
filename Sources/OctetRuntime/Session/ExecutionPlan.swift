import Dispatch
import OctetCore
import OctetCPU
import OctetDispatch

/// Where a planned node runs, for traces and `octet run --trace`.
public struct NodeAssignment: Sendable {
    public var node: String
    public var opType: String
    /// `folded` (computed while planning), `octet` (built-in Swift ops), or a backend name.
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
    }

    var site: OperatorSite
    var action: Action
    /// Slot of each input (`nil` for an omitted optional input).
    var inputs: [Int?]
    var outputs: [Int]
}

/// Where a slot's tensor lives during a run.
enum SlotStorage: Sendable {
    case input(String)
    case constant(Tensor)
    /// Inside the arena at this offset.
    case arena(offset: Int, dtype: DType, shape: TensorShape, layout: TensorLayout)
    /// Allocated per run (graph outputs).
    case fresh(dtype: DType, shape: TensorShape, layout: TensorLayout)
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
    /// For each step, slots whose last reader it is (released after it runs).
    let releases: [[Int]]

    init(graph: Graph, inputShapes: [String: (DType, TensorShape)], options: SessionOptions) throws {
        let selector = BackendSelector(rules: options.rules, registry: options.registry)
        let context = PrepareContext(cpu: options.cpu, host: options.host, threads: options.threads)
        var slotOf: [String: Int] = [:]
        var slots: [SlotStorage] = []
        var types: [String: (DType, TensorShape)] = [:]
        var known: [String: Tensor] = [:]
        for (name, t) in graph.initializers { known[name] = t }
        for (name, t) in inputShapes { types[name] = t }

        var steps: [ExecutionStep] = []
        var dispatches: [OpDispatch] = []
        var assignments: [NodeAssignment] = []
        var stepOutputTypes: [[(DType, TensorShape)]] = []

        func slot(for value: String) -> Int {
            if let s = slotOf[value] { return s }
            slots.append(known[value].map(SlotStorage.constant) ?? .input(value))
            slotOf[value] = slots.count - 1
            return slots.count - 1
        }

        // Memory order of computed values (absent: row-major). Convolutions on a backend
        // that takes channels-last activations produce NHWC; layout-agnostic ops pass it
        // on; a reorder step is added where an NHWC value meets an op that needs NCHW.
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
            assignments.append(NodeAssignment(node: site.node, opType: "Reorder", runsOn: "octet", kernel: nil))
            return key
        }

        for node in graph.nodes {
            let site = OperatorSite(node)
            let isMatrix = OperatorCatalog.isMatrix(node)
            let op: any GraphOperator
            do { op = try OperatorCatalog.makeOperator(for: node, opset: graph.opset(of: node)) } catch let e as GraphError {
                throw SessionError.graph(e)
            }
            let constants: [Tensor?] = node.inputs.map { $0.isEmpty ? nil : known[$0] }
            var inputTypes: [ValueType?] = []
            for v in node.inputs {
                if v.isEmpty { inputTypes.append(nil); continue }
                if let t = known[v] { inputTypes.append(ValueType(t.dtype, t.shape)); continue }
                guard let (d, s) = types[v] else { throw SessionError.graph(.undefinedValue(node: node.name, value: v)) }
                inputTypes.append(ValueType(d, s))
            }
            let outputTypes: [ValueType]
            do { outputTypes = try op.outputTypes(inputTypes, constants: constants) } catch {
                throw Self.wrap(error, node)
            }
            var concrete: [(DType, TensorShape)] = []
            for (i, t) in outputTypes.enumerated() {
                if let s = t.shape, !s.isAddressable {
                    throw SessionError.node(node: node.name, opType: node.opType, detail: "output \(i) would be \(t), which has more elements than can be addressed")
                }
                guard let s = t.shape?.concrete else {
                    throw SessionError.node(node: node.name, opType: node.opType, detail: "the shape of output \(i) cannot be determined before running (got \(t))")
                }
                concrete.append((t.dtype, s))
            }
            if let shapeOp = op as? ShapeOperator, let v = node.input(0), let (_, s) = types[v] ?? known[v].map({ ($0.dtype, $0.shape) }) {
                // Shapes are known once the input shapes are: Shape folds at plan time.
                do { known[node.outputs[0]] = try shapeOp.value(for: s) } catch { throw Self.wrap(error, node) }
                assignments.append(NodeAssignment(node: node.name, opType: node.opType, runsOn: "folded", kernel: nil))
                continue
            }
            let allConstant = node.inputs.allSatisfy { $0.isEmpty || known[$0] != nil }
            if allConstant && !isMatrix {
                // Constant folding: compute now, once.
                for (name, t) in zip(node.outputs, concrete) {
                    do { try options.memoryBudget.check(elements: t.1.elementCount, of: t.0.byteSize, for: "output '\(name)' (\(t.0) \(t.1)), folded while planning,") } catch {
                        throw SessionError.node(node: node.name, opType: node.opType, detail: "\(error)")
                    }
                }
                var outs = try concrete.map { try Tensor(zeros: $0.0, shape: $0.1) }
                do { try op.run(constants, outputs: &outs) } catch { throw Self.wrap(error, node) }
                for (name, t) in zip(node.outputs, outs) where !name.isEmpty { known[name] = t }
                assignments.append(NodeAssignment(node: node.name, opType: node.opType, runsOn: "folded", kernel: nil))
                continue
            }
            let action: ExecutionStep.Action
            let assignment: NodeAssignment
            var layout: TensorLayout = .rowMajor
            if let matrix = op as? any MatrixPlanning {
                let shapes = node.inputs.map { v in v.isEmpty ? TensorShape.scalar : (known[v]?.shape ?? types[v]?.1 ?? .scalar) }
                var call: MatrixCall
                do { call = try matrix.plan(constants, shapes: shapes, constants: constants) } catch { throw Self.wrap(error, node) }
                var dispatch = selector.select(call.signature, cpu: options.cpu, host: options.host)
                if call.signature.kind == .conv2d, let chosen = dispatch.backend {
                    // Channels last when the same backend takes it: no reorders between convolutions.
                    var nhwc = call.signature
                    nhwc.activationLayout = .nhwc
                    let again = selector.select(nhwc, cpu: options.cpu, host: options.host)
                    if again.backend == chosen {
                        dispatch = again
                        call.signature = nhwc
                        layout = .nhwc
                    }
                }
                let (name, kernel) = try Self.prepareKernel(&dispatch, &call, layout: &layout, options: options, context: context, node: node)
                // The trace names what was prepared (oneDNN's implementation, say), not only
                // what the backend predicted while selecting.
                dispatch.kernel = kernel.implementation
                dispatches.append(dispatch)
                action = .kernel(kernel, call)
                assignment = NodeAssignment(node: node.name, opType: node.opType, runsOn: name, kernel: kernel.implementation)
            } else {
                action = .swift(op)
                assignment = NodeAssignment(node: node.name, opType: node.opType, runsOn: "octet", kernel: nil)
                // Every tensor operand (Clip's bounds aside) must have one 4-D shape.
                let operands = Self.tensorOperandsOnly(node) ? Array(node.inputs.prefix(1)) : node.inputs.filter { !$0.isEmpty }
                if operands.contains(where: { layoutOf[$0] == .nhwc }),
                   Self.takesChannelsLast(node, operands.map { known[$0]?.shape ?? types[$0]?.1 }),
                   !Self.tensorOperandsOnly(node) || node.opType == "Clip" || node.input(1).flatMap({ known[$0] })?.shape.elementCount == 1 {
                    layout = .nhwc
                }
            }
            // Inputs in the layout the node runs in (reorder steps added as needed).
            let inputSlots: [Int?] = node.inputs.enumerated().map { i, v in
                guard !v.isEmpty else { return nil }
                // Matrix ops: only the activation; other ops: every operand but Clip's bounds.
                let rank = known[v]?.shape.rank ?? types[v]?.1.rank ?? 0
                let operand = isMatrix ? i == 0 : !(Self.tensorOperandsOnly(node) && i > 0) && rank == 4
                let wants: TensorLayout = layout == .nhwc && operand ? .nhwc : .rowMajor
                return slot(for: value(v, in: wants))
            }
            assignments.append(assignment)
            // GlobalAveragePool's N x C x 1 x 1 output is the same in both layouts.
            let outputLayout: TensorLayout = layout == .nhwc && node.opType != "GlobalAveragePool" ? .nhwc : .rowMajor
            var outputSlots: [Int] = []
            for (name, t) in zip(node.outputs, concrete) {
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
                slots.append(.fresh(dtype: t.0, shape: t.1, layout: outputLayout))
                slotOf[key] = slots.count - 1
                if outputLayout == .nhwc { layoutOf[key] = .nhwc }
                outputSlots.append(slots.count - 1)
            }
            steps.append(ExecutionStep(site: site, action: action, inputs: inputSlots, outputs: outputSlots))
            stepOutputTypes.append(concrete)
        }

        // Graph outputs: computed values, or constants/inputs passed straight through.
        var outputSlots: [(String, Int)] = []
        for o in graph.outputs {
            if slotOf[o.name] == nil, known[o.name] == nil, types[o.name] == nil { throw SessionError.graph(.undefinedOutput(o.name)) }
            outputSlots.append((o.name, slot(for: value(o.name, in: .rowMajor))))
        }

        // Liveness: intermediate slots (not graph outputs) go to the arena.
        let outputSet = Set(outputSlots.map(\.1))
        var first: [Int: Int] = [:], last: [Int: Int] = [:]
        for (i, s) in steps.enumerated() {
            for o in s.outputs { first[o] = first[o] ?? i; last[o] = max(last[o] ?? i, i) }
            for case let v? in s.inputs { last[v] = max(last[v] ?? i, i) }
        }
        var requests: [ArenaPlanner.Request] = [], requestSlots: [Int] = []
        for (slotIndex, storage) in slots.enumerated() {
            guard case let .fresh(dtype, shape, _) = storage, !outputSet.contains(slotIndex), let f = first[slotIndex] else { continue }
            requests.append(.init(bytes: shape.elementCount * dtype.byteSize, first: f, last: last[slotIndex] ?? f))
            requestSlots.append(slotIndex)
        }
        let (offsets, size) = ArenaPlanner.place(requests)
        do { try options.memoryBudget.check(size, for: "the arena of intermediate values (input shapes \(inputShapes.mapValues(\.1)))") } catch {
            throw SessionError.node(node: graph.name, opType: "graph", detail: "\(error)")
        }
        for (k, slotIndex) in requestSlots.enumerated() {
            if case let .fresh(dtype, shape, layout) = slots[slotIndex] { slots[slotIndex] = .arena(offset: offsets[k], dtype: dtype, shape: shape, layout: layout) }
        }
        var releases = Array(repeating: [Int](), count: steps.count)
        for (slotIndex, l) in last where !outputSet.contains(slotIndex) { releases[l].append(slotIndex) }

        self.steps = steps
        self.slots = slots
        self.outputSlots = outputSlots
        self.arenaSize = size
        self.releases = releases
        self.assignments = assignments
        self.trace = DispatchTrace(cpu: options.cpu, host: options.host, rulesSource: options.rules.source, ops: dispatches)
    }

    /// Ops whose built-in kernels run on channels-last values as they are: elementwise ops
    /// on 4-D values of one shape, and 2-D pooling.
    /// Binary ops also broadcast: 4-D operands are reordered to NHWC, and smaller ones
    /// qualify when their memory order is the same in both layouts (e.g. a `C x 1 x 1` bias).
    static func takesChannelsLast(_ node: Node, _ shapes: [TensorShape?]) -> Bool {
        guard let first = shapes.first ?? nil, shapes.allSatisfy({ $0 != nil }) else { return false }
        if QuantizedAddNode.matches(node) { return first.rank == 4 && shapes.allSatisfy { $0 == first } }
        guard node.domain.isEmpty else { return false }
        switch node.opType {
        case "Relu", "Clip", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Erf", "Sqrt", "Gelu", "Identity",
             "MaxPool", "AveragePool", "GlobalAveragePool":
            return first.rank == 4 && shapes.allSatisfy { $0 == first }
        case "QuantizeLinear", "DequantizeLinear":
            // Per tensor only (a per-axis scale follows the logical axis, not memory order).
            return first.rank == 4 && shapes.count == 1
        case "Add", "Sub", "Mul", "Div":
            let operands = shapes.compactMap { $0 }
            guard let out = Broadcasting.shape(operands.map { SymbolicShape($0) }), out.rank == 4 else { return false }
            return operands.allSatisfy { s in
                s.rank == 4 || { (d: [Int]) in d[1] == 1 || (d[2] == 1 && d[3] == 1) }(Array(repeating: 1, count: 4 - s.rank) + s.dims)
            }
        default:
            return false
        }
    }

    /// Ops whose inputs after the first are parameters (bounds, scales), not tensors to lay out.
    static func tensorOperandsOnly(_ node: Node) -> Bool {
        ["Clip", "QuantizeLinear", "DequantizeLinear"].contains(node.opType)
    }

    static func wrap(_ error: any Error, _ node: Node) -> SessionError {
        if let e = error as? SessionError { return e }
        if let e = error as? GraphError { return .graph(e) }
        return .node(node: node.name, opType: node.opType, detail: "\(error)")
    }

    /// Runs the plan with `arena` (at least `arenaSize` bytes) on `inputs` (already checked).
    func run(_ inputs: [String: Tensor], arena: AlignedBuffer<UInt8>, timings: UnsafeMutableBufferPointer<UInt64>? = nil) throws -> [String: Tensor] {
        var values = [Tensor?](repeating: nil, count: slots.count)
        for (i, s) in slots.enumerated() {
            switch s {
            case let .constant(t): values[i] = t
            case let .input(name): values[i] = inputs[name]
            default: break
            }
        }
        for (k, step) in steps.enumerated() {
            let start = timings == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            defer { if let timings { timings[k] += DispatchTime.now().uptimeNanoseconds - start } }
            let ins = step.inputs.map { $0.flatMap { values[$0] } }
            var outs: [Tensor] = try step.outputs.map { slot in
                switch slots[slot] {
                case let .arena(offset, dtype, shape, layout): return try Tensor(window: arena, offset: offset, dtype: dtype, shape: shape, layout: layout)
                case let .fresh(dtype, shape, layout): return try Tensor(zeros: dtype, shape: shape, layout: layout)
                default: throw SessionError.node(node: step.site.node, opType: step.site.opType, detail: "output slot is not writable")
                }
            }
            do {
                switch step.action {
                case let .swift(op):
                    try op.run(ins, outputs: &outs)
                case let .kernel(kernel, call):
                    let operands = try call.kernelInputs(ins, site: step.site)
                    let nodeShape = outs[0].shape
                    if let view = call.kernelOutputShape, view != nodeShape { outs[0] = try outs[0].reshaped(to: view) }
                    try kernel.run(inputs: operands, output: &outs[0])
                    if outs[0].shape != nodeShape { outs[0] = try outs[0].reshaped(to: nodeShape) }
                    try call.finish(ins, output: &outs[0], site: step.site)
                }
            } catch let e as SessionError {
                throw e
            } catch let e as GraphError {
                throw SessionError.graph(e)
            } catch {
                throw SessionError.node(node: step.site.node, opType: step.site.opType, detail: "\(error)")
            }
            for (slot, t) in zip(step.outputs, outs) { values[slot] = t }
            for r in releases[k] { values[r] = nil }
        }
        var result: [String: Tensor] = [:]
        for (name, slot) in outputSlots {
            guard let t = values[slot] else { throw SessionError.graph(.undefinedOutput(name)) }
            result[name] = t
        }
        return result
    }
}
