import Foundation
import Testing
import Octet

@Suite struct RegistryTests {
    @Test func registerLookUpUnregister() throws {
        let r = BackendRegistry()
        try r.register(FakeBackend(name: "a"))
        try r.register(FakeBackend(name: "b"))
        #expect(r.names == ["a", "b"])
        #expect(r.backend(named: "b")?.name == "b")
        #expect(throws: RegistryError.nameTaken("a")) { try r.register(FakeBackend(name: "a")) }
        #expect(throws: RegistryError.emptyName) { try r.register(FakeBackend(name: "")) }
        #expect(r.unregister("a")?.name == "a")
        #expect(r.unregister("a") == nil)
        #expect(r.names == ["b"])
    }

    @Test func concurrentRegistrationOfDistinctNames() async throws {
        let r = BackendRegistry()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask { try r.register(FakeBackend(name: "backend-\(i)")) }
            }
            try await group.waitForAll()
        }
        #expect(Set(r.names) == Set((0..<200).map { "backend-\($0)" }))
    }

    @Test func concurrentRegistrationOfOneNameAdmitsExactlyOne() async {
        let r = BackendRegistry()
        let successes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<64 {
                group.addTask { (try? r.register(FakeBackend(name: "same"))) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(successes == 1)
        #expect(r.names == ["same"])
    }

    @Test func concurrentRegisterAndUnregisterLeaveAConsistentRegistry() async throws {
        let r = BackendRegistry()
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<100 {
                group.addTask {
                    try? r.register(FakeBackend(name: "n\(i)"))
                    if i % 2 == 0 { r.unregister("n\(i)") }
                    _ = r.all
                }
            }
        }
        #expect(Set(r.names) == Set(stride(from: 1, to: 100, by: 2).map { "n\($0)" }))
    }
}

@Suite struct TraceTests {
    func trace() throws -> DispatchTrace {
        let reg = try registry(FakeBackend(name: "packed"))
        let selector = BackendSelector(rules: try RuleSet.builtIn(), registry: reg)
        let conv = OpSignature.convolution(input: try TensorShape([1, 64, 56, 56]), weight: try TensorShape([64, 64, 3, 3]),
                                           geometry: ConvolutionGeometry(pads: (1, 1, 1, 1)), label: "layer1.conv")
        return selector.trace([conv, try .linear(m: 1, k: 768, n: 3072)], cpu: try CPUFeatures.assumed("sapphire-rapids"))
    }

    @Test func jsonHasTheStableKeys() throws {
        let data = Data(try trace().json().utf8)
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(root["cpu"] != nil)
        let ops = try #require(root["ops"] as? [[String: Any]])
        #expect(ops.count == 2)
        let conv = ops[0]
        for key in ["op", "signature", "backend", "rules", "fallbacks"] { #expect(conv[key] != nil, "missing \(key)") }
        #expect(conv["op"] as? String == "conv2d")
        #expect(conv["backend"] as? String == "packed")
        let rules = try #require(conv["rules"] as? [[String: Any]])
        #expect(rules.first?["id"] as? String == "x86-conv-onednn")
        #expect(rules.first?["matched"] as? Bool == true)
        #expect(rules.first?["reason"] as? String == "matched")
        let fallbacks = try #require(conv["fallbacks"] as? [[String: Any]])
        #expect(fallbacks.first?["backend"] as? String == "packed")
        #expect(fallbacks.first?["reason"] as? String == "kernel packed-kernel")
        let preferred = try #require(conv["preferred"] as? [String: Any])
        #expect(preferred["reason"] as? String == "not registered")
    }

    @Test func textShowsEveryStepOnAligned() throws {
        let text = try trace().text
        #expect(text.contains("#0 conv2d 'layer1.conv'"))
        #expect(text.contains("x86-conv-onednn  MATCH → onednn"))
        #expect(text.contains("preferred onednn  not registered  (rule x86-conv-onednn)"))
        #expect(text.contains("chosen, kernel packed-kernel  (int8 fallback order)"))
        #expect(text.contains("#1 linear"))
        #expect(text.contains("x86-linear-packed  MATCH → packed"))
    }
}

@Suite struct TraceJSONNullTests {
    @Test func unchosenBackendIsNullNotMissing() throws {
        let selector = BackendSelector(rules: try RuleSet.builtIn(), registry: BackendRegistry())
        let t = selector.trace([try .linear(m: 1, k: 4, n: 4)], cpu: try CPUFeatures.assumed("zen3"))
        let root = try #require(try JSONSerialization.jsonObject(with: Data(try t.json().utf8)) as? [String: Any])
        let op = try #require((root["ops"] as? [[String: Any]])?.first)
        #expect(op.keys.contains("backend"))
        #expect(op["backend"] is NSNull)
    }
}
