import OctetCore

/// How many threads one built-in op may use, and the split of its work over them.
///
/// The session sets `threads` (its `SessionOptions.threads`) around a run; built-in ops
/// that are worth splitting (elementwise kernels, quantize/dequantize, softmax and layer
/// norm rows, quantized adds) call `forEachChunk`. Chunks run on `WorkerTeam` (oneDNN's
/// OpenMP team when it is loaded, whose workers would otherwise still be spinning on the
/// other cores) between kernel calls, never during one.
enum IntraOpParallelism {
    /// Threads a built-in op may use in the current run (1: everything inline).
    @TaskLocal static var threads = 1

    /// Calls `body` on disjoint ranges covering `0..<count`, each at least `grain` long,
    /// on up to `threads` threads; inline when one range covers everything.
    static func forEachChunk(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let chunks = min(threads, max(1, count / max(grain, 1)))
        guard chunks > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        let size = (count + chunks - 1) / chunks
        // Each call gets a range no other call touches (the callers write output elements of
        // their range only), and `run` returns after the last.
        WorkerTeam.run(chunks) { c in
            let lo = c * size, hi = min(count, lo + size)
            if lo < hi { body(lo..<hi) }
        }
    }
}
