import OctetCore
import OctetDispatch

/// A built-in graph op prepared from a bare `OpSignature` (what any backend is asked for,
/// e.g. by the conformance harness): the ONNX node the signature describes is built, and
/// its operator runs with the constant operands (Clip's bounds, LayerNormalization's
/// scale and bias) appended to the kernel's inputs.
///
/// Quantized ops the built-in backend runs on 8-bit values: `add` of two tensors of one
/// shape (`QuantizedAdd`, `QuantizedMul`, optionally with a fused ReLU) and `max_pool2d` (the max of u8 or
/// s8 values, requantized through a 256-entry table when the output's parameters differ:
/// requantization is monotone, so it commutes with the max), `avg_pool2d` and
/// `global_avg_pool` (sums of the codes, requantized: `PoolRequantization`).
struct BuiltInSignatureKernel: Kernel {
    let op: any GraphOperator
    /// Constant inputs appended after the kernel's operands.
    let extras: [Tensor]
    /// Output codes for each input code, when the output is requantized after the op.
    let requantization: [UInt8]?
    let implementation: String

    init(_ s: OpSignature, _ c: OpConstants) throws {
        implementation = BuiltInBackend.kernelName(s)
        let operands = ["x"] + s.attributes.otherInputs.indices.map { "x\($0 + 1)" }
        var attributes: [String: AttributeValue] = [:]
        var extras: [Tensor] = []
        var opType: String, domain = ""
        var requantization: [UInt8]?
        switch s.kind {
        case .add where s.precision == .int8, .mul where s.precision == .int8:
            guard let a = c.inputQuantization, let b = c.otherInputQuantizations.first, let y = c.outputQuantization,
                  !a.isPerChannel, !b.isPerChannel, !y.isPerChannel else {
                throw SignatureKernelError.missing("per-tensor quantization of both inputs and the output")
            }
            (opType, domain) = (QuantizedBinaryNode.opTypes[s.kind == .add ? "Add" : "Mul"] ?? "", QuantizedBinaryNode.domain)
            attributes[QuantizedBinaryNode.scalesAttribute] = .floats([a.scale(), b.scale(), y.scale()])
            attributes[QuantizedBinaryNode.zeroPointsAttribute] = .ints([a, b, y].map { Int($0.zeroPoint()) })
            if s.postOps == [.relu] { attributes[QuantizedBinaryNode.reluAttribute] = .int(1) }
            if let limit = OutputCodeLimit.limit(of: y) { attributes[OutputCodeLimit.attribute] = .int(Int(limit)) }
        case .add: opType = "Add"
        case .mul: opType = "Mul"
        case .relu: opType = "Relu"
        case .sigmoid: opType = "Sigmoid"
        case .tanh: opType = "Tanh"
        case .hardswish: opType = "HardSwish"
        case .gelu: opType = "Gelu"
        case .globalAvgPool:
            opType = "GlobalAveragePool"
            if s.precision == .int8 { try Self.requantization(c).annotate(&attributes) }
        case .clip:
            opType = "Clip"
            extras = [try Tensor([s.attributes.clipMin ?? -.infinity], shape: .scalar), try Tensor([s.attributes.clipMax ?? .infinity], shape: .scalar)]
        case .maxPool2d, .avgPool2d:
            guard let p = s.attributes.pooling else { throw SignatureKernelError.missing("the pooling geometry") }
            opType = s.kind == .maxPool2d ? "MaxPool" : "AveragePool"
            attributes["kernel_shape"] = .ints([p.kernelH, p.kernelW])
            attributes["strides"] = .ints([p.strideH, p.strideW])
            attributes["pads"] = .ints([p.padTop, p.padLeft, p.padBottom, p.padRight])
            if s.kind == .avgPool2d { attributes["count_include_pad"] = .int(p.countIncludePad ? 1 : 0) }
            if s.kind == .avgPool2d, s.precision == .int8 {
                try Self.requantization(c).annotate(&attributes)
            } else if s.precision == .int8, let x = c.inputQuantization, let y = c.outputQuantization, x != y {
                requantization = try Self.table(from: x, to: y)
            }
        case .concat:
            opType = "Concat"
            attributes["axis"] = .int(s.attributes.axis ?? 0)
        case .softmax:
            opType = "Softmax"
            attributes["axis"] = .int(s.attributes.axis ?? -1)
        case .layerNorm:
            opType = "LayerNormalization"
            guard let scale = c.weight else { throw SignatureKernelError.missing("the scale (weight) of layer_norm") }
            extras = [scale] + (c.bias.map { [$0] } ?? [])
            attributes["axis"] = .int(s.attributes.axis ?? -1)
            attributes["epsilon"] = .float(s.attributes.epsilon ?? 1e-5)
        case .conv2d, .convTranspose2d, .linear, .matmul:
            throw SignatureKernelError.missing("a GEMM backend: \(s.kind) is a matrix product")
        }
        let inputs = operands + extras.indices.map { "c\($0)" }
        let node = Node(name: s.label ?? "\(s.kind)", opType: opType, domain: domain, inputs: inputs, outputs: ["y"], attributes: attributes)
        op = try OperatorCatalog.makeOperator(for: node, opset: 21)
        self.extras = extras
        self.requantization = requantization
    }

    func run(inputs: [Tensor], output: inout Tensor) throws {
        var outs = [output]
        try op.run(inputs.map { $0 } + extras.map { $0 }, outputs: &outs)
        output = outs[0]
        guard let table = requantization else { return }
        output.withUnsafeMutableBytes { bytes in
            for i in bytes.indices { bytes[i] = table[Int(bytes[i])] }
        }
    }

    /// An 8-bit average pool's parameters, from its per-tensor input and output quantization.
    private static func requantization(_ c: OpConstants) throws -> PoolRequantization {
        guard let x = c.inputQuantization, let y = c.outputQuantization, !x.isPerChannel, !y.isPerChannel else {
            throw SignatureKernelError.missing("per-tensor quantization of the input and the output")
        }
        return PoolRequantization(inputScale: x.scale(), inputZeroPoint: x.zeroPoint(), outputScale: y.scale(), outputZeroPoint: y.zeroPoint(),
                                  outputMax: OutputCodeLimit.limit(of: y))
    }

    /// For each 8-bit code of `x`'s type (indexed by its bit pattern), the code of the same
    /// real value in `y`'s parameters, rounded half to even and clamped.
    private static func table(from x: QuantParams, to y: QuantParams) throws -> [UInt8] {
        guard x.dtype == y.dtype, x.dtype == .u8 || x.dtype == .s8 else { throw SignatureKernelError.missing("input and output of one 8-bit type") }
        let signed = x.dtype == .s8
        return (0..<256).map { bits in
            let q = signed ? Int32(Int8(truncatingIfNeeded: bits)) : Int32(bits)
            let real = AffineQuantization.dequantize(q, scale: x.scale(), zeroPoint: x.zeroPoint())
            let out = AffineQuantization.quantize(real, scale: y.scale(), zeroPoint: y.zeroPoint(), qmin: y.qmin, qmax: y.qmax)
            return UInt8(truncatingIfNeeded: out)
        }
    }
}

/// A signature the built-in backend cannot build a kernel for.
enum SignatureKernelError: Error, CustomStringConvertible {
    case missing(String)

    var description: String {
        switch self {
        case let .missing(what): "builtin needs \(what)"
        }
    }
}
