import Foundation
import OctetCore
import OctetDispatch

/// The parameters of an op's quantized input(s) and output, checked once at prepare.
struct ActivationParams: Sendable {
    let inputs: [QuantParams]
    let output: QuantParams
    let qmin: Int32, qmax: Int32

    init(_ s: OpSignature, _ c: OpConstants, inputCount: Int) throws {
        guard let first = c.inputQuantization else { throw QNNPackError.missing("input quantization parameters") }
        let all = [first] + c.otherInputQuantizations
        guard all.count >= inputCount else { throw QNNPackError.missing("quantization parameters for all \(inputCount) inputs") }
        guard let out = c.outputQuantization else { throw QNNPackError.missing("output quantization parameters") }
        guard out.dtype == s.outputType else { throw QNNPackError.shape("output parameters are for \(out.dtype), the output is \(s.outputType)") }
        for q in all.prefix(inputCount) + [out] where q.isPerChannel {
            throw QNNPackError.unsupported("\(s.kind) takes per-tensor activation parameters")
        }
        inputs = Array(all.prefix(inputCount))
        output = out
        (qmin, qmax) = out.outputRange(applying: s.postOps)
    }

    func quantize(_ real: Float) -> Int32 {
        AffineQuantization.quantize(real, scale: output.scale(), zeroPoint: output.zeroPoint(), qmin: qmin, qmax: qmax)
    }

    func dequantize(_ q: Int32, input i: Int = 0) -> Float {
        AffineQuantization.dequantize(q, scale: inputs[i].scale(), zeroPoint: inputs[i].zeroPoint())
    }
}

/// `add` and `mul` with NumPy broadcasting. In real terms: `a + b` or `a · b` of the
/// dequantized inputs, computed as `s_a·(a − zp_a) + s_b·(b − zp_b)` (or the product),
/// then quantized with the output's parameters.
struct ReferenceBinaryKernel: Kernel {
    let kind: OpKind
    let params: ActivationParams
    let a: TensorShape, b: TensorShape, output: TensorShape
    var implementation: String { "reference \(kind) (broadcasting)" }

    init(_ s: OpSignature, _ c: OpConstants) throws {
        kind = s.kind
        params = try ActivationParams(s, c, inputCount: 2)
        a = s.input
        b = try s.attributes.otherInputs.first.orThrow("second operand")
        output = try s.outputShape.orThrow("\(s.kind) output shape")
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try QuantizedOperands.ints(try checkInput(inputs, 0, a))
        let y = try QuantizedOperands.ints(try checkInput(inputs, 1, b))
        try checkOutput(out, output, params.output.dtype)
        let ia = BroadcastIndex(from: a.dims, to: output.dims), ib = BroadcastIndex(from: b.dims, to: output.dims)
        let (sa, za) = (params.inputs[0].scale(), params.inputs[0].zeroPoint())
        let (sb, zb) = (params.inputs[1].scale(), params.inputs[1].zeroPoint())
        let values = (0..<output.elementCount).map { i -> Int32 in
            let u = x[ia.source(of: i)] - za, v = y[ib.source(of: i)] - zb
            let real = kind == .add ? sa * Float(u) + sb * Float(v) : (sa * sb) * Float(u * v)
            return params.quantize(real)
        }
        try QuantizedOperands.store(values, into: &out)
    }
}

/// Maps an index of a broadcast result back to the index of one operand.
struct BroadcastIndex: Sendable {
    let outDims: [Int]
    let strides: [Int]   // operand stride per output dimension; 0 where broadcast

    init(from dims: [Int], to out: [Int]) {
        outDims = out
        let pad = out.count - dims.count
        var s = [Int](repeating: 0, count: out.count)
        var step = 1
        for i in stride(from: out.count - 1, through: 0, by: -1) {
            let d = i >= pad ? dims[i - pad] : 1
            s[i] = d == 1 ? 0 : step
            step *= d
        }
        strides = s
    }

    func source(of index: Int) -> Int {
        var rest = index, src = 0
        for i in stride(from: outDims.count - 1, through: 0, by: -1) {
            src += (rest % outDims[i]) * strides[i]
            rest /= outDims[i]
        }
        return src
    }
}

/// ReLU, Clip, Sigmoid, Tanh, HardSwish, GELU: each input value maps through a table
/// built at prepare, `table[q] = quantize(f(dequantize(q)))`, computed in Double.
struct ReferenceLookupKernel: Kernel {
    let kind: OpKind
    let shape: TensorShape
    let outputType: DType
    let offset: Int32          // smallest input code (0 for u8, -128 for s8)
    let table: [Int32]
    var implementation: String { "reference \(kind) (256-entry table)" }

    init(_ s: OpSignature, _ c: OpConstants) throws {
        let p = try ActivationParams(s, c, inputCount: 1)
        kind = s.kind
        shape = s.input
        outputType = s.outputType
        guard let range = s.inputType.integerRange, s.inputType.isQuantized8Bit else { throw QNNPackError.operandType(s.inputType) }
        offset = range.lowerBound
        let f = try Self.function(s)
        table = range.map { q in p.quantize(Float(f(Double(p.dequantize(q))))) }
    }

    static func function(_ s: OpSignature) throws -> @Sendable (Double) -> Double {
        switch s.kind {
        case .relu: return { max($0, 0) }
        case .clip:
            let lo = Double(s.attributes.clipMin ?? -.infinity), hi = Double(s.attributes.clipMax ?? .infinity)
            return { min(max($0, lo), hi) }
        case .sigmoid: return { 1 / (1 + Foundation.exp(-$0)) }
        case .tanh: return { Foundation.tanh($0) }
        case .hardswish: return { $0 * min(max($0 + 3, 0), 6) / 6 }
        case .gelu: return { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }
        default: throw QNNPackError.unsupported("\(s.kind) is not a unary function")
        }
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try QuantizedOperands.ints(try checkInput(inputs, 0, shape))
        try checkOutput(out, shape, outputType)
        try QuantizedOperands.store(x.map { table[Int($0 - offset)] }, into: &out)
    }
}
