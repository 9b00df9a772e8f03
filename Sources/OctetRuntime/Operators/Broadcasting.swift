import OctetCore

/// NumPy-style broadcasting of shapes and the index arithmetic to walk broadcast operands.
enum Broadcasting {
    /// The broadcast of two symbolic shapes; `nil` when they cannot broadcast.
    static func shape(_ a: SymbolicShape, _ b: SymbolicShape) -> SymbolicShape? {
        let r = max(a.rank, b.rank)
        var out: [Dimension] = []
        for i in 0..<r {
            let x = i - (r - a.rank) >= 0 ? a.dims[i - (r - a.rank)] : .fixed(1)
            let y = i - (r - b.rank) >= 0 ? b.dims[i - (r - b.rank)] : .fixed(1)
            switch (x, y) {
            case (.fixed(1), _): out.append(y)
            case (_, .fixed(1)): out.append(x)
            case let (.fixed(p), .fixed(q)):
                guard p == q else { return nil }
                out.append(x)
            case (.symbol, .fixed): out.append(y)
            case (.fixed, .symbol): out.append(x)
            case (.symbol, .symbol): out.append(x)
            }
        }
        return SymbolicShape(out)
    }

    static func shape(_ shapes: [SymbolicShape]) -> SymbolicShape? {
        guard var acc = shapes.first else { return nil }
        for s in shapes.dropFirst() {
            guard let n = shape(acc, s) else { return nil }
            acc = n
        }
        return acc
    }

    /// Element strides of `shape` read as broadcast into `out` (0 along broadcast axes).
    static func strides(of shape: TensorShape, in out: TensorShape) -> [Int] {
        let r = out.rank, off = r - shape.rank
        var strides = [Int](repeating: 0, count: r)
        var s = 1
        for i in stride(from: shape.rank - 1, through: 0, by: -1) {
            strides[i + off] = shape.dims[i] == 1 ? 0 : s
            s *= shape.dims[i]
        }
        return strides
    }

    /// `out` and `operands` (broadcasting into it) with unit axes of `out` dropped and
    /// neighbouring axes merged where every operand either spans both or broadcasts along
    /// both: the same elements in the same order, in fewer and longer rows.
    static func collapsed(_ out: TensorShape, _ operands: [TensorShape]) -> (TensorShape, [TensorShape]) {
        let r = out.rank
        let aligned = operands.map { Array(repeating: 1, count: max(0, r - $0.rank)) + $0.dims }
        guard aligned.allSatisfy({ $0.count == r }) else { return (out, operands) }
        var dims: [Int] = [], ops: [[Int]] = operands.map { _ in [] }
        for a in 0..<r where out.dims[a] != 1 {
            let d = out.dims[a]
            if let last = dims.last, aligned.indices.allSatisfy({ k in
                let prev = ops[k][ops[k].count - 1], cur = aligned[k][a]
                return (prev == 1 && cur == 1) || (prev == last && cur == d)
            }) {
                dims[dims.count - 1] = last * d
                for k in aligned.indices { ops[k][ops[k].count - 1] *= aligned[k][a] }
            } else {
                dims.append(d)
                for k in aligned.indices { ops[k].append(aligned[k][a]) }
            }
        }
        guard let o = try? TensorShape(dims) else { return (out, operands) }
        var shapes: [TensorShape] = []
        for d in ops {
            guard let t = try? TensorShape(d) else { return (out, operands) }
            shapes.append(t)
        }
        return (o, shapes)
    }

    /// Calls `body(outOffset, offsets, count, innerStrides)` for every run of the innermost
    /// axis of `out`, with each operand's starting offset and its stride along that axis.
    static func forEachRow(_ out: TensorShape, _ operands: [TensorShape], _ body: (Int, [Int], Int, [Int]) -> Void) {
        Strided.forEachRow(out, strides: operands.map { strides(of: $0, in: out) }, offsets: Array(repeating: 0, count: operands.count), body)
    }
}

/// Walking an output shape row by row while operands advance by arbitrary strides.
enum Strided {
    /// Row-major element strides of a shape.
    static func strides(_ shape: TensorShape) -> [Int] {
        var s = [Int](repeating: 1, count: shape.rank)
        var acc = 1
        for i in stride(from: shape.rank - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape.dims[i]
        }
        return s
    }

    /// For every row (run of the last axis) of `out`: `body(outOffset, operandOffsets, rowLength, operandInnerStrides)`.
    static func forEachRow(_ out: TensorShape, strides: [[Int]], offsets start: [Int], _ body: (Int, [Int], Int, [Int]) -> Void) {
        let r = out.rank
        guard r > 0 else {
            body(0, start, 1, Array(repeating: 0, count: start.count))
            return
        }
        let inner = out.dims[r - 1]
        let innerStrides = strides.map { $0[r - 1] }
        let rows = inner == 0 ? 0 : out.elementCount / inner
        var index = [Int](repeating: 0, count: r)
        var offsets = start
        for row in 0..<rows {
            body(row * inner, offsets, inner, innerStrides)
            var axis = r - 2
            while axis >= 0 {
                index[axis] += 1
                for k in offsets.indices { offsets[k] += strides[k][axis] }
                if index[axis] < out.dims[axis] { break }
                for k in offsets.indices { offsets[k] -= strides[k][axis] * index[axis] }
                index[axis] = 0
                axis -= 1
            }
        }
    }

    /// `shape` and per-axis `strides` with each axis merged into the one before it when the
    /// source walks the pair as one (outer stride = inner stride · inner length); unit axes dropped.
    static func merged(_ shape: TensorShape, _ strides: [Int]) -> (TensorShape, [Int]) {
        guard shape.elementCount > 0 else { return (shape, strides) }
        var dims: [Int] = [], st: [Int] = []
        for (d, s) in zip(shape.dims, strides) where d != 1 {
            if let last = dims.last, let ls = st.last, ls == s * d {
                dims[dims.count - 1] = last * d
                st[st.count - 1] = s
            } else {
                dims.append(d)
                st.append(s)
            }
        }
        guard let merged = try? TensorShape(dims) else { return (shape, strides) }
        return (merged, st)
    }

    /// Copies elements of `src` read with `strides` (per output axis, in elements) from
    /// `offset` into the dense tensor `out`, walking `out` in memory order; any element type.
    static func gather(_ src: Tensor, strides: [Int], offset: Int, into out: inout Tensor, order: TensorShape? = nil) {
        let size = src.dtype.byteSize
        // The output's dimensions in memory order (its logical shape unless given), with
        // runs of axes the source also walks contiguously merged (longer rows, fewer calls).
        let (shape, strides) = merged(order ?? out.shape, strides)
        src.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { d in
                guard let sb = s.baseAddress, let db = d.baseAddress else { return }
                // Contiguous rows of a large copy: one batch of segments split over threads,
                // when the rows are long enough (≥ 4 KiB) for a list of them to pay. BERT's
                // attention transposes ([1, 128, 12, 64] → [1, 12, 128, 64]: 1,536 rows of
                // 256 bytes) took 38 µs each on 2 threads this way, 13 µs inline (Zen 5).
                if strides.last == 1, IntraOpParallelism.threads > 1, shape.elementCount * size >= 1 << 18, (shape.dims.last ?? 0) * size >= 1 << 12 {
                    var segments: [(UnsafeMutableRawPointer, UnsafeRawPointer, Int)] = []
                    forEachRow(shape, strides: [strides], offsets: [offset]) { o, off, n, _ in
                        segments.append((db + o * size, UnsafeRawPointer(sb + off[0] * size), n * size))
                    }
                    HotPathKernels.copy(segments)
                    return
                }
                forEachRow(shape, strides: [strides], offsets: [offset]) { o, off, n, st in
                    if st[0] == 1 {
                        (db + o * size).copyMemory(from: sb + off[0] * size, byteCount: n * size)
                    } else if size == 4 {
                        let d = (db + o * 4).assumingMemoryBound(to: UInt32.self), s = (sb + off[0] * 4).assumingMemoryBound(to: UInt32.self)
                        for i in 0..<n { d[i] = s[i * st[0]] }
                    } else if size == 8 {
                        let d = (db + o * 8).assumingMemoryBound(to: UInt64.self), s = (sb + off[0] * 8).assumingMemoryBound(to: UInt64.self)
                        for i in 0..<n { d[i] = s[i * st[0]] }
                    } else {
                        for i in 0..<n { (db + (o + i) * size).copyMemory(from: sb + (off[0] + i * st[0]) * size, byteCount: size) }
                    }
                }
            }
        }
    }
}
