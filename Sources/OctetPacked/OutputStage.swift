import COctetPackedKernels
import OctetCore
import OctetDispatch

/// Per-column constants of the fused output pipeline, computed once at prepare with
/// FBGEMM's float arithmetic: `multiplier = (s_in·s_w) / s_out`, a float bias divided by
/// `s_in·s_w` (u8 output), or `s_in·s_w` and the bias itself (f32 output).
struct OutputStage: Sendable {
    let aZeroPoint: Int32, bZeroPoint: Int32
    let toF32: Bool
    let outZeroPoint: Int32, qmin: Int32, qmax: Int32
    let lo: Float, hi: Float
    let multiplier: [Float], dequantScale: [Float]
    let biasS32: [Int32]?, biasF32: [Float]?, biasReal: [Float]?
    /// A fused residual sum (`PostOp.sum`), applied by the store to the u8 codes.
    let sum: QuantizedSum?

    init(_ s: OpSignature, _ c: OpConstants, columns: Int, weightParams wQ: QuantParams) throws {
        guard let inQ = c.inputQuantization else { throw PackedError.missing("input quantization parameters") }
        guard wQ.scales.count == 1 || wQ.scales.count == columns else {
            throw PackedError.shape("\(wQ.scales.count) weight scales for \(columns) output channels")
        }
        sum = PostOp.sum(in: s.postOps)
        if sum != nil && s.outputType != .u8 { throw PackedError.unsupported("a fused residual sum needs a u8 output, got \(s.outputType)") }
        aZeroPoint = inQ.zeroPoint()
        bZeroPoint = wQ.zeroPoint()
        toF32 = s.outputType == .f32
        let inW = (0..<columns).map { inQ.scale() * wQ.scale(channel: wQ.scales.count == 1 ? 0 : $0) }
        let scaleOut: Float
        if toF32 {
            (outZeroPoint, qmin, qmax) = (0, 0, 0)
            scaleOut = 1
        } else {
            guard let outQ = c.outputQuantization, outQ.dtype == .u8, !outQ.isPerChannel else {
                throw PackedError.missing("per-tensor u8 output quantization parameters")
            }
            outZeroPoint = outQ.zeroPoint()
            (qmin, qmax) = outQ.outputRange(applying: s.postOps)
            scaleOut = outQ.scale()
        }
        multiplier = Self.padded(toF32 ? inW : inW.map { $0 / scaleOut })
        dequantScale = Self.padded(inW)
        (lo, hi) = PostOp.realRange(of: s.postOps)
        if let b = c.bias, b.shape.elementCount != columns {
            throw PackedError.shape("bias has \(b.shape.elementCount) values, expected \(columns)")
        }
        switch c.bias?.dtype {
        case nil: (biasS32, biasF32, biasReal) = (nil, nil, nil)
        case .s32?: (biasS32, biasF32, biasReal) = (Self.padded(try c.bias?.scalars(as: Int32.self) ?? []), nil, nil)
        case .f32?:
            let b = try c.bias?.scalars(as: Float.self) ?? []
            biasS32 = nil
            biasF32 = toF32 ? nil : Self.padded(zip(b, inW).map { $0 / $1 })
            biasReal = toF32 ? Self.padded(b) : nil
        case let t?: throw PackedError.unsupported("bias must be s32 or f32, got \(t)")
        }
    }

    /// Per-column arrays padded with 16 zeros: the AVX2 store reads whole 16-column panels.
    static func padded<T: Numeric>(_ a: [T]) -> [T] { a + [T](repeating: 0, count: 16) }

    /// Where the store reads a fused sum's operand: `values` holds the element of the output
    /// byte at `origin` (the operand has the output's layout).
    struct SumOperand {
        var values: UnsafePointer<UInt8>
        var origin: UnsafeRawPointer
    }

    /// The activation's parameters of one call of a dynamic convolution (f32 output), which
    /// replace the planned ones: the zero point (the column term −zp·Σw and the K·zp·zp_w term
    /// use it) and, per output column, `s_x · s_w[n]` (padded as `padded`, `dequantScale`'s layout).
    struct CallActivation {
        var zeroPoint: Int32
        var dequantScale: UnsafePointer<Float>
    }

    /// The C view of columns `offset ..< offset + n`, valid inside `body` (kernels that take
    /// no fused sum: the backend declines one for them).
    func withC<R>(columns offset: Int, _ body: (UnsafePointer<octet_packed_output>) throws -> R) rethrows -> R {
        try withC(columns: offset, nil, nil, body)
    }

    /// As `withC(columns:_:)`, with `operand` the fused sum's (required when the stage has one,
    /// ignored otherwise) and `activation` the call's own activation parameters (dynamic
    /// quantization; `nil`: the planned ones).
    func withC<R>(columns offset: Int, sum operand: SumOperand?, activation: CallActivation? = nil,
                  _ body: (UnsafePointer<octet_packed_output>) throws -> R) throws -> R {
        guard let sum else { return try withC(columns: offset, nil, activation, body) }
        guard let operand else { throw PackedError.missing("the fused sum's operand (input 1)") }
        var c = octet_packed_sum(operand: operand.values, origin: operand.origin.assumingMemoryBound(to: UInt8.self),
                                 op_scale: sum.opScale, operand_scale: sum.operandScale, output_scale: sum.outputScale,
                                 op_zero_point: sum.opZeroPoint, operand_zero_point: sum.operandZeroPoint, output_zero_point: sum.outputZeroPoint,
                                 qmin: sum.qmin, qmax: sum.qmax)
        return try withUnsafePointer(to: &c) { try withC(columns: offset, $0, activation, body) }
    }

    private func withC<R>(columns offset: Int, _ sum: UnsafePointer<octet_packed_sum>?, _ activation: CallActivation?,
                          _ body: (UnsafePointer<octet_packed_output>) throws -> R) rethrows -> R {
        func slice<T>(_ a: [T]?, _ f: (UnsafePointer<T>?) throws -> R) rethrows -> R {
            guard let a else { return try f(nil) }
            return try a.withUnsafeBufferPointer { try f($0.baseAddress.map { $0 + offset }) }
        }
        return try slice(multiplier) { m in
            try slice(dequantScale) { d in
                try slice(biasS32) { bs in
                    try slice(biasF32) { bf in
                        try slice(biasReal) { br in
                            var o = octet_packed_output(a_zero_point: activation?.zeroPoint ?? aZeroPoint, b_zero_point: bZeroPoint, bias_s32: bs, bias_f32: bf,
                                                        multiplier: m, out_zero_point: outZeroPoint, qmin: qmin, qmax: qmax,
                                                        dequant_scale: activation.map { $0.dequantScale + offset } ?? d, bias_real: br, lo: lo, hi: hi, to_f32: toF32 ? 1 : 0,
                                                        row_scales: nil, row_zero_points: nil, sum: sum)
                            return try body(&o)
                        }
                    }
                }
            }
        }
    }
}

/// Why the packed backend could not prepare or run an op.
public enum PackedError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupported(String)
    case missing(String)
    case shape(String)

    public var description: String {
        switch self {
        case let .unsupported(s): "packed: \(s)"
        case let .missing(s): "packed: missing \(s)"
        case let .shape(s): "packed: \(s)"
        }
    }
}
