import OctetCore

extension DispatchTrace {
    /// The trace as aligned text, one block per op.
    public var text: String {
        var lines = ["cpu    \(cpu.displayName) [\(cpu.architecture), \(cpu.features.sorted().map(\.rawValue).joined(separator: " "))]",
                     "rules  \(rulesSource)"]
        if let host, host.features != cpu.features || host.architecture != cpu.architecture {
            lines.insert("host   \(host.displayName) [\(host.architecture), \(host.features.sorted().map(\.rawValue).joined(separator: " "))]", at: 1)
        }
        if !plannedFor.isEmpty {
            lines.append("for    \(plannedFor.map(\.description).joined(separator: ", "))")
        }
        if nodes.isEmpty {
            for (index, op) in ops.enumerated() {
                lines.append("")
                lines.append(contentsOf: Self.block(op, index: index))
            }
        } else {
            for (index, n) in nodes.enumerated() {
                switch n.placement {
                case .folded:
                    lines.append("")
                    lines.append("#\(index) \(n.opType) '\(n.node)'  folded while planning")
                case let .dispatched(i):
                    lines.append("")
                    var op = ops[i]
                    op.durationNanoseconds = n.durationNanoseconds ?? op.durationNanoseconds
                    lines.append(contentsOf: Self.block(op, index: index, opType: n.opType))
                case let .direct(backend, kernel, reason):
                    lines.append("")
                    lines.append("#\(index) \(n.opType) '\(n.node)'")
                    lines.append("  backend   \(backend) (\(kernel)): \(reason)")
                    if let ns = n.durationNanoseconds { lines.append("  time      " + format3(Double(ns) / 1e6) + " ms") }
                }
            }
            let counts = Dictionary(grouping: placements.map(\.backend), by: { $0 }).mapValues(\.count)
            lines.append("")
            lines.append("nodes  \(nodes.count): " + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func block(_ op: OpDispatch, index: Int, opType: String? = nil) -> [String] {
        let s = op.signature
        var out = ["#\(index) \(opType.map { "\($0) " } ?? "")\(s.kind)\(s.label.map { " '\($0)'" } ?? "")"]
        func row(_ label: String, _ text: String) { out.append("  " + label.padding(toLength: 10, withPad: " ", startingAt: 0) + text) }
        row("signature", s.description)

        let idWidth = max(op.rules.map(\.id.count).max() ?? 0, 4)
        if op.rules.isEmpty { row("rules", "no rule covers \(s.kind) at \(s.precision)") }
        for (i, r) in op.rules.enumerated() {
            let status = r.matched ? "MATCH → \(r.backend)" : "no     \(r.reason)"
            row(i == 0 ? "rules" : "", r.id.padding(toLength: idWidth, withPad: " ", startingAt: 0) + "  " + status)
        }
        if let why = op.why { row("why", why) }

        let nameWidth = max(op.attempts.map(\.backend.count).max() ?? 0, 4)
        var firstFallback = true
        for a in op.attempts {
            let label: String, origin: String
            switch a.source {
            case let .rule(id):
                label = "preferred"
                origin = "  (rule \(id))"
            case let .fallback(p):
                label = firstFallback ? "fallback" : ""
                origin = firstFallback ? "  (\(p) fallback order)" : ""
                firstFallback = false
            }
            row(label, a.backend.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  " + (a.chosen ? "chosen, \(a.reason)" : a.reason) + origin)
        }
        if let h = op.hostFallback {
            row("host", h.summary(ranOn: op.backend))
            for a in h.hostAttempts where !a.chosen { row("", "\(a.backend) on this host: \(a.reason)") }
        }
        if let b = op.backend {
            row("backend", "\(b) (\(op.kernel ?? "?"))")
        } else {
            row("backend", "NONE: no registered backend can run this op")
        }
        for n in op.notes { row("note", n) }
        if let ns = op.durationNanoseconds { row("time", String(format3(Double(ns) / 1e6)) + " ms") }
        return out
    }
}

/// `x` with three decimals, without Foundation.
func format3(_ x: Double) -> String {
    let scaled = (x * 1000).rounded()
    let whole = Int(scaled / 1000)
    let frac = Int(abs(scaled).truncatingRemainder(dividingBy: 1000))
    let fracText = String(frac)
    return "\(x < 0 && whole == 0 ? "-" : "")\(whole)." + String(repeating: "0", count: 3 - fracText.count) + fracText
}
