import ArgumentParser
import Octet

@main
struct OctetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "octet",
        abstract: "Run neural networks in INT8 on CPUs, and say why each op ran where it ran.",
        version: octetVersion,
        subcommands: [CPUCommand.self, BackendsCommand.self, DispatchTraceCommand.self, InfoCommand.self, RunCommand.self, BenchCommand.self, QuantizeCommand.self, RunBatchCommand.self]
    )
}

/// `--cpu`: plan for a preset or an explicit feature list instead of this machine.
struct TargetCPUOptions: ParsableArguments {
    @Option(name: .customLong("cpu"), help: ArgumentHelp(
        "Plan for another CPU: a preset (\(CPUFeatures.presets.map(\.name).joined(separator: ", "))), a comma-separated feature list, or a preset adjusted with +feature/-feature.",
        valueName: "NAME|FEATURES"))
    var spec: String?

    func resolve() throws -> CPUFeatures {
        guard let spec else { return CPUFeatures.host }
        do {
            return try CPUFeatures.assumed(spec, host: CPUFeatures.host)
        } catch {
            throw ValidationError("--cpu: \(error)")
        }
    }
}

/// `--rules`: a rules file in place of the built-in one.
struct RulesOptions: ParsableArguments {
    @Option(name: .customLong("rules"), help: ArgumentHelp("Use this rules file instead of the built-in backends.json.", valueName: "FILE"))
    var path: String?

    func load() throws -> RuleSet {
        try RuleSet.load(from: path)
    }
}

/// `--plugin`: shared-library backends to load beside the built-in ones.
struct BackendOptions: ParsableArguments {
    @Option(name: .customLong("plugin"), help: ArgumentHelp(
        "Load a backend plugin (a shared library built against octet_plugin.h). Repeatable; a rules file routes ops to it by name.",
        valueName: "PATH"))
    var plugins: [String] = []

    /// The built-in backends plus every plugin, in order; a refused plugin stops with its reason.
    func registry() throws -> BackendRegistry {
        let registry = BackendRegistry.builtIn()
        for path in plugins {
            try registry.loadPlugin(path)
        }
        return registry
    }
}

/// Writes a line to standard output.
func emit(_ text: String) {
    print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
}
