import PackagePlugin

/// Validates the package's `backends.json` at build time (a broken file fails the build
/// with the rule id and the field) and generates the Swift source that embeds it as
/// the built-in default rules of the target it is applied to.
@main
struct EmbedDefaultRules: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let input = context.package.directoryURL.appending(path: "backends.json")
        let output = context.pluginWorkDirectoryURL.appending(path: "DefaultRules.generated.swift")
        return [
            .buildCommand(
                displayName: "Validating and embedding backends.json",
                executable: try context.tool(named: "OctetRulesTool").url,
                arguments: [input.path(), output.path()],
                inputFiles: [input],
                outputFiles: [output]
            ),
        ]
    }
}
