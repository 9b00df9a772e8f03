import Foundation
import PackagePlugin

/// `swift package octet-rules validate FILE... | print FILE | diff OLD NEW`: for people
/// editing rules files, with the parser the runtime uses (the build tool OctetRulesTool).
@main
struct OctetRulesCommand: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        let tool = try context.tool(named: "OctetRulesTool")
        guard let verb = arguments.first, ["validate", "print", "diff"].contains(verb) else {
            Diagnostics.error("usage: swift package octet-rules validate FILE... | print FILE | diff OLD NEW")
            return
        }
        let process = Process()
        process.executableURL = tool.url
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            Diagnostics.error("octet-rules \(verb) failed (exit \(process.terminationStatus))")
        }
    }
}
