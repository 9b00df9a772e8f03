import OctetCore

/// Fuses an f32 `Clip(x, lo, hi)` read only by a per-tensor `QuantizeLinear(·, s, z)` into
/// the QuantizeLinear, as code bounds: the node becomes `QuantizeLinear(x, s, z)` with
/// `octet.qmin` = Q(lo) and `octet.qmax` = Q(hi), where Q(v) = sat(rne(v / s) + z) is the
/// node's own quantization. `octet quantize` writes this Clip before the input QuantizeLinear
/// of a 7-bit (`reduce_range`) edge; fused, the input is read once instead of twice.
///
/// Exact: Q is non-decreasing (s > 0, round half to even is monotonic, saturation too), so
/// Q(clamp(x, lo, hi)) = clamp(Q(x), Q(lo), Q(hi)) for every finite or infinite x when
/// lo ≤ hi. A NaN input gives Q(lo), the lowest code the Clip allows.
/// Left alone: bounds that are not constant scalars, lo > hi or NaN, a Clip output read by
/// anything else or that is a graph output, per-axis parameters.
public struct ClipQuantizeFusion: GraphPass {
    public var name: String { "clip-quantize-fusion" }
    public init() {}

    /// The lowest code attribute (`OutputCodeLimit.attribute` is the highest).
    public static let lowerAttribute = "octet.qmin"

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        let readers = g.readers(), producers = g.producers()
        var removed: Set<Int> = []
        for (qi, q) in g.nodes.enumerated() where q.opType == "QuantizeLinear" && q.domain.isEmpty {
            guard q.inputs.count >= 2, let ci = producers[q.inputs[0]], !removed.contains(ci) else { continue }
            let clip = g.nodes[ci]
            guard clip.opType == "Clip", clip.domain.isEmpty, clip.inputs.count == 3, g.onlyFeeds(q.inputs[0], qi, readers: readers),
                  g.type(of: clip.inputs[0])?.dtype == .f32,
                  let lo = scalar(g, clip.inputs[1]), let hi = scalar(g, clip.inputs[2]), lo <= hi,
                  let scale = scalar(g, q.inputs[1]), scale.isFinite, scale > 0,
                  try q.int(OutputCodeLimit.attribute) == nil, try q.int(Self.lowerAttribute) == nil
            else { continue }
            // The zero point: absent (u8, 0) or a constant u8/s8 scalar; an output_dtype attribute
            // without a zero point is left alone.
            let hasZeroPoint = q.inputs.count > 2 && !q.inputs[2].isEmpty
            let outputType = try q.int("output_dtype", default: 0)
            guard hasZeroPoint || outputType == 0 else { continue }
            let zeroPoint = hasZeroPoint ? g.initializers[q.inputs[2]] : nil
            if hasZeroPoint && zeroPoint == nil { continue }
            guard let z = Self.zeroPoint(zeroPoint), let range = (zeroPoint?.dtype ?? .u8).integerRange else { continue }
            func code(_ v: Float) -> Int32 {
                AffineQuantization.quantizeDividing(v, scale: scale, zeroPoint: z, qmin: range.lowerBound, qmax: range.upperBound)
            }
            var fused = q
            fused.inputs[0] = clip.inputs[0]
            fused.attributes[Self.lowerAttribute] = .int(Int(code(lo)))
            fused.attributes[OutputCodeLimit.attribute] = .int(Int(code(hi)))
            g.nodes[qi] = fused
            removed.insert(ci)
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return g
    }

    /// The value of a one-element u8 or s8 zero point (0 when there is none).
    private static func zeroPoint(_ t: Tensor?) -> Int32? {
        guard let t else { return 0 }
        guard t.shape.elementCount == 1 else { return nil }
        switch t.dtype {
        case .u8: return (try? t.scalars(as: UInt8.self).first).flatMap { $0.map(Int32.init) }
        case .s8: return (try? t.scalars(as: Int8.self).first).flatMap { $0.map(Int32.init) }
        default: return nil
        }
    }

    /// The one f32 value of initializer `name`.
    private func scalar(_ g: Graph, _ name: String) -> Float? {
        guard let t = g.initializers[name], t.dtype == .f32, t.shape.elementCount == 1, let v = try? t.scalars(as: Float.self).first, !v.isNaN else { return nil }
        return v
    }
}
