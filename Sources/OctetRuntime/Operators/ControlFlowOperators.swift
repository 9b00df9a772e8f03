import OctetCore

/// If, Loop and Scan: ops that run subgraphs (`SubgraphRunner`), which may read values of
/// the graph around them. Their output shapes are known only once they have run.
enum ControlFlowOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["If"] = { n, _ in try IfOperator(n) }
        f["Loop"] = { n, _ in try LoopOperator(n) }
        f["Scan"] = { n, opset in try ScanOperator(n, opset: opset) }
    }

    /// Subgraph attribute `key`, which must be present.
    static func body(_ node: Node, _ key: String) throws -> SubgraphRunner {
        guard let g = try node.graph(key) else { throw OperatorSite(node).error("attribute '\(key)' (a graph) is missing") }
        return SubgraphRunner(g, site: OperatorSite(node))
    }

    /// A bool scalar's value.
    static func truth(_ t: Tensor, _ site: OperatorSite, _ what: String) throws -> Bool {
        guard t.dtype == .bool, t.shape.elementCount == 1, let v = try t.scalars(as: Bool.self).first else {
            throw site.error("\(what) must be one bool, got \(t.dtype)[\(t.shape)]")
        }
        return v
    }
}

/// `If(cond)`: the outputs of `then_branch` when `cond` is true, else of `else_branch`
/// (ONNX If; the branches may read outer-scope values).
struct IfOperator: DataShapedOperator {
    let site: OperatorSite
    let thenBranch: SubgraphRunner
    let elseBranch: SubgraphRunner
    let outer: OuterScope

    init(_ node: Node) throws {
        site = OperatorSite(node)
        thenBranch = try ControlFlowOperators.body(node, "then_branch")
        elseBranch = try ControlFlowOperators.body(node, "else_branch")
        outer = OuterScope(node)
        guard thenBranch.graph.outputs.count == elseBranch.graph.outputs.count else {
            throw site.error("then_branch has \(thenBranch.graph.outputs.count) outputs and else_branch \(elseBranch.graph.outputs.count); they must agree")
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        _ = try site.type(inputs, 0, "cond")
        let outerTypes = outer.types(inputs)
        return try thenBranch.graph.outputs.indices.map { i in
            let (dtype, rank) = try thenBranch.outputType(i, formal: [], outer: outerTypes)
            let other = try? elseBranch.outputType(i, formal: [], outer: outerTypes)
            return OuterScope.symbolic(dtype, rank: other?.1 == rank ? rank : nil, "\(site.node):output\(i)")
        }
    }

    func runShaped(_ inputs: [Tensor?]) throws -> [Tensor] {
        let branch = try ControlFlowOperators.truth(try site.tensor(inputs, 0), site, "cond") ? thenBranch : elseBranch
        return try branch.run([], outer: outer.values(inputs))
    }
}

/// `Loop(M, cond, v_initial...)`: runs `body(iteration, cond, v...) -> (cond, v..., scan...)`
/// while the iteration is below `M` (when given) and `cond` (when given) holds; outputs the
/// final loop-carried values, then each scan output stacked along a new first axis.
struct LoopOperator: DataShapedOperator {
    let site: OperatorSite
    let body: SubgraphRunner
    let outer: OuterScope

    init(_ node: Node) throws {
        site = OperatorSite(node)
        body = try ControlFlowOperators.body(node, "body")
        outer = OuterScope(node)
    }

    private var carried: Int { outer.ownInputs - 2 }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        guard carried >= 0, body.graph.inputs.count == carried + 2, body.graph.outputs.count >= carried + 1 else {
            throw site.error("body takes \(body.graph.inputs.count) inputs and makes \(body.graph.outputs.count) outputs; with \(max(carried, 0)) loop-carried values it must take \(carried + 2) and make at least \(carried + 1)")
        }
        var out: [ValueType] = []
        for j in 0..<carried {
            let t = try site.type(inputs, 2 + j, "v_initial")
            out.append(OuterScope.symbolic(t.dtype, rank: t.shape?.rank, "\(site.node):v\(j)"))
        }
        let formal = [ValueType(.s64, TensorShape.scalar), ValueType(.bool, TensorShape.scalar)] + (0..<carried).map { inputs[2 + $0] }
        for i in (carried + 1)..<body.graph.outputs.count {
            let (dtype, rank) = try body.outputType(i, formal: formal, outer: outer.types(inputs))
            out.append(OuterScope.symbolic(dtype, rank: rank.map { $0 + 1 }, "\(site.node):scan\(i)"))
        }
        return out
    }

    func runShaped(_ inputs: [Tensor?]) throws -> [Tensor] {
        let limit: Int64? = try (inputs.first ?? nil).map { m in
            guard m.shape.elementCount == 1, let v = try site.ints(m, "M")?.first else { throw site.error("M must be one int64, got \(m.dtype)[\(m.shape)]") }
            return Int64(v)
        }
        var cond = try (inputs.count > 1 ? inputs[1] : nil).map { try ControlFlowOperators.truth($0, site, "cond") } ?? true
        var values = try (0..<carried).map { try site.tensor(inputs, 2 + $0) }
        let outerValues = outer.values(inputs)
        let scanCount = body.graph.outputs.count - 1 - carried
        var scans = Array(repeating: [Tensor](), count: scanCount)
        // The session's limits: iterations (SessionOptions.maximumLoopIterations) and each
        // stacked scan output's bytes (the memory budget), checked as they grow.
        let options = SubgraphContext.options
        let maximumIterations = Int64(options?.maximumLoopIterations ?? .max)
        var scanBytes = Array(repeating: 0, count: scanCount)
        var i: Int64 = 0
        while cond, limit.map({ i < $0 }) ?? true {
            guard i < maximumIterations else {
                throw site.error("runs more than \(maximumIterations) iterations (M \(limit.map(String.init) ?? "unset")), the session's maximumLoopIterations")
            }
            let out = try body.run([try Tensor([i], shape: .scalar), try Tensor([cond], shape: .scalar)] + values, outer: outerValues)
            cond = try ControlFlowOperators.truth(out[0], site, "the body's cond output")
            values = Array(out[1..<(1 + carried)])
            for k in 0..<scanCount {
                let part = out[1 + carried + k]
                let (sum, overflow) = scanBytes[k].addingReportingOverflow(part.byteCount)
                scanBytes[k] = overflow ? .max : sum
                if let budget = options?.memoryBudget {
                    do { try budget.check(scanBytes[k], for: "scan output \(k) after \(i + 1) iterations") } catch { throw site.error("\(error)") }
                }
                scans[k].append(part)
            }
            i += 1
        }
        let stacked = try scans.enumerated().map { k, parts in
            // No iteration: an empty stack, of the element type the body declares.
            let dtype = try parts.first?.dtype ?? body.outputType(1 + carried + k, formal: [], outer: [:]).0
            return try AxisSlicing.stack(parts, axis: 0, empty: (dtype, []))
        }
        return values + stacked
    }
}

/// `Scan(initial_state..., scan_input...)` (opset 9 on): runs `body(state..., slice...) ->
/// (state..., scan_output_slice...)` once per element of the scan inputs along their
/// `scan_input_axes` (reversed where `scan_input_directions` is 1); outputs the final
/// states, then each scan output stacked along its `scan_output_axes` (reversed where
/// `scan_output_directions` is 1).
///
/// Opset 8's Scan is batched: its first input is the optional `sequence_lens`, every other
/// input and output has a batch axis first (scan axis 1), and `directions` reverses scan
/// inputs. It runs as the opset-9 Scan once per batch item, the results stacked along
/// axis 0; a `sequence_lens` entry shorter than the sequence is refused (the body's
/// outputs past it are unspecified).
struct ScanOperator: DataShapedOperator {
    let site: OperatorSite
    let body: SubgraphRunner
    let outer: OuterScope
    let scanInputs: Int
    let inputAxes: [Int]?
    let inputDirections: [Int]?
    let outputAxes: [Int]?
    let outputDirections: [Int]?
    /// Opset 8: `sequence_lens` first, a batch axis on every input and output.
    let batched: Bool
    /// The most steps an empty scan input may have.
    static let emptySteps = 1 << 16

    init(_ node: Node, opset: Int) throws {
        site = OperatorSite(node)
        batched = opset < 9
        body = try ControlFlowOperators.body(node, "body")
        outer = OuterScope(node)
        guard let m = try node.int("num_scan_inputs"), m >= 1 else { throw site.error("num_scan_inputs must be at least 1") }
        scanInputs = m
        inputAxes = batched ? nil : try node.ints("scan_input_axes")
        inputDirections = try node.ints(batched ? "directions" : "scan_input_directions")
        outputAxes = try node.ints("scan_output_axes")
        outputDirections = try node.ints("scan_output_directions")
    }

    /// Where the initial states start among the inputs (after opset 8's `sequence_lens`).
    private var first: Int { batched ? 1 : 0 }
    private var states: Int { outer.ownInputs - scanInputs - first }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        guard states >= 0, body.graph.inputs.count == states + scanInputs, body.graph.outputs.count >= states else {
            throw site.error("body takes \(body.graph.inputs.count) inputs and makes \(body.graph.outputs.count) outputs; Scan gives it \(max(states, 0)) states and \(scanInputs) scan inputs")
        }
        var out: [ValueType] = []
        var formal: [ValueType?] = []
        for j in 0..<states {
            let t = try site.type(inputs, first + j, "initial_state")
            out.append(OuterScope.symbolic(t.dtype, rank: t.shape?.rank, "\(site.node):state\(j)"))
            formal.append(batched ? OuterScope.symbolic(t.dtype, rank: t.shape.map { max(0, $0.rank - 1) }, "\(site.node):state\(j)") : t)
        }
        // Each scan input gives the body a slice: its rank less one (two when batched).
        formal += (0..<scanInputs).map { j -> ValueType? in
            guard let t = first + states + j < inputs.count ? inputs[first + states + j] : nil else { return nil }
            return OuterScope.symbolic(t.dtype, rank: t.shape.map { max(0, $0.rank - 1 - first) }, "\(site.node):slice\(j)")
        }
        for i in states..<body.graph.outputs.count {
            let (dtype, rank) = try body.outputType(i, formal: formal, outer: outer.types(inputs))
            out.append(OuterScope.symbolic(dtype, rank: rank.map { $0 + 1 + first }, "\(site.node):scan\(i)"))
        }
        return out
    }

    func runShaped(_ inputs: [Tensor?]) throws -> [Tensor] {
        let values = try (0..<states).map { try site.tensor(inputs, first + $0) }
        let sequences = try (0..<scanInputs).map { try site.tensor(inputs, first + states + $0) }
        guard batched else { return try scan(values, sequences, inputs) }
        // Opset 8: one scan per batch item, stacked along axis 0.
        guard let batch = (values + sequences).first?.shape.dims.first else { throw site.error("needs inputs with a batch axis") }
        for (j, t) in (values + sequences).enumerated() where t.shape.dims.first != batch || t.shape.rank < (j < states ? 1 : 2) {
            throw site.error("input \(first + j) (\(t.shape)) must have the batch axis of \(batch) first\(j < states ? "" : " and a scan axis after it")")
        }
        guard batch <= max(sequences[0].shape.elementCount, Self.emptySteps) else {
            throw site.error("scan input 0 \(sequences[0].shape) is empty but has a batch of \(batch); at most \(Self.emptySteps)")
        }
        if let lens = inputs.first ?? nil {
            let full = sequences[0].shape.dims[1]
            for v in try site.indices(lens, "sequence_lens") where v != full {
                throw site.error("sequence_lens holds \(v), but only sequences of the full length \(full) are supported")
            }
        }
        var items: [[Tensor]] = []
        for b in 0..<batch {
            items.append(try scan(try values.map { try AxisSlicing.slice($0, axis: 0, index: b) },
                                  try sequences.map { try AxisSlicing.slice($0, axis: 0, index: b) }, inputs))
        }
        let count = body.graph.outputs.count
        return try (0..<count).map { k in
            let parts = items.map { $0[k] }
            let shape = parts.first?.shape.dims ?? []
            return try AxisSlicing.stack(parts, axis: 0, empty: (parts.first?.dtype ?? .f32, shape))
        }
    }

    /// The opset-9 Scan over `values` (the initial states) and `sequences`.
    private func scan(_ initial: [Tensor], _ sequences: [Tensor], _ inputs: [Tensor?]) throws -> [Tensor] {
        var values = initial
        let axes = try sequences.enumerated().map { j, t in try site.axis(inputAxes.map { j < $0.count ? $0[j] : 0 } ?? 0, rank: t.shape.rank, "scan_input_axes") }
        let length = sequences[0].shape.dims[axes[0]]
        // One body run per step: empty scan inputs may declare more steps than any real one
        // holds ([0, 2^40]), so the steps are bounded by the elements (or 2^16).
        guard length <= max(sequences[0].shape.elementCount, Self.emptySteps) else {
            throw site.error("scan input 0 \(sequences[0].shape) is empty but has \(length) steps along axis \(axes[0]); at most \(Self.emptySteps)")
        }
        for (j, t) in sequences.enumerated() where t.shape.dims[axes[j]] != length {
            throw site.error("scan input \(j) has \(t.shape.dims[axes[j]]) elements along its scan axis, scan input 0 has \(length)")
        }
        let outerValues = outer.values(inputs)
        let scanCount = body.graph.outputs.count - states
        var scans = Array(repeating: [Tensor](), count: scanCount)
        for step in 0..<length {
            let slices = try sequences.enumerated().map { j, t in
                let reverse = (inputDirections.map { j < $0.count ? $0[j] : 0 } ?? 0) == 1
                return try AxisSlicing.slice(t, axis: axes[j], index: reverse ? length - 1 - step : step)
            }
            let out = try body.run(values + slices, outer: outerValues)
            values = Array(out[0..<states])
            for k in 0..<scanCount { scans[k].append(out[states + k]) }
        }
        let stacked = try scans.enumerated().map { k, parts in
            let reverse = (outputDirections.map { k < $0.count ? $0[k] : 0 } ?? 0) == 1
            let (dtype, rank) = try parts.first.map { ($0.dtype, $0.shape.rank) } ?? body.outputType(states + k, formal: [], outer: [:])
            let sliceRank = rank ?? 0
            let axis = try site.axis(outputAxes.map { k < $0.count ? $0[k] : 0 } ?? 0, rank: sliceRank + 1, "scan_output_axes")
            return try AxisSlicing.stack(reverse ? parts.reversed() : parts, axis: axis, empty: (dtype, Array(repeating: 0, count: sliceRank)))
        }
        return values + stacked
    }
}
