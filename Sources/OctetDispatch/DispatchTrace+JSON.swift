import Foundation
import OctetCore
import OctetCPU

extension DispatchTrace {
    /// The trace as JSON: `{"cpu": …, "rules_source": …, "ops": [{"op", "signature",
    /// "backend", "kernel", "rule", "why", "rules": [{"id", "matched", "reason",
    /// "backend"}], "preferred", "fallbacks": [{"backend", "reason", "chosen"}],
    /// "notes", "time_ms", "macs", "host_fallback"}], "host", "nodes": [{"node", "op_type",
    /// "placement" (folded | dispatched | direct), "op" (index into ops), "backend",
    /// "kernel", "reason", "time_ms"}], "planned_for": [{"name", "type", "value"}]}`.
    /// Keys are stable: scripts rely on them.
    public func json(pretty: Bool = true) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(TraceJSON(self))
        return String(decoding: data, as: UTF8.self)
    }
}

private struct TraceJSON: Encodable {
    struct CPU: Encodable {
        var name: String
        var origin: String
        var architecture: String
        var os: String
        var features: [String]
    }
    struct Rule: Encodable {
        var id: String
        var matched: Bool
        var reason: String
        var backend: String
    }
    struct Attempt: Encodable {
        var backend: String
        var reason: String
        var chosen: Bool
        var rule: String?
        var precision: String?
    }
    struct Op: Encodable {
        var op: String
        var label: String?
        var signature: String
        var backend: String?
        var kernel: String?
        var rule: String?
        var why: String?
        var rules: [Rule]
        var preferred: Attempt?
        var fallbacks: [Attempt]
        var notes: [String]
        var time_ms: Double?
        var macs: Int
        var host_fallback: HostFallback?

        enum CodingKeys: String, CodingKey {
            case op, label, signature, backend, kernel, rule, why, rules, preferred, fallbacks, notes, time_ms, macs, host_fallback
        }

        /// Optional fields are written as `null`, never left out: the keys are the interface.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(op, forKey: .op)
            try c.encode(label, forKey: .label)
            try c.encode(signature, forKey: .signature)
            try c.encode(backend, forKey: .backend)
            try c.encode(kernel, forKey: .kernel)
            try c.encode(rule, forKey: .rule)
            try c.encode(why, forKey: .why)
            try c.encode(rules, forKey: .rules)
            try c.encode(preferred, forKey: .preferred)
            try c.encode(fallbacks, forKey: .fallbacks)
            try c.encode(notes, forKey: .notes)
            try c.encode(time_ms, forKey: .time_ms)
            try c.encode(macs, forKey: .macs)
            try c.encode(host_fallback, forKey: .host_fallback)
        }
    }
    struct HostFallback: Encodable {
        var planned_for: String
        var planned_backend: String
        var planned_kernel: String?
        var host_lacks: [String]
        var reason: String
        var host_attempts: [Attempt]
        var summary: String
    }
    var cpu: CPU
    var host: CPU?
    var rules_source: String
    var planned_for: [Planned]

    struct Planned: Encodable {
        var name: String
        var type: String
        var value: String?
    }
    var ops: [Op]
    var nodes: [Node]

    /// One graph node: `placement` is `folded`, `dispatched` (`op` indexes `ops`) or
    /// `direct` (placed without rules, for `reason`).
    struct Node: Encodable {
        var node: String
        var op_type: String
        var placement: String
        var op: Int?
        var backend: String?
        var kernel: String?
        var reason: String?
        var time_ms: Double?

        enum CodingKeys: String, CodingKey { case node, op_type, placement, op, backend, kernel, reason, time_ms }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(node, forKey: .node)
            try c.encode(op_type, forKey: .op_type)
            try c.encode(placement, forKey: .placement)
            try c.encode(op, forKey: .op)
            try c.encode(backend, forKey: .backend)
            try c.encode(kernel, forKey: .kernel)
            try c.encode(reason, forKey: .reason)
            try c.encode(time_ms, forKey: .time_ms)
        }
    }

    init(_ t: DispatchTrace) {
        host = t.host.map { CPU(name: $0.displayName, origin: $0.origin.description, architecture: $0.architecture,
                                os: $0.operatingSystem, features: $0.features.sorted().map(\.rawValue)) }
        cpu = CPU(name: t.cpu.displayName, origin: t.cpu.origin.description, architecture: t.cpu.architecture,
                  os: t.cpu.operatingSystem, features: t.cpu.features.sorted().map(\.rawValue))
        rules_source = t.rulesSource
        planned_for = t.plannedFor.map { Planned(name: $0.name, type: $0.type, value: $0.value) }
        nodes = t.nodes.map { n in
            let ms = n.durationNanoseconds.map { Double($0) / 1e6 }
            switch n.placement {
            case .folded:
                return Node(node: n.node, op_type: n.opType, placement: "folded", time_ms: ms)
            case let .dispatched(i):
                return Node(node: n.node, op_type: n.opType, placement: "dispatched", op: i, backend: t.ops[i].backend, kernel: t.ops[i].kernel, time_ms: ms)
            case let .direct(backend, kernel, reason):
                return Node(node: n.node, op_type: n.opType, placement: "direct", backend: backend, kernel: kernel, reason: reason, time_ms: ms)
            }
        }
        ops = t.ops.map { d in
            func attempt(_ a: OpDispatch.Attempt) -> Attempt {
                switch a.source {
                case let .rule(id): Attempt(backend: a.backend, reason: a.reason, chosen: a.chosen, rule: id, precision: nil)
                case let .fallback(p): Attempt(backend: a.backend, reason: a.reason, chosen: a.chosen, rule: nil, precision: p.rawValue)
                }
            }
            let preferred = d.attempts.first { if case .rule = $0.source { true } else { false } }
            return Op(
                op: d.signature.kind.rawValue, label: d.signature.label, signature: d.signature.description,
                backend: d.backend, kernel: d.kernel, rule: d.matchedRule, why: d.why,
                rules: d.rules.map { Rule(id: $0.id, matched: $0.matched, reason: $0.reason, backend: $0.backend) },
                preferred: preferred.map(attempt), fallbacks: d.fallbacks.map(attempt), notes: d.notes,
                time_ms: d.durationNanoseconds.map { Double($0) / 1e6 }, macs: d.signature.macs,
                host_fallback: d.hostFallback.map { h in
                    HostFallback(planned_for: h.plannedFor, planned_backend: h.plannedBackend, planned_kernel: h.plannedKernel,
                                 host_lacks: h.hostLacks.map(\.rawValue), reason: h.reason, host_attempts: h.hostAttempts.map(attempt),
                                 summary: h.summary(ranOn: d.backend))
                }
            )
        }
    }
}
