import Foundation
import OctetCore

/// ONNX RoiAlign (opsets 10–22): pools each region of interest of an N x C x H x W input into
/// an `output_height` x `output_width` grid. `rois` is R x 4 (x1, y1, x2, y2, scaled by
/// `spatial_scale`, shifted by −0.5 with `coordinate_transformation_mode` = half_pixel, else at
/// least 1 x 1), `batch_indices` (int64, R) picks each region's image. Each bin averages
/// (`mode` = avg) or takes the largest of (max) `sampling_ratio`² bilinear samples (adaptive:
/// ⌈roi size / bins⌉ per axis when 0); a sample beyond [−1, size] is 0, and coordinates are
/// clamped to the image. With max, each sample is the largest of its four weighted corners, as
/// onnx/reference/ops/op_roi_align.py and ONNX Runtime compute it. Output R x C x oH x oW;
/// floating element types, arithmetic in Double.
struct RoiAlignOperator: GraphOperator {
    let site: OperatorSite
    let halfPixel: Bool
    let max: Bool
    let outputSize: (h: Int, w: Int)
    let samplingRatio: Int
    let spatialScale: Double

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["RoiAlign"] = { n, opset in try RoiAlignOperator(n, opset: opset) }
    }

    /// - Throws: `GraphError` naming the node and attribute for an unknown mode or
    ///   transformation, output sizes below 1 or a negative sampling ratio.
    init(_ n: Node, opset: Int) throws {
        site = OperatorSite(n)
        let transform = try n.string("coordinate_transformation_mode", default: opset >= 16 ? "half_pixel" : "output_half_pixel")
        let mode = try n.string("mode", default: "avg")
        guard ["half_pixel", "output_half_pixel"].contains(transform) else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "coordinate_transformation_mode", expected: "half_pixel or output_half_pixel", got: transform)
        }
        guard mode == "avg" || mode == "max" else { throw GraphError.attribute(node: n.name, opType: n.opType, name: "mode", expected: "avg or max", got: mode) }
        (halfPixel, max) = (transform == "half_pixel", mode == "max")
        outputSize = (try n.int("output_height", default: 1), try n.int("output_width", default: 1))
        samplingRatio = try n.int("sampling_ratio", default: 0)
        spatialScale = Double(try n.float("spatial_scale", default: 1))
        guard outputSize.h >= 1, outputSize.w >= 1, samplingRatio >= 0 else {
            throw site.error("output_height and output_width must be ≥ 1 and sampling_ratio ≥ 0, got \(outputSize.h), \(outputSize.w), \(samplingRatio)")
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), rois = try site.type(inputs, 1, "rois"), indices = try site.type(inputs, 2, "batch_indices")
        guard x.dtype.isFloatingPoint, rois.dtype == x.dtype, indices.dtype == .s64 else {
            throw site.error("needs floating-point X and rois of one type and int64 batch_indices, got \(x.dtype), \(rois.dtype), \(indices.dtype)")
        }
        guard let xs = x.shape, let rs = rois.shape else { return [ValueType(x.dtype, nil)] }
        guard xs.rank == 4, rs.rank == 2 else { throw site.error("needs X N x C x H x W and rois R x 4, got \(xs) and \(rs)") }
        return [ValueType(x.dtype, SymbolicShape([rs.dims[0], xs.dims[1], .fixed(outputSize.h), .fixed(outputSize.w)]))]
    }

    struct Kernel: FloatVisitor {
        /// Bilinear samples one run may take over all rois (2^28: Mask R-CNN's 1000 rois x 256
        /// channels x 7 x 7 bins x 2 x 2 samples take 2^25.6).
        static let sampleBudget = 1 << 28
        let op: RoiAlignOperator
        let x: Tensor, rois: Tensor
        let batches: [Int]

        func visit<T: FloatElement>(_: T.Type, into out: inout Tensor) throws {
            let (c, h, w) = (x.shape.dims[1], x.shape.dims[2], x.shape.dims[3]), (oh, ow) = op.outputSize
            // Every sample reads (or weighs) an element of the image: an empty one has none.
            guard h > 0 && w > 0 || out.shape.elementCount == 0 else {
                throw op.site.error("cannot sample X \(x.shape), whose spatial axes are empty, for \(batches.count) rois")
            }
            let xv = try x.scalars(as: T.self).map(\.asDouble), rv = try rois.scalars(as: T.self).map(\.asDouble)
            let shift = op.halfPixel ? 0.5 : 0
            // Samples taken so far over all rois (each bilinear over four corners): at most
            // `sampleBudget`, so a file cannot ask for hours of work.
            var samples = 0
            try out.withUnsafeMutableBufferPointer(as: T.self) { y in
                for (r, batch) in batches.enumerated() {
                    let (x0, y0) = (rv[r * 4] * op.spatialScale - shift, rv[r * 4 + 1] * op.spatialScale - shift)
                    var (rw, rh) = (rv[r * 4 + 2] * op.spatialScale - shift - x0, rv[r * 4 + 3] * op.spatialScale - shift - y0)
                    if !op.halfPixel { (rw, rh) = (Swift.max(rw, 1), Swift.max(rh, 1)) }
                    guard [x0, y0, rw, rh].allSatisfy(\.isFinite) else {
                        throw op.site.error("roi \(r) is not finite after spatial_scale (\(x0), \(y0), width \(rw), height \(rh))")
                    }
                    let (bh, bw) = (rh / Double(oh), rw / Double(ow))
                    // The adaptive grid (ceil(extent / bins), no samples for an empty or negative
                    // extent); a grid whose samples would exceed the budget is refused.
                    func grid(_ extent: Double, _ bins: Int) throws -> Int {
                        if op.samplingRatio > 0 { return op.samplingRatio }
                        let v = Swift.max(0, ceil(extent / Double(bins)))
                        guard v <= Double(Self.sampleBudget) else { throw op.site.error("roi \(r) needs \(v) samples per bin side; at most \(Self.sampleBudget)") }
                        return Int(v)
                    }
                    let (gh, gw) = (try grid(rh, oh), try grid(rw, ow))
                    let work = try? [gh, gw, c, oh, ow].checkedProduct()
                    guard let work, work <= Self.sampleBudget - samples else {
                        throw op.site.error("roi \(r) needs \(gh) x \(gw) samples per bin over \(c) x \(oh) x \(ow) bins; at most \(Self.sampleBudget) over all rois")
                    }
                    samples += work
                    let count = Double(Swift.max(gh * gw, 1))
                    for ch in 0..<c {
                        let base = (batch * c + ch) * h * w
                        for ph in 0..<oh {
                            for pw in 0..<ow {
                                var acc = 0.0, best: Double?
                                for iy in 0..<gh {
                                    for ix in 0..<gw {
                                        var sy = y0 + Double(ph) * bh + (Double(iy) + 0.5) * bh / Double(gh)
                                        var sx = x0 + Double(pw) * bw + (Double(ix) + 0.5) * bw / Double(gw)
                                        // The four bilinear terms (all 0 outside the image).
                                        var (t0, t1, t2, t3) = (0.0, 0.0, 0.0, 0.0)
                                        if !(sy < -1 || sy > Double(h) || sx < -1 || sx > Double(w)) {
                                            (sy, sx) = (Swift.max(sy, 0), Swift.max(sx, 0))
                                            var (yl, xl) = (Int(sy), Int(sx)), (yh, xh) = (0, 0)
                                            if yl >= h - 1 { (yl, yh, sy) = (h - 1, h - 1, Double(h - 1)) } else { yh = yl + 1 }
                                            if xl >= w - 1 { (xl, xh, sx) = (w - 1, w - 1, Double(w - 1)) } else { xh = xl + 1 }
                                            let (ly, lx) = (sy - Double(yl), sx - Double(xl))
                                            t0 = (1 - ly) * (1 - lx) * xv[base + yl * w + xl]
                                            t1 = (1 - ly) * lx * xv[base + yl * w + xh]
                                            t2 = ly * (1 - lx) * xv[base + yh * w + xl]
                                            t3 = ly * lx * xv[base + yh * w + xh]
                                        } else {
                                            // As ONNX's reference and ONNX Runtime: weight 0 on element 0 (a NaN or
                                            // infinite first element still propagates).
                                            let z = 0 * xv[base]
                                            (t0, t1, t2, t3) = (z, z, z, z)
                                        }
                                        acc += ((t0 + t1) + t2) + t3
                                        let m = Swift.max(Swift.max(Swift.max(t0, t1), t2), t3)
                                        best = best.map { Swift.max($0, m) } ?? m
                                    }
                                }
                                y[((r * c + ch) * oh + ph) * ow + pw] = T(converting: op.max ? (best ?? 0) : acc / count)
                            }
                        }
                    }
                }
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0), rois = try site.tensor(inputs, 1), indices = try site.tensor(inputs, 2)
        let r = rois.shape.dims.first ?? 0
        guard x.shape.rank == 4, rois.shape.dims == [r, 4], indices.shape.dims == [r] else {
            throw site.error("needs X N x C x H x W, rois R x 4 and batch_indices R, got \(x.shape), \(rois.shape), \(indices.shape)")
        }
        let batches = try indices.scalars(as: Int64.self).map { Int($0) }
        if let bad = batches.first(where: { $0 < 0 || $0 >= x.shape.dims[0] }) {
            throw site.error("batch index \(bad) is outside X's \(x.shape.dims[0]) images")
        }
        guard try x.dtype.visitFloat(Kernel(op: self, x: x, rois: rois, batches: batches), into: &outputs[0]) != nil else {
            throw site.error("needs a floating-point X, got \(x.dtype)")
        }
    }
}
