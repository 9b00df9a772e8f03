import Foundation
import Octet
import OctetQuant
import Testing

/// `QuantizationConfig.floatOutputs`: results that only float ops read stay f32 (written by
/// the kernel's dequantizing output stage); results an integer op reads stay u8.
@Suite struct FloatOutputsTests {
    static func config(_ on: Bool) -> QuantizationConfig {
        var c = QuantizationConfig()
        c.floatOutputs = on
        return c
    }

    @Test func transformerResultsStayFloat() throws {
        let graph = try TinyBert.model()
        let data = try TinyBert.calibration(graph)
        let calibration = CalibrationData(samples: Array(data.samples.prefix(8))), check = Array(data.samples.suffix(2))
        let plain = try Quantizer().quantize(graph, data: calibration, options: QuantizationWorkflowTests.options())
        let quantizer = Quantizer(config: Self.config(true))
        let prepared = try quantizer.prepare(graph)
        let float = try quantizer.quantize(graph, data: calibration, options: QuantizationWorkflowTests.options())
        #expect(float.quantizedNodes == plain.quantizedNodes)
        // Every target of this post-LN encoder feeds attention, GELU, a residual Add or an output.
        for t in prepared.targets {
            #expect(float.activationParameters[t.output] == nil || prepared.targets.contains { $0.input == t.output }, "\(t.node) output \(t.output)")
            #expect(float.activationParameters[t.input] != nil, "\(t.node) input stays quantized")
        }
        #expect(float.activationParameters.count < plain.activationParameters.count)
        // Still INT8 kernels: every matrix product of the plan.
        let session = try Session(graph: float.graph, options: QuantizationWorkflowTests.options())
        let trace = try session.trace(inputShapes: check[0].mapValues(\.shape)).trace
        #expect(trace.ops.filter { $0.signature.precision == .int8 }.count == float.quantizedNodes.count)
        // Less error at the outputs than requantizing every result (computed here against FP32).
        let reference = try TinyBert.run(graph, check), outputs = graph.outputs.map(\.name)
        let a = try TinyBert.agreement(reference, try TinyBert.run(plain.graph, check), outputs: outputs)
        let b = try TinyBert.agreement(reference, try TinyBert.run(float.graph, check), outputs: outputs)
        #expect(b.sqnr > a.sqnr, "output SQNR: \(a.sqnr) dB requantized, \(b.sqnr) dB float outputs")
    }

    @Test func resultsAnIntegerOpReadsStayQuantized() throws {
        // The digits CNN: every convolution feeds another quantized op (through Relu/MaxPool/Flatten).
        let m = try QuantizationWorkflowTests.digitsModel()
        let calibration = CalibrationData(samples: Array(m.calibration.samples.prefix(32)))
        let plain = try Quantizer().quantize(m.graph, data: calibration, options: QuantizationWorkflowTests.options())
        let float = try Quantizer(config: Self.config(true)).quantize(m.graph, data: calibration, options: QuantizationWorkflowTests.options())
        #expect(Set(float.activationParameters.keys) == Set(plain.activationParameters.keys))
    }
}
