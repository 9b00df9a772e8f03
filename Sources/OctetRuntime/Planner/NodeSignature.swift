import OctetCore
import OctetDispatch

/// The `OpSignature` of a graph node that is not a matrix product, so the rule engine can
/// place it like any other op: its `OpKind`, its precision (from its first operand's
/// type), its shapes and attributes, and what a backend kernel is handed.
///
/// Nodes no `OpKind` names (Reshape, Gather, Transpose, …) and nodes on operands that are
/// neither f32, f16, u8 nor s8 (shape arithmetic on int64, masks) have no signature: they
/// run on the built-in backend, and the trace says why.
enum NodeSignature {
    /// The op kind rules use for `node`, if any.
    static func kind(of node: Node) -> OpKind? {
        if QuantizedBinaryNode.matches(node) { return QuantizedBinaryNode.multiplies(node) ? .mul : .add }
        guard node.domain.isEmpty || node.domain == "ai.onnx" else { return nil }
        return kinds[node.opType]
    }

    private static let kinds: [String: OpKind] = [
        "Add": .add, "Mul": .mul, "Relu": .relu, "Clip": .clip, "Sigmoid": .sigmoid, "Tanh": .tanh,
        "HardSwish": .hardswish, "Gelu": .gelu, "MaxPool": .maxPool2d, "AveragePool": .avgPool2d,
        "GlobalAveragePool": .globalAvgPool, "Concat": .concat, "Softmax": .softmax, "LayerNormalization": .layerNorm,
    ]

    /// Why `node` has no signature (for the trace), or `nil` when it has one.
    static func whyNone(_ node: Node, firstInput: DType?) -> String? {
        guard let kind = kind(of: node) else { return "no op kind names \(node.opType): only the built-in backend runs it" }
        guard let t = firstInput, precision(of: t) != nil else {
            return "\(kind) on \(firstInput.map { "\($0)" } ?? "no") operands: only the built-in backend runs it"
        }
        return nil
    }

    /// The arithmetic an op on `dtype` operands runs in.
    static func precision(of dtype: DType) -> Precision? {
        switch dtype {
        case .u8, .s8: .int8
        case .f16: .fp16
        case .f32: .fp32
        default: nil
        }
    }

    /// Inputs of `node` that a backend kernel receives, in order: every tensor operand
    /// (not Clip's bounds, not LayerNormalization's scale and bias, which are constants).
    static func kernelOperands(_ node: Node) -> [Int] {
        switch node.opType {
        case "Clip", "LayerNormalization": [0]
        default: node.inputs.indices.filter { !node.inputs[$0].isEmpty }
        }
    }

    /// The signature of `node` with concrete `inputs` (`nil` for omitted ones), constant
    /// input values, and its first output's type; `nil` as described for the type.
    static func make(_ node: Node, opset: Int, inputs: [(DType, TensorShape)?], constants: [Tensor?],
                     output: (DType, TensorShape)) -> OpSignature? {
        guard let kind = kind(of: node), let first = inputs.first ?? nil, let precision = precision(of: first.0) else { return nil }
        var attributes = OpAttributes()
        let operands = kernelOperands(node)
        attributes.otherInputs = operands.dropFirst().compactMap { i in i < inputs.count ? inputs[i]?.1 : nil }
        var weight = TensorShape.scalar
        var postOps: [PostOp] = []
        switch kind {
        case .maxPool2d, .avgPool2d:
            attributes.pooling = pooling(node, input: first.1)
        case .concat:
            attributes.axis = try? node.int("axis")
        case .softmax:
            attributes.axis = try? node.int("axis", default: opset < 13 ? 1 : -1)
        case .layerNorm:
            attributes.axis = try? node.int("axis", default: -1)
            attributes.epsilon = try? node.float("epsilon", default: 1e-5)
            if inputs.count > 1, let scale = inputs[1] { weight = scale.1 }
        case .clip:
            (attributes.clipMin, attributes.clipMax) = clipBounds(node, opset: opset, constants: constants)
        case .add, .mul:
            if QuantizedBinaryNode.matches(node), (try? node.int(QuantizedBinaryNode.reluAttribute, default: 0)) == 1 { postOps = [.relu] }
        default:
            break
        }
        return OpSignature(kind: kind, precision: precision, inputType: first.0, weightType: first.0, outputType: output.0,
                           input: first.1, weight: weight, postOps: postOps, attributes: attributes, label: node.name)
    }

    /// The constant operands a backend kernel needs: the quantization of a quantized
    /// node's inputs and output; nothing for float ops (their tensors arrive at run time).
    /// `dtype` is the type of the node's 8-bit operands.
    /// A max pool of 8-bit values takes no parameters of its own: its input and output
    /// share them, and the identity parameters (scale 1, zero point 0) describe it exactly.
    /// An 8-bit average pool carries its input's and output's (`PoolRequantization`).
    static func constants(_ node: Node, dtype: DType) throws -> OpConstants {
        if node.opType == "MaxPool", dtype.isQuantized8Bit {
            let identity = try QuantParams(scale: 1, zeroPoint: 0, dtype: dtype)
            return OpConstants(inputQuantization: identity, outputQuantization: identity)
        }
        if node.opType == "AveragePool" || node.opType == "GlobalAveragePool", dtype.isQuantized8Bit, let q = try PoolRequantization(node) {
            return OpConstants(inputQuantization: try QuantParams(scale: q.inputScale, zeroPoint: q.inputZeroPoint, dtype: dtype),
                               outputQuantization: try OutputCodeLimit.params(scale: q.outputScale, zeroPoint: q.outputZeroPoint, dtype: dtype,
                                                                             limit: q.outputMax))
        }
        guard QuantizedBinaryNode.matches(node) else { return OpConstants() }
        let op = try QuantizedBinaryOperator(node)
        func params(_ i: Int) throws -> QuantParams { try QuantParams(scale: op.scales[i], zeroPoint: op.zeroPoints[i], dtype: dtype) }
        let y = try OutputCodeLimit.params(scale: op.scales[2], zeroPoint: op.zeroPoints[2], dtype: dtype, limit: op.qmax)
        return OpConstants(inputQuantization: try params(0), outputQuantization: y, otherInputQuantizations: [try params(1)])
    }

    private static func pooling(_ node: Node, input: TensorShape) -> PoolingGeometry? {
        guard input.rank == 4, let k = try? node.ints("kernel_shape"), k.count == 2,
              let window = try? WindowGeometry(node, kernel: k), window.dilations == [1, 1],
              let (p, _) = try? window.resolve([input.dims[2], input.dims[3]]) else { return nil }
        let includePad = ((try? node.int("count_include_pad", default: 0)) ?? 0) != 0
        return PoolingGeometry(kernel: (k[0], k[1]), stride: (window.strides[0], window.strides[1]),
                               pads: (p[0], p[1], p[2], p[3]), countIncludePad: includePad)
    }

    private static func clipBounds(_ node: Node, opset: Int, constants: [Tensor?]) -> (Float?, Float?) {
        if opset < 11 {
            return ((try? node.float("min", default: -.infinity)), (try? node.float("max", default: .infinity)))
        }
        func bound(_ i: Int) -> Float? {
            guard i < constants.count, let t = constants[i], t.dtype == .f32, t.shape.elementCount == 1 else { return nil }
            return (try? t.scalars(as: Float.self))?.first
        }
        return (bound(1), bound(2))
    }
}
