import Foundation
import OctetCore
import OctetRuntime

/// How far a quantized node's output is from FP32, over held-out samples.
public struct NodeAccuracy: Sendable, Hashable {
    public var node: String
    public var opType: String
    /// Signal-to-quantization-noise ratio, dB: `10 log10(Σ x² / Σ (x − q)²)`; higher is better.
    public var sqnr: Double
    /// Cosine similarity of the flattened outputs (all samples together).
    public var cosine: Double
}

/// Per-node and per-output accuracy of a quantized model against its FP32 form, the
/// nodes sorted worst (lowest SQNR) first. PyTorch's Numeric Suite and ONNX Runtime's
/// `qdq_loss_debug` in one call.
public struct AccuracyReport: Sendable {
    public var nodes: [NodeAccuracy]
    /// The same measures on each graph output.
    public var outputs: [NodeAccuracy]
    public var samples: Int

    /// Runs both graphs over `samples`: the FP32 graph as prepared (no optimization, to
    /// read every edge), the quantized one through the INT8 plan.
    public static func measure(fp32: Graph, quantized: QuantizedModel, targets: [QuantizationTarget],
                               samples: [[String: Tensor]], options: SessionOptions) throws -> AccuracyReport {
        var reference = fp32, candidate = quantized.graph
        var pairs: [(target: QuantizationTarget, ref: String, got: String)] = []
        for t in targets where quantized.quantizedNodes.contains(t.node) {
            let got = quantized.activationParameters[t.output] != nil ? t.output + "_dequantized" : t.output
            pairs.append((t, t.output, got))
        }
        for p in pairs {
            if !reference.outputs.contains(where: { $0.name == p.ref }) { reference.outputs.append(.init(name: p.ref, type: nil)) }
            if !candidate.outputs.contains(where: { $0.name == p.got }) { candidate.outputs.append(.init(name: p.got, type: nil)) }
        }
        var refOptions = options
        refOptions.optimize = false
        let a = try Session(graph: reference, options: refOptions), b = try Session(graph: candidate, options: options)
        var stats = [Accumulator](repeating: Accumulator(), count: pairs.count)
        let outputNames = zip(fp32.outputs.map(\.name), quantized.graph.outputs.map(\.name))
        var outputStats = [Accumulator](repeating: Accumulator(), count: fp32.outputs.count)
        for sample in samples {
            let x = try a.run(sample), y = try b.run(sample)
            for (k, p) in pairs.enumerated() {
                guard let r = x[p.ref], let q = y[p.got] else { continue }
                try stats[k].add(r, q)
            }
            for (k, (r, q)) in outputNames.enumerated() {
                guard let rt = x[r], let qt = y[q] else { continue }
                try outputStats[k].add(rt, qt)
            }
        }
        let nodes = zip(pairs, stats).map { p, s in NodeAccuracy(node: p.target.node, opType: p.target.opType, sqnr: s.sqnr, cosine: s.cosine) }
        let outputs = zip(fp32.outputs, outputStats).map { o, s in NodeAccuracy(node: o.name, opType: "output", sqnr: s.sqnr, cosine: s.cosine) }
        return AccuracyReport(nodes: nodes.sorted { $0.sqnr < $1.sqnr }, outputs: outputs, samples: samples.count)
    }

    /// A table, worst node first.
    public func text(limit: Int = 20) -> String {
        var lines = ["accuracy against FP32 on \(samples) held-out sample\(samples == 1 ? "" : "s") (worst first):",
                     "  " + Self.pad("node", 44) + " " + Self.pad("op", 8) + "   SQNR dB    cosine"]
        for n in nodes.prefix(limit) { lines.append(Self.row(n)) }
        if nodes.count > limit { lines.append("  ... \(nodes.count - limit) more") }
        for o in outputs { lines.append(Self.row(o)) }
        return lines.joined(separator: "\n")
    }

    static func row(_ n: NodeAccuracy) -> String {
        let name = n.node.count > 44 ? "…" + n.node.suffix(43) : n.node
        return "  " + pad(String(name), 44) + " " + pad(n.opType, 8) + String(format: " %9.2f %9.5f", n.sqnr, n.cosine)
    }

    static func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }

    /// Sums for SQNR and cosine.
    struct Accumulator {
        var signal = 0.0, noise = 0.0, dot = 0.0, normQ = 0.0

        mutating func add(_ r: Tensor, _ q: Tensor) throws {
            let x = try r.scalars(as: Float.self), y = try q.scalars(as: Float.self)
            guard x.count == y.count else { return }
            for i in x.indices {
                let a = Double(x[i]), b = Double(y[i])
                signal += a * a
                noise += (a - b) * (a - b)
                dot += a * b
                normQ += b * b
            }
        }

        var sqnr: Double { noise == 0 ? .infinity : signal == 0 ? -.infinity : 10 * log10(signal / noise) }
        var cosine: Double { signal == 0 || normQ == 0 ? (signal == normQ ? 1 : 0) : dot / (signal.squareRoot() * normQ.squareRoot()) }
    }
}
