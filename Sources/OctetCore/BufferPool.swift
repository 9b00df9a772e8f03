import Synchronization

/// Per-call working buffers that kernels reuse: a call takes a set (making one only when
/// every set is in use by a concurrent call) and puts it back, so a warm kernel allocates
/// nothing on the run path. Visible to Octet's modules only (`package`).
package final class BufferPool<Buffers: AnyObject & Sendable>: Sendable {
    private let make: @Sendable () -> Buffers
    private let idle = Mutex<[Buffers]>([])

    package init(_ make: @escaping @Sendable () -> Buffers) {
        self.make = make
    }

    package func with<R>(_ body: (Buffers) throws -> R) rethrows -> R {
        let buffers = idle.withLock { $0.popLast() } ?? make()
        defer { idle.withLock { $0.append(buffers) } }
        return try body(buffers)
    }
}

/// Calls `body` with a pointer to `values`' first element, or `nil` when there are none
/// (an optional bias, for instance).
package func withOptionalPointer<T, R>(_ values: [T]?, _ body: (UnsafePointer<T>?) throws -> R) rethrows -> R {
    guard let values else { return try body(nil) }
    return try values.withUnsafeBufferPointer { try body($0.baseAddress) }
}
