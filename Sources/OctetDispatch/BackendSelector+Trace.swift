import OctetCPU
import OctetCore

extension BackendSelector {
    /// Chooses a backend for each signature and returns the whole trace.
    public func trace(_ signatures: [OpSignature], cpu: CPUFeatures) -> DispatchTrace {
        DispatchTrace(cpu: cpu, rulesSource: rules.source, ops: signatures.map { select($0, cpu: cpu) })
    }
}
