import OctetCore
import OctetRuntime

/// Per-channel absolute maxima of activation edges over samples: the `max|X_j|` of
/// SmoothQuant (Xiao et al. 2023, eq. 4) and the outlier ratio of the sensitivity report.
public struct ChannelStatistics: Sendable {
    /// Per edge: `max over samples and positions of |x|`, one value per channel.
    public var absMax: [String: [Float]]
    /// Per edge: elements of one sample's tensor (for the MAC counts of the speed estimate).
    public var elements: [String: Int]

    /// Runs `graph` (FP32) over `samples` reading `edges`, each with its channel axis
    /// (negative counts from the end: −1 for a MatMul/Gemm input's features, 1 for a
    /// Conv input's channels in NCHW).
    public static func measure(_ graph: Graph, edges: [String: Int], samples: [[String: Tensor]], options: SessionOptions) throws -> ChannelStatistics {
        var g = graph
        for e in edges.keys.sorted() where !g.outputs.contains(where: { $0.name == e }) { g.outputs.append(Graph.Port(name: e, type: nil)) }
        var opts = options
        opts.optimize = false
        let session = try Session(graph: g, options: opts)
        var result = ChannelStatistics(absMax: [:], elements: [:])
        for (k, sample) in samples.enumerated() {
            let values: [String: Tensor]
            do { values = try session.run(sample) } catch { throw QuantizerError.sample(index: k, reason: "\(error)") }
            for (edge, axis) in edges {
                guard let t = values[edge], t.dtype == .f32, t.shape.rank > 0 else { continue }
                let dims = t.shape.dims
                let a = axis < 0 ? dims.count + axis : axis
                guard a >= 0, a < dims.count else {
                    throw QuantizerError.unsupported("edge '\(edge)': channel axis \(axis) is outside its rank \(dims.count)")
                }
                let channels = dims[a], inner = dims[(a + 1)...].reduce(1, *)
                var m = result.absMax[edge] ?? [Float](repeating: 0, count: channels)
                guard m.count == channels else {
                    throw QuantizerError.unsupported("edge '\(edge)': \(channels) channels in sample \(k), \(m.count) before")
                }
                try t.withUnsafeBufferPointer(as: Float.self) { p in
                    for i in p.indices { let c = (i / inner) % channels; m[c] = max(m[c], abs(p[i])) }
                }
                result.absMax[edge] = m
                result.elements[edge] = t.shape.elementCount
            }
        }
        return result
    }

    /// `max_j m_j / median_j m_j` of per-channel maxima `m`: how far the largest channel
    /// stands out (1 for a flat activation; hundreds at transformer LayerNorm outputs).
    /// Infinite when the median is 0 and the maximum is not; 1 for an all-zero edge.
    public static func outlierRatio(_ m: [Float]) -> Double {
        guard let top = m.max() else { return 1 }
        let s = m.sorted()
        let median = s.count % 2 == 1 ? Double(s[s.count / 2]) : (Double(s[s.count / 2 - 1]) + Double(s[s.count / 2])) / 2
        if median == 0 { return top == 0 ? 1 : .infinity }
        return Double(top) / median
    }
}
