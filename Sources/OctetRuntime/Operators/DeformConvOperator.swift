import Foundation
import OctetCore

/// ONNX DeformConv (opsets 19–22), 2-D: a convolution whose every kernel tap samples the
/// input at a learned offset. X is N x C x H x W, W is oC x C/group x kH x kW, `offset` is
/// N x (offset_group · 2 · kH · kW) x oH x oW ((dy, dx) per tap, the output size is its last
/// two axes), optional B (oC) and `mask` (N x (offset_group · kH · kW) x oH x oW, default 1).
/// Output position (oh, ow), tap (i, j) of input channel c (in offset group
/// c / (C / offset_group)) reads X bilinearly at
/// `(oh · sH − padTop + i · dH + dy, ow · sW − padLeft + j · dW + dx)`, zero outside the
/// image, times the mask; `Y[n, o] = B[o] + Σ W[o, c', i, j] · sample` over the group's input
/// channels (ONNX operator spec, DeformConv; onnx/reference/ops/op_deform_conv.py).
/// Floating element types; sums in Double.
struct DeformConvOperator: GraphOperator {
    let site: OperatorSite
    let node: Node
    let group: Int
    let offsetGroup: Int

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["DeformConv"] = { n, _ in try DeformConvOperator(n) }
    }

    /// - Throws: `GraphError` naming the node when group or offset_group is below 1.
    init(_ n: Node) throws {
        site = OperatorSite(n)
        node = n
        group = try n.int("group", default: 1)
        offsetGroup = try n.int("offset_group", default: 1)
        guard group >= 1, offsetGroup >= 1 else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: group < 1 ? "group" : "offset_group", expected: "≥ 1", got: "\(min(group, offsetGroup))")
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), w = try site.type(inputs, 1, "weight"), offset = try site.type(inputs, 2, "offset")
        guard x.dtype.isFloatingPoint, w.dtype == x.dtype, offset.dtype == x.dtype else {
            throw site.error("needs floating-point X, W and offset of one type, got \(x.dtype), \(w.dtype), \(offset.dtype)")
        }
        guard let xs = x.shape, let ws = w.shape, let os = offset.shape else { return [ValueType(x.dtype, nil)] }
        guard xs.rank == 4, ws.rank == 4, os.rank == 4 else {
            throw site.error("only 2-D deformable convolution is supported: X N x C x H x W, W oC x C/group x kH x kW, offset N x … x oH x oW; got \(xs), \(ws), \(os)")
        }
        return [ValueType(x.dtype, SymbolicShape([xs.dims[0], ws.dims[0], os.dims[2], os.dims[3]]))]
    }

    struct Kernel: FloatVisitor {
        let x: Tensor, w: Tensor, offset: Tensor, bias: Tensor?, mask: Tensor?
        let window: WindowGeometry
        let pads: [Int]
        let group: Int, offsetGroup: Int

        func visit<T: FloatElement>(_: T.Type, into out: inout Tensor) throws {
            let (nb, c, ih, iw) = (x.shape.dims[0], x.shape.dims[1], x.shape.dims[2], x.shape.dims[3])
            let (oc, cg, kh, kw) = (w.shape.dims[0], w.shape.dims[1], w.shape.dims[2], w.shape.dims[3])
            let (oh, ow) = (offset.shape.dims[2], offset.shape.dims[3]), taps = kh * kw, plane = oh * ow
            let xv = try x.scalars(as: T.self).map(\.asDouble), wv = try w.scalars(as: T.self).map(\.asDouble)
            let ov = try offset.scalars(as: T.self).map(\.asDouble)
            let bv = try bias?.scalars(as: T.self).map(\.asDouble), mv = try mask?.scalars(as: T.self).map(\.asDouble)
            let perOffsetGroup = c / offsetGroup, perGroup = oc / group
            // Bilinear sample of channel plane `base` at (y, x), zero outside.
            func sample(_ base: Int, _ y: Double, _ xx: Double) -> Double {
                // Every corner of a point at or beyond −1 / the size lies outside (zero); a
                // NaN or infinite offset samples nothing either.
                guard y > -1, y < Double(ih), xx > -1, xx < Double(iw) else { return 0 }
                let y0 = Int(floor(y)), x0 = Int(floor(xx)), fy = y - Double(y0), fx = xx - Double(x0)
                var v = 0.0
                for (dy, wy) in [(0, 1 - fy), (1, fy)] where wy != 0 {
                    for (dx, wx) in [(0, 1 - fx), (1, fx)] where wx != 0 {
                        let (yy, xc) = (y0 + dy, x0 + dx)
                        if yy >= 0 && yy < ih && xc >= 0 && xc < iw { v += wy * wx * xv[base + yy * iw + xc] }
                    }
                }
                return v
            }
            var y = [Double](repeating: 0, count: nb * oc * plane)
            var columns = [Double](repeating: 0, count: c * taps)
            for n in 0..<nb {
                for p in 0..<plane {
                    let (i, j) = (p / ow, p % ow)
                    for ch in 0..<c {
                        let g = ch / perOffsetGroup
                        for t in 0..<taps {
                            let (ki, kj) = (t / kw, t % kw)
                            let dy = ov[((n * offsetGroup + g) * taps * 2 + 2 * t) * plane + p]
                            let dx = ov[((n * offsetGroup + g) * taps * 2 + 2 * t + 1) * plane + p]
                            let m = mv.map { $0[((n * offsetGroup + g) * taps + t) * plane + p] } ?? 1
                            let sy = Double(i * window.strides[0] - pads[0] + ki * window.dilations[0]) + dy
                            let sx = Double(j * window.strides[1] - pads[1] + kj * window.dilations[1]) + dx
                            columns[ch * taps + t] = m == 0 ? 0 : m * sample((n * c + ch) * ih * iw, sy, sx)
                        }
                    }
                    for o in 0..<oc {
                        let first = (o / perGroup) * cg
                        var acc = bv?[o] ?? 0
                        for ci in 0..<cg { for t in 0..<taps { acc += wv[(o * cg + ci) * taps + t] * columns[(first + ci) * taps + t] } }
                        y[(n * oc + o) * plane + p] = acc
                    }
                }
            }
            try out.withUnsafeMutableBufferPointer(as: T.self) { d in for k in 0..<y.count { d[k] = T(converting: y[k]) } }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0), w = try site.tensor(inputs, 1), offset = try site.tensor(inputs, 2)
        let bias = inputs.count > 3 ? inputs[3] : nil, mask = inputs.count > 4 ? inputs[4] : nil
        guard x.shape.rank == 4, w.shape.rank == 4, offset.shape.rank == 4 else {
            throw site.error("only 2-D deformable convolution is supported; got X \(x.shape), W \(w.shape), offset \(offset.shape)")
        }
        let (nb, c, oc, cg) = (x.shape.dims[0], x.shape.dims[1], w.shape.dims[0], w.shape.dims[1])
        let (kh, kw) = (w.shape.dims[2], w.shape.dims[3])
        guard c % group == 0, c / group == cg, oc % group == 0, c % offsetGroup == 0 else {
            throw site.error("X has \(c) channels; W \(w.shape) with group \(group) needs C = \(cg) · group and oC divisible by group, and offset_group \(offsetGroup) must divide C")
        }
        let window = try WindowGeometry(node, kernel: try node.ints("kernel_shape") ?? [kh, kw])
        guard window.kernel == [kh, kw] else { throw site.error("kernel_shape \(window.kernel) disagrees with W \(w.shape)") }
        let (pads, out) = try window.resolve([x.shape.dims[2], x.shape.dims[3]])
        let (oh, ow) = (offset.shape.dims[2], offset.shape.dims[3])
        // offset_group is only bounded by C's divisibility (any value divides C = 0).
        guard let taps = try? [offsetGroup, kh, kw].checkedProduct(), let offsetChannels = try? taps.multiplied(by: 2) else {
            throw site.error("offset_group \(offsetGroup) · kH \(kh) · kW \(kw) overflows a 64-bit integer")
        }
        guard out == [oh, ow], offset.shape.dims[0] == nb, offset.shape.dims[1] == offsetChannels else {
            throw site.error("offset must be \(nb) x \(offsetChannels) x \(out[0]) x \(out[1]) (offset_group · 2 · kH · kW, the output size), got \(offset.shape)")
        }
        if let bias, bias.shape.elementCount != oc { throw site.error("B must hold \(oc) values, got \(bias.shape)") }
        if let mask, mask.shape.dims != [nb, taps, oh, ow] {
            throw site.error("mask must be \(nb) x \(taps) x \(oh) x \(ow), got \(mask.shape)")
        }
        // An empty output reads nothing (with oC > 0, group ≤ oC bounds C · kH · kW by W's size).
        guard outputs[0].shape.elementCount > 0 else { return }
        let kernel = Kernel(x: x, w: w, offset: offset, bias: bias, mask: mask, window: window, pads: pads, group: group, offsetGroup: offsetGroup)
        guard try x.dtype.visitFloat(kernel, into: &outputs[0]) != nil else { throw site.error("needs a floating-point X, got \(x.dtype)") }
    }
}
