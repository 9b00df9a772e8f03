import Foundation
import OctetCore
import OctetDispatch

/// Concat along an axis; every input is requantized to the output's parameters,
/// `quantize(dequantize(q))`, which is a copy when they are the same.
struct ReferenceConcatKernel: Kernel {
    let params: ActivationParams
    let shapes: [TensorShape], output: TensorShape
    let axis: Int
    var implementation: String { "reference concat (requantized to a common scale)" }

    init(_ s: OpSignature, _ c: OpConstants) throws {
        shapes = [s.input] + s.attributes.otherInputs
        params = try ActivationParams(s, c, inputCount: shapes.count)
        output = try s.outputShape.orThrow("concat output shape")
        axis = try s.normalizedAxis.orThrow("concat axis")
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        try checkOutput(out, output, params.output.dtype)
        let outer = output.dims[..<axis].reduce(1, *), inner = output.dims[(axis + 1)...].reduce(1, *)
        var values = [Int32](repeating: 0, count: output.elementCount)
        var offset = 0
        for (i, shape) in shapes.enumerated() {
            let x = try QuantizedOperands.ints(try checkInput(inputs, i, shape))
            let span = shape[axis] * inner
            for o in 0..<outer {
                for j in 0..<span {
                    values[o * output[axis] * inner + offset + j] = params.quantize(params.dequantize(x[o * span + j], input: i))
                }
            }
            offset += span
        }
        try QuantizedOperands.store(values, into: &out)
    }
}

/// Softmax along an axis and layer normalization over the trailing dimensions from
/// `axis`: dequantize, compute in Float (softmax shifted by the maximum), quantize.
/// Layer norm takes `gamma` as the weight and `beta` as the bias (f32, one per
/// normalized element) and `epsilon` (default 1e-5).
struct ReferenceNormalizationKernel: Kernel {
    let kind: OpKind
    let params: ActivationParams
    let shape: TensorShape
    let axis: Int
    let gamma: [Float]?, beta: [Float]?
    let epsilon: Float
    var implementation: String { "reference \(kind) (dequantize, f32, requantize)" }

    init(_ s: OpSignature, _ c: OpConstants) throws {
        kind = s.kind
        params = try ActivationParams(s, c, inputCount: 1)
        shape = s.input
        axis = try s.normalizedAxis.orThrow("\(s.kind) axis")
        epsilon = s.attributes.epsilon ?? 1e-5
        let normalized = s.input.dims[axis...].reduce(1, *)
        gamma = try c.weight.map { try $0.scalars(as: Float.self) }
        beta = try c.bias.map { try $0.scalars(as: Float.self) }
        for v in [gamma, beta].compactMap({ $0 }) where v.count != normalized {
            throw QNNPackError.shape("layer_norm scale and shift need \(normalized) values, got \(v.count)")
        }
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try QuantizedOperands.ints(try checkInput(inputs, 0, shape))
        try checkOutput(out, shape, params.output.dtype)
        let real = x.map { params.dequantize($0) }
        var y = [Float](repeating: 0, count: real.count)
        if kind == .softmax {
            let outer = shape.dims[..<axis].reduce(1, *), n = shape[axis], inner = shape.dims[(axis + 1)...].reduce(1, *)
            for o in 0..<outer {
                for i in 0..<inner {
                    let idx = (0..<n).map { (o * n + $0) * inner + i }
                    let m = idx.map { real[$0] }.max() ?? 0
                    let e = idx.map { Foundation.exp(real[$0] - m) }
                    let total = e.reduce(0, +)
                    for (j, k) in idx.enumerated() { y[k] = e[j] / total }
                }
            }
        } else {
            let n = shape.dims[axis...].reduce(1, *)
            for row in 0..<(real.count / n) {
                let slice = real[(row * n)..<((row + 1) * n)]
                let mean = slice.reduce(0, +) / Float(n)
                let variance = slice.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(n)
                let inv = 1 / (variance + epsilon).squareRoot()
                for j in 0..<n {
                    y[row * n + j] = (real[row * n + j] - mean) * inv * (gamma?[j] ?? 1) + (beta?[j] ?? 0)
                }
            }
        }
        try QuantizedOperands.store(y.map { params.quantize($0) }, into: &out)
    }
}
