import OctetCore
import OctetRuntime

/// How close a model's graph outputs are to reference outputs, sample by sample.
public struct OutputAgreement: Sendable, Hashable {
    /// The lowest cosine similarity of one output on one sample (flattened), over all outputs and samples.
    public var minCosine: Double
    /// The mean of those cosines.
    public var meanCosine: Double
    /// `10 log10(Σ x² / Σ (x − y)²)` over every output element of every sample, dB.
    public var sqnr: Double

    /// The reference outputs: `graph` run over `samples` (FP32), one dictionary per sample.
    public static func reference(_ graph: Graph, samples: [[String: Tensor]], options: SessionOptions) throws -> [[String: Tensor]] {
        let session = try Session(graph: graph, options: options)
        return try samples.map { try session.run($0) }
    }

    /// Runs `graph` over `samples` and compares every graph output with `reference`
    /// (same order as `samples`).
    public static func measure(_ graph: Graph, samples: [[String: Tensor]], reference: [[String: Tensor]], options: SessionOptions) throws -> OutputAgreement {
        let session = try Session(graph: graph, options: options)
        var total = AccuracyReport.Accumulator()
        var cosines: [Double] = []
        for (sample, ref) in zip(samples, reference) {
            let got = try session.run(sample)
            for o in graph.outputs.map(\.name) {
                guard let r = ref[o], let q = got[o], r.dtype == .f32, q.dtype == .f32 else { continue }
                var one = AccuracyReport.Accumulator()
                try one.add(r, q)
                try total.add(r, q)
                cosines.append(one.cosine)
            }
        }
        let minimum = cosines.min() ?? 1, mean = cosines.isEmpty ? 1 : cosines.reduce(0, +) / Double(cosines.count)
        return OutputAgreement(minCosine: minimum, meanCosine: mean, sqnr: total.sqnr)
    }
}
