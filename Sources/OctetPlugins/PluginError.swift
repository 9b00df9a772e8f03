/// Why a plugin was refused, or why one of its calls failed. Every case names the
/// plugin's file; a refused plugin leaves the process and the registry as they were.
public enum PluginError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be loaded as a plugin (not a shared library, no entry symbol,
    /// wrong ABI version or table size, missing name or functions).
    case refused(path: String, reason: String)
    /// A call into the plugin reported an error or broke the ABI's contract.
    case failed(backend: String, path: String, call: String, message: String)

    public var description: String {
        switch self {
        case let .refused(path, reason): "plugin \(path): \(reason)"
        case let .failed(backend, path, call, message): "plugin '\(backend)' (\(path)): \(call) failed: \(message)"
        }
    }
}
