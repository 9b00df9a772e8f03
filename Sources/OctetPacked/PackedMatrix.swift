import COctetPackedKernels
import OctetCore
import OctetCPU
import OctetDispatch

/// Which micro-kernel runs.
enum PackedISA {
    /// What a plan for `cpu` names.
    static func planned(for cpu: CPUFeatures) -> octet_packed_isa { cpu.has(.avx2) ? OCTET_PACKED_AVX2 : OCTET_PACKED_SCALAR }
    /// What runs for a plan made for `context.cpu`: never more than `context.host` runs.
    static func executable(in context: PrepareContext) -> octet_packed_isa {
        context.mayUse([.avx2]) ? OCTET_PACKED_AVX2 : OCTET_PACKED_SCALAR
    }
    static func name(_ isa: octet_packed_isa) -> String {
        isa == OCTET_PACKED_AVX2 ? "avx2 exact 6x16 (vpmaddwd on s16 pairs)" : "scalar exact 6x16"
    }
}

/// A `K x N` s8 matrix in the micro-kernel's panels, with its column sums.
struct PackedMatrix: Sendable {
    let k: Int, n: Int
    let panels: AlignedBuffer<Int32>
    let columnSums: AlignedBuffer<Int32>
    var panelCount: Int { (n + Int(OCTET_PACKED_NR) - 1) / Int(OCTET_PACKED_NR) }

    /// Words the panels of a `k x n` matrix take.
    static func words(k: Int, n: Int) -> Int {
        let nr = Int(OCTET_PACKED_NR)
        return (n + nr - 1) / nr * ((k + 1) / 2) * nr
    }

    /// Packs element (k, n) = `source[n * nStride + k * kStride]`.
    init(k: Int, n: Int, source: UnsafePointer<Int8>, nStride: Int, kStride: Int) {
        self.k = k
        self.n = n
        panels = AlignedBuffer(count: Self.words(k: k, n: n))
        columnSums = AlignedBuffer(count: max(n, 1))
        octet_packed_pack_b_s8(k, n, source, nStride, kStride, panels.pointer, columnSums.pointer)
    }
}

extension PackedMatrix {
    /// Packs into existing buffers (per-call operands such as matmul's second input).
    init(k: Int, n: Int, source: UnsafePointer<Int8>, nStride: Int, kStride: Int, panels: AlignedBuffer<Int32>, sums: AlignedBuffer<Int32>) {
        self.k = k
        self.n = n
        self.panels = panels
        columnSums = sums
        octet_packed_pack_b_s8(k, n, source, nStride, kStride, panels.pointer, sums.pointer)
    }
}
