import COctetPlugin
import OctetCore
import OctetCPU
import OctetDispatch

/// A backend served by a shared-library plugin (`octet_plugin.h`, ABI version 1): the
/// plugin answers `supports`, prepares kernels and runs them; Octet routes ops to it by
/// its name, through rules files, like any built-in backend.
///
/// ```swift
/// let registry = BackendRegistry.builtIn()
/// try registry.register(try PluginBackend(path: "libmyplugin.so"))
/// ```
public struct PluginBackend: Backend {
    let library: PluginLibrary

    /// Loads the plugin at `path`. Throws `PluginError.refused` with the path and the
    /// reason when the file is not a plugin of this ABI; the process is unharmed.
    public init(path: String) throws(PluginError) {
        library = try PluginLibrary(path: path)
    }

    public var name: String { library.name }
    public var version: String { library.version }
    public var summary: String { library.summary }
    /// Where the plugin was loaded from.
    public var path: String { library.path }
    public var requirements: BackendRequirements { BackendRequirements(notes: "shared-library plugin \(library.path)") }

    public func capability(for signature: OpSignature, on cpu: CPUFeatures) -> Capability {
        guard let supports = library.api.pointee.supports else { return .declined(reason: "plugin has no supports()") }
        // The plugin ABI describes one activation scale per call; per-row scales cannot be passed.
        if signature.quantization?.perRowActivations == true { return .declined(reason: "per-token dynamic activations are not part of the plugin ABI") }
        if PostOp.sum(in: signature.postOps) != nil { return .declined(reason: "a fused residual sum (sum post-op) is not part of the plugin ABI") }
        var reason = [CChar](repeating: 0, count: 512)
        let answer = PluginSignature.withC(signature) { s in supports(s, &reason, reason.count) }
        return answer == 1 ? .supported(kernel: "\(name) plugin", notes: ["shared-library plugin \(library.path)"])
            : .declined(reason: cMessage(reason))
    }

    public func prepare(_ signature: OpSignature, constants: OpConstants, context: PrepareContext) throws -> any Kernel {
        guard let prepare = library.api.pointee.prepare else { throw failure("prepare", "no prepare()") }
        var error = [CChar](repeating: 0, count: 512)
        let handle: UnsafeMutableRawPointer? = PluginSignature.withC(signature) { s in
            PluginTensors.withConstants(constants) { c in prepare(s, c, &error, error.count) }
        }
        guard let handle else { throw failure("prepare", cMessage(error)) }
        let name = library.api.pointee.kernel_name.flatMap { $0(handle) }.map { String(cString: $0) } ?? "\(self.name) plugin"
        return PluginKernel(library: library, handle: handle, implementation: name)
    }

    func failure(_ call: String, _ message: String) -> PluginError {
        .failed(backend: name, path: library.path, call: call, message: message)
    }
}

/// A kernel prepared by a plugin; released through the plugin when the last session
/// holding it goes away.
final class PluginKernel: Kernel, @unchecked Sendable {
    // @unchecked: the handle is owned here and only passed to the plugin, whose ABI
    // requires `run` to be safe from several threads at once.
    let library: PluginLibrary
    let handle: UnsafeMutableRawPointer
    let implementation: String

    init(library: PluginLibrary, handle: UnsafeMutableRawPointer, implementation: String) {
        self.library = library
        self.handle = handle
        self.implementation = implementation
    }

    deinit { library.api.pointee.release?(handle) }

    func run(inputs: [Tensor], output: inout Tensor) throws {
        guard let run = library.api.pointee.run else {
            throw PluginError.failed(backend: library.name, path: library.path, call: "run", message: "no run()")
        }
        var error = [CChar](repeating: 0, count: 512)
        let handle = self.handle
        let status = PluginTensors.withC(inputs) { cInputs in
            PluginTensors.withMutableC(&output) { cOutput in
                cInputs.withUnsafeBufferPointer { run(handle, $0.baseAddress, $0.count, cOutput, &error, error.count) }
            }
        }
        guard status == 0 else {
            throw PluginError.failed(backend: library.name, path: library.path, call: "run", message: "\(cMessage(error)) (status \(status))")
        }
    }
}
