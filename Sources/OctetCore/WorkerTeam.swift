import COctetThreads
import Dispatch

/// One worker's share of parallel work that `WorkerTeam.run` splits over a team.
///
/// The work is a value (its operands as stored properties), not a closure: the team's other
/// threads reach it through a pointer, and a closure handed to another thread must be made
/// escaping, which allocates a box on every call. A warm run allocates nothing.
public protocol WorkerTask {
    /// Does worker `worker`'s share (`0 ..< workers`), concurrently with the other workers.
    func callAsFunction(_ worker: Int)
}

/// Work over a range of items that `WorkerTeam.ranges` (and the built-in ops' chunking)
/// splits into contiguous ranges, one per worker.
public protocol RangeTask {
    /// Does the items in `range`, concurrently with the other ranges (which it must not touch).
    func callAsFunction(_ range: Range<Int>)
}

/// Where Octet's own parallel work runs (packed GEMM workers, built-in ops' chunks): on the
/// process's OpenMP team when an OpenMP runtime is loaded — oneDNN's, whose workers
/// spin-wait for milliseconds after each primitive, so threads of a second pool beside them
/// find no free core (BERT dynamic INT8 at 2 threads ran its packed GEMMs no faster than at
/// 1) — else on GCD's persistent pool. No thread is created per call either way, and no
/// memory is allocated.
public enum WorkerTeam {
    /// Calls `task(0) … task(workers − 1)` concurrently (`task(0)` on the calling thread) and
    /// returns when all have returned. The calls must touch disjoint data (or synchronize
    /// themselves).
    public static func run<Task: WorkerTask>(_ workers: Int, _ task: Task) {
        guard workers > 1 else {
            if workers == 1 { task(0) }
            return
        }
        withUnsafePointer(to: task) { task in
            let region = Region(task: UnsafeRawPointer(task), type: Task.self)
            let ranOnTeam = withUnsafePointer(to: region) { r in
                octet_openmp_parallel(workers, { context, worker in
                    context?.assumingMemoryBound(to: Region.self).pointee.call(Int(worker))
                }, UnsafeMutableRawPointer(mutating: r)) == 0
            }
            if !ranOnTeam {
                DispatchQueue.concurrentPerform(iterations: workers) { region.call($0) }
            }
        }
    }

    /// Splits `0 ..< count` into contiguous ranges, one per worker, over at most `threads`
    /// workers and at least `minimumPerWorker` items each, and calls `task(range)` for each
    /// range concurrently (on the team `run` uses). One range runs on the caller.
    public static func ranges<Task: RangeTask>(_ count: Int, threads: Int, minimumPerWorker: Int = 1, _ task: Task) {
        let workers = max(1, min(threads, count / max(1, minimumPerWorker)))
        if workers <= 1 {
            if count > 0 { task(0 ..< count) }
            return
        }
        run(workers, Split(count: count, workers: workers, task: task))
    }

    /// `ranges`' worker: range `i` of `workers` equal ranges of `0 ..< count`.
    private struct Split<Task: RangeTask>: WorkerTask {
        let count: Int, workers: Int, task: Task

        func callAsFunction(_ worker: Int) {
            task(count * worker / workers ..< count * (worker + 1) / workers)
        }
    }

    /// The task handed to every worker, type-erased for C's context pointer: its address and
    /// its type (a metatype, so calling it allocates nothing). The callers' calls touch
    /// disjoint data and `run` returns after the last, so sharing it is free of data races.
    private struct Region: @unchecked Sendable {
        let task: UnsafeRawPointer
        let type: any WorkerTask.Type

        func call(_ worker: Int) {
            type.call(task, worker)
        }
    }
}

extension WorkerTask {
    /// Calls the task of this type at `task` for `worker` (how `run` reaches it by its type).
    fileprivate static func call(_ task: UnsafeRawPointer, _ worker: Int) {
        task.assumingMemoryBound(to: Self.self).pointee(worker)
    }
}
