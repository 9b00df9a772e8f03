@_exported import OctetCore
@_exported import OctetCPU
@_exported import OctetDispatch
@_exported import OctetNumPy
@_exported import OctetONNX
@_exported import OctetPlugins
@_exported import OctetQuant
@_exported import OctetRules
@_exported import OctetRuntime
import OctetFP16
import OctetFP32Reference
import OctetOneDNN
import OctetPacked
import OctetQNNPack

/// The public face of Octet for applications that embed it.
///
/// ```swift
/// import Octet
/// let registry = Octet.makeRegistry()
/// let selector = BackendSelector(rules: try RuleSet.builtIn(), registry: registry)
/// let trace = selector.trace([signature], cpu: try CPUFeatures.assumed("sapphire-rapids"))
/// print(trace.text)
/// ```
public enum Octet {
    /// Version of this library.
    public static let version = "0.1.0"

    /// The backends compiled into this library, in registration order. Each backend
    /// module adds its entry here when it lands; the CLI and the planner pick it up with
    /// no other change.
    public static func builtInBackends() -> [any Backend] {
        [PackedBackend(), OneDNNBackend(), FP16Backend(), QNNPackReferenceBackend(), FP32ReferenceBackend()]
    }

    /// The ISA oneDNN dispatches to in this process (`avx2`, `avx512_core_vnni`, ...),
    /// after the host description's cap was handed to it.
    public static var oneDNNISA: String { OneDNNBackend.effectiveISA }

    /// A registry holding the built-in backends. Register your own on top of it.
    public static func makeRegistry() -> BackendRegistry {
        let registry = BackendRegistry()
        for backend in builtInBackends() {
            // Built-in names are distinct by construction; a clash would be a bug here.
            do { try registry.register(backend) } catch { assertionFailure("\(error)") }
        }
        return registry
    }

    /// A session for the model at `path` with the built-in backends and rules, planned
    /// for this machine.
    ///
    /// ```swift
    /// let session = try Octet.session(modelAt: "resnet18.onnx", threads: 2)
    /// let out = try session.run(["input": image])
    /// ```
    public static func session(modelAt path: String, threads: Int = 1, cpu: CPUFeatures? = nil,
                               registry: BackendRegistry? = nil, rules: RuleSet? = nil) throws -> Session {
        let model = try ONNXModel.load(contentsOf: path)
        let options = SessionOptions(threads: threads, cpu: cpu ?? CPUFeatures.host, registry: registry ?? makeRegistry(),
                                     rules: try rules ?? RuleSet.builtIn())
        return try Session(graph: model.graph, options: options)
    }

    /// Loads the shared-library plugin at `path` (ABI `octet_plugin.h`) and registers its
    /// backend in `registry`. Throws `PluginError.refused` (not a plugin of this ABI) or
    /// `RegistryError` (its name is taken); either way the registry is unchanged.
    @discardableResult
    public static func loadPlugin(_ path: String, into registry: BackendRegistry) throws -> PluginBackend {
        let plugin = try PluginBackend(path: path)
        do { try registry.register(plugin) } catch { throw PluginError.refused(path: path, reason: "\(error)") }
        return plugin
    }

    /// The rules in the file at `path`, or the built-in rules when `path` is `nil`.
    public static func loadRules(from path: String?) throws(RulesFileError) -> RuleSet {
        if let path { return try RuleSetParser.load(contentsOf: path) }
        return try RuleSet.builtIn()
    }
}
