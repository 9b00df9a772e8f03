import OctetCore

extension Quantizer.Prepared {
    /// The same prepared graph with only the targets named in `nodes`, its activation
    /// groups recomputed for them, and for each new group the observer of the full
    /// group that holds its first edge (a group of fewer targets is a part of a group of
    /// more, so the ranges calibrated once serve every subset: no second calibration).
    ///
    /// `restricted(to: [n])` is "only n quantized, the rest FP32" (sensitivity);
    /// `restricted(to: all − kept)` leaves `kept` in FP32.
    public func restricted(to nodes: Set<String>, observers: [any Observer]) -> (prepared: Quantizer.Prepared, observers: [any Observer]) {
        let kept = targets.filter { nodes.contains($0.node) }
        let groups = ActivationGrouping.groups(graph, kept, floatOutputs: floatOutputs)
        var owner: [String: Int] = [:]
        for (i, g) in self.groups.enumerated() { for e in g.edges { owner[e] = i } }
        var subset: [ActivationGroup] = [], chosen: [any Observer] = []
        for g in groups {
            guard let first = g.edges.first, let i = owner[first], i < observers.count else { continue }
            subset.append(g)
            chosen.append(observers[i])
        }
        return (Quantizer.Prepared(graph: graph, targets: kept, groups: subset, floatOutputs: floatOutputs), chosen)
    }
}
