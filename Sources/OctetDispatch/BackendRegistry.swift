import Synchronization

/// The backends Octet may dispatch to, by name. Safe to use from many threads.
public final class BackendRegistry: Sendable {
    private let state = Mutex<[any Backend]>([])

    /// An empty registry.
    public init() {}

    /// Adds `backend`; a second backend under a taken name is an error.
    public func register(_ backend: any Backend) throws(RegistryError) {
        let name = backend.name
        guard !name.isEmpty else { throw .emptyName }
        let taken = state.withLock { backends -> Bool in
            if backends.contains(where: { $0.name == name }) { return true }
            backends.append(backend)
            return false
        }
        if taken { throw .nameTaken(name) }
    }

    /// Removes the backend called `name` and returns it, or `nil` if there was none.
    @discardableResult
    public func unregister(_ name: String) -> (any Backend)? {
        state.withLock { backends in
            guard let i = backends.firstIndex(where: { $0.name == name }) else { return nil }
            return backends.remove(at: i)
        }
    }

    /// The backend called `name`, if registered.
    public func backend(named name: String) -> (any Backend)? {
        state.withLock { backends in backends.first { $0.name == name } }
    }

    /// All backends, in registration order.
    public var all: [any Backend] { state.withLock { $0 } }

    /// Registered names, in registration order.
    public var names: [String] { all.map(\.name) }
}

/// A registration that cannot be made.
public enum RegistryError: Error, Sendable, Equatable, CustomStringConvertible {
    case nameTaken(String)
    case emptyName

    public var description: String {
        switch self {
        case let .nameTaken(n): "a backend named '\(n)' is already registered; unregister it first or choose another name"
        case .emptyName: "a backend's name must not be empty"
        }
    }
}
