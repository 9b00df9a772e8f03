import OctetRules

/// Rules files as text for people: a listing, and the differences between two files.
enum RulesText {
    static func block(_ r: Rule) -> [String] {
        var lines = ["\(r.id) → \(r.backend)"]
        lines.append("  ops        \(r.ops.map(\.rawValue).sorted().joined(separator: ", "))")
        if let p = r.precisions { lines.append("  precision  \(p.map(\.rawValue).sorted().joined(separator: ", "))") }
        for (i, c) in r.conditions.enumerated() { lines.append((i == 0 ? "  when       " : "             ") + "\(c)") }
        lines.append("  why        \(r.why)")
        return lines
    }

    static func render(_ s: RuleSet) -> String {
        var lines = ["\(s.source): schema \(s.schemaVersion), \(s.rules.count) rules (the first whose conditions hold wins)"]
        for p in s.fallbacks.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            lines.append("fallback \(p.rawValue): \(s.fallbacks[p, default: []].joined(separator: " → "))")
        }
        for (i, r) in s.rules.enumerated() {
            lines.append("")
            lines.append(contentsOf: block(r).enumerated().map { $0.offset == 0 ? "\(i + 1). \($0.element)" : $0.element })
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func diff(_ old: RuleSet, _ new: RuleSet) -> [String] {
        var out: [String] = []
        let oldIDs = old.rules.map(\.id), newIDs = new.rules.map(\.id)
        for r in old.rules where !newIDs.contains(r.id) { out.append("- removed \(r.id) (→ \(r.backend))") }
        for r in new.rules where !oldIDs.contains(r.id) { out.append("+ added \(r.id) (→ \(r.backend)) at position \((newIDs.firstIndex(of: r.id) ?? 0) + 1)") }
        for r in new.rules {
            guard let before = old.rules.first(where: { $0.id == r.id }), before != r else { continue }
            var what: [String] = []
            if before.backend != r.backend { what.append("backend \(before.backend) → \(r.backend)") }
            if before.ops != r.ops { what.append("ops") }
            if before.precisions != r.precisions { what.append("precision") }
            if before.conditions != r.conditions { what.append("conditions (\(before.conditions.map { "\($0)" }.joined(separator: "; ")) → \(r.conditions.map { "\($0)" }.joined(separator: "; ")))") }
            if before.why != r.why { what.append("why") }
            out.append("~ changed \(r.id): \(what.joined(separator: ", "))")
        }
        let common = oldIDs.filter(newIDs.contains), commonNew = newIDs.filter(oldIDs.contains)
        if common != commonNew { out.append("~ order: \(common.joined(separator: ", ")) → \(commonNew.joined(separator: ", ")) (the first match wins)") }
        for p in Set(old.fallbacks.keys).union(new.fallbacks.keys).sorted(by: { $0.rawValue < $1.rawValue }) where old.fallbacks[p] != new.fallbacks[p] {
            out.append("~ fallback \(p.rawValue): \(old.fallbacks[p, default: []].joined(separator: " → ")) ⇒ \(new.fallbacks[p, default: []].joined(separator: " → "))")
        }
        return out
    }
}
