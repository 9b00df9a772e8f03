import Foundation
import Testing
import Octet

/// Planning for another CPU never breaks a run: a backend chosen for the planned CPU
/// that cannot run on the host is replaced through the fallback order, and the dispatch
/// says what was planned, what the host lacks and where the op ran.
@Suite struct HostFallbackTests {
    let conv3x3 = OpSignature.convolution(
        input: try! TensorShape([1, 64, 56, 56]), weight: try! TensorShape([64, 64, 3, 3]),
        geometry: ConvolutionGeometry(pads: (1, 1, 1, 1)))

    func selector(onednnNeeds: Set<ISAFeature>) throws -> BackendSelector {
        BackendSelector(rules: try RuleSet.builtIn(),
                        registry: try registry(FakeBackend(name: "onednn", needs: onednnNeeds), FakeBackend(name: "packed"), FakeBackend(name: "qnnpack-ref")))
    }

    @Test func aBackendTheHostCannotRunFallsBack() throws {
        let planned = try CPUFeatures.assumed("cascade-lake")
        let host = try CPUFeatures.assumed("zen3")
        let d = try selector(onednnNeeds: [.avx512_vnni]).select(conv3x3, cpu: planned, host: host)
        #expect(d.matchedRule == "x86-conv-onednn", "the plan's rules are those of the planned CPU")
        #expect(d.backend == "packed")
        #expect(d.kernel == "packed-kernel")
        let h = try #require(d.hostFallback)
        #expect(h.plannedBackend == "onednn" && h.plannedFor == "cascade-lake")
        #expect(h.hostLacks == [.avx512f, .avx512bw, .avx512vl, .avx512dq, .avx512_vnni])
        #expect(h.reason.contains("needs avx512_vnni"))
        let sentence = h.summary(ranOn: d.backend)
        #expect(sentence.hasPrefix("planned for cascade-lake: onednn; host lacks avx512f"))
        #expect(sentence.hasSuffix("ran on packed"))
        let text = DispatchTrace(cpu: planned, host: host, rulesSource: "test", ops: [d]).text
        #expect(text.contains("host   zen3"))
        #expect(text.contains("planned for cascade-lake: onednn"))
        let json = try DispatchTrace(cpu: planned, host: host, rulesSource: "test", ops: [d]).json()
        #expect(json.contains("\"host_fallback\"") && json.contains("\"planned_backend\" : \"onednn\""))
    }

    @Test func aBackendTheHostCanRunIsKept() throws {
        let planned = try CPUFeatures.assumed("sapphire-rapids")
        let host = try CPUFeatures.assumed("cascade-lake")
        let d = try selector(onednnNeeds: [.avx512_vnni]).select(conv3x3, cpu: planned, host: host)
        #expect(d.backend == "onednn")
        #expect(d.hostFallback == nil)
    }

    @Test func planningForThisMachineChecksNothingTwice() throws {
        let host = try CPUFeatures.assumed("zen3")
        let d = try selector(onednnNeeds: [.avx512_vnni]).select(conv3x3, cpu: host, host: host)
        #expect(d.backend == "packed" && d.hostFallback == nil)
    }

    @Test func noBackendOnTheHostIsReportedNotHidden() throws {
        let planned = try CPUFeatures.assumed("cascade-lake")
        let host = try CPUFeatures.assumed("zen3")
        let only = BackendSelector(rules: try RuleSet.builtIn(), registry: try registry(FakeBackend(name: "onednn", needs: [.avx512_vnni])))
        let d = only.select(conv3x3, cpu: planned, host: host)
        #expect(d.backend == nil)
        #expect(d.hostFallback?.summary(ranOn: nil).hasSuffix("ran on no backend") == true)
    }
}
