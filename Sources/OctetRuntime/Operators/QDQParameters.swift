import OctetCore

/// The scales and zero points of a QuantizeLinear or DequantizeLinear (or of a quantized
/// operand of QLinearConv, QLinearMatMul, a fused `QuantizedMatrixNode`): the one reader
/// the fusion passes, the quantized operators and matrix planning share.
///
/// Scales are f32, finite and > 0 with a finite reciprocal (`scaleValues`); zero points
/// are u8, s8 or s32, as many as the scales (zeros of `zeroPointType`'s kind when
/// absent); one of each means per tensor, more means per channel along `axis`.
struct QDQParameters: Sendable {
    var scales: [Float]
    var zeroPoints: [Int32]
    /// The zero point's element type, `nil` when the input is absent (u8 by ONNX's rule).
    var zeroPointType: DType?
    /// The quantized axis (ONNX's `axis` attribute, default 1).
    var axis: Int

    /// Reads scale and zero point tensors; errors name the node and the input.
    init(scale: Tensor, zeroPoint: Tensor?, axis: Int = 1, site: OperatorSite, scaleInput: Int = 1) throws {
        scales = try scaleValues(scale, input: scaleInput, site)
        if let zeroPoint {
            zeroPoints = try integerValues(zeroPoint, site)
            zeroPointType = zeroPoint.dtype
        } else {
            zeroPoints = Array(repeating: 0, count: scales.count)
            zeroPointType = nil
        }
        self.axis = axis
        guard zeroPoints.count == scales.count else {
            throw site.error("\(scales.count) scales but \(zeroPoints.count) zero points (input \(scaleInput + 1))")
        }
    }

    /// The parameters of QuantizeLinear / DequantizeLinear node `n` when its scale and zero
    /// point are constants of `g` and valid; `nil` otherwise (a pass then leaves it alone).
    init?(node n: Node, in g: Graph) {
        guard let s = n.input(1), let scale = g.initializers[s], (try? n.int("block_size", default: 0)) == 0,
              let zeroPoint: Tensor? = n.input(2).map({ g.initializers[$0] }) ?? .some(nil),
              let p = try? QDQParameters(scale: scale, zeroPoint: zeroPoint, axis: (try? n.int("axis", default: 1)) ?? 1, site: OperatorSite(n))
        else { return nil }
        self = p
    }

    /// Channel `c`'s scale and zero point (the only ones when per tensor).
    func scale(_ c: Int) -> Float { scales.count == 1 ? scales[0] : scales[c] }
    func zeroPoint(_ c: Int) -> Int32 { zeroPoints.count == 1 ? zeroPoints[0] : zeroPoints[c] }

    /// Whether both quantize to the same values: same scales, zero points and type.
    func sameQuantization(as other: QDQParameters) -> Bool {
        scales == other.scales && zeroPoints == other.zeroPoints && (zeroPointType ?? .u8) == (other.zeroPointType ?? .u8)
    }

    /// Channel of element `i` of `shape` along `axis` (0 when per tensor).
    func channelIndexer(_ shape: TensorShape, site: OperatorSite) throws -> (Int) -> Int {
        guard scales.count > 1 else { return { _ in 0 } }
        let a = try site.axis(axis, rank: shape.rank)
        guard shape.dims[a] == scales.count else { throw site.error("\(scales.count) scales for axis \(a) of size \(shape.dims[a])") }
        let inner = shape.dims[(a + 1)...].reduce(1, *), n = scales.count
        return { ($0 / inner) % n }
    }
}
