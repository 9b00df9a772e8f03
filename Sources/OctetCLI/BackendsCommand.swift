import ArgumentParser
import Foundation
import Octet

struct BackendsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backends",
        abstract: "List the registered backends, what each needs, and whether it can run on this CPU.",
        discussion: "Backends that the rules name but that are not registered are listed too, as unavailable."
    )

    @OptionGroup var target: TargetCPUOptions
    @OptionGroup var rules: RulesOptions
    @OptionGroup var backends: BackendOptions
    @Flag(help: "Print JSON: an array of {name, available, reason, ...}.") var json = false

    struct Row: Encodable {
        var name: String
        var registered: Bool
        var available: Bool
        var reason: String
        var version: String?
        var requires: String?
        var summary: String?
        /// Whether a rule or a fallback order of the rules names it.
        var routed: Bool
    }

    func run() throws {
        let cpu = try target.resolve()
        let ruleSet = try rules.load()
        let registry = try backends.registry()
        let named = Set(ruleSet.referencedBackends)
        var rows: [Row] = registry.all.map { b in
            let check = b.requirements.check(cpu)
            return Row(name: b.name, registered: true, available: check.available, reason: check.reason,
                       version: b.version, requires: b.requirements.description, summary: b.summary, routed: named.contains(b.name))
        }
        for name in ruleSet.referencedBackends where registry.backend(named: name) == nil {
            rows.append(Row(name: name, registered: false, available: false,
                            reason: "not registered (named by \(ruleSet.source))", version: nil, requires: nil, summary: nil, routed: true))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            emit(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        let width = max(rows.map(\.name.count).max() ?? 0, 7)
        emit("cpu: \(cpu.displayName)")
        emit("backend".padding(toLength: width, withPad: " ", startingAt: 0) + "  available  requires / reason")
        for r in rows {
            let head = r.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + (r.available ? "yes      " : "no       ") + "  "
            if r.registered {
                emit(head + "\(r.requires ?? "") (v\(r.version ?? "?")): \(r.reason)")
                if let s = r.summary { emit(String(repeating: " ", count: width + 13) + s) }
                if !r.routed { emit(String(repeating: " ", count: width + 13) + "registered, no rule routes to it (name it in a rules file: --rules)") }
            } else {
                emit(head + r.reason)
            }
        }
    }
}
