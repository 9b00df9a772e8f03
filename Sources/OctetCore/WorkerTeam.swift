import COctetThreads
import Dispatch

/// Where Octet's own parallel work runs (packed GEMM workers, built-in ops' chunks): on the
/// process's OpenMP team when an OpenMP runtime is loaded — oneDNN's, whose workers
/// spin-wait for milliseconds after each primitive, so threads of a second pool beside them
/// find no free core (BERT dynamic INT8 at 2 threads ran its packed GEMMs no faster than at
/// 1) — else on GCD's persistent pool. No thread is created per call either way.
public enum WorkerTeam {
    /// Calls `body(0) … body(workers − 1)` concurrently and returns when all have returned.
    /// The calls must touch disjoint data (or synchronize themselves).
    public static func run(_ workers: Int, _ body: (Int) -> Void) {
        guard workers > 1 else {
            if workers == 1 { body(0) }
            return
        }
        let ranOnTeam = withoutActuallyEscaping(body) { body in
            var member = Member(body: body)
            return withUnsafeMutablePointer(to: &member) { p in
                octet_openmp_parallel(workers, { context, worker in
                    context?.assumingMemoryBound(to: Member.self).pointee.body(Int(worker))
                }, p) == 0
            }
        }
        guard !ranOnTeam else { return }
        withoutActuallyEscaping(body) { body in
            let member = Member(body: body)
            DispatchQueue.concurrentPerform(iterations: workers) { member.body($0) }
        }
    }

    /// Splits `0 ..< count` into contiguous ranges, one per worker, over at most `threads`
    /// workers and at least `minimumPerWorker` items each, and calls `body(begin, end)` for
    /// each range concurrently (on the team `run` uses). One range runs on the caller.
    public static func ranges(_ count: Int, threads: Int, minimumPerWorker: Int = 1, _ body: (_ begin: Int, _ end: Int) -> Void) {
        let workers = max(1, min(threads, count / max(1, minimumPerWorker)))
        if workers <= 1 {
            if count > 0 { body(0, count) }
            return
        }
        run(workers) { i in body(count * i / workers, count * (i + 1) / workers) }
    }

    /// The body handed to every worker (through C's context pointer, or GCD). The callers'
    /// calls touch disjoint data and `run` returns after the last, so sharing it is free of
    /// data races.
    private struct Member: @unchecked Sendable {
        let body: (Int) -> Void
    }
}
