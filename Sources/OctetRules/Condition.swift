import OctetCore
import OctetCPU

/// A comparison in a rule condition.
public enum ComparisonOperator: String, Sendable, CaseIterable, Hashable {
    case equal = "==", notEqual = "!="
    case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case isIn = "in", notIn = "not_in"
    /// Inclusive range `[low, high]`.
    case between

    /// Whether the operator orders values (integers only).
    var isOrdering: Bool { [.less, .lessOrEqual, .greater, .greaterOrEqual, .between].contains(self) }
}

/// One test inside a rule: a signature field compared with a value, or a CPU feature
/// that must be present or absent.
public enum Condition: Sendable, Hashable, CustomStringConvertible {
    case field(SignatureField, ComparisonOperator, [FieldValue])
    case cpuHas(ISAFeature)
    case cpuLacks(ISAFeature)

    public var description: String {
        switch self {
        case let .field(f, op, values):
            switch op {
            case .isIn, .notIn: "\(f.rawValue) \(op.rawValue) [\(values.map(\.description).joined(separator: ", "))]"
            case .between: "\(f.rawValue) between \(values.first?.description ?? "?")...\(values.last?.description ?? "?")"
            default: "\(f.rawValue) \(op.rawValue) \(values.first?.description ?? "?")"
            }
        case let .cpuHas(x): "cpu has \(x.rawValue)"
        case let .cpuLacks(x): "cpu lacks \(x.rawValue)"
        }
    }

    /// Whether the condition holds, and a sentence saying what was compared.
    public func evaluate(_ s: OpSignature, cpu: CPUFeatures) -> (holds: Bool, explanation: String) {
        switch self {
        case let .cpuHas(x):
            let ok = cpu.has(x)
            return (ok, ok ? "\(description): yes" : "\(description): no, \(cpu.displayName) lacks \(x.rawValue)")
        case let .cpuLacks(x):
            let ok = !cpu.has(x)
            return (ok, ok ? "\(description): yes" : "\(description): no, \(cpu.displayName) has \(x.rawValue)")
        case let .field(f, op, values):
            guard let actual = f.value(in: s, cpu: cpu) else {
                return (false, "\(description): \(f.rawValue) does not apply to \(s.kind)")
            }
            let ok = Self.compare(actual, op, values)
            return (ok, "\(description): \(ok ? "yes" : "no"), \(f.rawValue) = \(actual)")
        }
    }

    static func compare(_ actual: FieldValue, _ op: ComparisonOperator, _ values: [FieldValue]) -> Bool {
        switch op {
        case .equal: return values.first == actual
        case .notEqual: return values.first != actual
        case .isIn: return values.contains(actual)
        case .notIn: return !values.contains(actual)
        case .less, .lessOrEqual, .greater, .greaterOrEqual, .between:
            guard case let .int(a) = actual else { return false }
            let ints = values.compactMap { if case let .int(i) = $0 { i } else { nil } }
            guard let first = ints.first else { return false }
            switch op {
            case .less: return a < first
            case .lessOrEqual: return a <= first
            case .greater: return a > first
            case .greaterOrEqual: return a >= first
            default: return ints.count == 2 && ints[0] <= a && a <= ints[1]
            }
        }
    }
}
