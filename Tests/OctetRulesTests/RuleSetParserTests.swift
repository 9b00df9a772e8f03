import Foundation
import Testing
import OctetCore
@testable import OctetRules

/// Every kind of malformed rules file is refused with the file, the rule id and the field.
@Suite struct RuleSetParserTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func parse(_ json: String) throws(RulesFileError) -> RuleSet {
        try RuleSetParser.parse(Data(json.utf8), source: "test.json")
    }

    /// A valid file with one rule whose body is `rule` (an object's members).
    func withRule(_ rule: String, top: String = "") -> String {
        """
        {"schema_version": 1, \(top) "fallback": {"int8": ["packed"]},
         "rules": [{"id": "r1", "ops": ["conv2d"], "backend": "x", "why": "w"},
                   {"id": "r2", \(rule)}]}
        """
    }

    func expectError(_ json: String, rule: String?, field: String, mentions: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try parse(json)
            Issue.record("accepted a malformed file", sourceLocation: sourceLocation)
        } catch {
            #expect(error.file == "test.json", sourceLocation: sourceLocation)
            #expect(error.ruleID == rule, sourceLocation: sourceLocation)
            #expect(error.field == field, sourceLocation: sourceLocation)
            #expect(error.message.contains(mentions), "message: \(error.message)", sourceLocation: sourceLocation)
            #expect(error.description.contains("test.json"), sourceLocation: sourceLocation)
        }
    }

    @Test func theShippedFileParses() throws {
        let rules = try RuleSetParser.load(contentsOf: Self.repoRoot.appendingPathComponent("backends.json").path)
        #expect(rules.rules.first?.id == "x86-conv-onednn")
        #expect(rules.fallbacks[.int8] == ["packed", "onednn", "qnnpack-ref", "builtin"])
        #expect(Set(rules.rules.map(\.id)).count == rules.rules.count)
    }

    @Test func aMinimalFileParses() throws {
        let r = try parse(withRule(##""ops": ["linear"], "precision": ["int8", "fp32"], "when": [{"field": "m", "op": "between", "value": [1, 16]}, {"cpu_lacks": "amx_int8"}], "backend": "packed", "why": "small""##))
        #expect(r.rules.count == 2)
        #expect(r.rules[1].precisions == [.int8, .fp32])
        #expect(r.rules[1].conditions == [.field(.m, .between, [.int(1), .int(16)]), .cpuLacks(.amx_int8)])
    }

    @Test func badJSON() {
        expectError(#"{"schema_version": 1,"#, rule: nil, field: "", mentions: "not valid JSON")
        expectError("[]", rule: nil, field: "", mentions: "expected an object")
    }

    @Test func schemaVersion() {
        expectError(#"{"schema_version": 2, "fallback": {}, "rules": []}"#, rule: nil, field: "schema_version", mentions: "unknown schema version 2")
        expectError(#"{"schema_version": "1", "fallback": {}, "rules": []}"#, rule: nil, field: "schema_version", mentions: "expected an integer")
        expectError(#"{"fallback": {}, "rules": []}"#, rule: nil, field: "schema_version", mentions: "missing")
    }

    @Test func unknownFields() {
        expectError(#"{"schema_version": 1, "fallback": {}, "rules": [], "extra": 1}"#, rule: nil, field: "extra", mentions: "unknown field 'extra'")
        expectError(withRule(#""ops": ["conv2d"], "backend": "b", "why": "w", "prefer": "x""#), rule: "r2", field: "rules[1].prefer", mentions: "unknown field 'prefer'")
        expectError(#"{"schema_version": 1, "fallback": {"int4": ["x"]}, "rules": []}"#, rule: nil, field: "fallback.int4", mentions: "unknown field 'int4'")
        expectError(withRule(#""ops": ["conv2d"], "backend": "b", "why": "w", "when": [{"field": "m", "op": "==", "value": 1, "also": 2}]"#),
                    rule: "r2", field: "rules[1].when[0].also", mentions: "unknown field")
    }

    @Test func missingOrEmptyRuleFields() {
        expectError(withRule(#""ops": ["conv2d"], "why": "w""#), rule: "r2", field: "rules[1].backend", mentions: "missing")
        expectError(withRule(#""ops": ["conv2d"], "backend": "", "why": "w""#), rule: "r2", field: "rules[1].backend", mentions: "empty")
        expectError(withRule(#""ops": [], "backend": "b", "why": "w""#), rule: "r2", field: "rules[1].ops", mentions: "empty")
        expectError(withRule(#""ops": "conv2d", "backend": "b", "why": "w""#), rule: "r2", field: "rules[1].ops", mentions: "array")
        expectError(#"{"schema_version": 1, "fallback": {}, "rules": [{"ops": ["conv2d"], "backend": "b", "why": "w"}]}"#,
                    rule: nil, field: "rules[0].id", mentions: "missing")
    }

    @Test func unknownOpAndPrecision() {
        expectError(withRule(#""ops": ["conv3d"], "backend": "b", "why": "w""#), rule: "r2", field: "rules[1].ops[0]", mentions: "unknown op 'conv3d'")
        expectError(withRule(#""ops": ["linear"], "precision": ["int4"], "backend": "b", "why": "w""#), rule: "r2", field: "rules[1].precision[0]", mentions: "unknown precision")
    }

    @Test func badConditions() {
        func cond(_ c: String) -> String { withRule(#""ops": ["conv2d"], "backend": "b", "why": "w", "when": [{"cpu_has": "avx2"}, \#(c)]"#) }
        expectError(cond(#"{"field": "grups", "op": "<=", "value": 100}"#), rule: "r2", field: "rules[1].when[1].field", mentions: "unknown field 'grups'")
        expectError(cond(#"{"field": "groups", "op": "=<", "value": 100}"#), rule: "r2", field: "rules[1].when[1].op", mentions: "unknown operator")
        expectError(cond(#"{"field": "groups", "op": "<=", "value": "100"}"#), rule: "r2", field: "rules[1].when[1].value", mentions: "is an integer, found a string")
        expectError(cond(#"{"field": "per_channel", "op": ">", "value": true}"#), rule: "r2", field: "rules[1].when[1].op", mentions: "orders integers")
        expectError(cond(#"{"field": "precision", "op": "==", "value": "int4"}"#), rule: "r2", field: "rules[1].when[1].value", mentions: "not a value of 'precision'")
        expectError(cond(#"{"field": "m", "op": "between", "value": [16, 1]}"#), rule: "r2", field: "rules[1].when[1].value", mentions: "low ≤ high")
        expectError(cond(#"{"field": "m", "op": "in", "value": 3}"#), rule: "r2", field: "rules[1].when[1].value", mentions: "non-empty array")
        expectError(cond(#"{"field": "m", "op": "in", "value": [1, "x"]}"#), rule: "r2", field: "rules[1].when[1].value[1]", mentions: "found a string")
        expectError(cond(#"{"cpu_has": "avx1024"}"#), rule: "r2", field: "rules[1].when[1].cpu_has", mentions: "unknown CPU feature")
        expectError(cond(#"{"cpu_has": "avx2", "cpu_lacks": "amx_int8"}"#), rule: "r2", field: "rules[1].when[1].cpu_lacks", mentions: "unknown field")
        expectError(cond(#"{"op": "==", "value": 1}"#), rule: "r2", field: "rules[1].when[1]", mentions: "needs 'field'")
        expectError(cond(#"{"field": "m", "op": "=="}"#), rule: "r2", field: "rules[1].when[1].value", mentions: "missing")
        expectError(cond(#""avx2""#), rule: "r2", field: "rules[1].when[1]", mentions: "expected a condition object")
    }

    @Test func duplicateIDs() {
        expectError(withRule(#""ops": ["conv2d"], "backend": "b", "why": "w""#).replacingOccurrences(of: "\"r2\"", with: "\"r1\""),
                    rule: "r1", field: "rules[1].id", mentions: "duplicate rule id")
    }

    @Test func unreadableFile() {
        do {
            _ = try RuleSetParser.load(contentsOf: "/nonexistent/rules.json")
            Issue.record("read a file that does not exist")
        } catch {
            #expect(error.file == "/nonexistent/rules.json")
            #expect(error.message.contains("cannot read"))
        }
    }

    @Test func embeddedSourceSurvivesHashesAndQuotes() {
        let json = ###"{"why": "a \"quoted\"# thing \"## more"}"###
        let source = EmbeddedRulesSource.render(json: json, ruleCount: 0)
        #expect(source.contains("###\"\"\""))
        #expect(source.contains(json))
    }
}
