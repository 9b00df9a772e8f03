/// A residual add fused into the 8-bit output of a convolution as a `sum` post-op (the
/// residual Add of a static INT8 CNN, `ConvSumFusion`): ONNX Runtime's QLinearAdd, or the QDQ
/// graph DequantizeLinear(a), DequantizeLinear(b) → Add (→ Relu) → QuantizeLinear, applied to
/// the op's own code and a second tensor of the output's shape, type and memory layout.
///
/// For each element, with `q` the op's own requantized code (clamped to its type and to its
/// ReLU / Clip bounds) and `b` the element of the sum operand at the same position:
/// `y = clamp(rne(((q − z_a)·s_a + (b − z_b)·s_b) / s_y) + z_y, qmin, qmax)` in f32 — the
/// two products, their sum, the division and the rounding (half to even) in that order, with no
/// fused multiply-add — exactly as the QDQ graph evaluated in f32 and the built-in
/// `QuantizedAdd` compute it, so the fused op gives the unfused graph's codes bit for bit. A
/// fused ReLU is `qmin = z_y`; a 7-bit output is `qmax = 127`.
public struct QuantizedSum: Sendable, Hashable, CustomStringConvertible {
    /// How the op's own codes are read: the Add's first-operand parameters.
    public var opScale: Float, opZeroPoint: Int32
    /// The sum operand's parameters.
    public var operandScale: Float, operandZeroPoint: Int32
    /// The result's parameters.
    public var outputScale: Float, outputZeroPoint: Int32
    /// Bounds of the result's codes (within its type's range).
    public var qmin: Int32, qmax: Int32

    public init(opScale: Float, opZeroPoint: Int32, operandScale: Float, operandZeroPoint: Int32,
                outputScale: Float, outputZeroPoint: Int32, qmin: Int32, qmax: Int32) {
        (self.opScale, self.opZeroPoint) = (opScale, opZeroPoint)
        (self.operandScale, self.operandZeroPoint) = (operandScale, operandZeroPoint)
        (self.outputScale, self.outputZeroPoint) = (outputScale, outputZeroPoint)
        (self.qmin, self.qmax) = (qmin, qmax)
    }

    /// The result code of op code `q` and operand code `b`.
    @inlinable
    public func apply(_ q: Int32, _ b: Int32) -> Int32 {
        let a: Float = Float(q - opZeroPoint) * opScale
        let c: Float = Float(b - operandZeroPoint) * operandScale
        let real: Float = a + c
        return AffineQuantization.saturatingRound(real / outputScale, zeroPoint: outputZeroPoint, qmin: qmin, qmax: qmax)
    }

    public var description: String {
        "sum(\(opScale)·(q−\(opZeroPoint)) + \(operandScale)·(b−\(operandZeroPoint)) → \(outputScale), \(outputZeroPoint), [\(qmin), \(qmax)])"
    }
}
