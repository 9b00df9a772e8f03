import OctetCore
import OctetCPU

/// One rule of a rules file: for these ops, when every condition holds, prefer this
/// backend, because of `why`.
public struct Rule: Sendable, Hashable {
    /// Unique, stable identifier (shown in traces and errors).
    public var id: String
    /// The op kinds the rule is for.
    public var ops: Set<OpKind>
    /// The precisions the rule is for; `nil` means all.
    public var precisions: Set<Precision>?
    /// Conditions that must all hold, tested in order.
    public var conditions: [Condition]
    /// The backend the rule prefers.
    public var backend: String
    /// One sentence of why, printed in traces.
    public var why: String

    public init(id: String, ops: Set<OpKind>, precisions: Set<Precision>? = nil, conditions: [Condition], backend: String, why: String) {
        self.id = id
        self.ops = ops
        self.precisions = precisions
        self.conditions = conditions
        self.backend = backend
        self.why = why
    }

    /// Whether the rule covers the signature's op kind and precision at all.
    public func applies(to s: OpSignature) -> Bool {
        ops.contains(s.kind) && (precisions?.contains(s.precision) ?? true)
    }

    /// Tests the conditions in order and stops at the first that fails.
    public func evaluate(_ s: OpSignature, cpu: CPUFeatures) -> RuleOutcome {
        for (index, condition) in conditions.enumerated() {
            let result = condition.evaluate(s, cpu: cpu)
            if !result.holds { return .failed(conditionIndex: index, condition: condition, explanation: result.explanation) }
        }
        return .matched
    }
}

/// The result of testing one rule against one op.
public enum RuleOutcome: Sendable, Hashable {
    case matched
    case failed(conditionIndex: Int, condition: Condition, explanation: String)

    public var matched: Bool { if case .matched = self { true } else { false } }
}

/// A complete rules file: schema version, fallback orders and rules in priority order.
public struct RuleSet: Sendable, Hashable {
    /// The only schema version this build reads.
    public static let supportedSchemaVersion = 1

    public var schemaVersion: Int
    /// Free text describing the file.
    public var description: String
    /// Backends to try, in order, when no rule matches or the preferred one declines.
    public var fallbacks: [Precision: [String]]
    public var rules: [Rule]
    /// Where the rules came from: a path, or `built-in`.
    public var source: String

    public init(schemaVersion: Int = RuleSet.supportedSchemaVersion, description: String = "", fallbacks: [Precision: [String]], rules: [Rule], source: String) {
        self.schemaVersion = schemaVersion
        self.description = description
        self.fallbacks = fallbacks
        self.rules = rules
        self.source = source
    }

    /// Every backend name the file mentions, in first-mention order.
    public var referencedBackends: [String] {
        var seen: Set<String> = []
        var out: [String] = []
        for name in rules.map(\.backend) + Precision.allCases.flatMap({ fallbacks[$0] ?? [] }) where seen.insert(name).inserted {
            out.append(name)
        }
        return out
    }
}
