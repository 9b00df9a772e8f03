import COctetPackedKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import OctetCore
import Synchronization

/// Runs one GEMM `C = A · B` over `threads` workers. A is packed block by block (rows of M,
/// sized so a block stays in L2 while every weight panel passes over it) straight from its
/// source — u8 rows, an indirection buffer over an NHWC image, or f32 rows quantized on the
/// fly — so no whole packed copy of A is ever materialized. Work is split over M blocks when
/// M is large and over N panels when it is not (batch-1 GEMVs). Workers take tasks from a
/// shared counter (not a fixed share each), so a worker slowed by another process or a
/// busier cache does not hold the others back. Workers run on `WorkerTeam` (the OpenMP team
/// when one is loaded, else GCD's persistent pool): no thread is created per call.
struct PackedRunner: Sendable {
    let isa: octet_packed_isa
    /// `.quads` with VNNI (any u8), and on AVX2 with `reduce_range` signatures (the 7-bit kernel).
    let format: PackedFormat
    /// Whether the tiles span two panels (`u8s8s32-gemm-8x32c4-avx512vnni`, `u8s8s32-gemm-8x32-avx512bw`).
    var wide: Bool { PackedISA.isWide(isa, format) }
    /// Rows of one micro-kernel tile: 8 for the wide tiles, else 6. Row blocks are cut in multiples of it.
    var mr: Int { Int(wide ? OCTET_PACKED_WIDE_MR : OCTET_PACKED_MR) }
    /// Columns of one tile's accumulators (partial sums between K blocks): two panels for the wide tiles.
    var accumulatorColumns: Int { Int(OCTET_PACKED_NR) * (wide ? 2 : 1) }
    /// Whether the kernel is exact only for activations ≤ 127 (AVX2 k-quads: packing checks them).
    var needsSevenBit: Bool { PackedISA.needsSevenBit(isa, format) }
    let threads: Int
    /// Largest K block in k-pairs (or k-quads): the weight slice (rows of 32 bytes for pairs, of
    /// 64 for quads, twice that for the wide tiles' two panels) takes at most half the L1 data cache, leaving room for the activation tile
    /// and the accumulators. `kBlock(k:)` balances the blocks of one product.
    let kcPairs: Int
    /// Bytes of packed activations one M block may take (half the L2 cache).
    let blockBytes: Int
    /// What one scratch buffer or table of a kernel may take (`PrepareContext.memoryBudget`).
    let budget: MemoryBudget
    /// The largest code an f32 source (dynamic quantization) is quantized to in k-quads: 127
    /// for 7-bit activations (`reduce_range`), else 255. Set by the dynamic linear kernel.
    var dynamicCodeMax: Int32 = 255

    init(isa: octet_packed_isa, format: PackedFormat = .pairs, threads: Int, l1DataBytes: Int?, l2Bytes: Int?, budget: MemoryBudget) {
        self.isa = isa
        self.budget = budget
        self.format = format
        self.threads = max(1, threads)
        // Bytes of weights per K step of one tile: 16 columns of s8 pairs (32) or of quads (64),
        // twice that for the two panels of a wide tile.
        let stepBytes = (format == .pairs ? 32 : 64) * (PackedISA.isWide(isa, format) ? 2 : 1)
        kcPairs = max(32, (l1DataBytes ?? 32 * 1024) / 2 / stepBytes)
        blockBytes = max(64 * 1024, (l2Bytes ?? 512 * 1024) / 2)
    }

    /// How one `m x k x n` product is cut into tasks.
    ///  - shared (`packChunks > 0`): the whole of A fits a few L2 caches (BERT's M = 128 rows,
    ///    batch-1 GEMVs). It is packed once, in `packChunks` tasks of `chunkRows` rows, into
    ///    one buffer all workers read; then `blocks x columnSplits` GEMM tasks (blocks of rows
    ///    that stay in L2 while their panels pass) share the weights between workers instead
    ///    of each streaming all of them, with several tasks per worker so the shared counter
    ///    evens out a worker slowed by other work.
    ///  - streaming (`packChunks == 0`, tall products such as convolutions over large images):
    ///    each task packs its own block of rows into its worker's buffer (the block stays in
    ///    L2) and runs every panel over it.
    struct Tiling: Sendable {
        var rowsPerBlock: Int, blocks: Int, columnSplits: Int, panels: Int
        var packChunks = 0, chunkRows = 0
        /// Workers the call uses (a second one only for enough work to pay its wake-up).
        var workers = 1
        var gemmTasks: Int { blocks * columnSplits }
        var tasks: Int { packChunks + gemmTasks }
        var shared: Bool { packChunks > 0 }
    }

    /// Bytes of packed A (k-pairs of s16, 4 bytes each) up to which a product packs A once
    /// and shares it: two L2-sized blocks per worker.
    var sharedBytes: Int { 4 * blockBytes * threads }

    func tiling(m: Int, k: Int, n: Int) -> Tiling {
        let mr = mr, k2 = max(1, (k + 1) / 2), panels = max(1, (n + Int(OCTET_PACKED_NR) - 1) / Int(OCTET_PACKED_NR))
        let cacheRows = max(mr, blockBytes / (k2 * 4) / mr * mr)
        func roundUp(_ x: Int, _ to: Int) -> Int { (x + to - 1) / to * to }
        func ceil(_ x: Int, _ y: Int) -> Int { (x + y - 1) / y }
        // A second worker costs a wake-up: only for ~0.5M multiply-adds or more each.
        let workers = max(1, min(threads, m * k * n / Self.minimumWorkPerWorker))
        if max(m, 1) * k2 * 4 <= sharedBytes {
            // Rows in balanced blocks of at most `cacheRows`, times column splits, for about
            // eight tasks per worker (as many as there are when fewer can be made).
            let (blocks, splits) = workers == 1 ? (ceil(max(m, 1), cacheRows), 1)
                : Self.grid(m: max(m, 1), n: n, panels: panels, minimumBlocks: ceil(max(m, 1), cacheRows), maximumBlocks: ceil(max(m, 1), mr), tasks: 8 * workers)
            let rows = min(roundUp(ceil(max(m, 1), blocks), mr), roundUp(max(m, 1), mr))
            let chunkRows = workers == 1 ? max(m, 1) : roundUp(ceil(max(m, 1), 2 * workers), mr)
            return Tiling(rowsPerBlock: rows, blocks: ceil(max(m, 1), rows), columnSplits: splits, panels: panels,
                          packChunks: ceil(max(m, 1), chunkRows), chunkRows: chunkRows, workers: workers)
        }
        // Tall: split M only, in a multiple of `threads` blocks.
        let blocks = roundUp(ceil(m, cacheRows), threads)
        let rows = roundUp(ceil(m, blocks), mr)
        let t = Tiling(rowsPerBlock: rows, blocks: ceil(m, rows), columnSplits: 1, panels: panels)
        return Tiling(rowsPerBlock: t.rowsPerBlock, blocks: t.blocks, columnSplits: 1, panels: panels, workers: min(workers, t.blocks))
    }

    /// The row blocks x column splits of a shared tiling with at least `tasks` tasks (or all
    /// there can be) that moves the least data: every row block streams all `n` weight
    /// columns and every column split streams all `m` packed rows (both K deep); weights
    /// count twice, as they come from farther (L3, beside the L2-sized packed rows). A tall
    /// product (a convolution's M = 12544, N = 96) is cut into row blocks and a short one
    /// (BERT's M = 128, N = 768; a GEMV) into column splits. Column splits also share the
    /// output's cache lines at their edges in every row, which row blocks do only in one.
    static func grid(m: Int, n: Int, panels: Int, minimumBlocks: Int, maximumBlocks: Int, tasks: Int) -> (blocks: Int, splits: Int) {
        let wanted = min(tasks, maximumBlocks * panels)
        var best = (cost: Int.max, blocks: minimumBlocks, splits: 1)
        for splits in 1...max(1, panels) {
            let blocks = min(maximumBlocks, max(minimumBlocks, (wanted + splits - 1) / splits))
            guard blocks * splits >= wanted else { continue }
            let cost = 2 * blocks * n + splits * m
            if cost < best.cost { best = (cost, blocks, splits) }
        }
        return (best.blocks, best.splits)
    }

    /// The K block of a product `k` deep, in k-pairs or k-quads: K in as few blocks of at most
    /// `kcPairs` as it takes, of equal depth. Every block but the last stores its partial sums
    /// and the next reloads them, so a small remainder block (K = 576 in blocks of 128 quads:
    /// 128 + 16) costs a whole block's traffic for little work.
    func kBlock(k: Int) -> Int {
        let depth = format == .quads ? (k + 3) / 4 : (k + 1) / 2
        let blocks = max(1, (depth + kcPairs - 1) / kcPairs)
        return max(1, (depth + blocks - 1) / blocks)
    }

    /// Multiply-adds below which one more worker does not pay for its wake-up. With 2^20, a
    /// 1024 x 1024 batch-1 linear (a weight-streaming GEMV) ran on one thread; measured on Zen 5
    /// (AVX-512 VNNI), the 3 x 1024 MLP on 2 threads takes 0.039 ms with 2^20, 0.028 with 2^19
    /// (ONNX Runtime 0.034).
    static let minimumWorkPerWorker = 1 << 19

    /// The scratch one call needs: packed rows (per worker, or all of A when shared), row
    /// sums and per-row parameters, partial sums and an indirection row per worker.
    struct Scratch: Sendable {
        var workers: Int, packedWords: Int, rows: Int, rowBytes: Int
        /// Rows of packed A, row sums and per-row parameters in all (shared: all of A).
        var packedRows: Int
        var words: Int
        var sizes: ScratchPool.Sizes {
            ScratchPool.Sizes(packedA: packedRows * words, rows: packedRows, rowBytes: workers * rowBytes, flags: workers,
                              accumulators: workers * rows * accumulatorColumns)
        }
        var accumulatorColumns: Int
    }

    func scratch(m: Int, k: Int, n: Int) -> Scratch {
        let t = tiling(m: m, k: k, n: n), words = (k + 1) / 2
        let packedRows = t.shared ? t.blocks * t.rowsPerBlock : t.workers * t.rowsPerBlock
        return Scratch(workers: t.workers, packedWords: t.rowsPerBlock * words, rows: t.rowsPerBlock, rowBytes: k + 64,
                       packedRows: max(packedRows, t.packChunks * t.chunkRows), words: words, accumulatorColumns: accumulatorColumns)
    }

    /// One product, run by `workers` workers that take its tasks from `buffers.taskCounter`;
    /// tasks write disjoint tiles of `c`.
    private struct Job: WorkerTask, @unchecked Sendable {
        var source: octet_packed_a_source
        var b: UnsafePointer<Int32>, cols: UnsafePointer<Int32>
        var c: UnsafeMutableRawPointer
        var out: UnsafePointer<octet_packed_output>
        var buffers: ScratchPool.Buffers
        var m: Int, k: Int, n: Int, ldc: Int, elementSize: Int
        var t: Tiling, s: Scratch
        var isa: octet_packed_isa, kc: Int, quads: Bool, sevenBit: Bool, qmax: Int32
        var perRowActivations: Bool, needsRowSums: Bool, unpacked: Bool
        /// Words per packed row: k-pairs, or k-quads (fewer; the scratch holds either).
        var stride: Int

        func callAsFunction(_ worker: Int) {
            let counter = buffers.taskCounter
            let row = buffers.rowBytes.pointer + worker * s.rowBytes
            let acc = buffers.accumulators.pointer + worker * s.rows * s.accumulatorColumns
            /// Packs rows `r0 ..< r0 + rows` at row `slot` of the packed buffers.
            func pack(_ r0: Int, _ rows: Int, slot: Int) {
                var source = self.source
                if perRowActivations {
                    source.row_scales = buffers.rowScales.pointer + slot
                    source.row_zero_points = buffers.rowZeroPoints.pointer + slot
                }
                let packed = buffers.packedA.pointer + slot * stride, sums = buffers.rowSums.pointer + slot
                let u8Sums = needsRowSums ? sums : nil
                let failed = unpacked ? (sevenBit ? octet_packed_u8_exceeds_127(source.x.map { $0 + r0 * source.lda }, rows, k, source.lda) : 0)
                    : !quads ? octet_packed_pack_a(isa, &source, r0, rows, k, packed, source.xf != nil ? sums : u8Sums, row)
                    : source.xf != nil ? octet_packed_pack_a_f32_c4(isa, &source, r0, rows, k, qmax, packed, sums) // dynamic codes
                    : octet_packed_pack_a_c4(&source, r0, rows, k, packed, u8Sums, row) & (sevenBit ? 1 : 0)
                if failed != 0 { buffers.flags.pointer[worker] = 1 }
            }
            while true {
                let task = counter.next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard task < t.tasks else { break }
                if task < t.packChunks {
                    let r0 = task * t.chunkRows
                    pack(r0, min(t.chunkRows, m - r0), slot: r0)
                    counter.packed.wrappingAdd(1, ordering: .releasing)
                    continue
                }
                let g = task - t.packChunks
                let block = g / t.columnSplits, split = g % t.columnSplits
                let m0 = block * t.rowsPerBlock, rows = min(t.rowsPerBlock, m - m0)
                let p0 = t.panels * split / t.columnSplits, p1 = t.panels * (split + 1) / t.columnSplits
                // Shared: A was packed once (wait for the chunks other workers are still packing);
                // streaming: this worker packs the block into its own slot.
                let slot = t.shared ? m0 : worker * s.rows
                if t.shared {
                    while counter.packed.load(ordering: .acquiring) < t.packChunks { sched_yield() }
                } else {
                    pack(m0, rows, slot: slot)
                }
                var out = self.out.pointee
                if perRowActivations {
                    out.row_scales = UnsafePointer(buffers.rowScales.pointer + slot)
                    out.row_zero_points = UnsafePointer(buffers.rowZeroPoints.pointer + slot)
                }
                let packed = buffers.packedA.pointer + slot * stride, sums = buffers.rowSums.pointer + slot
                let c = self.c + m0 * ldc * elementSize
                if unpacked, let x = source.x {
                    let a = UnsafeRawPointer(x + m0 * source.lda).assumingMemoryBound(to: Int32.self)
                    octet_packed_gemm_c4_strided(isa, rows, n, k, a, source.lda / 4, nil, b, cols, c, ldc, &out, p0, p1, acc, kc)
                } else if quads {
                    octet_packed_gemm_c4(isa, rows, n, k, packed, sums, b, cols, c, ldc, &out, p0, p1, acc, kc)
                } else {
                    octet_packed_gemm(isa, rows, n, k, packed, sums, b, cols, c, ldc, &out, p0, p1, acc, kc)
                }
            }
        }
    }

    /// `C[m][n]` at `c + (m · ldc + n) · elementSize` for rows `0 ..< m` of `source`.
    /// `buffers` must come from a pool sized by `scratch(m:k:n:)` for at least this shape.
    /// With `perRowActivations` (an f32 source; f32 output), the packing chooses every row's
    /// scale and zero point into `buffers.rowScales` / `rowZeroPoints` (beside its packed row),
    /// and each task's copy of `output` reads them there.
    /// Returns false when the 7-bit kernel met an activation above 127, or a per-row f32
    /// source held NaN or an infinity (the outputs are then wrong and the caller must fail the call).
    @discardableResult
    func gemm(m: Int, source: octet_packed_a_source, b: PackedMatrix, c: UnsafeMutableRawPointer, ldc: Int, elementSize: Int,
              output: UnsafePointer<octet_packed_output>, buffers: ScratchPool.Buffers, perRowActivations: Bool = false) -> Bool {
        guard m > 0, b.n > 0 else { return true }
        let (k, n) = (b.k, b.n)
        let t = tiling(m: m, k: k, n: n), s = scratch(m: m, k: k, n: n)
        let quads = format == .quads && b.format == .quads
        // Row sums only feed the weight zero point's term (zero for symmetric weights).
        let needsRowSums = output.pointee.b_zero_point != 0
        // A 1x1 convolution over a channels-last image whose rows are whole k-quads needs no
        // packing for the k-quad kernels: the image is the packed A (row stride lda / 4 words);
        // "packing" its rows is only the 7-bit kernel's check that they fit 7 bits.
        let unpacked = quads && source.offsets == nil && source.xf == nil && source.x != nil && k % 4 == 0 && source.lda % 4 == 0 && !needsRowSums
        let job = Job(source: source, b: UnsafePointer(b.panels.pointer), cols: UnsafePointer(b.columnSums.pointer), c: c, out: output, buffers: buffers,
                      m: m, k: k, n: n, ldc: ldc, elementSize: elementSize, t: t, s: s,
                      isa: isa, kc: kBlock(k: k), quads: quads, sevenBit: needsSevenBit, qmax: dynamicCodeMax,
                      perRowActivations: perRowActivations, needsRowSums: needsRowSums, unpacked: unpacked,
                      stride: quads ? (k + 3) / 4 : (k + 1) / 2)
        for w in 0..<s.workers { buffers.flags.pointer[w] = 0 }
        buffers.taskCounter.next.store(0, ordering: .relaxed)
        buffers.taskCounter.packed.store(0, ordering: .relaxed)
        WorkerTeam.run(s.workers, job) // on oneDNN's OpenMP team when it is loaded
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

    /// Buffers are allocated when a call first needs them; each is checked against `budget`
    /// here, at prepare, so that a geometry too large is refused before any run.
    init(_ sizes: Sizes, budget: MemoryBudget) throws(MemoryBudgetExceeded) {
        let buffers: [(String, Int, Int)] = [
            ("packed activations", sizes.packedA, 4), ("row sums", sizes.rows, 4), ("accumulators", sizes.accumulators, 4),
            ("im2col columns", sizes.columns, 1), ("activation rows", sizes.rowBytes, 1), ("staging", sizes.staging, 4),
            ("packed second operand", sizes.packedB, 4), ("column sums", sizes.columnSums, 4),
        ]
        for (name, count, size) in buffers { try budget.check(elements: count, of: size, for: "the packed kernel's \(name) scratch") }
        pool = BufferPool { Buffers(sizes) }
    }

    func with<R>(_ body: (Buffers) throws -> R) rethrows -> R { try pool.with(body) }
}

/// The index of the next task of one GEMM call, taken by its workers as they free up.
final class TaskCounter: Sendable {
    let next = Atomic<Int>(0)
    /// Chunks of A packed so far (shared tilings: GEMM tasks wait for all of them).
    let packed = Atomic<Int>(0)
}
