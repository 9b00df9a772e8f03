import OctetCore
import OctetDispatch

extension ExecutionPlan {
    /// Prepares the kernel of the backend `dispatch` chose. When that backend fails to
    /// prepare (its `capability` said yes from the signature alone, and building the
    /// kernel found otherwise), the rest of the precision's fallback order is tried on the
    /// host — channels-last first when the op was planned so, then row-major — and every
    /// failure is recorded in the dispatch. Throws only when no backend can prepare it.
    static func prepareKernel(_ dispatch: inout OpDispatch, _ call: inout MatrixCall, layout: inout TensorLayout,
                              options: SessionOptions, context: PrepareContext, node: Node) throws -> (backend: String, kernel: any Kernel) {
        guard let name = dispatch.backend, let backend = options.registry.backend(named: name) else {
            throw SessionError.noBackend(node: node.name, signature: call.signature.description,
                                         reasons: dispatch.attempts.map { "\($0.backend): \($0.reason)" })
        }
        let firstError: any Error
        do { return (name, try backend.prepare(call.signature, constants: call.constants, context: context)) } catch { firstError = error }

        var failures = ["\(name): \(firstError)"]
        if let i = dispatch.attempts.lastIndex(where: \.chosen) {
            dispatch.attempts[i].chosen = false
            dispatch.attempts[i].reason += "; prepare failed: \(firstError)"
        }
        var signatures = [call.signature]
        if call.signature.activationLayout == .nhwc {
            var rowMajor = call.signature
            rowMajor.activationLayout = .rowMajor
            signatures.append(rowMajor)
        }
        let precision = call.signature.precision
        for other in options.rules.fallbacks[precision] ?? [] where other != name {
            guard let candidate = options.registry.backend(named: other), candidate.requirements.check(options.host).available else { continue }
            for s in signatures where candidate.capability(for: s, on: options.host).isSupported {
                do {
                    let kernel = try candidate.prepare(s, constants: call.constants, context: context)
                    dispatch.attempts.append(.init(backend: other, source: .fallback(precision), chosen: true,
                                                   reason: "kernel \(kernel.implementation) (after \(name) failed to prepare)"))
                    dispatch.backend = other
                    dispatch.notes = []
                    call.signature = s
                    if s.activationLayout != .nhwc { layout = .rowMajor }
                    return (other, kernel)
                } catch {
                    failures.append("\(other): \(error)")
                    dispatch.attempts.append(.init(backend: other, source: .fallback(precision), chosen: false, reason: "prepare failed: \(error)"))
                }
            }
        }
        throw SessionError.node(node: node.name, opType: node.opType,
                                detail: "no backend could prepare the kernel: \(failures.joined(separator: "; "))")
    }
}
