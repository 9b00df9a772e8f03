import Foundation
import Octet
import OctetQuant
import Testing

/// Sensitivity by node against the same node quantized alone by hand: the QDQ graph
/// written here from ONNX Runtime's ranges and the textbook formulas, every other node FP32.
@Suite struct NodeSensitivityTests {
    /// The original graph with `node` (a MatMul with constant K × N weights) quantized by
    /// hand: its input (for all its readers) and output through QuantizeLinear/DequantizeLinear with u8 ranges
    /// from ONNX Runtime, its weights replaced by their s8 per-column (symmetric) values.
    static func quantizedAlone(_ graph: Graph, node: String, ranges: [String: (min: Float, max: Float)]) throws -> Graph {
        var g = graph
        let i = try #require(g.nodes.firstIndex { $0.name == node })
        let x = g.nodes[i].inputs[0], wName = g.nodes[i].inputs[1], y = g.nodes[i].outputs[0]
        let w = try #require(g.initializers[wName])
        let (k, n) = (w.shape.dims[0], w.shape.dims[1])
        var values = try w.scalars(as: Float.self)
        for c in 0..<n {
            var amax: Float = 0
            for r in 0..<k { amax = max(amax, abs(values[r * n + c])) }
            let scale = max(amax / 127.5, Float.ulpOfOne)
            for r in 0..<k { values[r * n + c] = min(max((values[r * n + c] / scale).rounded(.toNearestOrEven), -128), 127) * scale }
        }
        g.initializers[wName + "_by_hand"] = try Tensor(values, shape: w.shape)
        g.nodes[i].inputs[1] = wName + "_by_hand"
        func qdq(_ edge: String, from source: String, to target: String) throws -> [Node] {
            let r = try #require(ranges[edge])
            let p = TinyBert.affineU8(min: r.min, max: r.max)
            g.initializers[edge + "_s"] = try Tensor([p.scale], shape: .scalar)
            g.initializers[edge + "_z"] = try Tensor([p.zeroPoint], shape: .scalar)
            return [Node(name: edge + "_Q", opType: "QuantizeLinear", inputs: [source, edge + "_s", edge + "_z"], outputs: [edge + "_q"]),
                    Node(name: edge + "_DQ", opType: "DequantizeLinear", inputs: [edge + "_q", edge + "_s", edge + "_z"], outputs: [target])]
        }
        // Every reader of x reads the quantized value (a residual too), as in any QDQ model.
        for j in g.nodes.indices { g.nodes[j].inputs = g.nodes[j].inputs.map { $0 == x ? x + "_hand_dq" : $0 } }
        g.nodes[i].outputs[0] = y + "_raw"
        g.nodes += try qdq(x, from: x, to: x + "_hand_dq") + qdq(y, from: y + "_raw", to: y)
        return try g.sorted()
    }

    @Test(arguments: ["/layers.0/up/MatMul", "/layers.1/o/MatMul"])
    func sensitivityIsTheNodeQuantizedAloneByHand(node: String) throws {
        let graph = try TinyBert.model()
        let data = try TinyBert.calibration(graph)
        let quantizer = Quantizer()  // min/max over all 10 samples: ONNX Runtime's ranges
        let prepared = try quantizer.prepare(graph)
        let observers = try quantizer.calibrate(prepared, data: data, options: QuantizationWorkflowTests.options())
        let check = Array(data.samples.suffix(4))
        let stats = try SensitivityAnalysis.inputStatistics(prepared, samples: data.samples, options: QuantizationWorkflowTests.options())
        let all = try SensitivityAnalysis.measure(quantizer: quantizer, prepared: prepared, observers: observers, statistics: stats,
                                                  samples: check, options: QuantizationWorkflowTests.options())
        #expect(all.count == prepared.targets.count)
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.alone.sqnr <= $1.alone.sqnr }, "most sensitive first")
        let got = try #require(all.first { $0.node == node })

        let hand = try Self.quantizedAlone(graph, node: node, ranges: try TinyBert.ortRanges())
        let outputs = graph.outputs.map(\.name)
        let expected = try TinyBert.agreement(try TinyBert.run(graph, check), try TinyBert.run(hand, check), outputs: outputs)
        #expect(expected.sqnr.isFinite && expected.sqnr > 20, "the hand model is quantized: \(expected.sqnr) dB")
        #expect(abs(got.alone.sqnr - expected.sqnr) < 0.05, "\(node): Octet \(got.alone.sqnr) dB, by hand \(expected.sqnr) dB")
        #expect(abs(got.alone.minCosine - expected.minCosine) < 1e-6, "\(node): Octet \(got.alone.minCosine), by hand \(expected.minCosine)")
        // Another node's figure differs from this hand model's by more than the tolerance.
        let other = try #require(all.first { $0.node != node && abs($0.alone.sqnr - expected.sqnr) > 0.05 })
        #expect(other.node != node)
        // The outlier ratio: max / median of the input's per-channel absolute maxima, computed here.
        let target = try #require(prepared.targets.first { $0.node == node })
        let m = try #require(stats.absMax[target.input])
        #expect(m.count == 64)
        let sorted = m.sorted()
        let median = (Double(sorted[31]) + Double(sorted[32])) / 2
        #expect(abs(got.inputOutlierRatio - Double(sorted[63]) / median) < 1e-9)
    }

    @Test func outlierRatio() {
        #expect(ChannelStatistics.outlierRatio([1, 2, 3, 300]) == 300 / 2.5)
        #expect(ChannelStatistics.outlierRatio([2, 2, 2]) == 1)
        #expect(ChannelStatistics.outlierRatio([0, 0, 0]) == 1)
        #expect(ChannelStatistics.outlierRatio([0, 0, 5]) == .infinity)
    }
}
