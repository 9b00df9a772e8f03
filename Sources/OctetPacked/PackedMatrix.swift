import COctetPackedKernels
import OctetCore

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

    /// Column sums are padded with zeros to whole panels: the kernels read 16 at a time.
    static func columnSumWords(n: Int) -> Int { max(1, (n + 15) / 16) * 16 }

    /// Packs element (k, n) = `source[n * nStride + k * kStride]`.
    init(k: Int, n: Int, source: UnsafePointer<Int8>, nStride: Int, kStride: Int) {
        self.k = k
        self.n = n
        panels = AlignedBuffer(count: Self.words(k: k, n: n))
        columnSums = AlignedBuffer(count: Self.columnSumWords(n: n))
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
