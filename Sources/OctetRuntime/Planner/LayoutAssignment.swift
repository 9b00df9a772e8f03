import OctetCore
import OctetDispatch

/// The layout stage of planning: the memory order each node runs in, and so where values
/// must be reordered between NCHW and NHWC.
///
/// A backend declares the layouts it takes through `capability` (a signature with
/// `activationLayout = .nhwc` it accepts or declines). A convolution runs channels-last
/// when the backend chosen for it takes that too; a node on the built-in backend runs
/// channels-last when its operands arrive so and its op is layout-agnostic (elementwise
/// on equal shapes, pooling, per-tensor quantize/dequantize); a non-matrix op on another
/// backend runs channels-last only when that backend accepts it. A reorder is needed only
/// where a value's layout and a reader's differ.
struct LayoutAssignment: Sendable {
    /// The selected nodes, with convolutions' signatures and dispatches updated to the
    /// layout they run in.
    let nodes: [SelectedNode]
    /// The memory order each node runs in (`.rowMajor` for folded nodes).
    let runLayouts: [TensorLayout]
    /// For each node, the layout each input is read in (`nil` for omitted inputs); the
    /// prepare stage adds a reorder where it differs from the value's.
    let inputLayouts: [[TensorLayout?]]

    init(_ selection: PlanSelection, options: SessionOptions) {
        var nodes = selection.nodes
        var layoutOf: [String: TensorLayout] = [:]
        var runLayouts: [TensorLayout] = [], inputLayouts: [[TensorLayout?]] = []
        func rank(_ v: String) -> Int { selection.known[v]?.shape.rank ?? selection.types[v]?.1.rank ?? 0 }
        func shape(_ v: String) -> TensorShape? { selection.known[v]?.shape ?? selection.types[v]?.1 }

        for k in nodes.indices {
            let node = nodes[k].node
            guard case let .runs(call, dispatch, reason) = nodes[k].placement else {
                runLayouts.append(.rowMajor)
                inputLayouts.append(node.inputs.map { $0.isEmpty ? nil : .rowMajor })
                continue
            }
            var layout: TensorLayout = .rowMajor
            var operands: [Int]
            switch call {
            case var .matrix(matrixCall):
                // The activation, and a fused residual sum (read in the output's layout).
                operands = matrixCall.operands.map(\.inputIndex)
                // A 1-D convolution (run as 2-D through `outputView`) keeps its N x C x W values row-major.
                if matrixCall.signature.kind == .conv2d, matrixCall.outputView == nil, let chosen = dispatch?.backend {
                    // Channels last when the same backend takes it: no reorders between convolutions.
                    var nhwc = matrixCall.signature
                    nhwc.activationLayout = .nhwc
                    let again = selection.selector.select(nhwc, cpu: options.cpu, host: options.host)
                    if again.backend == chosen {
                        matrixCall.signature = nhwc
                        nodes[k].placement = .runs(.matrix(matrixCall), dispatch: again, reason: reason)
                        layout = .nhwc
                    }
                }
            case let .node(signature, constants, kernelOperands):
                operands = kernelOperands
                if kernelOperands.contains(where: { layoutOf[node.inputs[$0]] == .nhwc }), signature.input.rank == 4,
                   let name = dispatch?.backend, let backend = selection.selector.registry.backend(named: name) {
                    var nhwc = signature
                    nhwc.activationLayout = .nhwc
                    if backend.capability(for: nhwc, on: options.host).isSupported {
                        nodes[k].placement = .runs(.node(nhwc, constants, operands: kernelOperands), dispatch: dispatch, reason: reason)
                        layout = .nhwc
                    }
                }
            case .builtIn:
                let tensorOperands = Self.tensorOperandsOnly(node) ? [0] : node.inputs.indices.filter { !node.inputs[$0].isEmpty }
                operands = tensorOperands
                let values = tensorOperands.map { node.inputs[$0] }
                if values.contains(where: { layoutOf[$0] == .nhwc }), Self.takesChannelsLast(node, values.map(shape)),
                   !Self.tensorOperandsOnly(node) || node.opType == "Clip"
                   || node.input(1).flatMap({ selection.known[$0] })?.shape.elementCount == 1 {
                    layout = .nhwc
                    if var d = dispatch {
                        d.signature.activationLayout = .nhwc
                        nodes[k].placement = .runs(.builtIn, dispatch: d, reason: reason)
                    }
                }
            }
            var wants: [TensorLayout?] = []
            for (i, v) in node.inputs.enumerated() {
                guard !v.isEmpty else { wants.append(nil); continue }
                let isOperand = operands.contains(i) && (OperatorCatalog.isMatrix(node) || rank(v) == 4)
                let w: TensorLayout = layout == .nhwc && isOperand ? .nhwc : .rowMajor
                wants.append(w)
            }
            runLayouts.append(layout)
            inputLayouts.append(wants)
            // GlobalAveragePool's N x C x 1 x 1 output is the same in both layouts.
            if layout == .nhwc && node.opType != "GlobalAveragePool" {
                for o in node.outputs where !o.isEmpty { layoutOf[o] = .nhwc }
            }
        }
        self.nodes = nodes
        self.runLayouts = runLayouts
        self.inputLayouts = inputLayouts
    }

    /// Ops whose built-in kernels run on channels-last values as they are: elementwise ops
    /// on 4-D values of one shape, and 2-D pooling.
    /// Binary ops also broadcast: 4-D operands are reordered to NHWC, and smaller ones
    /// qualify when their memory order is the same in both layouts (e.g. a `C x 1 x 1` bias).
    static func takesChannelsLast(_ node: Node, _ shapes: [TensorShape?]) -> Bool {
        guard let first = shapes.first ?? nil, shapes.allSatisfy({ $0 != nil }) else { return false }
        if QuantizedBinaryNode.matches(node) { return first.rank == 4 && shapes.allSatisfy { $0 == first } }
        if QuantizedLookupNode.matches(node) { return first.rank == 4 }
        guard node.domain.isEmpty else { return false }
        switch node.opType {
        case "MaxPool" where node.outputs.count > 1 && !node.outputs[1].isEmpty:
            return false // Indices are NCHW offsets.
        case "Relu", "Clip", "Sigmoid", "Swish", "Tanh", "HardSwish", "HardSigmoid", "Erf", "Sqrt", "Gelu", "Identity",
             "MaxPool", "AveragePool", "GlobalAveragePool":
            return first.rank == 4 && shapes.allSatisfy { $0 == first }
        case "QuantizeLinear", "DequantizeLinear":
            // Per tensor only (a per-axis scale follows the logical axis, not memory order).
            return first.rank == 4 && shapes.count == 1
        case "Add", "Sub", "Mul", "Div":
            let operands = shapes.compactMap { $0 }
            guard let out = Broadcasting.shape(operands.map { SymbolicShape($0) }), out.rank == 4 else { return false }
            return operands.allSatisfy { s in
                s.rank == 4 || { (d: [Int]) in d[1] == 1 || (d[2] == 1 && d[3] == 1) }(Array(repeating: 1, count: 4 - s.rank) + s.dims)
            }
        default:
            return false
        }
    }

    /// Ops whose inputs after the first are parameters (bounds, scales), not tensors to lay out.
    static func tensorOperandsOnly(_ node: Node) -> Bool {
        ["Clip", "QuantizeLinear", "DequantizeLinear"].contains(node.opType)
    }
}
