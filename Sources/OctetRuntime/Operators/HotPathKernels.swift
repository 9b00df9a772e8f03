import COctetGraphKernels
import OctetCore

/// Fast paths of the hot data-movement and reduction ops (Resize nearest, Pad, Transpose,
/// the Reduce family, strided Softmax): the common layouts through the vectorized C kernels
/// of `COctetGraphKernels`, split over the session's threads (`IntraOpParallelism`). Each
/// returns `false` when its layout does not apply, and the op then runs its general code.
/// Every split writes disjoint outputs computed in the same order as one thread would, so
/// the bits do not depend on the thread count.
enum HotPathKernels {
    /// Outputs (elements) one chunk of a split should at least hold.
    static let grain = 1 << 14

    /// 4-byte elements of `x` copied into `out` through index maps of the last two axes:
    /// `out[..., oy, ox] = x[..., ymap[oy], xmap[ox]]`, `fill` (bits) where a map holds -1.
    /// `out` has `x`'s leading axes and `ymap.count` x `xmap.count` trailing ones; `x` is not empty.
    static func remap2D(_ x: Tensor, into out: inout Tensor, ymap: [Int32], xmap: [Int32], fill: UInt32) {
        let dims = x.shape.dims, rank = dims.count
        let ih = dims[rank - 2], iw = dims[rank - 1], oh = ymap.count, ow = xmap.count
        let rows = out.shape.elementCount / max(ow, 1)
        guard rows > 0, ow > 0 else { return }
        x.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                guard let s = src.baseAddress?.assumingMemoryBound(to: UInt32.self), let d = dst.baseAddress?.assumingMemoryBound(to: UInt32.self) else { return }
                ymap.withUnsafeBufferPointer { ym in
                    xmap.withUnsafeBufferPointer { xm in
                        guard let y = ym.baseAddress, let xp = xm.baseAddress else { return }
                        let task = Remap(s: s, d: d, ih: Int32(ih), iw: Int32(iw), oh: Int32(oh), ow: Int32(ow), y: y, x: xp, fill: fill)
                        IntraOpParallelism.forEachChunk(rows, grain: max(1, grain / ow), task)
                    }
                }
            }
        }
    }

    /// `remap2D`'s output rows `range`.
    private struct Remap: RangeTask {
        let s: UnsafePointer<UInt32>, d: UnsafeMutablePointer<UInt32>, ih: Int32, iw: Int32, oh: Int32, ow: Int32
        let y: UnsafePointer<Int32>, x: UnsafePointer<Int32>, fill: UInt32
        func callAsFunction(_ r: Range<Int>) { octet_u32_remap2d(s, d, ih, iw, oh, ow, y, x, fill, r.lowerBound, r.upperBound) }
    }

    /// Transpose of 4-byte elements when the permutation, once runs of axes that stay
    /// together are merged, swaps two blocks (`[1, 0]`) or two blocks after a batch block
    /// (`[0, 2, 1]`); `false` otherwise.
    static func transpose(_ x: Tensor, perm: [Int], into out: inout Tensor) -> Bool {
        // An empty tensor has nothing to copy (and its other axes may be huge: their product overflows).
        guard x.dtype.byteSize == 4, x.shape.elementCount > 0 else { return false }
        // Drop unit axes, then merge input axes that stay adjacent and in order in the output.
        let kept = perm.filter { x.shape.dims[$0] != 1 }
        var groups: [[Int]] = []
        for a in kept {
            if let last = groups.last?.last, a == last + 1 { groups[groups.count - 1].append(a) } else { groups.append([a]) }
        }
        let order = groups.map { $0[0] }.sorted()
        let collapsed = groups.map { g in order.firstIndex(of: g[0]) ?? 0 }
        func size(_ g: [Int]) -> Int { g.reduce(1) { $0 * x.shape.dims[$1] } }
        let sizes = order.map { first in size(groups.first { $0[0] == first } ?? []) }
        let (batch, rows, cols): (Int, Int, Int)
        switch collapsed {
        case [1, 0]: (batch, rows, cols) = (1, sizes[0], sizes[1])
        case [0, 2, 1]: (batch, rows, cols) = (sizes[0], sizes[1], sizes[2])
        default: return false
        }
        let blocks = ((rows + 7) / 8) * ((cols + 7) / 8)
        x.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                guard let s = src.baseAddress?.assumingMemoryBound(to: UInt32.self), let d = dst.baseAddress?.assumingMemoryBound(to: UInt32.self) else { return }
                for b in 0..<batch {
                    let si = s + b * rows * cols, di = d + b * rows * cols
                    IntraOpParallelism.forEachChunk(blocks, grain: max(1, grain / 64), Transpose(s: si, d: di, rows: rows, cols: cols))
                }
            }
        }
        return true
    }

    /// `transpose`'s 8 x 8 blocks `range` of one batch.
    private struct Transpose: RangeTask {
        let s: UnsafePointer<UInt32>, d: UnsafeMutablePointer<UInt32>, rows: Int, cols: Int
        func callAsFunction(_ r: Range<Int>) { octet_u32_transpose2d(s, d, rows, cols, r.lowerBound, r.upperBound) }
    }

    /// `x` (f32) reduced over `axes` when, past unit axes, they form one run: the
    /// (outer, r, inner) view of `octet_f32_reduce`; `false` otherwise.
    static func reduce(_ kind: octet_reduce_kind, _ x: Tensor, axes: Set<Int>, into out: inout Tensor) throws -> Bool {
        guard x.dtype == .f32, out.dtype == .f32, x.shape.elementCount > 0 else { return false }
        let dims = x.shape.dims
        let reduced = dims.indices.filter { axes.contains($0) && dims[$0] != 1 }
        guard let first = reduced.first, let last = reduced.last else { return false }
        guard (first...last).allSatisfy({ axes.contains($0) || dims[$0] == 1 }) else { return false }
        let outer = dims[..<first].reduce(1, *), r = dims[first...last].reduce(1, *), inner = dims[(last + 1)...].reduce(1, *)
        let count = outer * inner
        guard count == out.shape.elementCount, count > 0 else { return false }
        try x.withUnsafeBufferPointer(as: Float.self) { src in
            try out.withUnsafeMutableBufferPointer(as: Float.self) { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                IntraOpParallelism.forEachChunk(count, grain: max(8, grain / max(r, 1)), Reduce(kind: kind, s: s, d: d, r: r, inner: inner))
            }
        }
        return true
    }

    /// `reduce`'s outputs `range`.
    private struct Reduce: RangeTask {
        let kind: octet_reduce_kind, s: UnsafePointer<Float>, d: UnsafeMutablePointer<Float>, r: Int, inner: Int
        func callAsFunction(_ range: Range<Int>) { octet_f32_reduce(kind, s, d, r, inner, range.lowerBound, range.upperBound) }
    }

    /// Softmax of f32 `x` along the middle axis of its (outer, n, stride) view, stride > 1.
    static func softmaxStrided(_ x: UnsafeBufferPointer<Float>, _ out: UnsafeMutableBufferPointer<Float>, n: Int, stride: Int) {
        guard let s = x.baseAddress, let d = out.baseAddress, n > 0, stride > 0 else { return }
        let columns = x.count / n
        IntraOpParallelism.forEachChunk(columns, grain: max(8, grain / n), SoftmaxStrided(s: s, d: d, n: n, stride: stride))
    }

    /// `softmaxStrided`'s columns `range`.
    private struct SoftmaxStrided: RangeTask {
        let s: UnsafePointer<Float>, d: UnsafeMutablePointer<Float>, n: Int, stride: Int
        func callAsFunction(_ r: Range<Int>) { octet_f32_softmax_strided(s, d, n, stride, r.lowerBound, r.upperBound) }
    }

    /// Copies byte segments `(destination, source, count)` (disjoint destinations), split
    /// into equal byte ranges over the session's threads when there is enough to copy.
    static func copy(_ segments: [(UnsafeMutableRawPointer, UnsafeRawPointer, Int)]) {
        let total = segments.reduce(0) { $0 + $1.2 }
        guard IntraOpParallelism.threads > 1, total >= 1 << 18 else {
            for (d, s, n) in segments { d.copyMemory(from: s, byteCount: n) }
            return
        }
        // Segment k covers bytes starts[k] ..< starts[k] + count of the concatenated stream.
        var starts: [Int] = [], at = 0
        for seg in segments { starts.append(at); at += seg.2 }
        segments.withUnsafeBufferPointer { segs in
            starts.withUnsafeBufferPointer { st in
                IntraOpParallelism.forEachChunk(total, grain: 1 << 17, Copy(segments: segs, starts: st))
            }
        }
    }

    /// `copy`'s bytes `r` of the concatenated stream; segment k covers bytes
    /// `starts[k] ..< starts[k] + count`.
    private struct Copy: RangeTask {
        let segments: UnsafeBufferPointer<(UnsafeMutableRawPointer, UnsafeRawPointer, Int)>, starts: UnsafeBufferPointer<Int>

        func callAsFunction(_ r: Range<Int>) {
            let (segs, st) = (segments, starts)
            // The first segment that ends past r.lowerBound.
            var lo = 0, hi = segs.count
            while lo < hi { let mid = (lo + hi) / 2; if st[mid] + segs[mid].2 <= r.lowerBound { lo = mid + 1 } else { hi = mid } }
            var k = lo
            while k < segs.count, st[k] < r.upperBound {
                let (d, s, n) = segs[k]
                let from = Swift.max(r.lowerBound, st[k]), to = Swift.min(r.upperBound, st[k] + n)
                if to > from { (d + (from - st[k])).copyMemory(from: s + (from - st[k]), byteCount: to - from) }
                k += 1
            }
        }
    }
}
