import Foundation
import Octet
import OctetQuant
import Testing

/// SmoothQuant (Xiao et al. 2023): the smoothed FP32 graph computes what the original
/// does, its factors are the paper's formula on maxima taken here, and on planted outlier
/// channels it makes static INT8 more accurate.
@Suite struct SmoothQuantTests {
    static func smooth(_ graph: Graph, alpha: Float, samples: [[String: Tensor]]) throws -> (Graph, [SmoothQuant.Smoothed], Quantizer.Prepared) {
        let prepared = try Quantizer().prepare(graph)
        let stats = try SensitivityAnalysis.inputStatistics(prepared, samples: samples, options: QuantizationWorkflowTests.options())
        let r = try SmoothQuant(alpha: alpha).apply(prepared.graph, targets: prepared.targets, absMax: stats.absMax)
        return (r.graph, r.smoothed, prepared)
    }

    static func maxDifference(_ a: [[String: Tensor]], _ b: [[String: Tensor]], outputs: [String]) throws -> (diff: Float, scale: Float) {
        var diff: Float = 0, scale: Float = 0
        for (x, y) in zip(a, b) {
            for o in outputs {
                let p = try #require(x[o]).scalars(as: Float.self), q = try #require(y[o]).scalars(as: Float.self)
                #expect(p.count == q.count)
                for i in p.indices { diff = max(diff, abs(p[i] - q[i])); scale = max(scale, abs(p[i])) }
            }
        }
        return (diff, scale)
    }

    @Test(arguments: [Float(0.5), 0.8])
    func smoothedFP32ModelKeepsItsOutputs(alpha: Float) throws {
        // The synthetic encoder: one factor folded into LN2, one Mul before fc1 (the residual reads h), one Mul before fc2.
        let graph = try OutlierEncoder.graph()
        let samples = try OutlierEncoder.samples(8)
        let (smoothed, done, _) = try Self.smooth(graph, alpha: alpha, samples: samples)
        #expect(done.count == 3)
        #expect(done.first { $0.edge == "g" }?.folded == true)
        #expect(done.first { $0.edge == "h" }?.folded == false)
        #expect(smoothed.nodes.filter { $0.opType == "Mul" }.count == 2)
        let d = try Self.maxDifference(try TinyBert.run(graph, samples), try TinyBert.run(smoothed, samples), outputs: ["y"])
        #expect(d.diff <= 1e-5 * max(1, d.scale), "max |Δ| \(d.diff) on outputs up to \(d.scale)")
        // The BERT-style encoder (post-LN: every LayerNorm output also feeds a residual).
        let bert = try TinyBert.model()
        let tokens = try TinyBert.calibration(bert).samples
        let (sb, doneB, _) = try Self.smooth(bert, alpha: alpha, samples: tokens)
        #expect(doneB.count >= 8)
        let e = try Self.maxDifference(try TinyBert.run(bert, tokens), try TinyBert.run(sb, tokens), outputs: bert.outputs.map(\.name))
        #expect(e.diff <= 1e-5 * max(1, e.scale), "BERT: max |Δ| \(e.diff) on outputs up to \(e.scale)")
    }

    @Test func factorsAreThePapersFormula() throws {
        let graph = try OutlierEncoder.graph()
        let samples = try OutlierEncoder.samples(8)
        let alpha: Float = 0.5
        let (_, done, _) = try Self.smooth(graph, alpha: alpha, samples: samples)
        // max|g_j| over the samples, read from the FP32 graph; max|W3_j| over row j.
        var probe = graph
        probe.outputs.append(Graph.Port(name: "g", type: nil))
        var xMax = [Float](repeating: 0, count: OutlierEncoder.width)
        for out in try TinyBert.run(probe, samples) {
            let g = try #require(out["g"]).scalars(as: Float.self)
            for (i, v) in g.enumerated() { xMax[i % OutlierEncoder.width] = max(xMax[i % OutlierEncoder.width], abs(v)) }
        }
        let w3 = try #require(graph.initializers["w3"]).scalars(as: Float.self)
        let got = try #require(done.first { $0.edge == "g" }).scales
        for j in 0..<OutlierEncoder.width {
            let wMax = (0..<OutlierEncoder.out).map { abs(w3[j * OutlierEncoder.out + $0]) }.max() ?? 0
            let expected = (Double(xMax[j]).squareRoot() / Double(wMax).squareRoot())
            #expect(abs(Double(got[j]) - expected) <= 1e-5 * expected, "channel \(j): \(got[j]) vs \(expected)")
        }
        // The planted channels (LN2's γ is LN1's reversed: ±40 on channels 26 and 11) get the largest factors.
        let top2 = Set(got.indices.sorted { got[$0] > got[$1] }.prefix(2))
        #expect(top2 == [11, 26])
    }

    @Test func smoothingMakesStaticINT8MoreAccurateOnOutlierChannels() throws {
        let graph = try OutlierEncoder.graph()
        let calibration = CalibrationData(samples: try OutlierEncoder.samples(24))
        let check = try OutlierEncoder.samples(8, seed: 99)
        let reference = try TinyBert.run(graph, check)
        func sqnr(_ alpha: Float?) throws -> Double {
            let r = try Quantizer().quantize(graph, data: calibration, accuracy: AccuracyOptions(smoothAlpha: alpha),
                                             options: QuantizationWorkflowTests.options())
            #expect(r.model.quantizedNodes.count == 3)
            return try TinyBert.agreement(reference, try TinyBert.run(r.model.graph, check), outputs: ["y"]).sqnr
        }
        let plain = try sqnr(nil), smoothed = try sqnr(0.5)
        #expect(smoothed > plain + 3, "static INT8 output SQNR: \(plain) dB plain, \(smoothed) dB smoothed (α 0.5)")
    }

    @Test func alphaOutsideTheUnitIntervalIsRefused() {
        #expect(throws: QuantizerError.self) { try SmoothQuant(alpha: 1.5) }
        #expect(throws: QuantizerError.self) { try SmoothQuant(alpha: .nan) }
    }
}
