import Dispatch
import OctetCore
import OctetDispatch

extension ExecutionPlan {
    /// Runs the plan in `arena` on `inputs` (already checked) and writes each graph output
    /// into `outputs` under its name. A tensor `outputs` already holds under an output's
    /// name, with the output's element type, shape and layout, is written in place (else a
    /// new one replaces it). `record`, when given, receives this plan and those of its
    /// continuation, each with the time its steps took when `record.timed`.
    ///
    /// Once warm (the same plan run before in this arena, the caller's output tensors
    /// kept), a run allocates nothing here: the slot table and the arrays each step hands
    /// its operator live in the arena's `RunState`.
    func run(_ inputs: [String: Tensor], arena: RunArena, record: RunRecord? = nil,
             outputs: inout [String: Tensor]) throws {
        let state = arena.state(for: self)
        var timings = [UInt64](repeating: 0, count: record?.timed == true ? steps.count : 0)
        let boundary: [String: Tensor]
        do {
            boundary = try withRunContext {
                try timings.withUnsafeMutableBufferPointer { t in
                    try runSteps(inputs, state: state, arena: arena.buffer, timings: t.isEmpty ? nil : t, outputs: &outputs)
                }
            }
        } catch {
            // A run stopped part way leaves tensors in the step arrays: start afresh.
            arena.discardState()
            throw error
        }
        record?.plans.append((self, timings))
        if let continuation {
            try continuation.run(boundary, record: record, into: &outputs)
        }
    }

    /// Binds what the steps' operators read from their context: the thread count for
    /// built-in ops, and the session options for subgraphs (only when a step runs one,
    /// since binding a task-local allocates).
    private func withRunContext<R>(_ body: () throws -> R) throws -> R {
        try IntraOpParallelism.withThreads(threads) {
            guard runsSubgraphs else { return try body() }
            return try SubgraphContext.$options.withValue(options) { try body() }
        }
    }

    /// Runs every step; returns the values the continuation reads, by name (empty when
    /// there is none).
    private func runSteps(_ inputs: [String: Tensor], state: RunState, arena: AlignedBuffer<UInt8>,
                          timings: UnsafeMutableBufferPointer<UInt64>?, outputs: inout [String: Tensor]) throws -> [String: Tensor] {
        for (slot, name) in inputSlots { state.values[slot] = inputs[name] }
        // The caller's tensors for graph outputs wait in their slots for the step that
        // writes them (`output(_:state:arena:)` checks their type).
        for (name, slot) in outputSlots {
            guard let t = outputs.removeValue(forKey: name), case .fresh = slots[slot] else { continue }
            state.values[slot] = t
        }
        for k in steps.indices {
            let start = timings == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            try runStep(k, state: state, arena: arena)
            if let timings { timings[k] += DispatchTime.now().uptimeNanoseconds - start }
        }
        for (name, slot) in outputSlots {
            guard let t = state.values[slot] else { throw SessionError.graph(.undefinedOutput(name)) }
            outputs[name] = t
        }
        var boundary: [String: Tensor] = [:]
        for (name, slot) in boundarySlots {
            guard let t = state.values[slot] else { throw SessionError.graph(.undefinedOutput(name)) }
            boundary[name] = t
        }
        for slot in droppedAfterRun { state.values[slot] = nil }
        return boundary
    }

    /// Runs step `k`: its inputs and outputs gathered in the state's arrays for it, the
    /// operator or kernel called, the outputs stored in their slots and the arrays emptied.
    private func runStep(_ k: Int, state: RunState, arena: AlignedBuffer<UInt8>) throws {
        let step = steps[k]
        for (i, slot) in step.inputs.enumerated() {
            state.inputs[k][i] = slot.flatMap { state.values[$0] }
        }
        for (j, slot) in step.outputs.enumerated() {
            state.outputs[k][j] = try output(slot, state: state, arena: arena, site: step.site)
        }
        do {
            switch step.action {
            case let .swift(op):
                try op.run(state.inputs[k], outputs: &state.outputs[k])
            case let .kernel(kernel, call):
                try call.kernelInputs(state.inputs[k], into: &state.operands[k], site: step.site)
                let nodeShape = state.outputs[k][0].shape
                if let view = step.kernelView, view != nodeShape { state.outputs[k][0] = try state.outputs[k][0].reshaped(to: view) }
                try kernel.run(inputs: state.operands[k], output: &state.outputs[k][0])
                if state.outputs[k][0].shape != nodeShape { state.outputs[k][0] = try state.outputs[k][0].reshaped(to: nodeShape) }
                try call.finish(state.inputs[k], output: &state.outputs[k][0], site: step.site)
            case let .nodeKernel(kernel, operands):
                for (n, i) in operands.enumerated() { state.operands[k][n] = try step.site.tensor(state.inputs[k], i) }
                try kernel.run(inputs: state.operands[k], output: &state.outputs[k][0])
            case let .shaped(op):
                let made = try op.runShaped(state.inputs[k])
                // A node may leave trailing optional outputs out (Unique with Y alone).
                guard made.count >= step.outputs.count else {
                    throw SessionError.node(node: step.site.node, opType: step.site.opType,
                                            detail: "made \(made.count) outputs, expected \(step.outputs.count)")
                }
                state.outputs[k] = Array(made.prefix(step.outputs.count))
            }
        } catch let e as SessionError {
            throw e
        } catch let e as GraphError {
            throw SessionError.graph(e)
        } catch {
            throw SessionError.node(node: step.site.node, opType: step.site.opType, detail: "\(error)")
        }
        for (j, slot) in step.outputs.enumerated() {
            state.values[slot] = state.outputs[k][j]
            state.outputs[k][j] = Tensor.unused
        }
        for i in state.inputs[k].indices { state.inputs[k][i] = nil }
        for n in state.operands[k].indices { state.operands[k][n] = Tensor.unused }
        for slot in releases[k] { state.values[slot] = nil }
    }

    /// The tensor a step writes into `slot`: the arena window (or caller's tensor) the slot
    /// holds, taken out so that the step holds the only reference, when it still fits;
    /// else a new window, a new zero-filled tensor, or a placeholder for an op that makes
    /// its outputs itself.
    private func output(_ slot: Int, state: RunState, arena: AlignedBuffer<UInt8>, site: OperatorSite) throws -> Tensor {
        let held = state.values[slot]
        state.values[slot] = nil
        switch slots[slot] {
        case let .arena(offset, dtype, shape, layout):
            if var t = held, t.isWindow(of: arena, offset: offset), t.dtype == dtype, t.shape == shape, t.layout == layout {
                t.quantization = nil
                return t
            }
            return try Tensor(window: arena, offset: offset, dtype: dtype, shape: shape, layout: layout)
        case let .fresh(dtype, shape, layout):
            if var t = held, t.dtype == dtype, t.shape == shape, t.layout == layout {
                t.quantization = nil
                return t
            }
            return try Tensor(zeros: dtype, shape: shape, layout: layout)
        case .produced:
            return Tensor.unused
        case .input, .constant:
            throw SessionError.node(node: site.node, opType: site.opType, detail: "output slot is not writable")
        }
    }
}
