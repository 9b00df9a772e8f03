import COctetPackedKernels
import Dispatch
import OctetCore
import Synchronization

/// Runs one GEMM `C = A · B` over `threads` workers. A is packed block by block (rows of M,
/// sized so a block stays in L2 while every weight panel passes over it) straight from its
/// source — u8 rows, an indirection buffer over an NHWC image, or f32 rows quantized on the
/// fly — so no whole packed copy of A is ever materialized. Work is split over M blocks when
/// M is large and over N panels when it is not (batch-1 GEMVs). Workers take tasks from a
/// shared counter (not a fixed share each), so a worker slowed by another process or a
/// busier cache does not hold the others back. GCD's pool is persistent: no thread is
/// created per call.
struct PackedRunner: Sendable {
    let isa: octet_packed_isa
    /// `.quads` (the 7-bit kernel) only with AVX2 and `reduce_range` signatures.
    let format: PackedFormat
    let threads: Int
    /// K block in k-pairs (or k-quads): the weight slice (kcPairs rows of 32 bytes, or of 64
    /// for quads) takes a quarter of the L1 data cache, leaving room for the activation tile
    /// and the accumulators.
    let kcPairs: Int
    /// Bytes of packed activations one M block may take (half the L2 cache).
    let blockBytes: Int

    init(isa: octet_packed_isa, format: PackedFormat = .pairs, threads: Int, l1DataBytes: Int?, l2Bytes: Int?) {
        self.isa = isa
        self.format = format
        self.threads = max(1, threads)
        kcPairs = max(32, (l1DataBytes ?? 32 * 1024) / 4 / (format == .quads ? 64 : 32))
        blockBytes = max(64 * 1024, (l2Bytes ?? 512 * 1024) / 2)
    }

    /// How one `m x k x n` product is cut into tasks.
    struct Tiling: Sendable {
        var rowsPerBlock: Int, blocks: Int, columnSplits: Int, panels: Int
        var tasks: Int { blocks * columnSplits }
    }

    func tiling(m: Int, k: Int, n: Int) -> Tiling {
        let mr = Int(OCTET_PACKED_MR), k2 = max(1, (k + 1) / 2), panels = max(1, (n + Int(OCTET_PACKED_NR) - 1) / Int(OCTET_PACKED_NR))
        let cacheRows = max(mr, blockBytes / (k2 * 4) / mr * mr)
        func roundUp(_ x: Int, _ to: Int) -> Int { (x + to - 1) / to * to }
        if m >= 8 * mr * threads {
            // Tall: split M only, in a multiple of `threads` blocks (shorter products split N:
            // blocks of a few rows would leave workers unevenly loaded).
            let blocks = roundUp((m + cacheRows - 1) / cacheRows, threads)
            let rows = roundUp((m + blocks - 1) / blocks, mr)
            return Tiling(rowsPerBlock: rows, blocks: (m + rows - 1) / rows, columnSplits: 1, panels: panels)
        }
        let rows = min(max(m, 1), cacheRows)
        // A few column splits per worker, so that the shared task counter can even out the load.
        let splits = threads == 1 ? 1 : min(panels, 4 * threads)
        return Tiling(rowsPerBlock: rows, blocks: (m + rows - 1) / rows, columnSplits: splits, panels: panels)
    }

    /// Multiply-adds below which one more worker does not pay for its wake-up.
    static let minimumWorkPerWorker = 1 << 20

    /// Per-worker scratch one call needs (packed rows, row sums, partial sums, an indirection row).
    struct Scratch: Sendable {
        var workers: Int, packedWords: Int, rows: Int, rowBytes: Int
        var sizes: ScratchPool.Sizes {
            ScratchPool.Sizes(packedA: workers * packedWords, rows: workers * rows, rowBytes: workers * rowBytes, flags: workers,
                              accumulators: workers * rows * Int(OCTET_PACKED_NR))
        }
    }

    func scratch(m: Int, k: Int, n: Int) -> Scratch {
        let t = tiling(m: m, k: k, n: n)
        // A second worker costs a wake-up (tens of µs): only for ~1M multiply-adds or more each.
        let byWork = max(1, m * k * n / Self.minimumWorkPerWorker)
        return Scratch(workers: min(threads, max(1, t.tasks), byWork), packedWords: t.rowsPerBlock * ((k + 1) / 2), rows: t.rowsPerBlock, rowBytes: k + 64)
    }

    /// The operands of one product; tasks write disjoint tiles of `c`.
    private struct Job: @unchecked Sendable {
        var source: octet_packed_a_source
        var b: UnsafePointer<Int32>, cols: UnsafePointer<Int32>
        var c: UnsafeMutableRawPointer
        var out: UnsafePointer<octet_packed_output>
        var buffers: ScratchPool.Buffers
    }

    /// `C[m][n]` at `c + (m · ldc + n) · elementSize` for rows `0 ..< m` of `source`.
    /// `buffers` must come from a pool sized by `scratch(m:k:n:)` for at least this shape.
    /// With `perRowActivations` (an f32 source; f32 output), each worker's packing chooses
    /// every row's scale and zero point into its own slice of `buffers.rowScales` /
    /// `rowZeroPoints`, and its copy of `output` reads them there.
    /// Returns false when the 7-bit kernel met an activation above 127, or a per-row f32
    /// source held NaN or an infinity (the outputs are then wrong and the caller must fail the call).
    @discardableResult
    func gemm(m: Int, source: octet_packed_a_source, b: PackedMatrix, c: UnsafeMutableRawPointer, ldc: Int, elementSize: Int,
              output: UnsafePointer<octet_packed_output>, buffers: ScratchPool.Buffers, perRowActivations: Bool = false) -> Bool {
        guard m > 0, b.n > 0 else { return true }
        let (k, n) = (b.k, b.n)
        let t = tiling(m: m, k: k, n: n), s = scratch(m: m, k: k, n: n)
        let job = Job(source: source, b: UnsafePointer(b.panels.pointer), cols: UnsafePointer(b.columnSums.pointer), c: c, out: output, buffers: buffers)
        let (isa, kc, quads) = (isa, kcPairs, format == .quads && b.format == .quads)
        // Row sums only feed the weight zero point's term (zero for symmetric weights).
        let needsRowSums = output.pointee.b_zero_point != 0
        // A 1x1 convolution over a channels-last image whose rows are whole k-quads needs no
        // packing for the k-quad kernel: the image is the packed A (row stride lda / 4 words).
        let unpacked = quads && source.offsets == nil && source.xf == nil && source.x != nil && k % 4 == 0 && source.lda % 4 == 0 && !needsRowSums
        let counter = buffers.taskCounter
        let body: @Sendable (Int) -> Void = { worker in
            var source = job.source
            let packed = job.buffers.packedA.pointer + worker * s.packedWords, sums = job.buffers.rowSums.pointer + worker * s.rows
            let acc = job.buffers.accumulators.pointer + worker * s.rows * Int(OCTET_PACKED_NR)
            let row = job.buffers.rowBytes.pointer + worker * s.rowBytes
            var out = job.out.pointee
            if perRowActivations {
                source.row_scales = job.buffers.rowScales.pointer + worker * s.rows
                source.row_zero_points = job.buffers.rowZeroPoints.pointer + worker * s.rows
                out.row_scales = UnsafePointer(source.row_scales)
                out.row_zero_points = UnsafePointer(source.row_zero_points)
            }
            while true {
                let task = counter.next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard task < t.tasks else { break }
                let block = task / t.columnSplits, split = task % t.columnSplits
                let m0 = block * t.rowsPerBlock, rows = min(t.rowsPerBlock, m - m0)
                let p0 = t.panels * split / t.columnSplits, p1 = t.panels * (split + 1) / t.columnSplits
                let c = job.c + m0 * ldc * elementSize
                let rowSums = needsRowSums ? sums : nil
                if unpacked, let x = source.x {
                    let a = UnsafeRawPointer(x + m0 * source.lda)
                    if octet_packed_u8_exceeds_127(x + m0 * source.lda, rows, k, source.lda) != 0 { job.buffers.flags.pointer[worker] = 1 }
                    octet_packed_gemm_c4_strided(isa, rows, n, k, a.assumingMemoryBound(to: Int32.self), source.lda / 4, nil, job.b, job.cols, c, ldc,
                                                 &out, p0, p1, acc, kc)
                } else if quads {
                    if octet_packed_pack_a_c4(&source, m0, rows, k, packed, rowSums, row) != 0 { job.buffers.flags.pointer[worker] = 1 }
                    octet_packed_gemm_c4(isa, rows, n, k, packed, sums, job.b, job.cols, c, ldc, &out, p0, p1, acc, kc)
                } else {
                    if octet_packed_pack_a(isa, &source, m0, rows, k, packed, rowSums, row) != 0 { job.buffers.flags.pointer[worker] = 1 }
                    octet_packed_gemm(isa, rows, n, k, packed, sums, job.b, job.cols, c, ldc, &out, p0, p1, acc, kc)
                }
            }
        }
        for w in 0..<s.workers { buffers.flags.pointer[w] = 0 }
        counter.next.store(0, ordering: .relaxed)
        if s.workers <= 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: s.workers, execute: body) }
        return (0..<s.workers).allSatisfy { buffers.flags.pointer[$0] == 0 }
    }

    /// The error for an activation the 7-bit kernel cannot take.
    static let sevenBitViolation = PackedError.unsupported(
        "an activation exceeds 127 but the op was planned for 7-bit activations (reduce_range): u7s8s32 kernels would saturate")
}

/// Per-call buffers (packed activations, row sums, im2col, staging, partial sums), pooled:
/// warm kernels allocate nothing.
struct ScratchPool: Sendable {
    final class Buffers: @unchecked Sendable {
        let packedA: AlignedBuffer<Int32>, rowSums: AlignedBuffer<Int32>, accumulators: AlignedBuffer<Int32>
        let columns: AlignedBuffer<UInt8>, rowBytes: AlignedBuffer<UInt8>, staging: AlignedBuffer<Float>, flags: AlignedBuffer<Int32>
        /// Per-row activation parameters of dynamic per-token quantization (`rows` entries each).
        let rowScales: AlignedBuffer<Float>, rowZeroPoints: AlignedBuffer<Int32>
        let packedB: AlignedBuffer<Int32>, columnSums: AlignedBuffer<Int32>
        /// The next task of the call using these buffers (one call at a time holds them).
        let taskCounter = TaskCounter()
        init(_ sizes: Sizes) {
            packedA = AlignedBuffer(count: max(1, sizes.packedA))
            rowSums = AlignedBuffer(count: max(1, sizes.rows))
            rowScales = AlignedBuffer(count: max(1, sizes.rows))
            rowZeroPoints = AlignedBuffer(count: max(1, sizes.rows))
            accumulators = AlignedBuffer(count: max(1, sizes.accumulators))
            columns = AlignedBuffer(count: max(1, sizes.columns))
            rowBytes = AlignedBuffer(count: max(1, sizes.rowBytes))
            flags = AlignedBuffer(count: max(1, sizes.flags))
            staging = AlignedBuffer(count: max(1, sizes.staging))
            packedB = AlignedBuffer(count: max(1, sizes.packedB))
            columnSums = AlignedBuffer(count: max(1, sizes.columnSums))
        }
    }
    struct Sizes: Sendable {
        var packedA = 0, rows = 0, rowBytes = 0, flags = 0, columns = 0, staging = 0, packedB = 0, columnSums = 0, accumulators = 0
    }

    private let pool: BufferPool<Buffers>

    init(_ sizes: Sizes) { pool = BufferPool { Buffers(sizes) } }

    func with<R>(_ body: (Buffers) throws -> R) rethrows -> R { try pool.with(body) }
}

/// The index of the next task of one GEMM call, taken by its workers as they free up.
final class TaskCounter: Sendable {
    let next = Atomic<Int>(0)
}
