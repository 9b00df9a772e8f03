// Build-time tool: validates a rules file with the same parser the runtime uses and
// writes a Swift source file that embeds it. Usage: OctetRulesTool INPUT.json OUTPUT.swift
import Foundation
import OctetRules

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: OctetRulesTool INPUT.json OUTPUT.swift\n".utf8))
    exit(2)
}
let inputPath = arguments[1], outputPath = arguments[2]

do {
    let data = try Data(contentsOf: URL(fileURLWithPath: inputPath))
    let rules = try RuleSetParser.parse(data, source: inputPath)
    let text = String(decoding: data, as: UTF8.self)
    let source = EmbeddedRulesSource.render(json: text, ruleCount: rules.rules.count)
    try source.write(toFile: outputPath, atomically: true, encoding: .utf8)
} catch let error as RulesFileError {
    // The "error:" prefix makes SwiftPM show it as a build error at the file.
    FileHandle.standardError.write(Data("\(inputPath): error: \(error)\n".utf8))
    exit(1)
} catch {
    FileHandle.standardError.write(Data("\(inputPath): error: \(error)\n".utf8))
    exit(1)
}
