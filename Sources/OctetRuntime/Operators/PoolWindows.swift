import OctetCore

/// The windows of an N-D pool over one plane (D1 x … x Dk, row-major) of an N x C x D1 x … x Dk
/// tensor, for any k ≥ 1: output position `o` reads input coordinates
/// `o[a] · strides[a] − padsBegin[a] + t · dilations[a]` for t in 0..<kernel[a] along each axis a
/// (ONNX operator spec, MaxPool / AveragePool / LpPool, "pads" and "dilations"). Positions
/// outside the input are padding: `forEachWindow` skips them and reports how many of the
/// window's positions lie inside the padded input (the divisor of `count_include_pad`).
struct PoolWindows: Sendable {
    let input: [Int]
    let output: [Int]
    let kernel: [Int]
    let strides: [Int]
    let dilations: [Int]
    /// Begin pads then end pads, as ONNX orders them (`WindowGeometry.resolve`).
    let pads: [Int]

    /// Elements of one input plane and of one output plane.
    let inputCount: Int
    let outputCount: Int
    /// The most positions of one window inside the input: Π min(kernel, input) over the axes
    /// (a window's taps along an axis are distinct coordinates), at most `inputCount`.
    let insideCount: Int

    /// The most window positions one walk over a plane may visit (outputs × kernel size):
    /// a huge kernel with huge strides has few outputs but would loop for hours.
    static let maximumPositions = 1 << 30

    /// - Throws: `GraphError` (through `site`) when the window has more positions than an Int
    ///   counts, the output grid's size overflows, or a walk over one plane would visit more
    ///   than `maximumPositions` window positions (never for an empty grid).
    init(input: [Int], output: [Int], window: WindowGeometry, pads: [Int]) throws(GraphError) {
        (self.input, self.output, kernel, strides, dilations, self.pads) = (input, output, window.kernel, window.strides, window.dilations, pads)
        let (k, site) = (kernel, window.site)
        let size = try site.checked("the window size of kernel_shape \(k)") { () throws(ArithmeticOverflow) in try k.checkedProduct() }
        inputCount = try site.checked("the input grid \(input)") { () throws(ArithmeticOverflow) in try input.checkedProduct() }
        outputCount = try site.checked("the output grid \(output)") { () throws(ArithmeticOverflow) in try output.checkedProduct() }
        insideCount = zip(k, input).reduce(1) { $0 * Swift.min($1.0, $1.1) }
        try Self.requireWalkable(outputCount, windowsOf: size, window)
    }

    /// - Throws: `GraphError` (through the window's site) when `windows` windows of `size`
    ///   positions each exceed `maximumPositions` (the 2-D C kernels visit every position too).
    static func requireWalkable(_ windows: Int, windowsOf size: Int, _ window: WindowGeometry) throws(GraphError) {
        let positions = windows.multipliedReportingOverflow(by: size)
        guard !positions.overflow, positions.partialValue <= maximumPositions else {
            throw window.site.error("\(windows) windows of kernel_shape \(window.kernel) (\(size) positions each) exceed the \(maximumPositions) window positions a plane may visit")
        }
    }

    /// Calls `body(j, offsets, padded)` for each output position j (row-major) with the
    /// row-major in-plane offsets of the window's positions inside the input, in the window's
    /// row-major order, and the number of its positions inside the padded input.
    func forEachWindow(_ body: (Int, ArraySlice<Int>, Int) throws -> Void) rethrows {
        var offsets = [Int](repeating: 0, count: insideCount)
        var n = 0, padded = 0
        try walk({ _, _, offset, insidePadded in
            if insidePadded { padded += 1 }
            if let offset { offsets[n] = offset; n += 1 }
        }, windowDone: { j in
            try body(j, offsets[0..<n], padded)
            n = 0; padded = 0
        })
    }

    /// Pools every N x C plane of `x` into `out` (N x C x output, row-major): output element
    /// k (flat) is `value(k, src, base, offsets, padded)`, with `src` x's elements, `base` the
    /// offset of k's plane in them, and the window's offsets and padded count as
    /// `forEachWindow` gives them.
    func pool<T: NumericElement>(_ x: Tensor, into out: inout Tensor, as _: T.Type,
                                 _ value: (Int, UnsafeBufferPointer<T>, Int, ArraySlice<Int>, Int) -> T) throws {
        let planes = x.shape.dims[0] * x.shape.dims[1], inCount = inputCount, outCount = outputCount
        try x.withUnsafeBufferPointer(as: T.self) { src in
            try out.withUnsafeMutableBufferPointer(as: T.self) { dst in
                for plane in 0..<planes {
                    forEachWindow { j, offsets, padded in
                        dst[plane * outCount + j] = value(plane * outCount + j, src, plane * inCount, offsets, padded)
                    }
                }
            }
        }
    }

    /// Calls `body(j, p, offset)` for each window j, and each position p of it (row-major
    /// over the kernel) inside the input, with its row-major in-plane offset (Col2Im).
    func forEachPosition(_ body: (Int, Int, Int) throws -> Void) rethrows {
        try walk({ j, p, offset, _ in if let offset { try body(j, p, offset) } }, windowDone: { _ in })
    }

    /// Every window j and position p: `position(j, p, offset or nil outside the input,
    /// inside the padded input)`, then `windowDone(j)`.
    private func walk(_ position: (Int, Int, Int?, Bool) throws -> Void, windowDone: (Int) throws -> Void) rethrows {
        let r = kernel.count
        var o = [Int](repeating: 0, count: r), t = [Int](repeating: 0, count: r)
        for j in 0..<outputCount {
            var rest = j
            for a in stride(from: r - 1, through: 0, by: -1) { o[a] = rest % output[a]; rest /= output[a] }
            for a in 0..<r { t[a] = 0 }
            var p = 0
            repeat {
                var offset = 0, inside = true, insidePadded = true
                for a in 0..<r {
                    let i = o[a] * strides[a] - pads[a] + t[a] * dilations[a]
                    if i < -pads[a] || i >= input[a] + pads[a + r] { insidePadded = false }
                    if i < 0 || i >= input[a] { inside = false }
                    offset = offset * input[a] + i
                }
                try position(j, p, inside ? offset : nil, insidePadded)
                p += 1
            } while Self.advance(&t, kernel)
            try windowDone(j)
        }
    }

    /// The column-major in-plane offset (first axis fastest) of the row-major `offset`:
    /// MaxPool's Indices with storage_order = 1.
    func columnMajor(_ offset: Int) -> Int {
        var rest = offset, result = 0, scale = 1
        var coords = [Int](repeating: 0, count: input.count)
        for a in stride(from: input.count - 1, through: 0, by: -1) { coords[a] = rest % input[a]; rest /= input[a] }
        for a in 0..<input.count { result += coords[a] * scale; scale *= input[a] }
        return result
    }

    /// Steps the row-major counter `t` within `bounds`; false after the last position.
    private static func advance(_ t: inout [Int], _ bounds: [Int]) -> Bool {
        for a in stride(from: t.count - 1, through: 0, by: -1) {
            t[a] += 1
            if t[a] < bounds[a] { return true }
            t[a] = 0
        }
        return false
    }
}
