import COctetPlugin

/// A plugin's shared library, loaded once and kept for the life of the process (its
/// kernels may outlive any one session; `dlclose` is never called on a loaded plugin).
final class PluginLibrary: Sendable {
    let path: String
    /// The plugin's table; read-only once validated.
    nonisolated(unsafe) let api: UnsafePointer<octet_plugin_api>
    let name: String
    let version: String
    let summary: String

    /// Loads `path` and validates its table against this build's ABI.
    init(path: String) throws(PluginError) {
        self.path = path
        var library: UnsafeMutableRawPointer?
        var buffer = [CChar](repeating: 0, count: 512)
        guard let table = octet_plugin_open(path, &library, &buffer, buffer.count) else {
            throw .refused(path: path, reason: cMessage(buffer))
        }
        // Only the header is read before the version and size are known to match.
        let header = UnsafeRawPointer(table).load(as: octet_plugin_api_header.self)
        guard header.abi_version == OCTET_PLUGIN_ABI_VERSION else {
            throw .refused(path: path, reason: "ABI version \(header.abi_version), but this Octet loads version \(OCTET_PLUGIN_ABI_VERSION) (rebuild the plugin against octet_plugin.h)")
        }
        guard header.struct_size == MemoryLayout<octet_plugin_api>.size else {
            throw .refused(path: path, reason: "table size \(header.struct_size) bytes, expected \(MemoryLayout<octet_plugin_api>.size) for ABI version \(OCTET_PLUGIN_ABI_VERSION)")
        }
        let api = table.pointee
        guard let name = api.name.map({ String(cString: $0) }), !name.isEmpty else { throw .refused(path: path, reason: "the table has no name") }
        var missing: [String] = []
        if api.supports == nil { missing.append("supports") }
        if api.prepare == nil { missing.append("prepare") }
        if api.run == nil { missing.append("run") }
        if api.release == nil { missing.append("release") }
        guard missing.isEmpty else {
            throw .refused(path: path, reason: "'\(name)' has NULL function pointers: \(missing.joined(separator: ", "))")
        }
        self.api = table
        self.name = name
        version = api.version.map { String(cString: $0) } ?? "unknown"
        summary = api.summary.map { String(cString: $0) } ?? "plugin"
    }
}

/// The text of a NUL-terminated C buffer.
func cMessage(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return bytes.isEmpty ? "no message" : String(decoding: bytes, as: UTF8.self)
}
