import Foundation
import OctetCore

/// `Resize(X, roi, scales, sizes)` (opsets 10 to 19) on f32 tensors of any rank, and on
/// u8/s8 codes in `nearest` mode (`resizeCodes`).
///
/// Output size per axis: `sizes`, or `floor(input · scale)`; `axes` (opset 18) names the
/// axes they are for, and `keep_aspect_ratio_policy` (`stretch`, `not_larger`,
/// `not_smaller`) may replace sizes by one common scale. Each output coordinate maps to
/// an input coordinate by `coordinate_transformation_mode` (`half_pixel` default,
/// `half_pixel_symmetric`, `pytorch_half_pixel`, `align_corners`, `asymmetric`,
/// `tf_half_pixel_for_nn`, `tf_crop_and_resize` with `roi` and `extrapolation_value`);
/// opset 10 is `asymmetric` with `floor` rounding. `mode`: `nearest` (`nearest_mode`:
/// `round_prefer_floor` default, `round_prefer_ceil`, `floor`, `ceil`), `linear` or `cubic`
/// (`cubic_coeff_a`, default -0.75), separable over the axes; `exclude_outside` drops taps
/// outside the input and renormalizes; `antialias` (opset 18) widens the linear/cubic
/// kernel by 1/scale when downscaling. Taps beyond the edges repeat the edge value.
/// `scales`/`sizes`/`roi` must be known before running (they size the output).
struct ResizeOperator: GraphOperator {
    enum Mode: String, Sendable { case nearest, linear, cubic }
    /// `coordinate_transformation_mode`, by its ONNX spelling.
    enum CoordinateTransform: String, CaseIterable, Sendable {
        case halfPixel = "half_pixel", halfPixelSymmetric = "half_pixel_symmetric", pytorchHalfPixel = "pytorch_half_pixel"
        case alignCorners = "align_corners", asymmetric, tfHalfPixelForNN = "tf_half_pixel_for_nn", tfCropAndResize = "tf_crop_and_resize"
    }
    /// `nearest_mode`, by its ONNX spelling.
    enum NearestMode: String, CaseIterable, Sendable {
        case roundPreferFloor = "round_prefer_floor", roundPreferCeil = "round_prefer_ceil", floor, ceil
    }
    let site: OperatorSite
    let opset: Int
    let mode: Mode
    let transform: CoordinateTransform
    let nearestMode: NearestMode
    let cubicA: Double
    let excludeOutside: Bool
    let extrapolation: Double
    let antialias: Bool
    let axes: [Int]?
    let aspectPolicy: String

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["Resize"] = { n, opset in try ResizeOperator(n, opset: opset) }
        // Upsample (opset 9): Resize with a scales input, asymmetric coordinates, floor rounding.
        f["Upsample"] = { n, opset in
            guard opset >= 9 else { throw GraphError.node(node: n.name, opType: n.opType, detail: "Upsample with a scales attribute (opset \(opset)) is not supported") }
            return try ResizeOperator(n, opset: 10)
        }
    }

    init(_ n: Node, opset: Int) throws {
        site = OperatorSite(n)
        self.opset = opset
        let m = try n.string("mode", default: "nearest")
        guard let mode = Mode(rawValue: m == "bilinear" ? "linear" : m) else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "mode", expected: "nearest, linear or cubic", got: "\"\(m)\"")
        }
        self.mode = mode
        let t = opset < 11 ? "asymmetric" : try n.string("coordinate_transformation_mode", default: "half_pixel")
        guard let transform = CoordinateTransform(rawValue: t) else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "coordinate_transformation_mode",
                                       expected: CoordinateTransform.allCases.map(\.rawValue).joined(separator: ", "), got: "\"\(t)\"")
        }
        self.transform = transform
        let r = opset < 11 ? "floor" : try n.string("nearest_mode", default: "round_prefer_floor")
        guard let nearestMode = NearestMode(rawValue: r) else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "nearest_mode", expected: NearestMode.allCases.map(\.rawValue).joined(separator: ", "), got: "\"\(r)\"")
        }
        self.nearestMode = nearestMode
        cubicA = Double(try n.float("cubic_coeff_a", default: -0.75))
        excludeOutside = try n.int("exclude_outside", default: 0) != 0
        extrapolation = Double(try n.float("extrapolation_value", default: 0))
        antialias = try n.int("antialias", default: 0) != 0
        axes = try n.ints("axes")
        aspectPolicy = try n.string("keep_aspect_ratio_policy", default: "stretch")
        guard ["stretch", "not_larger", "not_smaller"].contains(aspectPolicy) else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "keep_aspect_ratio_policy", expected: "stretch, not_larger or not_smaller", got: "\"\(aspectPolicy)\"")
        }
    }

    /// Input indices of roi, scales, sizes for this opset (opset 10: X, scales).
    var scalesInput: Int { opset < 11 ? 1 : 2 }
    var sizesInput: Int? { opset < 11 ? nil : 3 }

    /// Output sizes and the scale of every axis.
    func geometry(_ input: [Int], _ values: [Tensor?]) throws -> (sizes: [Int], scales: [Double]) {
        let rank = input.count
        let targetAxes = try (axes ?? Array(0..<rank)).map { a throws(GraphError) in try site.axis(a, rank: rank, "axes entry") }
        func value(_ i: Int?) -> Tensor? { i.flatMap { $0 < values.count ? values[$0] : nil }.flatMap { $0.shape.elementCount > 0 ? $0 : nil } }
        var sizes = input, scales = [Double](repeating: 1, count: rank)
        if let s = value(sizesInput) {
            let given = try site.indices(s, "sizes")
            guard given.count == targetAxes.count else { throw site.error("sizes has \(given.count) values for \(targetAxes.count) axes") }
            var chosen = zip(targetAxes, given).map { a, v in Double(v) / Double(max(input[a], 1)) }
            if aspectPolicy != "stretch" {
                let common = aspectPolicy == "not_larger" ? chosen.min() ?? 1 : chosen.max() ?? 1
                chosen = chosen.map { _ in common }
            }
            for (k, a) in targetAxes.enumerated() {
                scales[a] = chosen[k]
                sizes[a] = aspectPolicy == "stretch" ? given[k] : try length((Double(input[a]) * chosen[k]).rounded(.toNearestOrEven), axis: a)
            }
        } else if let s = value(scalesInput) {
            guard s.dtype == .f32 else { throw site.error("scales must be f32, got \(s.dtype)") }
            let given = try s.scalars(as: Float.self)
            guard given.count == targetAxes.count else { throw site.error("scales has \(given.count) values for \(targetAxes.count) axes") }
            for (k, a) in targetAxes.enumerated() {
                guard given[k] > 0, given[k].isFinite else { throw site.error("scale \(given[k]) for axis \(a) must be positive") }
                scales[a] = Double(given[k])
                sizes[a] = try length((Double(input[a]) * Double(given[k])).rounded(.down), axis: a)
            }
        } else {
            throw site.error("needs scales or sizes")
        }
        return (sizes, scales)
    }

    /// An output length computed from a scale, as an Int.
    /// - Throws: `GraphError` when it is not finite or beyond what can be addressed (a huge scale).
    private func length(_ v: Double, axis: Int) throws -> Int {
        guard v.isFinite, let n = Int(exactly: v), n <= Int(Int32.max) * 64 else {
            throw site.error("axis \(axis) would have \(v) output elements: beyond what can be addressed")
        }
        return n
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard accepts(x.dtype) else {
            throw site.error("needs f32 input (or u8/s8 in nearest mode), got \(x.dtype) in \(mode.rawValue) mode")
        }
        guard let s = x.shape else { return [x] }
        if [1, scalesInput, sizesInput ?? -1].contains(where: { $0 >= 1 && site.isRuntimeValue(inputs, constants, $0) }) {
            return [site.runtimeShaped(x.dtype, rank: s.rank, "scales/sizes")]
        }
        guard let c = s.concrete else { return [site.runtimeShaped(x.dtype, rank: s.rank, "input")] }
        return [ValueType(x.dtype, try TensorShape(try geometry(c.dims, constants).sizes))]
    }

    /// The input coordinate of output coordinate `o` on one axis; `nil`: outside the crop.
    /// The output length in the formulas is `scale · input length`, before rounding down
    /// (as the ONNX reference computes it; with `sizes` it is the size itself).
    func coordinate(_ o: Int, inLength: Int, outLength: Int, scale: Double, roi: (Double, Double)) -> Double? {
        let x = Double(o), n = Double(inLength), m = scale * n
        switch transform {
        case .halfPixel: return (x + 0.5) / scale - 0.5
        case .halfPixelSymmetric:
            let adjustment = Double(outLength) / m, center = n / 2
            return center * (1 - adjustment) + (x + 0.5) / scale - 0.5
        case .pytorchHalfPixel: return m > 1 ? (x + 0.5) / scale - 0.5 : 0
        case .alignCorners: return m == 1 ? 0 : x * (n - 1) / (m - 1)
        case .tfHalfPixelForNN: return (x + 0.5) / scale
        case .tfCropAndResize:
            let c = m > 1 ? roi.0 * (n - 1) + x * (roi.1 - roi.0) * (n - 1) / (m - 1) : 0.5 * (roi.0 + roi.1) * (n - 1)
            return c < 0 || c > n - 1 ? nil : c
        case .asymmetric: return x / scale
        }
    }

    /// Taps (input index, weight) for one output coordinate, written over `weights` (its
    /// storage reused: an axis may have millions of coordinates, and an allocation per
    /// coordinate dominated such a resize); `false`: the extrapolation value, `weights` empty.
    func taps(_ o: Int, inLength: Int, outLength: Int, scale: Double, roi: (Double, Double), into weights: inout [(Int, Double)]) -> Bool {
        weights.removeAll(keepingCapacity: true)
        guard let x = coordinate(o, inLength: inLength, outLength: outLength, scale: scale, roi: roi) else { return false }
        let last = inLength - 1
        if mode == .nearest {
            var i: Double
            switch nearestMode {
            case .floor: i = x.rounded(.down)
            case .ceil: i = x.rounded(.up)
            case .roundPreferCeil: i = x.rounded(.toNearestOrAwayFromZero); if x - x.rounded(.down) == 0.5 { i = x.rounded(.up) }
            case .roundPreferFloor: i = x.rounded(.toNearestOrAwayFromZero); if x - x.rounded(.down) == 0.5 { i = x.rounded(.down) }
            }
            weights.append((min(max(Int(i), 0), last), 1))
            return true
        }
        var base = x.rounded(.down), r = x - base
        if r == 0 { base -= 1; r = 1 }
        let s = antialias && scale < 1 ? scale : 1
        if mode == .linear {
            let start = antialias && scale < 1 ? Int((-1 / s).rounded(.down)) + 1 : 0
            let count = 2 - 2 * start
            for k in start..<(start + count) {
                weights.append((Int(base) + k, max(0, min(1, 1 - Swift.abs((Double(k) - r) * s)))))
            }
        } else {
            let start = antialias && scale < 1 ? Int((-2 / s).rounded(.down)) + 1 : -1
            let end = 2 - start
            for k in start..<end { weights.append((Int(base) + k, cubic((Double(k) - r) * s))) }
        }
        if excludeOutside { for k in weights.indices where weights[k].0 < 0 || weights[k].0 > last { weights[k].1 = 0 } }
        let total = weights.reduce(0) { $0 + $1.1 }
        if (antialias && scale < 1) || excludeOutside, total != 0 { for k in weights.indices { weights[k].1 /= total } }
        for k in weights.indices { weights[k].0 = min(max(weights[k].0, 0), last) }
        return true
    }

    func cubic(_ t: Double) -> Double {
        let x = Swift.abs(t), a = cubicA
        if x <= 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return 0
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let dims = x.shape.dims, rank = dims.count
        let (sizes, scales) = try geometry(dims, inputs)
        guard sizes == outputs[0].shape.dims else { throw site.error("output \(sizes) differs from the planned \(outputs[0].shape)") }
        if let a = (0..<rank).first(where: { dims[$0] == 0 && sizes[$0] > 0 }) {
            throw site.error("axis \(a) of the input is empty; it cannot be resized to \(sizes[a])")
        }
        // Nothing to compute: the other axes of an empty output may be huge (no tap tables for them).
        guard outputs[0].shape.elementCount > 0 else { return }
        var roi = [(Double, Double)](repeating: (0, 1), count: rank)
        if transform == .tfCropAndResize, opset >= 11, inputs.count > 1, let r = inputs[1], r.shape.elementCount > 0 {
            let v = try Elementwise.doubles(r)
            let targetAxes = try (axes ?? Array(0..<rank)).map { a throws(GraphError) in try site.axis(a, rank: rank) }
            guard v.count == 2 * targetAxes.count else { throw site.error("roi has \(v.count) values for \(targetAxes.count) axes") }
            guard v.allSatisfy(\.isFinite) else { throw site.error("roi \(v) must hold finite values (input 1, coordinate_transformation_mode tf_crop_and_resize)") }
            for (k, a) in targetAxes.enumerated() { roi[a] = (v[k], v[k + targetAxes.count]) }
        }
        if x.dtype != .f32 {
            guard accepts(x.dtype) else { throw site.error("needs f32 input (or u8/s8 in nearest mode), got \(x.dtype)") }
            return try resizeCodes(x, sizes: sizes, scales: scales, roi: roi, into: &outputs[0])
        }
        if try nearestFastPath(x, sizes: sizes, scales: scales, roi: roi, into: &outputs[0]) { return }
        // Separable passes, axis by axis; an output element is the extrapolation value
        // when any of its coordinates falls outside the crop.
        var current = try x.scalars(as: Float.self).map(Double.init)
        var shape = dims
        var outside = [[Bool]](repeating: [], count: rank)
        // Shrinking axes first: every intermediate holds at most max(input, output) elements.
        for a in (0..<rank).filter({ sizes[$0] <= dims[$0] }) + (0..<rank).filter({ sizes[$0] > dims[$0] }) {
            let inLength = dims[a], outLength = sizes[a]
            // Taps are computed per output coordinate, never tabulated: an axis may be
            // resized to millions of coordinates, and a table of tap arrays would hold
            // tens of bytes per coordinate on top of the output.
            let scale = scales[a], window = roi[a]
            var t: [(Int, Double)] = []
            var mask = [Bool](repeating: false, count: outLength), identity = inLength == outLength
            if identity {
                for o in 0..<outLength {
                    guard taps(o, inLength: inLength, outLength: outLength, scale: scale, roi: window, into: &t), t.count == 1, t[0].0 == o else { identity = false; break }
                }
            }
            if identity {
                outside[a] = mask
                continue
            }
            let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
            var next = [Double](repeating: 0, count: outer * outLength * inner)
            for o in 0..<outLength {
                guard taps(o, inLength: inLength, outLength: outLength, scale: scale, roi: window, into: &t) else { mask[o] = true; continue }
                for p in 0..<outer {
                    for j in 0..<inner {
                        var s = 0.0
                        for (i, w) in t where w != 0 { s += w * current[(p * inLength + i) * inner + j] }
                        next[(p * outLength + o) * inner + j] = s
                    }
                }
            }
            outside[a] = mask
            current = next
            shape[a] = outLength
        }
        let outShape = try TensorShape(sizes)
        let strides = Strided.strides(outShape)
        let extrapolation = Float(extrapolation)
        let anyOutside = outside.contains { $0.contains(true) }
        try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { d in
            for i in 0..<d.count {
                if anyOutside {
                    var rest = i, out = false
                    for a in 0..<rank { let c = rest / strides[a]; rest %= strides[a]; if outside[a][c] { out = true; break } }
                    if out { d[i] = extrapolation; continue }
                }
                d[i] = Float(current[i])
            }
        }
    }

    /// Nearest-neighbour resizing of the last two axes only (other axes kept) with every
    /// coordinate inside the input: a copy through index maps (`HotPathKernels.remap2D`),
    /// the same values the separable passes pick. `false` when it does not apply.
    func nearestFastPath(_ x: Tensor, sizes: [Int], scales: [Double], roi: [(Double, Double)], into out: inout Tensor) throws -> Bool {
        let dims = x.shape.dims, rank = dims.count
        guard mode == .nearest, rank >= 2, x.shape.elementCount > 0, Array(sizes[..<(rank - 2)]) == Array(dims[..<(rank - 2)]) else { return false }
        func map(_ a: Int) -> [Int32]? {
            var m: [Int32] = [], t: [(Int, Double)] = []
            m.reserveCapacity(sizes[a])
            for o in 0..<sizes[a] {
                guard taps(o, inLength: dims[a], outLength: sizes[a], scale: scales[a], roi: roi[a], into: &t), t.count == 1 else { return nil }
                m.append(Int32(t[0].0))
            }
            return m
        }
        // Leading axes must map every coordinate to itself (the separable passes skip them then).
        var t: [(Int, Double)] = []
        for a in 0..<(rank - 2) {
            for o in 0..<sizes[a] {
                guard taps(o, inLength: dims[a], outLength: sizes[a], scale: scales[a], roi: roi[a], into: &t), t.count == 1, t[0].0 == o else { return false }
            }
        }
        guard let ymap = map(rank - 2), let xmap = map(rank - 1) else { return false }
        HotPathKernels.remap2D(x, into: &out, ymap: ymap, xmap: xmap, fill: 0)
        return true
    }
}
