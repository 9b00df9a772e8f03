import OctetCore
import OctetDispatch

/// Max pooling, average pooling and global average pooling over NCHW.
/// Max: the largest input code of the window (padding never wins), requantized when the
/// output parameters differ. Average: `s_in · Σ(q − zp_in) / count`, quantized with the
/// output's parameters; `count` includes padding only with `countIncludePad`.
struct ReferencePoolingKernel: Kernel {
    let kind: OpKind
    let params: ActivationParams
    let pooling: PoolingGeometry
    let input: TensorShape, output: TensorShape
    var implementation: String { "reference \(kind)" }

    init(_ s: OpSignature, _ c: OpConstants) throws {
        kind = s.kind
        params = try ActivationParams(s, c, inputCount: 1)
        input = s.input
        output = try s.outputShape.orThrow("\(s.kind) output shape")
        if s.kind == .globalAvgPool {
            pooling = PoolingGeometry(kernel: (s.input[2], s.input[3]))
        } else {
            pooling = try s.attributes.pooling.orThrow("pooling window")
        }
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try QuantizedOperands.ints(try checkInput(inputs, 0, input))
        try checkOutput(out, output, params.output.dtype)
        let p = pooling
        let (h, w, oh, ow) = (input[2], input[3], output[2], output[3])
        let zp = params.inputs[0].zeroPoint(), scale = params.inputs[0].scale()
        let sameParams = params.inputs[0].scale() == params.output.scale() && zp == params.output.zeroPoint()
        var values = [Int32](repeating: 0, count: output.elementCount)
        for plane in 0..<(input[0] * input[1]) {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var maxCode = Int32.min, sum: Int32 = 0, count = 0
                    for ky in 0..<p.kernelH {
                        let iy = oy * p.strideH - p.padTop + ky
                        for kx in 0..<p.kernelW {
                            let ix = ox * p.strideW - p.padLeft + kx
                            guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                            let q = x[(plane * h + iy) * w + ix]
                            maxCode = max(maxCode, q)
                            sum += q - zp
                            count += 1
                        }
                    }
                    let o = (plane * oh + oy) * ow + ox
                    if kind == .maxPool2d {
                        values[o] = sameParams ? min(max(maxCode, params.qmin), params.qmax) : params.quantize(params.dequantize(maxCode))
                    } else {
                        let divisor = p.countIncludePad ? p.kernelH * p.kernelW : max(count, 1)
                        values[o] = params.quantize(Float(sum) * scale / Float(divisor))
                    }
                }
            }
        }
        try QuantizedOperands.store(values, into: &out)
    }
}
