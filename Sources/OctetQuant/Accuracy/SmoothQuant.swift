import Foundation
import OctetCore
import OctetRuntime

/// SmoothQuant's static smoothing (Xiao et al. 2023, "SmoothQuant: Accurate and Efficient
/// Post-Training Quantization for Large Language Models", eq. 4): for an activation X
/// (… × K) read by linear layers with weights W (K × N), per input channel j
///
///     s_j = max|X_j|^α / max|W_j|^(1−α)        (clamped below at 1e−5, as the paper's code)
///     X·W = (X · diag(s)⁻¹) · (diag(s) · W)
///
/// so the outlier channels of X move into the weights (quantized per output channel,
/// where they cost little). `max|X_j|` comes from calibration (`ChannelStatistics`);
/// `max|W_j|` is taken over every layer that reads X (Q, K and V share one s). The
/// division is folded into the LayerNormalization that produces X (γ/s, β/s) when those
/// layers are its only readers, and otherwise written as one `Mul` by 1/s on their branch
/// (post-LN BERT: the residual also reads the LayerNorm output, and keeps it unscaled).
/// The smoothed graph computes the same function in FP32.
public struct SmoothQuant: Sendable, Hashable {
    /// Migration strength α in [0, 1]: 0 leaves X alone, 1 moves all of its range into W.
    public var alpha: Float

    /// The α measured best for static INT8 on a pretrained sentence encoder
    /// (all-MiniLM-L6-v2, 16 held-out sentences, `scripts/transformer-accuracy.py`): min
    /// cosine 0.921 at 0.65 against 0.919 at 0.5, 0.884 at 0.8 and 0.904 unsmoothed, and
    /// half the nodes kept FP32 by `--keep-fp32 auto --target-cosine 0.99` (4 against 8).
    /// The paper's default is 0.5; it finds 0.75–0.85 for larger language models.
    public static let defaultAlpha: Float = 0.65

    public init(alpha: Float) throws {
        guard alpha.isFinite, alpha >= 0, alpha <= 1 else { throw QuantizerError.unsupported("--smooth: α must be in [0, 1], got \(alpha)") }
        self.alpha = alpha
    }

    /// One smoothed activation.
    public struct Smoothed: Sendable, Hashable {
        /// The activation edge X.
        public var edge: String
        /// The nodes that read it, whose weight rows were scaled.
        public var nodes: [String]
        /// Where 1/s went: the LayerNormalization node's name, or the inserted `Mul`'s.
        public var into: String
        public var folded: Bool
        /// The per-channel factors s.
        public var scales: [Float]
    }

    /// The factors for one activation: `s_j = max(xMax_j^α / wMax_j^(1−α), 1e−5)`, 1 where
    /// either maximum is 0 or not finite.
    public func scales(activation xMax: [Float], weight wMax: [Float]) -> [Float] {
        zip(xMax, wMax).map { x, w in
            guard x > 0, w > 0, x.isFinite, w.isFinite else { return 1 }
            let s = Float(pow(Double(x), Double(alpha)) / pow(Double(w), Double(1 - alpha)))
            return s.isFinite ? max(s, 1e-5) : 1
        }
    }

    /// Smooths every MatMul/Gemm target input of `graph` for which `absMax` holds the
    /// per-channel maxima (last axis). Returns the new graph and what was done per edge.
    public func apply(_ graph: Graph, targets: [QuantizationTarget], absMax: [String: [Float]]) throws -> (graph: Graph, smoothed: [Smoothed]) {
        var g = graph
        let readers = g.readers(), producers = g.producers(), outputs = g.outputNames
        var byEdge: [String: [QuantizationTarget]] = [:]
        for t in targets where t.opType == "MatMul" || t.opType == "Gemm" { byEdge[t.input, default: []].append(t) }
        var done: [Smoothed] = []
        for (edge, users) in byEdge.sorted(by: { $0.key < $1.key }) {
            guard let xMax = absMax[edge], !xMax.isEmpty else { continue }
            let k = xMax.count
            // Each reader's weight and the axis of its input channels (rows of K × N, or columns of N × K).
            var weights: [(index: Int, name: String, w: [Float], rowsAreK: Bool, n: Int)] = []
            for t in users {
                guard let i = g.nodes.firstIndex(where: { $0.name == t.node }), let wName = g.nodes[i].input(1),
                      let w = g.initializers[wName], w.dtype == .f32, w.shape.rank == 2 else { continue }
                let transB = t.opType == "Gemm" ? ((try? g.nodes[i].int("transB", default: 0)) ?? 0) : 0
                let rowsAreK = transB == 0
                let d = w.shape.dims
                guard (rowsAreK ? d[0] : d[1]) == k else { continue }
                weights.append((i, wName, try w.scalars(as: Float.self), rowsAreK, rowsAreK ? d[1] : d[0]))
            }
            guard weights.count == users.count else { continue }
            var wMax = [Float](repeating: 0, count: k)
            for w in weights {
                for (e, v) in w.w.enumerated() {
                    let j = w.rowsAreK ? e / w.n : e % k
                    wMax[j] = max(wMax[j], abs(v))
                }
            }
            let s = scales(activation: xMax, weight: wMax)
            for w in weights {
                let scaled = w.w.enumerated().map { e, v in v * s[w.rowsAreK ? e / w.n : e % k] }
                let name = g.freshName(w.name + "_smoothed")
                g.initializers[name] = try Tensor(scaled, shape: try TensorShape(w.rowsAreK ? [k, w.n] : [w.n, k]))
                g.nodes[w.index].inputs[1] = name
            }
            let userNames = Set(users.map(\.node))
            let allReadersSmoothed = (readers[edge] ?? []).allSatisfy { userNames.contains(g.nodes[$0].name) }
            if allReadersSmoothed, !outputs.contains(edge), let p = producers[edge], try foldIntoLayerNorm(&g, node: p, scales: s) {
                done.append(Smoothed(edge: edge, nodes: users.map(\.node), into: g.nodes[p].name, folded: true, scales: s))
                continue
            }
            let inv = g.freshName(edge + "_smooth_inverse"), out = g.freshName(edge + "_smoothed")
            g.initializers[inv] = try Tensor(s.map { 1 / $0 }, shape: TensorShape([k]))
            let mul = Node(name: g.freshName(edge + "_SmoothQuant_Mul"), opType: "Mul", inputs: [edge, inv], outputs: [out])
            for w in weights { g.nodes[w.index].inputs[0] = out }
            g.nodes.append(mul)
            done.append(Smoothed(edge: edge, nodes: users.map(\.node), into: mul.name, folded: false, scales: s))
        }
        return (try g.sorted(), done)
    }

    /// Divides γ and β of the LayerNormalization at `node` by `s` when it normalizes the
    /// last axis and both are constant vectors of `s.count`; false (nothing changed) otherwise.
    func foldIntoLayerNorm(_ g: inout Graph, node i: Int, scales s: [Float]) throws -> Bool {
        let n = g.nodes[i]
        guard n.opType == "LayerNormalization", n.domain.isEmpty, n.outputs.count == 1 || n.outputs.dropFirst().allSatisfy(\.isEmpty),
              (try? n.int("axis", default: -1)) == -1, let gName = n.input(1), let gamma = g.initializers[gName],
              gamma.dtype == .f32, gamma.shape.elementCount == s.count else { return false }
        var betaValues: [Float]?
        if let bName = n.input(2) {
            guard let beta = g.initializers[bName], beta.dtype == .f32, beta.shape.elementCount == s.count else { return false }
            betaValues = try beta.scalars(as: Float.self)
        }
        let gNew = g.freshName(gName + "_smoothed")
        g.initializers[gNew] = try Tensor(zip(try gamma.scalars(as: Float.self), s).map { $0 / $1 }, shape: gamma.shape)
        g.nodes[i].inputs[1] = gNew
        if let betaValues, let bName = n.input(2), let beta = g.initializers[bName] {
            let bNew = g.freshName(bName + "_smoothed")
            g.initializers[bNew] = try Tensor(zip(betaValues, s).map { $0 / $1 }, shape: beta.shape)
            g.nodes[i].inputs[2] = bNew
        }
        return true
    }
}
