import OctetCore
import OctetCPU
import OctetDispatch

/// A test double: accepts the ops in `accepts`, declines the rest with `declineReason`.
struct FakeBackend: Backend {
    var name: String
    var accepts: Set<OpKind> = Set(OpKind.allCases)
    var needs: Set<ISAFeature> = []
    var declineReason = "fake declines"
    var version: String { "test" }
    var summary: String { "test double" }
    var requirements: BackendRequirements { BackendRequirements(features: needs) }

    func capability(for signature: OpSignature, on cpu: CPUFeatures) -> Capability {
        accepts.contains(signature.kind) ? .supported(kernel: "\(name)-kernel", notes: ["fake note"]) : .declined(reason: declineReason)
    }

    func prepare(_ signature: OpSignature, constants: OpConstants, context: PrepareContext) throws -> any Kernel {
        struct NoKernel: Kernel {
            var implementation: String { "none" }
            func run(inputs: [Tensor], output: inout Tensor) throws {}
        }
        return NoKernel()
    }
}

func registry(_ backends: FakeBackend...) throws -> BackendRegistry {
    let r = BackendRegistry()
    for b in backends { try r.register(b) }
    return r
}
