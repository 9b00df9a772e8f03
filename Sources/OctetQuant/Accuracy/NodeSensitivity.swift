import OctetCore
import OctetRuntime

/// What quantizing one node alone does to the model's outputs.
public struct NodeSensitivity: Sendable, Hashable {
    public var node: String
    public var opType: String
    /// The graph outputs against FP32 when only this node is quantized (its input and
    /// output activations with the ranges calibrated for the whole model, as every
    /// reader of them sees them in the QDQ graph, a residual too; its weights s8) and
    /// every other node stays FP32. Lower SQNR / cosine: more sensitive.
    public var alone: OutputAgreement
    /// `max / median` of the per-channel absolute maxima of the node's input (channels:
    /// the last axis of a MatMul/Gemm input, axis 1 of a Conv input); see
    /// `ChannelStatistics.outlierRatio`.
    public var inputOutlierRatio: Double
    /// Multiply-accumulates of one call on the calibration shapes (for speed estimates).
    public var macs: Int
}

/// Sensitivity by node: each target quantized alone (rest FP32), measured at the graph
/// outputs on held-out samples — the "one node at a time" mode of PyTorch's Numeric
/// Suite and of ONNX Runtime's `qdq_loss_debug`, besides the cumulative per-node SQNR of
/// `AccuracyReport`.
public enum SensitivityAnalysis {
    /// The channel axis of a target's input for `ChannelStatistics`.
    static func channelAxis(_ t: QuantizationTarget) -> Int { t.opType == "Conv" ? 1 : -1 }

    /// The input channel statistics every target needs, over `samples`.
    public static func inputStatistics(_ prepared: Quantizer.Prepared, samples: [[String: Tensor]], options: SessionOptions) throws -> ChannelStatistics {
        var edges: [String: Int] = [:]
        for t in prepared.targets { edges[t.input] = channelAxis(t) }
        return try ChannelStatistics.measure(prepared.graph, edges: edges, samples: samples, options: options)
    }

    /// One entry per target of `prepared`, most sensitive (lowest output SQNR) first.
    /// `sevenBit`: nodes whose inputs are quantized to 7 bits, as in the full model.
    public static func measure(quantizer: Quantizer, prepared: Quantizer.Prepared, observers: [any Observer], sevenBit: Set<String> = [],
                               statistics: ChannelStatistics, samples: [[String: Tensor]], options: SessionOptions) throws -> [NodeSensitivity] {
        let reference = try OutputAgreement.reference(prepared.graph, samples: samples, options: options)
        var result: [NodeSensitivity] = []
        for t in prepared.targets {
            let (one, obs) = prepared.restricted(to: [t.node], observers: observers)
            let q = try quantizer.convert(one, observers: obs, sevenBit: sevenBit.intersection([t.node]))
            let agreement = try OutputAgreement.measure(q.graph, samples: samples, reference: reference, options: options)
            let ratio = statistics.absMax[t.input].map(ChannelStatistics.outlierRatio) ?? 1
            result.append(NodeSensitivity(node: t.node, opType: t.opType, alone: agreement, inputOutlierRatio: ratio,
                                          macs: macs(t, prepared.graph, elements: statistics.elements[t.input])))
        }
        return result.sorted { $0.alone.sqnr < $1.alone.sqnr }
    }

    /// MACs of one call: input elements × output features for MatMul/Gemm (`M·K·N`),
    /// output-channel work for Conv estimated as input elements × Cout·kh·kw / groups
    /// (stride 1); 0 when the shapes are unknown.
    static func macs(_ t: QuantizationTarget, _ g: Graph, elements: Int?) -> Int {
        guard let elements, let n = g.nodes.first(where: { $0.name == t.node }), let wName = n.input(1), let w = g.initializers[wName] else { return 0 }
        let d = w.shape.dims
        switch t.opType {
        case "Conv":
            guard d.count == 4 else { return 0 }
            let groups = max((try? n.int("group", default: 1)) ?? 1, 1)
            return elements * d[0] * d[2] * d[3] / groups
        case "Gemm":
            guard d.count == 2 else { return 0 }
            return elements * ((try? n.int("transB", default: 0)) == 1 ? d[0] : d[1])
        default:
            return d.count == 2 ? elements * d[1] : 0
        }
    }

    /// A table, most sensitive first: the output SQNR and min cosine with the node alone
    /// quantized, the cumulative SQNR at the node from `cumulative` (all nodes quantized),
    /// and the outlier ratio of its input.
    public static func text(_ nodes: [NodeSensitivity], cumulative: AccuracyReport?, samples: Int, limit: Int = 20) -> String {
        var lines = ["sensitivity by node on \(samples) held-out sample\(samples == 1 ? "" : "s"): this node alone quantized, outputs vs FP32 (most sensitive first)",
                     "  " + AccuracyReport.pad("node", 44) + " " + AccuracyReport.pad("op", 8)
                         + "  alone dB  alone min cos  cumul. dB  outliers (max/median)"]
        let cumul = Dictionary((cumulative?.nodes ?? []).map { ($0.node, $0.sqnr) }, uniquingKeysWith: { a, _ in a })
        for n in nodes.prefix(limit) {
            let name = n.node.count > 44 ? "…" + n.node.suffix(43) : n.node
            let c = cumul[n.node].map { String(format: "%9.2f", $0) } ?? "        -"
            lines.append("  " + AccuracyReport.pad(String(name), 44) + " " + AccuracyReport.pad(n.opType, 8)
                         + String(format: " %9.2f  %13.5f  ", n.alone.sqnr, n.alone.minCosine) + c + String(format: "  %10.1f", n.inputOutlierRatio))
        }
        if nodes.count > limit { lines.append("  ... \(nodes.count - limit) more") }
        return lines.joined(separator: "\n")
    }
}
