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
        let constants: OpConstants
        do { constants = try call.preparedConstants() } catch { throw ExecutionPlan.wrap(error, node) }
        let firstError: any Error
        do { return (name, try backend.prepare(call.signature, constants: constants, context: context)) } catch { firstError = error }

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
                    let kernel = try candidate.prepare(s, constants: constants, context: context)
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

extension ExecutionPlan {
    /// Prepares the kernel of the backend `dispatch` chose for a non-matrix node. When it
    /// fails to prepare, the rest of the precision's fallback order is tried, and the
    /// built-in ops are the last resort: `nil` means the node runs on `builtin`. Every
    /// failure is recorded in the dispatch.
    static func prepareNodeKernel(_ dispatch: inout OpDispatch, _ signature: OpSignature, _ constants: OpConstants, nhwc: Bool,
                                  options: SessionOptions, context: PrepareContext, node: Node) throws -> (any Kernel)? {
        guard let name = dispatch.backend, name != BuiltInBackend.name else { return nil }
        guard let backend = options.registry.backend(named: name) else {
            throw SessionError.noBackend(node: node.name, signature: signature.description, reasons: ["\(name): not registered"])
        }
        let firstError: any Error
        do { return try backend.prepare(signature, constants: constants, context: context) } catch { firstError = error }
        if let i = dispatch.attempts.lastIndex(where: \.chosen) {
            dispatch.attempts[i].chosen = false
            dispatch.attempts[i].reason += "; prepare failed: \(firstError)"
        }
        guard !nhwc else {
            throw SessionError.node(node: node.name, opType: node.opType,
                                    detail: "\(name) took the op channels-last, then failed to prepare it: \(firstError)")
        }
        let precision = signature.precision
        for other in options.rules.fallbacks[precision] ?? [] where other != name {
            if other == BuiltInBackend.name { break }
            guard let candidate = options.registry.backend(named: other), candidate.requirements.check(options.host).available,
                  candidate.capability(for: signature, on: options.host).isSupported else { continue }
            do {
                let kernel = try candidate.prepare(signature, constants: constants, context: context)
                dispatch.attempts.append(.init(backend: other, source: .fallback(precision), chosen: true,
                                               reason: "kernel \(kernel.implementation) (after \(name) failed to prepare)"))
                dispatch.backend = other
                dispatch.notes = []
                return kernel
            } catch {
                dispatch.attempts.append(.init(backend: other, source: .fallback(precision), chosen: false, reason: "prepare failed: \(error)"))
            }
        }
        dispatch.fallBackToBuiltIn("after \(name) failed to prepare")
        return nil
    }
}
