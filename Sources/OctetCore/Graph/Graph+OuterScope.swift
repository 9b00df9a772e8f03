extension Graph {
    /// The values this graph's nodes read that it does not define (not an input, an
    /// initializer or a node output): the outer-scope values a subgraph (an If branch, a
    /// Loop or Scan body) reads from the graph around it, in order of first use. A node
    /// with subgraphs of its own lists theirs among its inputs (`Node.outerScopeCount`).
    public func outerScopeReferences() -> [String] {
        var defined = Set(inputs.map(\.name)).union(initializers.keys)
        for n in nodes { defined.formUnion(n.outputs) }
        var seen: Set<String> = []
        var out: [String] = []
        for n in nodes {
            for v in n.inputs where !v.isEmpty && !defined.contains(v) && seen.insert(v).inserted { out.append(v) }
        }
        return out
    }
}
