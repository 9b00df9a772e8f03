import COctetPackedKernels
import OctetCore

/// How operands are laid out for the micro-kernels.
enum PackedFormat: Sendable {
    /// s16 pairs along K (`u8s8s32-gemm-6x16`): exact for any u8 activation.
    case pairs
    /// u8/s8 quads along K (`u7s8s32-gemm-6x16c4`, vpmaddubsw): exact for activations ≤ 127.
    case quads
}

/// A `K x N` s8 matrix in the micro-kernel's panels, with its column sums.
struct PackedMatrix: Sendable {
    /// One matrix per group of a convolution whose weights are `groups` blocks of
    /// `n` output channels x `k` values each, contiguous (`[O][K]`).
    static func groups(_ groups: Int, k: Int, n: Int, weights: UnsafeBufferPointer<Int8>, format: PackedFormat) throws -> [PackedMatrix] {
        let start = try base(weights)
        return (0..<groups).map { PackedMatrix(k: k, n: n, source: start + $0 * n * k, nStride: k, kStride: 1, format: format) }
    }

    let k: Int, n: Int
    let format: PackedFormat
    let panels: AlignedBuffer<Int32>
    let columnSums: AlignedBuffer<Int32>
    var panelCount: Int { (n + Int(OCTET_PACKED_NR) - 1) / Int(OCTET_PACKED_NR) }

    /// Words the panels of a `k x n` matrix take (either format fits in this many).
    static func words(k: Int, n: Int) -> Int {
        let nr = Int(OCTET_PACKED_NR), panels = (n + nr - 1) / nr
        // s8 pairs: K2 rows of 32 bytes; k-quads: K4 rows of 64 bytes.
        return max(1, panels * max((k + 1) / 2 * nr / 2, (k + 3) / 4 * nr))
    }

    static func pack(_ format: PackedFormat, k: Int, n: Int, _ source: UnsafePointer<Int8>, _ nStride: Int, _ kStride: Int,
                     _ panels: UnsafeMutablePointer<Int32>, _ sums: UnsafeMutablePointer<Int32>) {
        switch format {
        case .pairs: octet_packed_pack_b_s8(k, n, source, nStride, kStride, panels, sums)
        case .quads: octet_packed_pack_b_s8_c4(k, n, source, nStride, kStride, panels, sums)
        }
    }

    /// Column sums are padded with zeros to whole panels: the kernels read 16 at a time.
    static func columnSumWords(n: Int) -> Int { max(1, (n + 15) / 16) * 16 }

    /// Packs element (k, n) = `source[n * nStride + k * kStride]`.
    init(k: Int, n: Int, source: UnsafePointer<Int8>, nStride: Int, kStride: Int, format: PackedFormat = .pairs) {
        self.k = k
        self.n = n
        self.format = format
        panels = AlignedBuffer(count: Self.words(k: k, n: n))
        columnSums = AlignedBuffer(count: Self.columnSumWords(n: n))
        Self.pack(format, k: k, n: n, source, nStride, kStride, panels.pointer, columnSums.pointer)
    }
}

extension PackedMatrix {
    /// Packs into existing buffers (per-call operands such as matmul's second input).
    init(k: Int, n: Int, source: UnsafePointer<Int8>, nStride: Int, kStride: Int, panels: AlignedBuffer<Int32>, sums: AlignedBuffer<Int32>,
         format: PackedFormat = .pairs) {
        self.k = k
        self.n = n
        self.format = format
        self.panels = panels
        columnSums = sums
        Self.pack(format, k: k, n: n, source, nStride, kStride, panels.pointer, sums.pointer)
    }
}
