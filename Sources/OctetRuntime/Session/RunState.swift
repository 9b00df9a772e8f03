import OctetCore

/// The working state of one plan's runs in one arena (`RunArena`), kept between runs so
/// that a warm run allocates nothing: each slot's tensor, and per step the arrays it hands
/// its operator or kernel. Used by one run at a time.
///
/// Between runs, `values` holds the constants and the arena windows (tensors over the
/// arena, made on the first run); inputs, graph outputs and values made by data-shaped
/// ops are dropped when a run ends, and the per-step arrays hold `Tensor.unused`, so a
/// window is referenced once and a kernel writes it without copying.
final class RunState {
    /// The plan this state is for (weak: a plan evicted from its cache is not kept alive).
    private(set) weak var plan: ExecutionPlan?
    /// Each slot's tensor (`ExecutionPlan.slots`).
    var values: [Tensor?]
    /// Per step: the tensors it reads (by `ExecutionStep.inputs`).
    var inputs: [[Tensor?]]
    /// Per step: its outputs while it runs.
    var outputs: [[Tensor]]
    /// Per step: its kernel's operands (matrix and node kernels; empty for the others).
    var operands: [[Tensor]]

    init(plan: ExecutionPlan) {
        self.plan = plan
        values = plan.slots.map { if case let .constant(t) = $0 { t } else { nil } }
        inputs = plan.steps.map { Array(repeating: nil, count: $0.inputs.count) }
        outputs = plan.steps.map { Array(repeating: Tensor.unused, count: $0.outputs.count) }
        operands = plan.steps.map { step in
            switch step.action {
            case let .kernel(_, call): Array(repeating: Tensor.unused, count: call.operands.count)
            case let .nodeKernel(_, operands): Array(repeating: Tensor.unused, count: operands.count)
            case .swift, .shaped: []
            }
        }
    }
}
