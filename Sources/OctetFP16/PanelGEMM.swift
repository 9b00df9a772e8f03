import COctetFP16Kernels
import OctetCore

/// `C[M x N] = A[M x K] · B` for B in packed panels, with bias and clamp fused into the
/// store, split over `threads` by panels of N so every thread streams its own weights.
package struct PanelGEMM: Sendable {
    package let isa: octet_fp16_isa
    package let threads: Int

    package init(isa: octet_fp16_isa, threads: Int) {
        self.isa = isa
        self.threads = max(1, threads)
    }

    /// The operands of one product. Threads read `a` and `b` and write disjoint column
    /// ranges of `c`, which is what makes sharing the pointers sound.
    private struct Job<Element>: @unchecked Sendable {
        var isa: octet_fp16_isa
        var m: Int, n: Int, k: Int
        var a: UnsafePointer<Float>, lda: Int
        var b: UnsafePointer<Element>
        var c: UnsafeMutablePointer<Float>, ldc: Int
        var epilogue: octet_gemm_epilogue
    }

    /// Runs the product with binary16 panels. `bias` has N entries or is nil.
    package func run(m: Int, a: UnsafePointer<Float>, lda: Int, b: PackedPanels<UInt16>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, lo: Float, hi: Float) {
        let job = Job(isa: isa, m: m, n: b.n, k: b.k, a: a, lda: lda, b: UnsafePointer(b.storage.pointer), c: c, ldc: ldc,
                      epilogue: octet_gemm_epilogue(bias: bias, lo: lo, hi: hi))
        split(panels: b.panelCount) { begin, end in
            octet_gemm_f16w(job.isa, job.m, job.n, job.k, job.a, job.lda, job.b, job.c, job.ldc, job.epilogue, begin, end)
        }
    }

    /// Runs the product with f32 panels (the FP32 baseline of the same kernel).
    package func run(m: Int, a: UnsafePointer<Float>, lda: Int, b: PackedPanels<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, lo: Float, hi: Float) {
        let job = Job(isa: isa, m: m, n: b.n, k: b.k, a: a, lda: lda, b: UnsafePointer(b.storage.pointer), c: c, ldc: ldc,
                      epilogue: octet_gemm_epilogue(bias: bias, lo: lo, hi: hi))
        split(panels: b.panelCount) { begin, end in
            octet_gemm_f32w(job.isa, job.m, job.n, job.k, job.a, job.lda, job.b, job.c, job.ldc, job.epilogue, begin, end)
        }
    }

    /// Calls `body` on contiguous panel ranges, one per worker, on the session's worker team.
    private func split(panels: Int, _ body: (Int, Int) -> Void) {
        WorkerTeam.ranges(panels, threads: threads, body)
    }
}
