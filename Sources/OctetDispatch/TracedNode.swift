/// Where one graph node runs, in the trace of a whole model: every node is listed, in
/// execution order, whether the rule engine placed it or not.
public struct TracedNode: Sendable, Hashable {
    public enum Placement: Sendable, Hashable {
        /// Computed once while planning: all its inputs were constants (or shapes).
        case folded
        /// Placed by the rule engine: the trace's `ops[index]` says how.
        case dispatched(opIndex: Int)
        /// Placed without rules (no op kind names it, or its operand types are not
        /// quantized or floating point), on `backend`, for `reason`.
        case direct(backend: String, kernel: String, reason: String)
    }

    public var node: String
    public var opType: String
    public var placement: Placement
    /// Time the node took when profiling, in nanoseconds.
    public var durationNanoseconds: UInt64?

    public init(node: String, opType: String, placement: Placement, durationNanoseconds: UInt64? = nil) {
        self.node = node
        self.opType = opType
        self.placement = placement
        self.durationNanoseconds = durationNanoseconds
    }
}

extension DispatchTrace {
    /// The backend each node runs on (`folded` for nodes computed while planning), in
    /// execution order.
    public var placements: [(node: String, opType: String, backend: String)] {
        nodes.map { n in
            switch n.placement {
            case .folded: (n.node, n.opType, "folded")
            case let .dispatched(i): (n.node, n.opType, ops[i].backend ?? "none")
            case let .direct(backend, _, _): (n.node, n.opType, backend)
            }
        }
    }
}
