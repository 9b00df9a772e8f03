import OctetCore
import OctetRuntime

/// A node chosen for quantization and the edges around it.
public struct QuantizationTarget: Sendable, Hashable {
    public var node: String
    public var opType: String
    /// The activation it reads (input 0).
    public var input: String
    /// The edge its result leaves by: its output, or that of the Relu/Clip right after it.
    public var output: String
    public var setting: ResolvedSetting
}

/// Activation edges that share one set of quantization parameters: an edge and the
/// edges that MaxPool, Flatten, Reshape and the like make of it (they keep the scale,
/// so that they run on the integers).
public struct ActivationGroup: Sendable, Hashable {
    /// Every edge of the group.
    public var edges: [String]
    /// The edges whose values feed the observer: those read by a quantized op (after the
    /// last pass-through op), where a range clipped or not matters.
    public var observed: [String]
    /// The setting of the node that produces (or else first reads) the group's values.
    public var setting: ResolvedSetting
    /// Whether the group holds a graph input (observed with min/max: see `Quantizer`).
    public var isGraphInput: Bool
}

enum ActivationGrouping {
    /// Ops whose quantized form keeps its input's parameters, as PyTorch's x86 quantizer
    /// shares one observer between their input and output: those the runtime runs on the
    /// codes as they are (`QDQFusion.commutesWithDequantization`: MaxPool, shape ops, nearest
    /// Resize), and the average pools (which it runs on
    /// the codes too, with a scale of one: `PoolRequantization`).
    static func passesThrough(_ n: Node) -> Bool {
        QDQFusion.commutesWithDequantization(n) || (n.domain.isEmpty && ["AveragePool", "GlobalAveragePool"].contains(n.opType))
    }

    /// Groups the targets' input and output edges, extended backwards through
    /// pass-through ops so that those run on quantized values.
    ///
    /// With `floatOutputs`, a target's output joins only when an integer op reads it
    /// (`readByIntegerOp`); otherwise it stays f32.
    static func groups(_ g: Graph, _ targets: [QuantizationTarget], floatOutputs: Bool = false) -> [ActivationGroup] {
        let readers = g.readers()
        var parent: [String: String] = [:]
        func find(_ e: String) -> String {
            var e = e
            while let p = parent[e], p != e { e = p }
            return e
        }
        func add(_ e: String) { if parent[e] == nil { parent[e] = e } }
        func union(_ a: String, _ b: String) { add(a); add(b); parent[find(a)] = find(b) }
        // Graph outputs keep their FP32 values (and names): a kernel writing one dequantizes in its output stage.
        let outputs = g.outputNames
        let readsInteger = floatOutputs ? readByIntegerOp(g, targets, readers: readers) : { _ in true }
        for t in targets {
            if !outputs.contains(t.input) { add(t.input) }
            if !outputs.contains(t.output), readsInteger(t.output) { add(t.output) }
        }
        // An Add or Mul of two activations of one shape whose result is quantized runs on the
        // codes (`QuantizedBinaryNode`) once both operands are quantized: an operand no target
        // quantizes (the Sigmoid of SiLU, x · Sigmoid(x), then a table on the codes) gets
        // parameters of its own, with the setting of the op's result (`lender`).
        let types = (try? ShapeInference.run(g).valueTypes) ?? g.valueTypes
        var lender: [String: String] = [:]
        // Backwards through pass-through ops whose output is quantized.
        var changed = true
        while changed {
            changed = false
            for n in g.nodes where passesThrough(n) {
                guard let x = n.input(0), let y = n.outputs.first, parent[y] != nil, g.initializers[x] == nil, !outputs.contains(x) else { continue }
                if parent[x] == nil || find(x) != find(y) {
                    union(x, y)
                    changed = true
                }
            }
            for n in g.nodes where n.domain.isEmpty && (n.opType == "Add" || n.opType == "Mul") {
                guard let y = n.outputs.first, parent[y] != nil, n.inputs.count == 2,
                      let shape = types[n.inputs[0]]?.shape, types[n.inputs[1]]?.shape == shape,
                      n.inputs.allSatisfy({ !$0.isEmpty && g.initializers[$0] == nil && !outputs.contains($0) }) else { continue }
                for x in n.inputs where parent[x] == nil {
                    add(x)
                    lender[x] = y
                    changed = true
                }
            }
            // A Concat whose output is quantized: its inputs share the output's parameters (as
            // PyTorch's x86 quantizer shares one observer), so it runs on the codes as they are.
            for n in g.nodes where n.domain.isEmpty && n.opType == "Concat" {
                guard let y = n.outputs.first, parent[y] != nil else { continue }
                for x in n.inputs where !x.isEmpty && g.initializers[x] == nil && !outputs.contains(x) {
                    if parent[x] == nil || find(x) != find(y) {
                        union(x, y)
                        changed = true
                    }
                }
            }
        }
        let passThroughReaders: (String) -> Bool = { e in
            (readers[e] ?? []).allSatisfy { passesThrough(g.nodes[$0]) && g.nodes[$0].input(0) == e }
        }
        var members: [String: [String]] = [:]
        for e in parent.keys { members[find(e), default: []].append(e) }
        let graphInputs = Set(g.inputs.map(\.name))
        var result: [ActivationGroup] = []
        for (_, edges) in members.sorted(by: { $0.key < $1.key }) {
            let sorted = edges.sorted()
            var observed = sorted.filter { !passThroughReaders($0) }
            if observed.isEmpty { observed = sorted }
            let producing = targets.first { sorted.contains($0.output) }
            let reading = targets.first { sorted.contains($0.input) }
            let lent = sorted.compactMap { lender[$0] }.first.flatMap { y in targets.first { find($0.output) == find(y) || find($0.input) == find(y) } }
            guard let setting = (producing ?? reading ?? lent)?.setting else { continue }
            result.append(ActivationGroup(edges: sorted, observed: observed, setting: setting, isGraphInput: sorted.contains { graphInputs.contains($0) }))
        }
        return result
    }

    /// Whether an integer op reads `edge`: following pass-through ops forward, some
    /// target's input, or an Add (→ Relu/Clip) whose result is some target's input (the
    /// quantized Add of a residual block).
    static func readByIntegerOp(_ g: Graph, _ targets: [QuantizationTarget], readers: [String: [Int]]) -> (String) -> Bool {
        let inputs = Set(targets.map(\.input))
        func forward(_ e: String) -> Set<String> {
            var seen: Set<String> = [e], stack = [e]
            while let v = stack.popLast() {
                for r in readers[v] ?? [] where passesThrough(g.nodes[r]) && g.nodes[r].input(0) == v {
                    for o in g.nodes[r].outputs where !o.isEmpty && seen.insert(o).inserted { stack.append(o) }
                }
            }
            return seen
        }
        return { edge in
            for v in forward(edge) {
                if inputs.contains(v) { return true }
                for r in readers[v] ?? [] where g.nodes[r].opType == "Add" {
                    guard let sum = g.nodes[r].outputs.first else { continue }
                    var ends = forward(sum)
                    for s in ends { for a in readers[s] ?? [] where ["Relu", "Clip"].contains(g.nodes[a].opType) { ends.formUnion(forward(g.nodes[a].outputs[0])) } }
                    if !ends.isDisjoint(with: inputs) { return true }
                }
            }
            return false
        }
    }
}
