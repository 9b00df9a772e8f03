import OctetCore
import OctetDispatch

/// A matrix node that is planned into a backend call (`MatrixCall`).
protocol MatrixPlanning: GraphOperator {
    func plan(_ inputs: [Tensor?], shapes: [TensorShape], constants: [Tensor?]) throws -> MatrixCall
}

extension MatrixOperator: MatrixPlanning {}

/// A `QuantizedMatrixNode` (made by `QDQFusion`): an INT8 Conv, Gemm or MatMul with
/// u8/s8 activations, s8 weights, an s32 bias and a u8 or f32 output. Geometry is read
/// as for the FP32 op; the signature is the INT8 one, with the quantization parameters
/// as constants.
struct QuantizedMatrixOperator: MatrixPlanning {
    let site: OperatorSite
    let node: Node
    /// The FP32 form (same attributes, inputs `x, w, bias`), for shapes and geometry.
    let source: MatrixOperator

    init(_ node: Node) throws {
        site = OperatorSite(node)
        self.node = node
        let op = try node.string(QuantizedMatrixNode.sourceAttribute, default: "")
        guard ["Conv", "Gemm", "MatMul"].contains(op) else {
            throw site.error("attribute \(QuantizedMatrixNode.sourceAttribute) must be Conv, Gemm or MatMul, got '\(op)'")
        }
        guard node.inputs.count == 7 || node.inputs.count == 9 || (node.inputs.count == 10 && op == "Conv") else {
            throw site.error("expects 7 inputs (x, scale, zero point, w, scale, zero point, bias), 9 (+ output scale, zero point) or, for a Conv, 10 (+ the sum operand), got \(node.inputs.count)")
        }
        var plain = node
        plain.domain = ""
        plain.opType = op
        plain.inputs = [node.inputs[0], node.inputs[3], node.inputs[6]]
        source = try MatrixOperator(plain)
    }

    var quantizedOutput: Bool { node.inputs.count >= 9 }
    var dynamic: Bool { (try? node.int(QuantizedMatrixNode.dynamicAttribute, default: 0)) == 1 }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), w = try site.type(inputs, 3)
        guard dynamic ? x.dtype == .f32 : (x.dtype == .u8 || x.dtype == .s8) else {
            throw site.error("activation must be \(dynamic ? "f32 (dynamic quantization)" : "u8 or s8"), got \(x.dtype)")
        }
        guard w.dtype == .s8 || w.dtype == .u8 else { throw site.error("weight must be s8 or u8, got \(w.dtype)") }
        let shape = try source.outputTypes([ValueType(.f32, x.shape), ValueType(.f32, w.shape), nil], constants: [nil, nil, nil])[0].shape
        let out = ValueType(quantizedOutput ? try site.type(inputs, 8).dtype : .f32, shape)
        if hasSum { try checkSumOperand(inputs, output: out) }
        return [out]
    }

    /// Only an empty product runs here (an output with a zero-size dimension); every other
    /// one runs through a backend kernel.
    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        guard outputs.allSatisfy({ $0.shape.elementCount == 0 }) else { throw site.error("quantized matrix ops run through a backend kernel (see Session)") }
    }

    func plan(_ inputs: [Tensor?], shapes: [TensorShape], constants: [Tensor?]) throws -> MatrixCall {
        func constant(_ i: Int, _ what: String) throws -> Tensor {
            guard i < constants.count, let t = constants[i] else { throw site.error("\(what) (input \(i)) must be a constant") }
            return t
        }
        let weight = try constant(3, "the weight")
        if dynamic { return try planDynamic(inputs, shapes: shapes, weight: weight, constants: constants) }
        let x = try affine(constant(1, "the input scale"), constants[2], "input")
        let w = try affine(constant(4, "the weight scale"), constants[5], "weight")
        let bias = node.input(6) == nil ? nil : try constant(6, "the bias")
        var call = try source.plan([inputs[0], inputs[3], inputs[6]], shapes: [shapes[0], shapes[3], bias?.shape ?? .scalar],
                                   constants: [nil, weight, bias])
        guard call.signature.kind == .linear || call.signature.kind == .conv2d, call.addend == nil, call.outputScale == 1 else {
            throw site.error("a quantized \(source.node.opType) needs a constant weight and a bias of one value per output channel")
        }
        let inputType = try inputDType(constants)
        let sevenBit = try node.int(QuantizedMatrixNode.reduceRangeAttribute, default: 0) == 1
        let inputParams = try QuantParams(scale: x.scales[0], zeroPoint: x.zeroPoints[0], dtype: inputType, reduceRange: sevenBit)
        // After planning, the weight's output channels are axis 0 (N x K, or OC x IC/g x KH x KW).
        let perChannel = w.scales.count > 1
        let weightParams = try QuantParams(scales: w.scales, zeroPoints: w.zeroPoints, granularity: perChannel ? .perChannel(axis: 0) : .perTensor, dtype: weight.dtype)
        guard let weightSource = call.constants.weight else { throw site.error("the weight is missing") }
        call.weightTransform = Self.attaching(weightParams, after: call.weightTransform)
        var outputParams: QuantParams?
        var outputType: DType = .f32
        if quantizedOutput {
            guard let zp = constants[8] else { throw site.error("the output zero point must be a constant") }
            let y = try affine(constant(7, "the output scale"), zp, "output")
            outputType = zp.dtype
            outputParams = try QuantParams(scale: y.scales[0], zeroPoint: y.zeroPoints[0], dtype: zp.dtype)
        }
        call.signature.precision = .int8
        call.signature.inputType = inputType
        call.signature.weightType = weight.dtype
        call.signature.outputType = outputType
        call.signature.quantization = QuantizationScheme(
            perChannelWeights: perChannel, symmetricWeights: w.zeroPoints.allSatisfy { $0 == 0 }, inputZeroPoint: x.zeroPoints[0],
            weightZeroPoint: perChannel ? 0 : w.zeroPoints[0], reduceRange: sevenBit)
        call.constants = OpConstants(weight: weightSource, bias: call.constants.bias, inputQuantization: inputParams, outputQuantization: outputParams)
        if hasSum {
            // The residual sum: applied last, to the output's codes; its operand is the kernel's second input.
            call.signature.postOps.append(try sumPostOp(outputType: outputType))
            call.operands.append(call.outputView.map { .reshaped(ConvSumFusion.operandIndex, $0) } ?? .input(ConvSumFusion.operandIndex))
        }
        return call
    }

    /// Dynamic quantization: f32 in and out, the activation's range taken per call. A MatMul
    /// plans as `.linear` (PyTorch's observer parameters, or per token), a Conv (the
    /// ConvInteger chain, `DynamicConvFusion`) as `.conv2d` with ONNX's per-tensor parameters.
    private func planDynamic(_ inputs: [Tensor?], shapes: [TensorShape], weight: Tensor, constants: [Tensor?]) throws -> MatrixCall {
        let op = source.node.opType
        guard let scale = constants[4] else { throw site.error("the weight scale (input 4) must be a constant") }
        let w = try affine(scale, constants[5], "weight")
        // An f32 bias (input 6, one value per output channel) fused by `DynamicQuantizationFusion`.
        let bias = node.input(6) == nil ? nil : constants[6]
        if node.input(6) != nil, bias?.dtype != .f32 { throw site.error("the bias of a dynamically quantized \(op) (input 6) must be a constant f32 tensor") }
        var call = try source.plan([inputs[0], inputs[3], inputs[6]], shapes: [shapes[0], shapes[3], bias?.shape ?? .scalar],
                                   constants: [nil, weight, bias])
        let kind: OpKind = op == "Conv" ? .conv2d : .linear
        guard call.signature.kind == kind, call.addend == nil, kind == .linear || call.outputView == nil, let weightSource = call.constants.weight else {
            throw site.error(op == "Conv" ? "a dynamically quantized Conv needs a 2-D convolution with a constant 4-D weight"
                                          : "a dynamically quantized MatMul needs a constant 2-D weight")
        }
        let channels = call.signature.weight.dims.first ?? 0
        guard w.scales.count == 1 || w.scales.count == channels else {
            throw site.error("\(w.scales.count) weight scales for \(channels) output channels")
        }
        let perChannel = w.scales.count > 1
        let weightParams = try QuantParams(scales: w.scales, zeroPoints: w.zeroPoints, granularity: perChannel ? .perChannel(axis: 0) : .perTensor, dtype: weight.dtype)
        call.weightTransform = Self.attaching(weightParams, after: call.weightTransform)
        call.signature.precision = .int8
        call.signature.inputType = .f32
        call.signature.weightType = weight.dtype
        call.signature.outputType = .f32
        call.signature.quantization = QuantizationScheme(perChannelWeights: perChannel, symmetricWeights: w.zeroPoints.allSatisfy { $0 == 0 },
                                                         weightZeroPoint: perChannel ? 0 : w.zeroPoints[0], dynamic: true,
                                                         perRowActivations: try kind == .linear && node.int(QuantizedMatrixNode.perRowActivationsAttribute, default: 0) == 1)
        call.constants = OpConstants(weight: weightSource, bias: call.constants.bias)
        return call
    }

    /// `transform` (if any), then `params` attached: the kernel's quantized weight.
    private static func attaching(_ params: QuantParams, after transform: (@Sendable (Tensor) throws -> Tensor)?) -> @Sendable (Tensor) throws -> Tensor {
        { w in
            var t = try transform?(w) ?? w
            t.quantization = params
            return t
        }
    }

    /// The activation's element type: from its zero point, or u8.
    private func inputDType(_ constants: [Tensor?]) throws -> DType {
        guard let zp = constants[2] else { return .u8 }
        guard zp.dtype == .u8 || zp.dtype == .s8 else { throw site.error("the input zero point must be u8 or s8, got \(zp.dtype)") }
        return zp.dtype
    }

    /// The `what` operand's parameters (`QDQParameters`, the shared reader); activations
    /// must be per tensor.
    private func affine(_ scale: Tensor, _ zeroPoint: Tensor?, _ what: String) throws -> QDQParameters {
        let index = what == "input" ? 1 : (what == "weight" ? 4 : 7)
        let p = try QDQParameters(scale: scale, zeroPoint: zeroPoint, site: site, scaleInput: index)
        if what != "weight", p.scales.count != 1 { throw site.error("the \(what) must be quantized per tensor, got \(p.scales.count) scales") }
        return p
    }
}
