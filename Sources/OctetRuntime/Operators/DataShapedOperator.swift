import OctetCore

/// An operator whose output shapes come from its input data (NonZero, Compress, Unique):
/// no plan can know them before the node runs, so the node allocates its own outputs and
/// the plan of the nodes after it is made when running (see `Continuation`).
/// `outputTypes` gives the element types, with the data-dependent dimensions symbolic.
protocol DataShapedOperator: GraphOperator {
    /// Computes the outputs, allocating each with the shape the data gives it.
    func runShaped(_ inputs: [Tensor?]) throws -> [Tensor]
}

extension DataShapedOperator {
    /// Replaces `outputs` with the tensors `runShaped` allocates (a plan calls `runShaped`
    /// itself; this serves constant folding).
    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        outputs = try runShaped(inputs)
    }
}
