import OctetCore
import OctetDispatch

/// What every matrix-product kernel needs: operand zero points, weights with their zero
/// points removed, and one requantizer per output channel.
struct MatrixProductSetup: Sendable {
    let inputZeroPoint: Int32
    /// Weight values minus their channel's zero point, in the weight tensor's order.
    let weights: [Int32]
    let requantizers: [ChannelRequantizer]
    let outputType: DType
    /// A fused residual sum (`PostOp.sum`), applied to the requantized codes.
    let sum: QuantizedSum?

    /// `channels` output channels; `channelOfWeight(i)` is the output channel of weight
    /// element `i` (its zero point and scale).
    init(_ s: OpSignature, _ c: OpConstants, style: RequantizationStyle, channels: Int,
         secondOperand: QuantParams? = nil, channelOfWeight: (Int) -> Int) throws {
        guard let inQ = c.inputQuantization else { throw QNNPackError.missing("input quantization parameters") }
        let wQ: QuantParams
        if let secondOperand {
            wQ = secondOperand
            weights = []
        } else {
            guard let w = c.weight, let q = w.quantization else { throw QNNPackError.missing("quantized weight tensor with its parameters") }
            guard q.scales.count == 1 || q.scales.count == channels else {
                throw QNNPackError.shape("weight has \(q.scales.count) scales; expected 1 or one per output channel (\(channels))")
            }
            let raw = try QuantizedOperands.ints(w)
            weights = raw.indices.map { raw[$0] - q.zeroPoint(channel: q.scales.count == 1 ? 0 : channelOfWeight($0)) }
            wQ = q
        }
        inputZeroPoint = inQ.zeroPoint()
        outputType = s.outputType
        sum = PostOp.sum(in: s.postOps)
        if sum != nil && !s.outputType.isQuantized8Bit { throw QNNPackError.unsupported("a fused residual sum needs an 8-bit output, got \(s.outputType)") }
        let outQ: QuantParams?
        if s.outputType == .f32 {
            outQ = nil
        } else {
            guard let q = c.outputQuantization else { throw QNNPackError.missing("output quantization parameters") }
            guard q.dtype == s.outputType else { throw QNNPackError.shape("output parameters are for \(q.dtype), the output is \(s.outputType)") }
            outQ = q
        }
        let biasS32: [Int32]?, biasF32: [Float]?
        switch c.bias?.dtype {
        case nil: (biasS32, biasF32) = (nil, nil)
        case .s32?: (biasS32, biasF32) = (try c.bias?.scalars(as: Int32.self), nil)
        case .f32?: (biasS32, biasF32) = (nil, try c.bias?.scalars(as: Float.self))
        case let t?: throw QNNPackError.unsupported("bias must be s32 or f32, got \(t)")
        }
        if let n = (biasS32?.count ?? biasF32?.count), n != channels {
            throw QNNPackError.shape("bias has \(n) values, expected \(channels)")
        }
        let (qlo, qhi) = outQ.map { $0.outputRange(applying: s.postOps) } ?? (0, 0)
        let (flo, fhi) = PostOp.realRange(of: s.postOps)
        requantizers = (0..<channels).map { ch in
            let inW = inQ.scale() * wQ.scale(channel: wQ.scales.count == 1 ? 0 : ch)
            let multiplier = outQ.map { inW / $0.scale() } ?? 1
            var s32 = biasS32?[ch]
            var f32 = biasF32?[ch]
            if style == .fixedPoint, let b = f32 {
                // Fixed-point arithmetic has no float bias: round it to s32 with scale s_in·s_w.
                s32 = AffineQuantization.quantize(b, scale: inW, zeroPoint: 0, qmin: Int32.min, qmax: Int32.max)
                f32 = nil
            }
            return ChannelRequantizer(
                style: style, inputTimesWeightScale: inW, multiplier: multiplier,
                fixed: FixedPointMultiplier(Double(multiplier)), zeroPoint: outQ?.zeroPoint() ?? 0,
                qmin: qlo, qmax: qhi, biasS32: s32, biasF32: f32, floatLo: flo, floatHi: fhi)
        }
    }

    /// Writes accumulators `acc` (channel of element i = `channel(i)`) to `output`; with a
    /// fused sum, each requantized code then goes through `QuantizedSum.apply` with element i
    /// of `sumOperand` (the output's shape and order).
    func store(_ acc: [Int32], channel: (Int) -> Int, sumOperand: Tensor? = nil, into output: inout Tensor) throws {
        if outputType == .f32 {
            try QuantizedOperands.store(acc.indices.map { requantizers[channel($0)].real(acc[$0]) }, into: &output)
        } else if let sum {
            guard let sumOperand, sumOperand.shape == output.shape, sumOperand.dtype == outputType else {
                throw QNNPackError.missing("the sum operand: a \(outputType) tensor of the output's shape \(output.shape)")
            }
            let b = try QuantizedOperands.ints(sumOperand)
            try QuantizedOperands.store(acc.indices.map { sum.apply(requantizers[channel($0)].quantized(acc[$0]), b[$0]) }, into: &output)
        } else {
            try QuantizedOperands.store(acc.indices.map { requantizers[channel($0)].quantized(acc[$0]) }, into: &output)
        }
    }
}

/// Checks an input's shape and type against what the kernel was prepared for.
func checkInput(_ inputs: [Tensor], _ index: Int, _ shape: TensorShape) throws -> Tensor {
    guard index < inputs.count else { throw QNNPackError.missing("input \(index)") }
    let t = inputs[index]
    guard t.shape == shape else { throw QNNPackError.shape("input \(index) has shape \(t.shape), the kernel was prepared for \(shape)") }
    guard t.dtype == .u8 || t.dtype == .s8 else { throw QNNPackError.operandType(t.dtype) }
    return t
}

func checkOutput(_ output: Tensor, _ shape: TensorShape, _ type: DType) throws {
    guard output.shape == shape, output.dtype == type else {
        throw QNNPackError.shape("output is \(output.shape) \(output.dtype), expected \(shape) \(type)")
    }
}
