extension BackendRegistry {
    /// The backends compiled into this library, in registration order: `packed`,
    /// `onednn`, `fp16`, `qnnpack-ref`, `fp32-ref`, `builtin` (the graph ops).
    public static func builtInBackends() -> [any Backend] {
        [PackedBackend(), OneDNNBackend(), FP16Backend(), QNNPackReferenceBackend(), FP32ReferenceBackend(), BuiltInBackend()]
    }

    /// A registry holding the built-in backends. Register your own on top of it.
    public static func builtIn() -> BackendRegistry {
        let registry = BackendRegistry()
        for backend in builtInBackends() {
            // Built-in names are distinct by construction; a clash would be a bug here.
            do { try registry.register(backend) } catch { assertionFailure("\(error)") }
        }
        return registry
    }

    /// Loads the shared-library plugin at `path` (ABI `octet_plugin.h`) and registers its
    /// backend. Throws `PluginError.refused` with the path and the reason (not a plugin of
    /// this ABI, or its name is taken); either way the registry is unchanged.
    @discardableResult
    public func loadPlugin(_ path: String) throws(PluginError) -> PluginBackend {
        let plugin = try PluginBackend(path: path)
        do { try register(plugin) } catch { throw PluginError.refused(path: path, reason: "\(error)") }
        return plugin
    }
}

extension RuleSet {
    /// The rules in the file at `path`, or the built-in rules (`backends.json`) when `path`
    /// is `nil`. Errors name the file, the rule id and the field.
    public static func load(from path: String?) throws(RulesFileError) -> RuleSet {
        if let path { return try RuleSetParser.load(contentsOf: path) }
        return try RuleSet.builtIn()
    }
}

extension Session {
    /// A session for the ONNX model at `path` with the built-in backends and rules (or
    /// those given), planned for this machine (or `cpu`).
    public convenience init(modelAt path: String, threads: Int = 1, cpu: CPUFeatures = .host,
                            registry: BackendRegistry = .builtIn(), rules: RuleSet? = nil) throws {
        let model = try ONNXModel.load(contentsOf: path)
        try self.init(graph: model.graph, options: SessionOptions(threads: threads, cpu: cpu, registry: registry,
                                                                   rules: try rules ?? RuleSet.builtIn()))
    }
}
