import Foundation
import Testing
import Octet

/// The built-in rules, driven with test-double backends, on assumed CPUs.
@Suite struct BackendSelectorTests {
    let conv3x3 = OpSignature.convolution(
        input: try! TensorShape([1, 64, 56, 56]), weight: try! TensorShape([64, 64, 3, 3]),
        geometry: ConvolutionGeometry(pads: (1, 1, 1, 1)))

    func select(_ s: OpSignature, on cpuName: String, backends: [FakeBackend]? = nil) throws -> OpDispatch {
        let reg = BackendRegistry()
        for b in backends ?? [FakeBackend(name: "onednn"), FakeBackend(name: "packed"), FakeBackend(name: "qnnpack-ref")] {
            try reg.register(b)
        }
        return BackendSelector(rules: try RuleSet.builtIn(), registry: reg).select(s, cpu: try CPUFeatures.assumed(cpuName))
    }

    @Test func conv3x3OnSapphireRapidsGoesToOneDNN() throws {
        let d = try select(conv3x3, on: "sapphire-rapids")
        #expect(d.backend == "onednn")
        #expect(d.matchedRule == "x86-conv-onednn")
        #expect(d.kernel == "onednn-kernel")
        #expect(d.rules.map(\.matched) == [true])
        #expect(d.why?.contains("AVX-512 VNNI") == true)
    }

    @Test func conv3x3OnZen3GoesToThePackedGEMM() throws {
        let d = try select(conv3x3, on: "zen3")
        #expect(d.backend == "packed")
        #expect(d.matchedRule == "x86-conv-packed")
        #expect(d.rules.first?.id == "x86-conv-onednn")
        #expect(d.rules.first?.matched == false)
        #expect(d.rules.first?.reason == "cpu has avx512_vnni: no, zen3 lacks avx512_vnni")
    }

    @Test func avxVNNIDoesNotCount() throws {
        let d = try select(conv3x3, on: "alder-lake")
        #expect(d.backend == "packed")
        #expect(d.rules.first?.reason.contains("lacks avx512_vnni") == true)
    }

    @Test func eachPyTorchConditionIsHonoured() throws {
        var grouped = OpSignature.convolution(input: try TensorShape([1, 256, 14, 14]), weight: try TensorShape([256, 2, 3, 3]),
                                              geometry: ConvolutionGeometry(pads: (1, 1, 1, 1), groups: 128))
        var d = try select(grouped, on: "sapphire-rapids")
        #expect(d.backend == "packed")
        #expect(d.rules.first?.reason == "groups <= 100: no, groups = 128")
        grouped.convolution?.groups = 100
        grouped.weight = try TensorShape([256, 256 / 100 == 2 ? 2 : 2, 3, 3])

        var asym = conv3x3
        asym.quantization?.symmetricWeights = false
        asym.quantization?.weightZeroPoint = 3
        d = try select(asym, on: "sapphire-rapids")
        #expect(d.backend == "packed")
        #expect(d.rules.first?.reason == "weight_symmetric == true: no, weight_symmetric = false")

        let transposed = OpSignature.convolution(input: try TensorShape([1, 16, 8, 8]), weight: try TensorShape([16, 8, 3, 3]),
                                                 geometry: ConvolutionGeometry(stride: (2, 2), pads: (1, 1, 1, 1), outputPadding: (1, 1)),
                                                 transposed: true)
        try transposed.validate()
        d = try select(transposed, on: "sapphire-rapids")
        #expect(d.backend == "packed")
        #expect(d.rules.first?.reason == "output_padding == 0: no, output_padding = 1")

        var windows = try CPUFeatures.assumed("sapphire-rapids")
        windows.operatingSystem = "windows"
        let reg = try registry(FakeBackend(name: "onednn"), FakeBackend(name: "packed"))
        d = BackendSelector(rules: try RuleSet.builtIn(), registry: reg).select(conv3x3, cpu: windows)
        #expect(d.backend == "packed")
        #expect(d.rules.first?.reason == "os == linux: no, os = windows")
    }

    @Test func linearAlwaysGoesToThePackedGEMM() throws {
        for cpu in ["sapphire-rapids", "zen3", "cascade-lake"] {
            let d = try select(try OpSignature.linear(m: 1, k: 768, n: 3072), on: cpu)
            #expect(d.backend == "packed", "\(cpu)")
            #expect(d.matchedRule == "x86-linear-packed")
        }
        var dynamic = try OpSignature.linear(m: 16, k: 768, n: 768)
        dynamic.quantization?.dynamic = true
        #expect(try select(dynamic, on: "sapphire-rapids").backend == "packed")
    }

    @Test func unregisteredPreferredBackendFallsBack() throws {
        let d = try select(conv3x3, on: "sapphire-rapids", backends: [FakeBackend(name: "packed"), FakeBackend(name: "qnnpack-ref")])
        #expect(d.backend == "packed")
        #expect(d.attempts.first == .init(backend: "onednn", source: .rule("x86-conv-onednn"), chosen: false, reason: "not registered"))
        #expect(d.fallbacks.map(\.backend) == ["packed"])
        #expect(d.fallbacks.first?.chosen == true)
    }

    @Test func decliningBackendFallsThroughTheOrder() throws {
        let d = try select(conv3x3, on: "zen3", backends: [
            FakeBackend(name: "packed", accepts: [.linear], declineReason: "no conv kernel"),
            FakeBackend(name: "onednn", needs: [.avx512_vnni]),
            FakeBackend(name: "qnnpack-ref"),
        ])
        #expect(d.backend == "qnnpack-ref")
        #expect(d.attempts.map(\.backend) == ["packed", "onednn", "qnnpack-ref"])
        #expect(d.attempts[0].reason == "declined: no conv kernel")
        #expect(d.attempts[1].reason.hasPrefix("cannot run on this CPU: needs avx512_vnni"))
        #expect(d.attempts[2].chosen)
    }

    @Test func nothingRegisteredMeansNoBackend() throws {
        let d = try select(conv3x3, on: "zen3", backends: [])
        #expect(d.backend == nil)
        #expect(d.attempts.allSatisfy { !$0.chosen && $0.reason == "not registered" })
        let text = DispatchTrace(cpu: try CPUFeatures.assumed("zen3"), rulesSource: "x", ops: [d]).text
        #expect(text.contains("NONE"))
    }

    @Test func customRulesChangeTheChoice() throws {
        let json = #"""
        {"schema_version": 1, "fallback": {"int8": ["qnnpack-ref"]},
         "rules": [{"id": "small-m-to-ref", "ops": ["linear"], "when": [{"field": "m", "op": "<", "value": 4}], "backend": "qnnpack-ref", "why": "test"}]}
        """#
        let rules = try RuleSetParser.parse(Data(json.utf8), source: "custom.json")
        let reg = try registry(FakeBackend(name: "packed"), FakeBackend(name: "qnnpack-ref"))
        let selector = BackendSelector(rules: rules, registry: reg)
        let cpu = try CPUFeatures.assumed("zen3")
        #expect(selector.select(try .linear(m: 1, k: 8, n: 8), cpu: cpu).backend == "qnnpack-ref")
        let big = selector.select(try .linear(m: 64, k: 8, n: 8), cpu: cpu)
        #expect(big.matchedRule == nil)
        #expect(big.backend == "qnnpack-ref") // via the fallback order
        #expect(big.rules.first?.reason == "m < 4: no, m = 64")
    }

    @Test func builtInRulesAreTheShippedFile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let onDisk = try RuleSetParser.load(contentsOf: root.appendingPathComponent("backends.json").path)
        let builtIn = try RuleSet.builtIn()
        #expect(builtIn.rules == onDisk.rules)
        #expect(builtIn.fallbacks == onDisk.fallbacks)
        #expect(builtIn.source == "built-in backends.json")
    }
}
