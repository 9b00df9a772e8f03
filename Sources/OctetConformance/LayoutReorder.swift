import OctetCore

/// Reorders a 4-D tensor (logical N x C x H x W) between NCHW and NHWC memory order, for
/// running a channels-last backend against the NCHW reference.
public enum LayoutReorder {
    public static func reorder(_ t: Tensor, to target: TensorLayout) throws -> Tensor {
        let from: TensorLayout = t.layout == .nhwc ? .nhwc : .rowMajor
        let to: TensorLayout = target == .nhwc ? .nhwc : .rowMajor
        if from == to { return t }
        guard t.shape.rank == 4 else { throw TensorError.layoutNeedsRank4(layout: target, shape: t.shape) }
        switch t.dtype {
        case .u8: return try Tensor(permute(try t.scalars(as: UInt8.self), t.shape, toNHWC: to == .nhwc), shape: t.shape, layout: to, quantization: t.quantization)
        case .f32: return try Tensor(permute(try t.scalars(as: Float.self), t.shape, toNHWC: to == .nhwc), shape: t.shape, layout: to, quantization: t.quantization)
        case .s8: return try Tensor(permute(try t.scalars(as: Int8.self), t.shape, toNHWC: to == .nhwc), shape: t.shape, layout: to, quantization: t.quantization)
        default: throw TensorError.dtypeMismatch(expected: .u8, got: t.dtype)
        }
    }

    static func permute<T>(_ v: [T], _ shape: TensorShape, toNHWC: Bool) -> [T] {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        var out = v
        for b in 0..<n { for ch in 0..<c { for p in 0..<(h * w) {
            let nchw = (b * c + ch) * h * w + p, nhwc = (b * h * w + p) * c + ch
            if toNHWC { out[nhwc] = v[nchw] } else { out[nchw] = v[nhwc] }
        } } }
        return out
    }
}
