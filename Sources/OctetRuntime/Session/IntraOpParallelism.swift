#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import OctetCore

/// How many threads one built-in op may use, and the split of its work over them.
///
/// The session sets `threads` (its `SessionOptions.threads`) around a run with
/// `withThreads`: a thread-local value, since binding a task-local allocates and a warm run
/// allocates nothing. Built-in ops that are worth splitting (elementwise kernels,
/// quantize/dequantize, softmax and layer norm rows, quantized adds) call `forEachChunk`
/// with a `RangeTask` (a struct of the kernel's operands; a closure would allocate per call).
/// Chunks run on `WorkerTeam` (oneDNN's OpenMP team when it is loaded, whose workers would
/// otherwise still be spinning on the other cores) between kernel calls, never during one.
enum IntraOpParallelism {
    /// The thread-local slot holding the current run's thread count (absent: 1).
    /// `nil` only when the process has used up its keys; then every op runs inline.
    private static let key: pthread_key_t? = {
        var key = pthread_key_t()
        return pthread_key_create(&key, nil) == 0 ? key : nil
    }()

    /// Threads a built-in op may use in the current run on this thread (1: everything inline).
    static var threads: Int {
        guard let key else { return 1 }
        return max(1, Int(bitPattern: pthread_getspecific(key)))
    }

    /// Calls `body` with `threads` set to `count` on this thread (restored after).
    static func withThreads<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        guard let key, count != threads else { return try body() }
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: count))
        defer { pthread_setspecific(key, previous) }
        return try body()
    }

    /// Calls `task` on disjoint ranges covering `0..<count`, each at least `grain` long,
    /// on up to `threads` threads; inline when one range covers everything.
    static func forEachChunk<Task: RangeTask>(_ count: Int, grain: Int, _ task: Task) {
        // Each call gets a range no other call touches (the tasks write output elements of
        // their range only).
        WorkerTeam.ranges(count, threads: threads, minimumPerWorker: grain, task)
    }
}
