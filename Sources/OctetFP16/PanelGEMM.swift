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

    /// The operands of one product, over the panels `range` of each call. Threads read `a`
    /// and `b` and write disjoint column ranges of `c`, which is what makes sharing the
    /// pointers sound.
    private struct Job: RangeTask, @unchecked Sendable {
        var isa: octet_fp16_isa
        var m: Int, n: Int, k: Int
        var a: UnsafePointer<Float>, lda: Int
        /// The panels: binary16 (`UInt16`) when `halves`, else f32.
        var b: UnsafeRawPointer, halves: Bool
        var c: UnsafeMutablePointer<Float>, ldc: Int
        var epilogue: octet_gemm_epilogue

        func callAsFunction(_ panels: Range<Int>) {
            let (begin, end) = (panels.lowerBound, panels.upperBound)
            if halves {
                octet_gemm_f16w(isa, m, n, k, a, lda, b.assumingMemoryBound(to: UInt16.self), c, ldc, epilogue, begin, end)
            } else {
                octet_gemm_f32w(isa, m, n, k, a, lda, b.assumingMemoryBound(to: Float.self), c, ldc, epilogue, begin, end)
            }
        }
    }

    /// Runs the product with binary16 panels. `bias` has N entries or is nil.
    package func run(m: Int, a: UnsafePointer<Float>, lda: Int, b: PackedPanels<UInt16>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, lo: Float, hi: Float) {
        let job = Job(isa: isa, m: m, n: b.n, k: b.k, a: a, lda: lda, b: UnsafeRawPointer(b.storage.pointer), halves: true, c: c, ldc: ldc,
                      epilogue: octet_gemm_epilogue(bias: bias, lo: lo, hi: hi))
        WorkerTeam.ranges(b.panelCount, threads: threads, job)
    }

    /// Runs the product with f32 panels (the FP32 baseline of the same kernel).
    package func run(m: Int, a: UnsafePointer<Float>, lda: Int, b: PackedPanels<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, lo: Float, hi: Float) {
        let job = Job(isa: isa, m: m, n: b.n, k: b.k, a: a, lda: lda, b: UnsafeRawPointer(b.storage.pointer), halves: false, c: c, ldc: ldc,
                      epilogue: octet_gemm_epilogue(bias: bias, lo: lo, hi: hi))
        WorkerTeam.ranges(b.panelCount, threads: threads, job)
    }
}
