import COctetFP16Kernels
import OctetCore

/// A `K x N` right-hand matrix packed for the 6x16 micro-kernel: panels of 16 columns,
/// each holding, for every k, its 16 values contiguously (zero-padded past N).
/// `Element` is `UInt16` (binary16 bits) or `Float` (the FP32 baseline).
package struct PackedPanels<Element: BitwiseCopyable>: Sendable {
    package static var panelWidth: Int { Int(OCTET_FP16_NR) }

    package let k: Int
    package let n: Int
    package let storage: AlignedBuffer<Element>
    package var panelCount: Int { (n + Self.panelWidth - 1) / Self.panelWidth }

    init(k: Int, n: Int, storage: AlignedBuffer<Element>) {
        self.k = k
        self.n = n
        self.storage = storage
    }

    /// Panel-major f32 copy of B, where B[k][n] = `source[n * nStride + k * kStride]`.
    static func panelOrder(k: Int, n: Int, source: UnsafeBufferPointer<Float>, nStride: Int, kStride: Int) -> [Float] {
        let nr = panelWidth
        let panels = (n + nr - 1) / nr
        var out = [Float](repeating: 0, count: panels * k * nr)
        for p in 0..<panels {
            for kk in 0..<k {
                let row = (p * k + kk) * nr
                for j in 0..<min(nr, n - p * nr) {
                    out[row + j] = source[(p * nr + j) * nStride + kk * kStride]
                }
            }
        }
        return out
    }
}

extension PackedPanels where Element == UInt16 {
    /// Packs B as binary16; also returns what the conversion lost.
    package static func packFP16(k: Int, n: Int, source: UnsafeBufferPointer<Float>, nStride: Int, kStride: Int) -> (PackedPanels, FP16Conversion.Result) {
        let ordered = panelOrder(k: k, n: n, source: source, nStride: nStride, kStride: kStride)
        let converted = FP16Conversion.convert(ordered)
        let storage = AlignedBuffer<UInt16>(count: ordered.count)
        for i in converted.bits.indices { storage.pointer[i] = converted.bits[i] }
        return (PackedPanels(k: k, n: n, storage: storage), converted)
    }

    /// Packs B given as binary16 bits already (`source` as in `panelOrder`).
    package static func packBits(k: Int, n: Int, source: UnsafeBufferPointer<UInt16>, nStride: Int, kStride: Int) -> PackedPanels {
        let nr = panelWidth
        let panels = (n + nr - 1) / nr
        let storage = AlignedBuffer<UInt16>(count: panels * k * nr)
        for p in 0..<panels {
            for kk in 0..<k {
                for j in 0..<min(nr, n - p * nr) {
                    storage.pointer[(p * k + kk) * nr + j] = source[(p * nr + j) * nStride + kk * kStride]
                }
            }
        }
        return PackedPanels(k: k, n: n, storage: storage)
    }
}

extension PackedPanels where Element == Float {
    /// Packs B as f32 (for the FP32 baseline of the same kernel).
    package static func packF32(k: Int, n: Int, source: UnsafeBufferPointer<Float>, nStride: Int, kStride: Int) -> PackedPanels {
        let ordered = panelOrder(k: k, n: n, source: source, nStride: nStride, kStride: kStride)
        let storage = AlignedBuffer<Float>(count: ordered.count)
        for i in ordered.indices { storage.pointer[i] = ordered[i] }
        return PackedPanels(k: k, n: n, storage: storage)
    }
}
