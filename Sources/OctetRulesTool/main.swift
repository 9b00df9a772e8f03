// The rules-file tool, with the same parser the runtime uses.
//   OctetRulesTool INPUT.json OUTPUT.swift   build time: validate, then write the Swift source embedding it
//   OctetRulesTool validate FILE...          check files; errors name the file, the rule id and the field
//   OctetRulesTool print FILE                the rules in order, one block each
//   OctetRulesTool diff OLD NEW              rules added, removed, reordered or changed; fallback changes
// The `octet-rules` command plugin runs the last three (`swift package octet-rules ...`).
import Foundation
import OctetRules

func fail(_ text: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data((text + "\n").utf8))
    exit(code)
}

func load(_ path: String) -> (RuleSet, Data) {
    do {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return (try RuleSetParser.parse(data, source: path), data)
    } catch {
        // The "error:" prefix makes SwiftPM show it as a build error at the file.
        fail("\(path): error: \(error)")
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
let usage = "usage: OctetRulesTool INPUT.json OUTPUT.swift | validate FILE... | print FILE | diff OLD NEW"

switch arguments.first {
case "validate":
    guard arguments.count >= 2 else { fail(usage, code: 2) }
    for path in arguments.dropFirst() {
        let (rules, _) = load(path)
        print("\(path): valid, \(rules.rules.count) rules, backends \(rules.referencedBackends.joined(separator: ", "))")
    }
case "print":
    guard arguments.count == 2 else { fail(usage, code: 2) }
    print(RulesText.render(load(arguments[1]).0), terminator: "")
case "diff":
    guard arguments.count == 3 else { fail(usage, code: 2) }
    let changes = RulesText.diff(load(arguments[1]).0, load(arguments[2]).0)
    print(changes.isEmpty ? "no difference in rules or fallbacks" : changes.joined(separator: "\n"))
default:
    guard arguments.count == 2 else { fail(usage, code: 2) }
    let (inputPath, outputPath) = (arguments[0], arguments[1])
    let (rules, data) = load(inputPath)
    let source = EmbeddedRulesSource.render(json: String(decoding: data, as: UTF8.self), ruleCount: rules.rules.count)
    do { try source.write(toFile: outputPath, atomically: true, encoding: .utf8) } catch {
        fail("\(outputPath): error: cannot write: \(error)")
    }
}
