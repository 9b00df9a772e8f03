import OctetCore

/// ONNX NonMaxSuppression (opsets 10–22). `boxes` f32 B x S x 4, `scores` f32 B x K x S, and
/// optional scalars `max_output_boxes_per_class` (int64, default 0: select none),
/// `iou_threshold` (f32, default 0) and `score_threshold` (f32; when given, only boxes whose
/// score is strictly greater are candidates). For each batch and class, candidates are taken
/// by descending score (the lower box index first on a tie) and kept unless their IoU with a
/// box already kept for that class is strictly greater than `iou_threshold`, up to the
/// maximum. Boxes are `[y1, x1, y2, x2]` corners in either order (`center_point_box` = 0) or
/// `[x_center, y_center, width, height]` (1); a box of no area suppresses nothing. The output
/// is int64 N x 3: `[batch, class, box]` per kept box, by batch, class, then selection order
/// (ONNX operator spec, NonMaxSuppression; onnx/reference/ops/op_non_max_suppression.py).
/// Arithmetic in f32, as the spec's reference and ONNX Runtime.
struct NonMaxSuppressionOperator: DataShapedOperator {
    let site: OperatorSite
    let centerPointBox: Bool

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["NonMaxSuppression"] = { n, _ in
            let c = try n.int("center_point_box", default: 0)
            guard c == 0 || c == 1 else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "center_point_box", expected: "0 (corners) or 1 (center, size)", got: "\(c)")
            }
            return NonMaxSuppressionOperator(site: OperatorSite(n), centerPointBox: c == 1)
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let boxes = try site.type(inputs, 0, "boxes"), scores = try site.type(inputs, 1, "scores")
        guard boxes.dtype == .f32, scores.dtype == .f32 else { throw site.error("needs f32 boxes and scores, got \(boxes.dtype) and \(scores.dtype)") }
        return [ValueType(.s64, SymbolicShape([.symbol("\(site.node):selected"), .fixed(3)]))]
    }

    /// The box's (min y, min x, max y, max x).
    private func corners(_ b: ArraySlice<Float>) -> (Float, Float, Float, Float) {
        let i = b.startIndex
        if centerPointBox {
            let (hw, hh) = (b[i + 2] / 2, b[i + 3] / 2)
            return (b[i + 1] - hh, b[i] - hw, b[i + 1] + hh, b[i] + hw)
        }
        return (min(b[i], b[i + 2]), min(b[i + 1], b[i + 3]), max(b[i], b[i + 2]), max(b[i + 1], b[i + 3]))
    }

    /// Whether box a suppresses box b: their IoU is above the threshold.
    private func suppresses(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>, threshold: Float) -> Bool {
        let (ay0, ax0, ay1, ax1) = corners(a), (by0, bx0, by1, bx1) = corners(b)
        let (ix0, ix1, iy0, iy1) = (max(ax0, bx0), min(ax1, bx1), max(ay0, by0), min(ay1, by1))
        guard ix1 > ix0, iy1 > iy0 else { return false }
        let inter = (ix1 - ix0) * (iy1 - iy0)
        let areaA = (ax1 - ax0) * (ay1 - ay0), areaB = (bx1 - bx0) * (by1 - by0)
        let union = areaA + areaB - inter
        guard inter > 0, areaA > 0, areaB > 0, union > 0 else { return false }
        return inter / union > threshold
    }

    /// Optional scalar input `i`'s first value, as Double.
    private func scalar(_ inputs: [Tensor?], _ i: Int) throws -> Double? {
        guard i < inputs.count, let t = inputs[i], t.shape.elementCount > 0 else { return nil }
        return try Elementwise.doubles(t).first
    }

    func runShaped(_ inputs: [Tensor?]) throws -> [Tensor] {
        let boxes = try site.tensor(inputs, 0), scores = try site.tensor(inputs, 1)
        guard boxes.shape.rank == 3, boxes.shape.dims[2] == 4, scores.shape.rank == 3,
              scores.shape.dims[0] == boxes.shape.dims[0], scores.shape.dims[2] == boxes.shape.dims[1] else {
            throw site.error("needs boxes B x S x 4 and scores B x K x S, got \(boxes.shape) and \(scores.shape)")
        }
        let (nb, nk, ns) = (scores.shape.dims[0], scores.shape.dims[1], scores.shape.dims[2])
        // max_output_boxes_per_class: int64 (2^63 - 1 is "no limit", as Double it is 2^63).
        let limit = try (2 < inputs.count ? inputs[2] : nil).flatMap { try site.indices($0, "max_output_boxes_per_class").first }.map { max(0, $0) } ?? 0
        let iou = Float(try scalar(inputs, 3) ?? 0), scoreThreshold = try scalar(inputs, 4).map(Float.init)
        let b = try boxes.scalars(as: Float.self), s = try scores.scalars(as: Float.self)
        var selected: [Int64] = []
        // No boxes: nothing is selected, however many (batch, class) pairs the shapes count.
        for batch in 0..<(ns == 0 ? 0 : nb) {
            func box(_ i: Int) -> ArraySlice<Float> { b[((batch * ns + i) * 4)..<((batch * ns + i) * 4 + 4)] }
            for k in 0..<nk {
                let base = (batch * nk + k) * ns
                let candidates = (0..<ns).filter { (i: Int) -> Bool in
                    guard let t = scoreThreshold else { return true }
                    return s[base + i] > t
                }.sorted { (i: Int, j: Int) -> Bool in
                    let (si, sj) = (s[base + i], s[base + j])
                    return si > sj || (si == sj && i < j)
                }
                var kept: [Int] = []
                for c in candidates where kept.count < limit {
                    guard !kept.contains(where: { suppresses(box(c), box($0), threshold: iou) }) else { continue }
                    kept.append(c)
                    selected += [Int64(batch), Int64(k), Int64(c)]
                }
            }
        }
        return [try Tensor(selected, shape: TensorShape([selected.count / 3, 3]))]
    }
}
