import COctetPackedKernels
import Dispatch
import OctetCore

/// Runs one GEMM over `threads` workers, splitting N by panels (every worker streams its
/// own weights; batch-1 shapes keep both cores busy). GCD's pool is persistent: no
/// thread is created per call.
struct PackedRunner: Sendable {
    let isa: octet_packed_isa
    let threads: Int
    /// K block in k-pairs: the weight slice (kcPairs · 16 columns · 4 bytes) takes a quarter
    /// of the L1 data cache, leaving room for the activation tile and the accumulators.
    let kcPairs: Int

    init(isa: octet_packed_isa, threads: Int, l1DataBytes: Int?) {
        self.isa = isa
        self.threads = max(1, threads)
        kcPairs = max(32, (l1DataBytes ?? 32 * 1024) / 4 / 64)
    }

    /// The operands of one product; workers write disjoint column ranges of `c`.
    private struct Job: @unchecked Sendable {
        var isa: octet_packed_isa
        var m: Int, n: Int, k: Int
        var a: UnsafePointer<Int32>, rows: UnsafePointer<Int32>
        var b: UnsafePointer<Int32>, cols: UnsafePointer<Int32>
        var c: UnsafeMutableRawPointer, ldc: Int
        var out: UnsafePointer<octet_packed_output>
        var accumulators: UnsafeMutablePointer<Int32>
        var kcPairs: Int
    }

    /// `accumulators` holds `threads · m · 16` words (see `accumulatorWords`).
    func gemm(m: Int, a: UnsafePointer<Int32>, rowSums: UnsafePointer<Int32>, b: PackedMatrix,
              c: UnsafeMutableRawPointer, ldc: Int, output: UnsafePointer<octet_packed_output>, accumulators: UnsafeMutablePointer<Int32>) {
        let job = Job(isa: isa, m: m, n: b.n, k: b.k, a: a, rows: rowSums, b: UnsafePointer(b.panels.pointer),
                      cols: UnsafePointer(b.columnSums.pointer), c: c, ldc: ldc, out: output, accumulators: accumulators,
                      kcPairs: kcPairs)
        let panels = b.panelCount
        let workers = min(threads, panels)
        let body: @Sendable (Int, Int, Int) -> Void = { worker, begin, end in
            octet_packed_gemm(job.isa, job.m, job.n, job.k, job.a, job.rows, job.b, job.cols, job.c, job.ldc, job.out, begin, end,
                              job.accumulators + worker * job.m * Int(OCTET_PACKED_NR), job.kcPairs)
        }
        if workers <= 1 { body(0, 0, panels); return }
        DispatchQueue.concurrentPerform(iterations: workers) { w in body(w, panels * w / workers, panels * (w + 1) / workers) }
    }

    /// Scratch words `gemm` needs for partial sums.
    func accumulatorWords(m: Int) -> Int { threads * m * Int(OCTET_PACKED_NR) }
}

/// Per-call buffers (packed activations, row sums, im2col, staging, partial sums), pooled:
/// warm kernels allocate nothing.
struct ScratchPool: Sendable {
    final class Buffers: @unchecked Sendable {
        let packedA: AlignedBuffer<Int32>, rowSums: AlignedBuffer<Int32>, accumulators: AlignedBuffer<Int32>
        let columns: AlignedBuffer<UInt8>, staging: AlignedBuffer<Float>
        let packedB: AlignedBuffer<Int32>, columnSums: AlignedBuffer<Int32>
        init(_ sizes: Sizes) {
            packedA = AlignedBuffer(count: sizes.packedA)
            rowSums = AlignedBuffer(count: sizes.rows)
            accumulators = AlignedBuffer(count: sizes.accumulators)
            columns = AlignedBuffer(count: sizes.columns)
            staging = AlignedBuffer(count: sizes.staging)
            packedB = AlignedBuffer(count: sizes.packedB)
            columnSums = AlignedBuffer(count: sizes.columnSums)
        }
    }
    struct Sizes: Sendable {
        var packedA = 0, rows = 0, columns = 0, staging = 0, packedB = 0, columnSums = 0, accumulators = 0
    }

    private let pool: BufferPool<Buffers>

    init(_ sizes: Sizes) { pool = BufferPool { Buffers(sizes) } }

    func with<R>(_ body: (Buffers) throws -> R) rethrows -> R { try pool.with(body) }
}
