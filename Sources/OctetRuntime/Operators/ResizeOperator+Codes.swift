import OctetCore

extension ResizeOperator {
    /// Whether `dtype` is resized: f32 in every mode; u8/s8 codes in `nearest` mode, which
    /// copies input values (so it commutes with a per-tensor DequantizeLinear, and the
    /// quantized graph runs it on the codes: `QDQFusion.commutesWithDequantization`).
    func accepts(_ dtype: DType) -> Bool {
        dtype == .f32 || (mode == .nearest && dtype.isQuantized8Bit)
    }

    /// Nearest resizing of 8-bit codes, any rank: each output element copies the input
    /// element the f32 path's single nearest tap picks on every axis; an element outside a
    /// `tf_crop_and_resize` crop gets `extrapolation_value` rounded half to even (0 when NaN) and
    /// saturated to the type.
    func resizeCodes(_ x: Tensor, sizes: [Int], scales: [Double], roi: [(Double, Double)], into out: inout Tensor) throws {
        let dims = x.shape.dims, rank = dims.count
        var inStride = [Int](repeating: 1, count: rank)
        for a in stride(from: rank - 2, through: 0, by: -1) { inStride[a] = inStride[a + 1] * dims[a + 1] }
        // Per axis and output coordinate: the input offset it reads, or -1 (outside the crop).
        // 32-bit: an axis may be resized to millions of coordinates, and the input's
        // element count (all an offset can reach) is checked to fit.
        guard x.shape.elementCount <= Int(Int32.max) else { throw site.error("input of \(x.shape.elementCount) elements is too large to resize") }
        var offsets: [[Int32]] = [], t: [(Int, Double)] = []
        for a in 0..<rank {
            var column: [Int32] = []
            column.reserveCapacity(sizes[a])
            for o in 0..<sizes[a] {
                guard taps(o, inLength: dims[a], outLength: sizes[a], scale: scales[a], roi: roi[a], into: &t) else {
                    column.append(-1)
                    continue
                }
                guard t.count == 1, let i = t.first?.0 else { throw site.error("nearest resizing picked \(t.count) taps on axis \(a)") }
                column.append(Int32(i * inStride[a]))
            }
            offsets.append(column)
        }
        let (lo, hi): (Double, Double) = x.dtype == .s8 ? (-128, 127) : (0, 255)
        // A NaN extrapolation_value (no code holds it) fills 0, as ONNX Runtime's cast gives on x86.
        let fill = extrapolation.isNaN ? 0 : UInt8(truncatingIfNeeded: Int(min(max(extrapolation.rounded(.toNearestOrEven), lo), hi)))
        let count = out.shape.elementCount
        guard count > 0 else { return }
        x.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                var index = [Int](repeating: 0, count: rank)
                for i in 0..<count {
                    var offset = 0, inside = true
                    for a in 0..<rank {
                        let o = offsets[a][index[a]]
                        guard o >= 0 else { inside = false; break }
                        offset += Int(o)
                    }
                    dst[i] = inside ? src[offset] : fill
                    var a = rank - 1
                    while a >= 0 {
                        index[a] += 1
                        if index[a] < sizes[a] { break }
                        index[a] = 0
                        a -= 1
                    }
                }
            }
        }
    }
}
