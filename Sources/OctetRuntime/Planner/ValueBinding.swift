import OctetCore
import OctetDispatch

/// Which run-time values a node's plan depends on (a Slice's starts and ends, a Reshape's
/// target, a ReduceSum's axes, a Resize's sizes, a Conv's weights fed as an input, …),
/// found by asking the node's operator: the fewest of its inputs that, taken as constants,
/// make every output shape known (and a matrix product plannable). A plan is then made
/// with those values as constants and kept under them.
enum ValueBinding {
    /// The most elements a value a plan takes as a constant may have: shape operands are
    /// small, and a plan per value of a large tensor would be a plan per run.
    static let maximumElements = 4096

    /// The inputs of `node` (among `values`, the run-time ones) whose values its output
    /// shapes need; empty when the shapes are known from `values`' shapes and `constants`.
    ///
    /// - Throws: `SessionError.node` when an input it needs has more than
    ///   `maximumElements` elements, or when no values make the shapes known.
    static func required(_ node: Node, opset: Int, values: [String: Tensor], constants: [String: Tensor]) throws -> [String] {
        let op: any GraphOperator
        do { op = try OperatorCatalog.makeOperator(for: node, opset: opset) } catch { throw ExecutionPlan.wrap(error, node) }
        if op is any DataShapedOperator { return [] }
        var inputs: [(DType, TensorShape)?] = []
        for v in node.inputs {
            if v.isEmpty { inputs.append(nil); continue }
            guard let t = constants[v] ?? values[v] else { throw SessionError.graph(.undefinedValue(node: node.name, value: v)) }
            inputs.append((t.dtype, t.shape))
        }
        func known(binding bound: Set<String>) throws -> Bool {
            let given = node.inputs.map { v in v.isEmpty ? nil : constants[v] ?? (bound.contains(v) ? values[v] : nil) }
            guard try PlanSelection.concrete(PlanSelection.symbolicOutputTypes(op, node, inputs: inputs, constants: given), node) != nil else { return false }
            // A matrix product is planned with its weights (and bias) as constants.
            guard let matrix = op as? any MatrixPlanning else { return true }
            return !PlanSelection.needsValues(matrix, inputs: inputs, constants: given)
        }
        if try known(binding: []) { return [] }
        let runtime = node.inputs.filter { !$0.isEmpty && constants[$0] == nil }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let small = runtime.filter { (values[$0]?.shape.elementCount ?? 0) <= maximumElements }
        guard try known(binding: Set(small)) else {
            if let huge = runtime.first(where: { !small.contains($0) }), let t = values[huge] {
                throw SessionError.node(node: node.name, opType: node.opType,
                                        detail: "the output shape depends on the values of '\(huge)' (\(t.dtype)[\(t.shape)]), which has more than \(maximumElements) elements: Octet plans with such values as constants and refuses one this large")
            }
            throw SessionError.node(node: node.name, opType: node.opType, detail: "the shape of output 0 cannot be determined before running, even with the values of \(runtime.map { "'\($0)'" }.joined(separator: ", "))")
        }
        // The fewest: drop each value (largest first) the shapes are known without.
        var bound = Set(small)
        for v in small.sorted(by: { (values[$0]?.shape.elementCount ?? 0) > (values[$1]?.shape.elementCount ?? 0) }) {
            bound.remove(v)
            if try !known(binding: bound) { bound.insert(v) }
        }
        return small.filter(bound.contains)
    }

    /// `t` for a trace: its elements (the first 16) when integer or floating point.
    static func summary(_ t: Tensor) -> String {
        let limit = 16
        func list<T>(_ xs: [T]) -> String {
            "[" + xs.prefix(limit).map { "\($0)" }.joined(separator: ", ") + (xs.count > limit ? ", …" : "") + "]"
        }
        switch t.dtype {
        case .s64: return list((try? t.scalars(as: Int64.self)) ?? [])
        case .s32: return list((try? t.scalars(as: Int32.self)) ?? [])
        case .f32: return list((try? t.scalars(as: Float.self)) ?? [])
        default: return "\(t.byteCount) bytes"
        }
    }
}
