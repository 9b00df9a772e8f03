import OctetCore

/// Infers the type of every value from the graph inputs (symbolic dimensions allowed)
/// and checks it against what the model declares: a producer whose element type or
/// known dimensions disagree with a declared type is an error naming node and value.
public enum ShapeInference {
    /// The graph with `valueTypes` filled in for every value whose type can be inferred.
    public static func run(_ graph: Graph) throws -> Graph {
        var g = try graph.sorted()
        var types: [String: ValueType] = [:]
        var constants: [String: Tensor] = g.initializers
        for p in g.inputs { if let t = p.type { types[p.name] = t } }
        for (name, t) in g.initializers { types[name] = ValueType(t.dtype, t.shape) }
        let declaredOutputs = Dictionary(g.outputs.compactMap { p in p.type.map { (p.name, $0) } }, uniquingKeysWith: { a, _ in a })
        for node in g.nodes {
            let op = try OperatorCatalog.makeOperator(for: node, opset: g.opset(of: node))
            let inputs = node.inputs.map { $0.isEmpty ? nil : types[$0] }
            let known = node.inputs.map { $0.isEmpty ? nil : constants[$0] }
            let outputs = try op.outputTypes(inputs, constants: known)
            if node.opType == "Constant", let t = try? ShapeOperators.constantValue(node) { constants[node.outputs[0]] = t }
            // An output the node names that the operator does not make is the node's fault
            // (an optional output Octet does not compute), not the graph output's.
            for (i, name) in node.outputs.enumerated() where i >= outputs.count && !name.isEmpty {
                throw GraphError.node(node: node.name, opType: node.opType,
                                      detail: "output \(i) ('\(name)') is not supported: Octet computes \(outputs.count == 1 ? "only the first output" : "the first \(outputs.count) outputs") of \(node.opType)")
            }
            for (i, t) in outputs.enumerated() where !(t.shape?.isAddressable ?? true) {
                throw GraphError.node(node: node.name, opType: node.opType, detail: "output \(i) would be \(t), which has more elements than can be addressed")
            }
            for (name, inferred) in zip(node.outputs, outputs) where !name.isEmpty {
                if let declared = g.valueTypes[name] ?? declaredOutputs[name] {
                    try check(declared, inferred, node: node.name, value: name)
                }
                types[name] = inferred
            }
        }
        for (name, t) in types where g.initializers[name] == nil && !g.inputs.contains(where: { $0.name == name }) {
            g.valueTypes[name] = t
        }
        return g
    }

    static func check(_ declared: ValueType, _ inferred: ValueType, node: String, value: String) throws(GraphError) {
        var agree = declared.dtype == inferred.dtype
        if agree, let a = declared.shape, let b = inferred.shape {
            agree = a.rank == b.rank && zip(a.dims, b.dims).allSatisfy { x, y in x.value == nil || y.value == nil || x.value == y.value }
        }
        guard agree else { throw .typeMismatch(node: node, value: value, declared: declared.description, inferred: inferred.description) }
    }
}
