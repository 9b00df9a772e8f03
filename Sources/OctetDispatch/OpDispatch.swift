import OctetCore
import OctetCPU
import OctetRules

/// How one op's backend was chosen: every rule tried, the preferred backend, every
/// fallback considered, and the result. One entry of a `DispatchTrace`.
public struct OpDispatch: Sendable {
    /// One rule tested against the op.
    public struct RuleTrial: Sendable, Hashable {
        public var id: String
        public var matched: Bool
        /// "matched", or the first condition that failed and what was compared.
        public var reason: String
        /// The backend the rule prefers.
        public var backend: String

        public init(id: String, matched: Bool, reason: String, backend: String) {
            self.id = id
            self.matched = matched
            self.reason = reason
            self.backend = backend
        }
    }

    /// One backend considered, whether chosen or passed over.
    public struct Attempt: Sendable, Hashable {
        public enum Source: Sendable, Hashable {
            /// Preferred by this rule.
            case rule(String)
            /// Taken from the fallback order of this precision.
            case fallback(Precision)
        }
        public var backend: String
        public var source: Source
        public var chosen: Bool
        /// Why it was passed over, or the kernel and notes when chosen.
        public var reason: String

        public init(backend: String, source: Source, chosen: Bool, reason: String) {
            self.backend = backend
            self.source = source
            self.chosen = chosen
            self.reason = reason
        }
    }

    /// The plan's CPU is not this machine, and the backend the plan chose for it cannot
    /// run here: what was planned, what the host lacks, and the backends tried on the host.
    public struct HostFallback: Sendable, Hashable {
        /// The CPU the plan was made for.
        public var plannedFor: String
        /// The backend and kernel chosen for that CPU.
        public var plannedBackend: String
        public var plannedKernel: String?
        /// Features the planned CPU has and the host does not.
        public var hostLacks: [ISAFeature]
        /// Why the planned backend cannot run on the host.
        public var reason: String
        /// Backends considered on the host (rule, then fallback order), in order.
        public var hostAttempts: [Attempt]

        /// One sentence: `planned for cascade-lake: onednn; host lacks avx512_vnni (...); ran on packed`.
        public func summary(ranOn backend: String?) -> String {
            let lacks = hostLacks.isEmpty ? "" : "host lacks \(hostLacks.map(\.rawValue).joined(separator: ", ")); "
            return "planned for \(plannedFor): \(plannedBackend); \(lacks)\(plannedBackend) here: \(reason); ran on \(backend ?? "no backend")"
        }
    }

    public var signature: OpSignature
    public var rules: [RuleTrial]
    /// The id of the rule that matched, if any.
    public var matchedRule: String?
    /// The matched rule's sentence of why.
    public var why: String?
    /// Every backend considered, in order; at most one has `chosen`.
    public var attempts: [Attempt]
    /// The backend chosen, if any could run the op.
    public var backend: String?
    /// The kernel the chosen backend said it would use.
    public var kernel: String?
    /// Notes from the chosen backend (exactness, input ranges it needs, ...).
    public var notes: [String]
    /// Time the op took when profiling, in nanoseconds.
    public var durationNanoseconds: UInt64?
    /// Set when the planned backend could not run on this machine (see `HostFallback`).
    public var hostFallback: HostFallback?

    /// The attempts that came from the fallback order.
    public var fallbacks: [Attempt] { attempts.filter { if case .fallback = $0.source { true } else { false } } }
}

/// Chooses a backend for each op: the first rule whose conditions all hold names a
/// backend; if that backend is not registered, cannot run on the CPU or declines the
/// op, the fallback order of the op's precision is tried. Every step is recorded.
public struct BackendSelector: Sendable {
    public let rules: RuleSet
    public let registry: BackendRegistry

    public init(rules: RuleSet, registry: BackendRegistry) {
        self.rules = rules
        self.registry = registry
    }

    /// Chooses a backend for `signature` on `cpu` (which need not be this machine).
    public func select(_ signature: OpSignature, cpu: CPUFeatures) -> OpDispatch {
        var dispatch = OpDispatch(signature: signature, rules: [], matchedRule: nil, why: nil, attempts: [], backend: nil, kernel: nil, notes: [])
        var preferred: (backend: String, rule: String)?
        for rule in rules.rules where rule.applies(to: signature) {
            switch rule.evaluate(signature, cpu: cpu) {
            case .matched:
                dispatch.rules.append(.init(id: rule.id, matched: true, reason: "matched", backend: rule.backend))
                preferred = (rule.backend, rule.id)
                dispatch.matchedRule = rule.id
                dispatch.why = rule.why
            case let .failed(_, _, explanation):
                dispatch.rules.append(.init(id: rule.id, matched: false, reason: explanation, backend: rule.backend))
            }
            if preferred != nil { break }
        }

        var tried: Set<String> = []
        if let preferred, consider(preferred.backend, source: .rule(preferred.rule), signature, cpu, into: &dispatch) {
            return dispatch
        } else if let preferred {
            tried.insert(preferred.backend)
        }
        for name in rules.fallbacks[signature.precision] ?? [] where tried.insert(name).inserted {
            if consider(name, source: .fallback(signature.precision), signature, cpu, into: &dispatch) { return dispatch }
        }
        return dispatch
    }

    /// Chooses a backend for `signature` as planned for `cpu`, then makes sure it can run
    /// on `host` (the machine that will execute it). When it cannot — the plan assumed
    /// a CPU with features this machine lacks — the op is selected again for the host,
    /// and the result says what was planned and why it changed. Never fails for that
    /// reason alone.
    public func select(_ signature: OpSignature, cpu: CPUFeatures, host: CPUFeatures) -> OpDispatch {
        var planned = select(signature, cpu: cpu)
        guard let name = planned.backend, let backend = registry.backend(named: name),
              cpu.features != host.features || cpu.architecture != host.architecture else { return planned }
        let reason: String
        let check = backend.requirements.check(host)
        if !check.available {
            reason = "cannot run: \(check.reason)"
        } else if case let .declined(why) = backend.capability(for: signature, on: host) {
            reason = "declined: \(why)"
        } else {
            return planned
        }
        let onHost = select(signature, cpu: host)
        planned.hostFallback = OpDispatch.HostFallback(
            plannedFor: cpu.displayName, plannedBackend: name, plannedKernel: planned.kernel,
            hostLacks: cpu.features.subtracting(host.features).sorted(), reason: reason, hostAttempts: onHost.attempts)
        planned.backend = onHost.backend
        planned.kernel = onHost.kernel
        planned.notes = onHost.notes
        return planned
    }

    /// Tries one backend; records the attempt and returns whether it was chosen.
    private func consider(_ name: String, source: OpDispatch.Attempt.Source, _ signature: OpSignature, _ cpu: CPUFeatures, into dispatch: inout OpDispatch) -> Bool {
        guard let backend = registry.backend(named: name) else {
            dispatch.attempts.append(.init(backend: name, source: source, chosen: false, reason: "not registered"))
            return false
        }
        let check = backend.requirements.check(cpu)
        guard check.available else {
            dispatch.attempts.append(.init(backend: name, source: source, chosen: false, reason: "cannot run on this CPU: \(check.reason)"))
            return false
        }
        switch backend.capability(for: signature, on: cpu) {
        case let .declined(reason):
            dispatch.attempts.append(.init(backend: name, source: source, chosen: false, reason: "declined: \(reason)"))
            return false
        case let .supported(kernel, notes):
            dispatch.attempts.append(.init(backend: name, source: source, chosen: true, reason: "kernel \(kernel)"))
            dispatch.backend = name
            dispatch.kernel = kernel
            dispatch.notes = notes
            return true
        }
    }
}
