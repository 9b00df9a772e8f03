import OctetCore
import OctetCPU
import OctetDispatch

/// One node after the select stage: its operator, its concrete types, and where it runs.
struct SelectedNode: Sendable {
    /// How a node that is not folded runs.
    enum Call: Sendable {
        /// A matrix product, through a backend kernel.
        case matrix(MatrixCall)
        /// A non-matrix op on a backend other than `builtin`: the signature, the
        /// constants the backend prepares with, and the node inputs its kernel receives.
        case node(OpSignature, OpConstants, operands: [Int])
        /// The node's own operator (the built-in backend).
        case builtIn
    }

    enum Placement: Sendable {
        /// Computed while planning; its outputs are in `PlanSelection.known`.
        case folded
        /// Runs; `dispatch` is `nil` for nodes placed without rules (`reason` says why).
        case runs(Call, dispatch: OpDispatch?, reason: String?)
    }

    let node: Node
    let op: any GraphOperator
    /// Concrete input types (`nil` for omitted inputs) and output types.
    let inputTypes: [(DType, TensorShape)?]
    let outputTypes: [(DType, TensorShape)]
    var placement: Placement
    /// Whether the node's outputs get their shapes when it runs (`DataShapedOperator`).
    var shapedByData = false

    /// `s64-Reshape`: the first operand's type, then the op type.
    var builtInKernelName: String { "\((inputTypes.first ?? nil).map { "\($0.0)-" } ?? "")\(node.opType)" }

    var dispatch: OpDispatch? {
        if case let .runs(_, dispatch, _) = placement { return dispatch }
        return nil
    }
}

/// The select stage of planning: for concrete input shapes, infers every value's type,
/// folds what is constant, and chooses a backend for every other node — matrix products
/// and non-matrix ops through the rules and the fallback order, nodes no op kind names on
/// the built-in backend. Packs nothing and prepares no kernel, so a whole-model trace,
/// planning for another CPU and the 7/8-bit policy need only this stage.
struct PlanSelection: Sendable {
    let nodes: [SelectedNode]
    /// Initializers and values folded while planning.
    let known: [String: Tensor]
    /// Concrete types of the graph inputs and of every computed value.
    let types: [String: (DType, TensorShape)]
    let selector: BackendSelector
    /// Where planning stopped, when an output shape depends on values known only when
    /// running; `rest` holds the nodes planned then (see `Continuation`).
    let pending: PendingRest?
    let rest: [Node]

    init(graph: Graph, inputShapes: [String: (DType, TensorShape)], options: SessionOptions) throws {
        // Folding an If, Loop or Scan runs its subgraphs, planned with these options.
        self = try SubgraphContext.$options.withValue(options) { try Self(selecting: graph, inputShapes: inputShapes, options: options) }
    }

    private init(selecting graph: Graph, inputShapes: [String: (DType, TensorShape)], options: SessionOptions) throws {
        let selector = BackendSelector(rules: options.rules, registry: options.registry.includingBuiltIn())
        var known: [String: Tensor] = [:]
        var types: [String: (DType, TensorShape)] = [:]
        for (name, t) in graph.initializers { known[name] = t }
        for (name, t) in inputShapes { types[name] = t }
        var selected: [SelectedNode] = []
        selected.reserveCapacity(graph.nodes.count)

        var pending: PendingRest?
        for (index, node) in graph.nodes.enumerated() {
            let op: any GraphOperator
            do { op = try OperatorCatalog.makeOperator(for: node, opset: graph.opset(of: node)) } catch let e as GraphError {
                throw SessionError.graph(e)
            }
            let constants: [Tensor?] = node.inputs.map { $0.isEmpty ? nil : known[$0] }
            var inputs: [(DType, TensorShape)?] = []
            for v in node.inputs {
                if v.isEmpty { inputs.append(nil); continue }
                if let t = known[v] { inputs.append((t.dtype, t.shape)); continue }
                guard let t = types[v] else { throw SessionError.graph(.undefinedValue(node: node.name, value: v)) }
                inputs.append(t)
            }
            let symbolic = try Self.symbolicOutputTypes(op, node, inputs: inputs, constants: constants)
            guard let outputs = try Self.concrete(symbolic, node) else {
                // An output shape this plan cannot know: the rest is planned when running.
                let runtime = node.inputs.filter { !$0.isEmpty && known[$0] == nil }
                if let shaped = op as? any DataShapedOperator {
                    if runtime.isEmpty {
                        for (name, t) in try Self.foldShaped(shaped, node, constants: constants) { known[name] = t }
                        selected.append(SelectedNode(node: node, op: op, inputTypes: inputs, outputTypes: [], placement: .folded))
                        continue
                    }
                    // The node runs here and allocates its outputs; the plan stops after it.
                    for (name, t) in zip(node.outputs, symbolic) where !name.isEmpty { types[name] = (t.dtype, .scalar) }
                    selected.append(SelectedNode(node: node, op: op, inputTypes: inputs, outputTypes: symbolic.map { ($0.dtype, .scalar) },
                                                 placement: .runs(.builtIn, dispatch: nil, reason: "output shape depends on the data: allocated when it runs"),
                                                 shapedByData: true))
                    pending = PendingRest(start: index + 1, after: node.name,
                                          reason: "planned when running, after '\(node.name)' (\(node.opType)) gives its outputs' shapes")
                } else {
                    pending = PendingRest(start: index, after: nil,
                                          reason: "planned when running: the output shape of '\(node.name)' (\(node.opType)) depends on the values of \(runtime.map { "'\($0)'" }.joined(separator: ", "))")
                }
                break
            }
            for (name, t) in zip(node.outputs, outputs) where !name.isEmpty { types[name] = t }

            if let shapeOp = op as? ShapeOperator, let first = inputs.first ?? nil {
                // Shapes are known once the input shapes are: Shape folds at plan time.
                do { known[node.outputs[0]] = try shapeOp.value(for: first.1) } catch { throw ExecutionPlan.wrap(error, node) }
                selected.append(SelectedNode(node: node, op: op, inputTypes: inputs, outputTypes: outputs, placement: .folded))
                continue
            }
            if let matrix = op as? any MatrixPlanning, Self.needsValues(matrix, inputs: inputs, constants: constants) {
                let runtime = node.inputs.dropFirst().filter { !$0.isEmpty && known[$0] == nil }
                pending = PendingRest(start: index, after: nil,
                                      reason: "planned when running: '\(node.name)' (\(node.opType)) is planned with the values of \(runtime.map { "'\($0)'" }.joined(separator: ", ")) (weights fed when running)")
                break
            }
            let isMatrix = OperatorCatalog.isMatrix(node)
            if !isMatrix, node.inputs.allSatisfy({ $0.isEmpty || known[$0] != nil }) {
                // Constant folding: compute now, once.
                for (name, t) in try Self.fold(op, node, constants: constants, outputs: outputs, budget: options.memoryBudget) { known[name] = t }
                selected.append(SelectedNode(node: node, op: op, inputTypes: inputs, outputTypes: outputs, placement: .folded))
                continue
            }
            let placement = try Self.place(node, op, opset: graph.opset(of: node), inputs: inputs, constants: constants,
                                           outputs: outputs, selector: selector, options: options)
            selected.append(SelectedNode(node: node, op: op, inputTypes: inputs, outputTypes: outputs, placement: placement))
        }
        nodes = selected
        self.pending = pending
        self.rest = pending.map { Array(graph.nodes[$0.start...]) } ?? []
        self.known = known
        self.types = types
        self.selector = selector
    }

    /// Dynamic quantization chooses its activation codes itself, per call: when the backend
    /// chosen for a dynamic signature runs it faster with 7-bit codes (`Backend.reducedRangeSpeedup`:
    /// packed's `vpmaddubsw` k-quad kernel on AVX2 without VNNI; PyTorch's fbgemm dynamic linear
    /// quantizes with `reduce_range` on x86 as well), the signature asks for 7 bits, and the
    /// dispatch's notes say why.
    static func sevenBitDynamic(_ call: inout MatrixCall, _ dispatch: OpDispatch, selector: BackendSelector, options: SessionOptions) -> OpDispatch {
        guard let q = call.signature.quantization, q.dynamic, !q.reduceRange, let chosen = dispatch.backend,
              let faster = options.registry.includingBuiltIn().backend(named: chosen)?.reducedRangeSpeedup(for: call.signature, on: options.cpu)
        else { return dispatch }
        var seven = call.signature
        seven.quantization?.reduceRange = true
        var again = selector.select(seven, cpu: options.cpu, host: options.host)
        guard again.backend == chosen else { return dispatch }
        call.signature = seven
        again.notes.append("7-bit dynamic activations: \(chosen) is faster with them on \(options.cpu.displayName): \(faster)")
        return again
    }

    /// The rule engine's choice for one node that runs.
    private static func place(_ node: Node, _ op: any GraphOperator, opset: Int, inputs: [(DType, TensorShape)?], constants: [Tensor?],
                              outputs: [(DType, TensorShape)], selector: BackendSelector, options: SessionOptions) throws -> SelectedNode.Placement {
        if OperatorCatalog.isMatrix(node), outputs.allSatisfy({ $0.1.elementCount == 0 }) {
            // An empty product (a zero-size dimension) has nothing for a backend to compute.
            return .runs(.builtIn, dispatch: nil, reason: "empty output \(outputs.map { "\($0.1)" }.joined(separator: ", ")): nothing to compute")
        }
        if let matrix = op as? MatrixOperator, let x = inputs.first ?? nil, matrix.runsBuiltIn(inputRank: x.1.rank) {
            return .runs(.builtIn, dispatch: nil, reason: "a \(x.1.rank - 2)-D convolution: backends take 1-D and 2-D ones; the built-in N-D reference runs it")
        }
        if let matrix = op as? any MatrixPlanning {
            let shapes = inputs.map { $0?.1 ?? .scalar }
            var call: MatrixCall
            do { call = try matrix.plan(constants, shapes: shapes, constants: constants) } catch { throw ExecutionPlan.wrap(error, node) }
            let dispatch = sevenBitDynamic(&call, selector.select(call.signature, cpu: options.cpu, host: options.host), selector: selector, options: options)
            return .runs(.matrix(call), dispatch: dispatch, reason: nil)
        }
        guard let output = outputs.first,
              let signature = NodeSignature.make(node, opset: opset, inputs: inputs, constants: constants, output: output) else {
            let why = NodeSignature.whyNone(node, firstInput: inputs.first??.0) ?? "no signature"
            return .runs(.builtIn, dispatch: nil, reason: why)
        }
        var dispatch = selector.select(signature, cpu: options.cpu, host: options.host)
        if dispatch.backend == nil {
            // A rules file without `builtin` in its fallback order: the built-in ops are the
            // default for every node no rule or fallback places.
            dispatch.fallBackToBuiltIn("the default for non-matrix ops no rule or fallback places")
        }
        if dispatch.backend == BuiltInBackend.name { return .runs(.builtIn, dispatch: dispatch, reason: nil) }
        let constants: OpConstants
        do { constants = try NodeSignature.constants(node, dtype: signature.inputType) } catch { throw ExecutionPlan.wrap(error, node) }
        return .runs(.node(signature, constants, operands: NodeSignature.kernelOperands(node)), dispatch: dispatch, reason: nil)
    }

    /// Output types as the operator infers them from `inputs` and the known `constants`.
    static func symbolicOutputTypes(_ op: any GraphOperator, _ node: Node, inputs: [(DType, TensorShape)?], constants: [Tensor?]) throws -> [ValueType] {
        do { return try op.outputTypes(inputs.map { $0.map { ValueType($0.0, $0.1) } }, constants: constants) } catch {
            throw ExecutionPlan.wrap(error, node)
        }
    }

    /// The concrete types of `symbolic`, `nil` when a shape is not known before running; an
    /// error for a shape with more elements than can be addressed.
    static func concrete(_ symbolic: [ValueType], _ node: Node) throws -> [(DType, TensorShape)]? {
        var out: [(DType, TensorShape)] = []
        for (i, t) in symbolic.enumerated() {
            if let s = t.shape, !s.isAddressable {
                throw SessionError.node(node: node.name, opType: node.opType, detail: "output \(i) would be \(t), which has more elements than can be addressed")
            }
            guard let s = t.shape?.concrete else { return nil }
            out.append((t.dtype, s))
        }
        return out
    }

    /// Whether a matrix node can be planned only with the values of inputs fed when running
    /// (a weight or bias that is a graph input): planning fails as it is, and succeeds with
    /// those inputs (each at most `ValueBinding.maximumElements`) as constants.
    static func needsValues(_ matrix: any MatrixPlanning, inputs: [(DType, TensorShape)?], constants: [Tensor?]) -> Bool {
        let shapes = inputs.map { $0?.1 ?? .scalar }
        let runtime = inputs.indices.dropFirst().filter { inputs[$0] != nil && constants[$0] == nil }
        guard !runtime.isEmpty, (try? matrix.plan(constants, shapes: shapes, constants: constants)) == nil else { return false }
        var filled = constants
        for i in runtime {
            guard let (dtype, shape) = inputs[i], shape.elementCount <= ValueBinding.maximumElements,
                  let zeros = try? Tensor(zeros: dtype, shape: shape) else { return false }
            filled[i] = zeros
        }
        return (try? matrix.plan(filled, shapes: shapes, constants: filled)) != nil
    }

    /// Runs a node whose outputs' shapes come from its data, with all its inputs known.
    private static func foldShaped(_ op: any DataShapedOperator, _ node: Node, constants: [Tensor?]) throws -> [String: Tensor] {
        let outs: [Tensor]
        do { outs = try op.runShaped(constants) } catch { throw ExecutionPlan.wrap(error, node) }
        var result: [String: Tensor] = [:]
        for (name, t) in zip(node.outputs, outs) where !name.isEmpty { result[name] = t }
        return result
    }

    /// Runs a node whose inputs are all known, within the memory budget.
    private static func fold(_ op: any GraphOperator, _ node: Node, constants: [Tensor?], outputs: [(DType, TensorShape)],
                             budget: MemoryBudget) throws -> [String: Tensor] {
        for (name, t) in zip(node.outputs, outputs) {
            do { try budget.check(elements: t.1.elementCount, of: t.0.byteSize, for: "output '\(name)' (\(t.0) \(t.1)), folded while planning,") } catch {
                throw SessionError.node(node: node.name, opType: node.opType, detail: "\(error)")
            }
        }
        var outs = try outputs.map { try Tensor(zeros: $0.0, shape: $0.1) }
        do { try op.run(constants, outputs: &outs) } catch { throw ExecutionPlan.wrap(error, node) }
        var result: [String: Tensor] = [:]
        for (name, t) in zip(node.outputs, outs) where !name.isEmpty { result[name] = t }
        return result
    }

    /// The trace of every node of `nodes`: the rule engine's choices and the nodes placed
    /// without it.
    /// The nodes of `rest` (planned when running, for `pending`'s reason) close the trace.
    static func trace(_ nodes: [SelectedNode], cpu: CPUFeatures, host: CPUFeatures?, rulesSource: String,
                      pending: PendingRest? = nil, rest: [Node] = []) -> DispatchTrace {
        var ops: [OpDispatch] = []
        var traced: [TracedNode] = []
        for n in nodes {
            switch n.placement {
            case .folded:
                traced.append(TracedNode(node: n.node.name, opType: n.node.opType, placement: .folded))
            case .runs(_, var dispatch?, _):
                traced.append(TracedNode(node: n.node.name, opType: n.node.opType, placement: .dispatched(opIndex: ops.count)))
                if case let .strings(fused)? = n.node.attributes[QuantizedMatrixNode.fusedNodesAttribute] {
                    dispatch.notes += fused.map { "fused " + $0 }
                }
                ops.append(dispatch)
            case let .runs(_, nil, reason):
                traced.append(TracedNode(node: n.node.name, opType: n.node.opType,
                                         placement: .direct(backend: BuiltInBackend.name, kernel: n.builtInKernelName, reason: reason ?? "")))
            }
        }
        for n in rest {
            traced.append(TracedNode(node: n.name, opType: n.opType, placement: .direct(backend: PendingRest.backend, kernel: "-", reason: pending?.reason ?? "")))
        }
        return DispatchTrace(cpu: cpu, host: host, rulesSource: rulesSource, ops: ops, nodes: traced)
    }
}

extension BackendRegistry {
    /// This registry when it holds the built-in backend, else a copy with it added: the
    /// built-in ops always run the nodes nothing else places.
    func includingBuiltIn() -> BackendRegistry {
        guard backend(named: BuiltInBackend.name) == nil else { return self }
        let copy = BackendRegistry()
        for b in all + [BuiltInBackend()] {
            // Names in a registry are distinct, and `builtin` was absent.
            do { try copy.register(b) } catch { assertionFailure("\(error)") }
        }
        return copy
    }
}

/// Where the select stage stopped: `PlanSelection.rest` starts at graph node `start`, and
/// is planned when running, once the values (or, `after` a node that shapes its outputs
/// from its data, the shapes) it depends on are known.
struct PendingRest: Sendable {
    /// The trace's backend for the nodes not planned yet.
    static let backend = "when running"

    var start: Int
    var after: String?
    var reason: String
}
