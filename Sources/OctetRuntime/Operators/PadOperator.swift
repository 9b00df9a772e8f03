import OctetCore

/// `Pad(data, pads, constant_value, axes)`: grows (or, with negative pads, crops) each axis
/// by `pads[i]` at its start and `pads[i + n]` at its end. `mode`: `constant` (fill with
/// constant_value, default 0), `reflect` (mirror without repeating the edge), `edge`
/// (repeat the edge), `wrap` (opset 19: continue from the other end). Before opset 11
/// `pads` and `value` were attributes; `axes` (opset 18) picks the axes `pads` is for.
/// Any element type; pads and axes must be constants (they size the output).
struct PadOperator: GraphOperator {
    enum Mode: String, Sendable { case constant, reflect, edge, wrap }
    let site: OperatorSite
    let mode: Mode
    let attributePads: [Int]?
    let attributeValue: Float?

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["Pad"] = { n, opset in
            let m = try n.string("mode", default: "constant")
            guard let mode = Mode(rawValue: m), mode != .wrap || opset >= 19 else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "mode", expected: "constant, reflect, edge\(opset >= 19 ? " or wrap" : "")", got: "\"\(m)\"")
            }
            guard opset < 11 else { return PadOperator(site: OperatorSite(n), mode: mode, attributePads: nil, attributeValue: nil) }
            guard let pads = try n.ints("pads") ?? n.ints("paddings") else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "pads", expected: "a list of ints (opset \(opset))", got: "nothing")
            }
            return PadOperator(site: OperatorSite(n), mode: mode, attributePads: pads, attributeValue: try n.float("value", default: 0))
        }
    }

    /// Begin and end pads for every axis of a tensor of rank `rank`.
    func pads(rank: Int, _ constants: [Tensor?]) throws -> (begin: [Int], end: [Int])? {
        guard let given = try attributePads ?? site.ints(constants.count > 1 ? constants[1] : nil, "pads") else { return nil }
        let axes = try site.ints(constants.count > 3 ? constants[3] : nil, "axes")?.map { a throws(GraphError) in try site.axis(a, rank: rank) } ?? Array(0..<rank)
        guard given.count == 2 * axes.count else { throw site.error("pads has \(given.count) values for \(axes.count) axes (2 per axis)") }
        var begin = [Int](repeating: 0, count: rank), end = [Int](repeating: 0, count: rank)
        for (k, a) in axes.enumerated() {
            begin[a] = given[k]
            end[a] = given[k + axes.count]
        }
        return (begin, end)
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard let s = t.shape else { return [t] }
        if attributePads == nil, site.isRuntimeValue(inputs, constants, 1) || site.isRuntimeValue(inputs, constants, 3) {
            return [site.runtimeShaped(t.dtype, rank: s.rank, "pads")]
        }
        guard let (begin, end) = try pads(rank: s.rank, constants) else { throw site.error("pads is missing") }
        var dims: [OctetCore.Dimension] = []
        for (i, d) in s.dims.enumerated() {
            guard let v = d.value else {
                dims.append(begin[i] == 0 && end[i] == 0 ? d : .symbol("\(site.node)_d\(i)"))
                continue
            }
            dims.append(.fixed(try outputLength(v, begin[i], end[i], axis: i)))
        }
        return [ValueType(t.dtype, SymbolicShape(dims))]
    }

    /// The length of axis `axis` (of length `v`) padded by `begin` and `end`.
    /// - Throws: `GraphError` when the pads overflow (each source coordinate `o - begin`
    ///   must fit an Int too), crop the axis below zero, or pad an empty axis other than
    ///   with a constant.
    func outputLength(_ v: Int, _ begin: Int, _ end: Int, axis i: Int) throws(GraphError) -> Int {
        let n = try site.checked("pads \(begin), \(end) of axis \(i) (length \(v))") { () throws(ArithmeticOverflow) in
            _ = try 0.subtracting(begin)  // the source coordinate of output 0
            return try v.adding(end).adding(begin)
        }
        guard n >= 0 else { throw site.error("pads \(begin), \(end) crop axis \(i) of length \(v) below zero") }
        if n > 0, v == 0, mode != .constant { throw site.error("\(mode.rawValue) padding of the empty axis \(i)") }
        return n
    }

    /// The source coordinate of output coordinate `o` along an axis of length `n` with
    /// `begin` padding; `nil`: the constant.
    func source(_ o: Int, _ n: Int, _ begin: Int) -> Int? {
        let c = o - begin
        if c >= 0 && c < n { return c }
        switch mode {
        case .constant: return nil
        case .edge: return c < 0 ? 0 : n - 1
        case .wrap: return ((c % n) + n) % n
        case .reflect:
            guard n > 1 else { return 0 }
            let period = 2 * (n - 1)
            let m = ((c % period) + period) % period
            return m < n ? m : period - m
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        guard let (begin, end) = try pads(rank: x.shape.rank, inputs) else { throw site.error("pads is missing") }
        // The fill value in the data's element type.
        var fill = try Tensor(zeros: x.dtype, shape: .scalar)
        if mode == .constant {
            if let v = inputs.count > 2 ? inputs[2] : nil, v.shape.elementCount >= 1 {
                fill = try CastOperator.convert(v, to: x.dtype)
            } else if let attributeValue, attributeValue != 0 {
                fill = try CastOperator.convert(try Tensor([attributeValue], shape: .scalar), to: x.dtype)
            }
        }
        let outDims = outputs[0].shape.dims, inDims = x.shape.dims, rank = inDims.count
        for a in 0..<rank where try outputLength(inDims[a], begin[a], end[a], axis: a) != outDims[a] {
            throw site.error("the output is \(outputs[0].shape), the input \(x.shape) padded by \(begin), \(end)")
        }
        let strides = Strided.strides(x.shape), size = x.dtype.byteSize
        // Nothing to copy: the other axes of an empty output may be huge (no index maps for them).
        let count = outputs[0].shape.elementCount
        guard count > 0 else { return }
        // Source index along each axis for every output coordinate (-1: the constant).
        let maps: [[Int]] = (0..<rank).map { a in (0..<outDims[a]).map { source($0, inDims[a], begin[a]) ?? -1 } }
        // 4-byte elements padded (or cropped) along the last two axes only: one copy
        // through the index maps, split over threads.
        if size == 4, rank >= 2, x.shape.elementCount > 0, (0..<(rank - 2)).allSatisfy({ begin[$0] == 0 && outDims[$0] == inDims[$0] }) {
            let fillBits = fill.withUnsafeBytes { $0.load(as: UInt32.self) }
            HotPathKernels.remap2D(x, into: &outputs[0], ymap: maps[rank - 2].map { Int32($0) }, xmap: maps[rank - 1].map { Int32($0) }, fill: fillBits)
            return
        }
        var coord = [Int](repeating: 0, count: rank)
        x.withUnsafeBytes { src in
            fill.withUnsafeBytes { f in
                outputs[0].withUnsafeMutableBytes { dst in
                    guard let d = dst.baseAddress, let fb = f.baseAddress else { return }
                    for k in 0..<count {
                        var offset = 0, inside = true
                        for a in 0..<rank {
                            let s = maps[a][coord[a]]
                            if s < 0 { inside = false; break }
                            offset += s * strides[a]
                        }
                        if inside, let sb = src.baseAddress {
                            (d + k * size).copyMemory(from: sb + offset * size, byteCount: size)
                        } else {
                            (d + k * size).copyMemory(from: fb, byteCount: size)
                        }
                        var a = rank - 1
                        while a >= 0 {
                            coord[a] += 1
                            if coord[a] < outDims[a] { break }
                            coord[a] = 0
                            a -= 1
                        }
                    }
                }
            }
        }
    }
}
