import Foundation
import Octet
import OctetQuant
import Testing

/// A static INT8 model planned for a CPU with AVX-512 VNNI runs on a host without it
/// (this machine capped at AVX2): the ops the plan sent to oneDNN fall back, and the
/// outputs are those of the plan made for the host, bit for bit.
@Suite struct PlannedCPUTests {
    @Test(arguments: ["cascade-lake", "sapphire-rapids", "zen4"])
    func aPlanForAnotherCPURunsHereWithTheHostPlansBits(_ preset: String) throws {
        let m = try QuantizationWorkflowTests.digitsModel()
        // Quantized for the target CPU, as `octet quantize --cpu` does (there, oneDNN with VNNI takes 8 bits).
        let target = try CPUFeatures.assumed(preset)
        let q = try Quantizer().quantize(m.graph, data: m.calibration, options: QuantizationWorkflowTests.options(cpu: target))
        let host = CPUFeatures.host.capped(at: .avx2)
        func session(cpu: CPUFeatures) throws -> Session {
            try Session(graph: q.graph, options: SessionOptions(threads: 1, cpu: cpu, host: host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn()))
        }
        let planned = try session(cpu: target)
        let native = try session(cpu: host)

        let trace = try planned.trace(inputShapes: m.test[0].mapValues(\.shape)).trace
        let moved = trace.ops.filter { $0.hostFallback != nil }
        #expect(!moved.isEmpty, "the \(preset) plan sends INT8 convolutions to oneDNN with VNNI")
        for op in moved {
            let h = try #require(op.hostFallback)
            #expect(h.plannedBackend == "onednn")
            #expect(h.hostLacks.contains(.avx512_vnni))
            #expect(op.backend == "packed")
        }
        #expect(trace.text.contains("planned for \(preset): onednn"))

        for sample in m.test.prefix(20) {
            let a = try #require(try planned.run(sample)["logits"]).scalars(as: Float.self)
            let b = try #require(try native.run(sample)["logits"]).scalars(as: Float.self)
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        }
    }
}
