import Testing
import OctetCore
import OctetCPU
@testable import OctetRules

@Suite struct ConditionTests {
    let cpu = CPUFeatures(vendor: "t", model: "t", architecture: "x86_64", operatingSystem: "linux", cores: 1, logicalCPUs: 1,
                          caches: .init(), hardware: [.avx, .avx2], origin: .assumed("avx2"))

    func conv(groups: Int = 1) throws -> OpSignature {
        .convolution(input: try TensorShape([1, 128, 8, 8]), weight: try TensorShape([128, 128 / groups, 3, 3]),
                     geometry: ConvolutionGeometry(pads: (1, 1, 1, 1), groups: groups))
    }

    @Test func comparisons() throws {
        let s = try conv(groups: 4)
        #expect(Condition.field(.groups, .lessOrEqual, [.int(4)]).evaluate(s, cpu: cpu).holds)
        #expect(!Condition.field(.groups, .less, [.int(4)]).evaluate(s, cpu: cpu).holds)
        #expect(Condition.field(.groups, .isIn, [.int(1), .int(4)]).evaluate(s, cpu: cpu).holds)
        #expect(!Condition.field(.groups, .notIn, [.int(4)]).evaluate(s, cpu: cpu).holds)
        #expect(Condition.field(.k, .between, [.int(288), .int(288)]).evaluate(s, cpu: cpu).holds) // 32 channels/group x 9
        #expect(Condition.field(.os, .equal, [.string("linux")]).evaluate(s, cpu: cpu).holds)
        #expect(Condition.field(.precision, .notEqual, [.string("fp32")]).evaluate(s, cpu: cpu).holds)
        #expect(Condition.cpuHas(.avx2).evaluate(s, cpu: cpu).holds)
        #expect(!Condition.cpuLacks(.avx2).evaluate(s, cpu: cpu).holds)
    }

    @Test func explanationsSayWhatWasCompared() throws {
        let r = Condition.field(.groups, .lessOrEqual, [.int(2)]).evaluate(try conv(groups: 4), cpu: cpu)
        #expect(!r.holds)
        #expect(r.explanation == "groups <= 2: no, groups = 4")
        let missing = Condition.cpuHas(.avx512_vnni).evaluate(try conv(), cpu: cpu)
        #expect(missing.explanation.contains("lacks avx512_vnni"))
    }

    @Test func fieldsThatDoNotApplyFail() throws {
        let linear = try OpSignature.linear(m: 1, k: 8, n: 8)
        let r = Condition.field(.groups, .lessOrEqual, [.int(100)]).evaluate(linear, cpu: cpu)
        #expect(!r.holds)
        #expect(r.explanation.contains("does not apply to linear"))
        let fp32 = try OpSignature.linear(m: 1, k: 8, n: 8, types: .f32)
        #expect(!Condition.field(.weightSymmetric, .equal, [.bool(true)]).evaluate(fp32, cpu: cpu).holds)
    }

    @Test func ruleStopsAtTheFirstFailure() throws {
        let rule = Rule(id: "r", ops: [.conv2d], conditions: [.cpuHas(.avx2), .field(.groups, .equal, [.int(2)]), .cpuHas(.amx_int8)], backend: "b", why: "w")
        guard case let .failed(index, condition, _) = rule.evaluate(try conv(groups: 4), cpu: cpu) else {
            Issue.record("rule matched")
            return
        }
        #expect(index == 1)
        #expect(condition == .field(.groups, .equal, [.int(2)]))
        #expect(rule.evaluate(try conv(groups: 2), cpu: cpu) == .failed(conditionIndex: 2, condition: .cpuHas(.amx_int8), explanation: "cpu has amx_int8: no, avx2 lacks amx_int8"))
    }
}
