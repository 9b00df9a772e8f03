import Foundation
import Octet
import OctetQuant
import Testing

/// `--keep-fp32 auto`: the model returned reaches the target on the held-out samples
/// (cosines computed here against the FP32 model), and one node fewer kept (the same
/// nodes skipped through the config, quantized afresh) does not.
@Suite struct AutoKeepFP32Tests {
    @Test func fewestNodesBySensitivityReachTheTarget() throws {
        let graph = try TinyBert.model()
        let data = try TinyBert.calibration(graph)
        let check = Array(data.samples.suffix(2))  // what the quantizer holds out (a fifth of 10)
        let reference = try TinyBert.run(graph, check)
        let outputs = graph.outputs.map(\.name)
        func minCosine(_ g: Graph) throws -> Double { try TinyBert.agreement(reference, try TinyBert.run(g, check), outputs: outputs).minCosine }

        let all = try Quantizer().quantize(graph, data: CalibrationData(samples: Array(data.samples.dropLast(2))), options: QuantizationWorkflowTests.options())
        let start = try minCosine(all.graph)
        // A target above the all-INT8 model's and below FP32's 1.
        let target = start + (1 - start) * 0.6
        let r = try Quantizer().quantize(graph, data: data, accuracy: AccuracyOptions(keepFP32: .auto(targetCosine: target)),
                                         options: QuantizationWorkflowTests.options())
        #expect(r.heldOut == 2)
        #expect(r.reached == true)
        #expect(!r.kept.isEmpty && r.kept.count < all.quantizedNodes.count)
        #expect(Set(r.model.quantizedNodes).isDisjoint(with: r.kept))
        #expect(r.model.quantizedNodes.count + r.kept.count == all.quantizedNodes.count)
        // The kept nodes are the most sensitive, in order.
        #expect(Array(r.sensitivity.prefix(r.kept.count).map(\.node)) == r.kept)
        let reached = try minCosine(r.model.graph)
        #expect(reached >= target, "min cosine \(reached) < target \(target)")
        #expect(abs(reached - (r.after?.minCosine ?? 0)) < 1e-9)
        #expect(abs(start - (r.before?.minCosine ?? 0)) < 1e-9)
        // One node fewer kept, quantized afresh with the others skipped: below the target.
        var config = QuantizationConfig()
        config.skip = Set(r.kept.dropLast())
        let fewer = try Quantizer(config: config).quantize(graph, data: CalibrationData(samples: Array(data.samples.dropLast(2))),
                                                           options: QuantizationWorkflowTests.options())
        #expect(try minCosine(fewer.graph) < target)
        #expect(r.keptMACShare > 0 && r.keptMACShare < 1)
        #expect(r.latency != nil)
    }

    @Test func aTargetTheINT8ModelMeetsKeepsNothing() throws {
        let graph = try TinyBert.model()
        let data = try TinyBert.calibration(graph)
        let r = try Quantizer().quantize(graph, data: data, accuracy: AccuracyOptions(keepFP32: .auto(targetCosine: 0.5)),
                                         options: QuantizationWorkflowTests.options())
        #expect(r.kept.isEmpty && r.reached == true && r.evaluations == 1)
    }
}
