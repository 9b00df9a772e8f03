import COctetAPI
import Foundation
import Octet

@_cdecl("octet_session_create")
public func octet_session_create(_ model: OpaquePointer?, _ options: UnsafePointer<octet_session_options>?) -> OpaquePointer? {
    guarded(nil) {
        let graph = try object(model, ModelHandle.self).model.graph
        var threads = 1
        var cpu = CPUFeatures.host
        var rules = try RuleSet.builtIn()
        let registry = BackendRegistry.builtIn()
        if let o = options?.pointee {
            guard o.struct_size == MemoryLayout<octet_session_options>.size else {
                throw CAPIError("octet_session_options.struct_size is \(o.struct_size), expected \(MemoryLayout<octet_session_options>.size) (set it to sizeof(octet_session_options))")
            }
            if o.threads > 0 { threads = Int(o.threads) }
            if let path = o.rules_path { rules = try RuleSet.load(from: String(cString: path)) }
            if let spec = o.cpu { cpu = try CPUFeatures.assumed(String(cString: spec), host: .host) }
            if o.plugin_count > 0 {
                guard let plugins = o.plugins else { throw CAPIError("plugin_count is \(o.plugin_count) but plugins is NULL") }
                for i in 0..<o.plugin_count {
                    try registry.loadPlugin(try string(plugins[i], "plugins[\(i)]"))
                }
            }
        }
        return handle(SessionHandle(try Session(graph: graph, options: SessionOptions(threads: threads, cpu: cpu, registry: registry, rules: rules))))
    }
}

@_cdecl("octet_session_free")
public func octet_session_free(_ session: OpaquePointer?) { release(session, SessionHandle.self) }

@_cdecl("octet_session_run")
public func octet_session_run(_ session: OpaquePointer?, _ inputs: UnsafePointer<octet_tensor>?, _ inputCount: Int,
                              _ outputs: UnsafeMutablePointer<octet_tensor>?, _ outputCount: Int) -> Int32 {
    guarded(1) {
        let s = try object(session, SessionHandle.self).session
        let results = try s.run(try CTensors.read(inputs, inputCount))
        guard outputCount == 0 || outputs != nil else { throw CAPIError("output_count is \(outputCount) but outputs is NULL") }
        for i in 0..<outputCount {
            guard let out = outputs?.advanced(by: i) else { continue }
            let name = try string(out.pointee.name, "outputs[\(i)].name")
            guard let t = results[name] else {
                throw CAPIError("outputs[\(i)]: the model has no output '\(name)' (outputs: \(results.keys.sorted().joined(separator: ", ")))")
            }
            try CTensors.write(t, into: out, index: i)
        }
        return 0
    }
}

@_cdecl("octet_session_trace_json")
public func octet_session_trace_json(_ session: OpaquePointer?, _ inputs: UnsafePointer<octet_tensor>?, _ inputCount: Int) -> UnsafeMutablePointer<CChar>? {
    guarded(nil) {
        let s = try object(session, SessionHandle.self).session
        let shapes = try CTensors.read(inputs, inputCount).mapValues(\.shape)
        return strdup(try s.trace(inputShapes: shapes).trace.json())
    }
}
