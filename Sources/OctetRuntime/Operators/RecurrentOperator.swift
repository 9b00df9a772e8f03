import Foundation
import OctetCore

/// ONNX RNN, GRU and LSTM (opsets 7, 14 and 22; onnx/defs/rnn/defs.cc): one recurrent
/// layer over `X` (`seq_length x batch x input_size`, or `batch x seq x input` with
/// `layout` 1), forward, reverse or bidirectional.
///
/// Inputs: `W` (`directions x G·hidden x input`), `R` (`directions x G·hidden x hidden`),
/// optional `B` (`directions x 2·G·hidden`: Wb then Rb), `sequence_lens` (int32, `batch`),
/// `initial_h` (`directions x batch x hidden`; `batch x directions x hidden` with layout 1),
/// and for LSTM `initial_c` (same) and peepholes `P` (`directions x 3·hidden`: i, o, f).
/// Gates (G of them) in ONNX's order: RNN one; GRU z, r, h; LSTM i, o, f, c.
/// Outputs: `Y` (`seq x directions x batch x hidden`; `batch x seq x directions x hidden`
/// with layout 1; zero past each item's sequence length), `Y_h` and for LSTM `Y_c` (the
/// last state of each direction, shaped as `initial_h`).
///
/// Formulas as the spec gives them (`clip` bounds every gate's pre-activation to
/// [-clip, clip]); GRU's `linear_before_reset` applies the reset gate after `R_h` (and
/// `Rb_h`); LSTM's `input_forget` couples the forget gate to `1 - i`. Any floating type,
/// computed in Double.
struct RecurrentOperator: GraphOperator {
    enum Cell: Sendable, Equatable {
        case rnn
        case gru(linearBeforeReset: Bool)
        case lstm(inputForget: Bool)

        /// Gates per step.
        var gates: Int {
            switch self {
            case .rnn: 1
            case .gru: 3
            case .lstm: 4
            }
        }
    }

    let site: OperatorSite
    let cell: Cell
    let hiddenSize: Int?
    /// Whether each direction runs backward (one entry per direction).
    let reversed: [Bool]
    /// The cell's functions per direction, in the order f, g, h.
    let activations: [RecurrentActivation]
    let clip: Double?
    let batchFirst: Bool

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["RNN"] = { n, _ in try RecurrentOperator(n, cell: .rnn) }
        f["GRU"] = { n, _ in try RecurrentOperator(n, cell: .gru(linearBeforeReset: try n.int("linear_before_reset", default: 0) != 0)) }
        f["LSTM"] = { n, _ in try RecurrentOperator(n, cell: .lstm(inputForget: try n.int("input_forget", default: 0) != 0)) }
    }

    /// - Throws: `GraphError.attribute` naming the node for an unknown `direction`, a
    ///   `layout` other than 0 or 1, a non-positive `hidden_size` or `clip`, or a wrong
    ///   `activations` list.
    init(_ n: Node, cell: Cell) throws {
        site = OperatorSite(n)
        self.cell = cell
        hiddenSize = try n.int("hidden_size")
        if let h = hiddenSize, h <= 0 {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "hidden_size", expected: "a positive int", got: "\(h)")
        }
        let direction = try n.string("direction", default: "forward")
        switch direction {
        case "forward": reversed = [false]
        case "reverse": reversed = [true]
        case "bidirectional": reversed = [false, true]
        default: throw GraphError.attribute(node: n.name, opType: n.opType, name: "direction", expected: "forward, reverse or bidirectional", got: direction)
        }
        let defaults: [RecurrentActivation] = switch cell {
        case .rnn: [.tanh]
        case .gru: [.sigmoid, .tanh]
        case .lstm: [.sigmoid, .tanh, .tanh]
        }
        activations = try RecurrentActivation.list(n, defaults: defaults, directions: reversed.count)
        if n.attributes["clip"] != nil {
            let c = try n.float("clip", default: 0)
            guard c > 0 else { throw GraphError.attribute(node: n.name, opType: n.opType, name: "clip", expected: "a positive float", got: "\(c)") }
            clip = Double(c)
        } else {
            clip = nil
        }
        let layout = try n.int("layout", default: 0)
        guard layout == 0 || layout == 1 else { throw GraphError.attribute(node: n.name, opType: n.opType, name: "layout", expected: "0 or 1", got: "\(layout)") }
        batchFirst = layout == 1
    }

    private var directions: Int { reversed.count }
    private var outputCount: Int { if case .lstm = cell { 3 } else { 2 } }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0, "X")
        guard x.dtype.isFloatingPoint else { throw site.error("input 0 (X) must be floating-point, got \(x.dtype)") }
        for i in 1..<min(inputs.count, 8) where i != 4 {
            if let t = inputs[i], t.dtype != x.dtype { throw site.error("input \(i) must be \(x.dtype) like X, got \(t.dtype)") }
        }
        let hidden: OctetCore.Dimension = if let hiddenSize { .fixed(hiddenSize) } else if let r = try site.type(inputs, 2, "R").shape, r.rank == 3 { r.dims[2] } else { .symbol("\(site.node):hidden_size") }
        guard let xs = x.shape else { return Array(repeating: ValueType(x.dtype, nil), count: outputCount) }
        guard xs.rank == 3 else { throw site.error("X must have rank 3 (\(batchFirst ? "batch x seq_length" : "seq_length x batch") x input_size), got \(xs)") }
        let (seq, batch) = batchFirst ? (xs.dims[1], xs.dims[0]) : (xs.dims[0], xs.dims[1])
        let dirs = OctetCore.Dimension.fixed(directions)
        let y = batchFirst ? [batch, seq, dirs, hidden] : [seq, dirs, batch, hidden]
        let state = batchFirst ? [batch, dirs, hidden] : [dirs, batch, hidden]
        return [ValueType(x.dtype, SymbolicShape(y))] + Array(repeating: ValueType(x.dtype, SymbolicShape(state)), count: outputCount - 1)
    }

    /// The run's sizes.
    struct Sizes {
        var seq: Int, batch: Int, input: Int, hidden: Int
    }

    /// Checks that optional input `i`, when given, has `dims`; returns its values.
    private func optional(_ inputs: [Tensor?], _ i: Int, _ name: String, _ dims: [Int]) throws -> [Double]? {
        guard i < inputs.count, let t = inputs[i] else { return nil }
        guard t.shape.dims == dims else { throw site.error("input \(i) (\(name)) must be \(dims.map(String.init).joined(separator: "x")), got \(t.shape)") }
        return try Elementwise.doubles(t)
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let xt = try site.tensor(inputs, 0), wt = try site.tensor(inputs, 1), rt = try site.tensor(inputs, 2)
        guard xt.shape.rank == 3 else { throw site.error("X must have rank 3, got \(xt.shape)") }
        let g = cell.gates, d = directions
        let hidden = hiddenSize ?? (rt.shape.rank == 3 ? rt.shape.dims[2] : 0)
        // Sizes an empty tensor or an attribute may declare beyond any real one: products of them would overflow.
        let limit = 1 << 31
        guard (0..<limit).contains(hidden), xt.shape.dims.allSatisfy({ $0 < limit }) else {
            throw site.error("hidden_size \(hidden) and the axes of X \(xt.shape) must each be below 2^31")
        }
        let s = Sizes(seq: xt.shape.dims[batchFirst ? 1 : 0], batch: xt.shape.dims[batchFirst ? 0 : 1], input: xt.shape.dims[2], hidden: hidden)
        guard wt.shape.dims == [d, g * hidden, s.input] else {
            throw site.error("input 1 (W) must be \(d)x\(g * hidden)x\(s.input) (directions x \(g)·hidden_size x input_size), got \(wt.shape)")
        }
        guard rt.shape.dims == [d, g * hidden, hidden] else {
            throw site.error("input 2 (R) must be \(d)x\(g * hidden)x\(hidden) (directions x \(g)·hidden_size x hidden_size), got \(rt.shape)")
        }
        let stateDims = batchFirst ? [s.batch, d, hidden] : [d, s.batch, hidden]
        let bias = try optional(inputs, 3, "B", [d, 2 * g * hidden]) ?? Array(repeating: 0, count: d * 2 * g * hidden)
        var lengths = Array(repeating: s.seq, count: s.batch)
        if let l = try optional(inputs, 4, "sequence_lens", [s.batch]) {
            for (b, v) in l.enumerated() {
                guard v >= 0, v <= Double(s.seq) else { throw site.error("sequence_lens[\(b)] is \(v), outside [0, \(s.seq)]") }
                lengths[b] = Int(v)
            }
        }
        let h0 = try optional(inputs, 5, "initial_h", stateDims)
        var c0: [Double]?, peep: [Double]?
        if case .lstm = cell {
            c0 = try optional(inputs, 6, "initial_c", stateDims)
            peep = try optional(inputs, 7, "P", [d, 3 * hidden])
        }
        let weights = Weights(w: try Elementwise.doubles(wt), r: try Elementwise.doubles(rt), b: bias, p: peep)
        let x = try Elementwise.doubles(xt)

        var y = [Double](repeating: 0, count: s.seq * d * s.batch * hidden)
        var yh = [Double](repeating: 0, count: d * s.batch * hidden), yc = yh
        func stateIndex(_ dir: Int, _ b: Int) -> Int { (batchFirst ? b * d + dir : dir * s.batch + b) * hidden }
        func yIndex(_ t: Int, _ dir: Int, _ b: Int) -> Int { (batchFirst ? (b * s.seq + t) * d + dir : (t * d + dir) * s.batch + b) * hidden }
        for dir in 0..<d {
            for b in 0..<s.batch {
                let at = stateIndex(dir, b)
                var h = h0.map { Array($0[at..<(at + hidden)]) } ?? Array(repeating: 0, count: hidden)
                var c = c0.map { Array($0[at..<(at + hidden)]) } ?? Array(repeating: 0, count: hidden)
                for step in 0..<lengths[b] {
                    let t = reversed[dir] ? lengths[b] - 1 - step : step
                    let xAt = (batchFirst ? b * s.seq + t : t * s.batch + b) * s.input
                    try x.withUnsafeBufferPointer { xp in
                        try self.step(UnsafeBufferPointer(rebasing: xp[xAt..<(xAt + s.input)]), &h, &c, weights, dir, s)
                    }
                    let yAt = yIndex(t, dir, b)
                    y.replaceSubrange(yAt..<(yAt + hidden), with: h)
                }
                yh.replaceSubrange(at..<(at + hidden), with: h)
                yc.replaceSubrange(at..<(at + hidden), with: c)
            }
        }
        for (i, values) in [y, yh, yc].prefix(min(outputs.count, outputCount)).enumerated() {
            try CastOperator.convert(Tensor(values, shape: outputs[i].shape), into: &outputs[i])
        }
    }

    /// The weights as Double, indexed as the spec lays them out.
    struct Weights {
        let w: [Double], r: [Double], b: [Double], p: [Double]?
    }

    /// `rows` dot products: row `row0 + j` of the row-major matrix `m` (rows of `v.count`) with `v`.
    private static func products(_ m: [Double], row0: Int, rows: Int, _ v: UnsafeBufferPointer<Double>, into out: inout [Double]) {
        let n = v.count
        m.withUnsafeBufferPointer { mp in
            for j in 0..<rows {
                let base = (row0 + j) * n
                var sum = 0.0
                for k in 0..<n { sum += mp[base + k] * v[k] }
                out[j] = sum
            }
        }
    }

    /// One time step of one direction and batch item: `h` (and `c`) updated in place.
    private func step(_ x: UnsafeBufferPointer<Double>, _ h: inout [Double], _ c: inout [Double], _ wts: Weights, _ dir: Int, _ s: Sizes) throws {
        let hs = s.hidden, g = cell.gates, rows = g * hs
        let per = activations.count / directions
        let f = activations[dir * per]
        var xw = [Double](repeating: 0, count: rows), hr = xw
        Self.products(wts.w, row0: dir * rows, rows: rows, x, into: &xw)
        h.withUnsafeBufferPointer { Self.products(wts.r, row0: dir * rows, rows: rows, $0, into: &hr) }
        let wb = dir * 2 * rows, rb = wb + rows
        for j in 0..<rows {
            xw[j] += wts.b[wb + j]
            hr[j] += wts.b[rb + j]
        }
        let limit = clip
        func clipped(_ v: Double) -> Double { limit.map { Swift.min(Swift.max(v, -$0), $0) } ?? v }
        switch cell {
        case .rnn:
            for j in 0..<hs { h[j] = f(clipped(xw[j] + hr[j])) }
        case let .gru(linearBeforeReset):
            let gf = activations[dir * per + 1]
            var z = [Double](repeating: 0, count: hs), r = z, candidate = z
            for j in 0..<hs {
                z[j] = f(clipped(xw[j] + hr[j]))
                r[j] = f(clipped(xw[hs + j] + hr[hs + j]))
            }
            if linearBeforeReset {
                for j in 0..<hs { candidate[j] = gf(clipped(xw[2 * hs + j] + r[j] * hr[2 * hs + j])) }
            } else {
                // (r ⊙ H) R_hᵀ + Rb_h
                var reset = [Double](repeating: 0, count: hs), rh = reset
                for j in 0..<hs { reset[j] = r[j] * h[j] }
                reset.withUnsafeBufferPointer { Self.products(wts.r, row0: dir * rows + 2 * hs, rows: hs, $0, into: &rh) }
                for j in 0..<hs { candidate[j] = gf(clipped(xw[2 * hs + j] + rh[j] + wts.b[rb + 2 * hs + j])) }
            }
            for j in 0..<hs { h[j] = (1 - z[j]) * candidate[j] + z[j] * h[j] }
        case let .lstm(inputForget):
            let gf = activations[dir * per + 1], hf = activations[dir * per + 2]
            let pp = wts.p.map { Array($0[(dir * 3 * hs)..<((dir + 1) * 3 * hs)]) } ?? Array(repeating: 0, count: 3 * hs)
            for j in 0..<hs {
                let i = f(clipped(xw[j] + hr[j] + pp[j] * c[j]))
                let fg = inputForget ? 1 - i : f(clipped(xw[2 * hs + j] + hr[2 * hs + j] + pp[2 * hs + j] * c[j]))
                let cand = gf(clipped(xw[3 * hs + j] + hr[3 * hs + j]))
                c[j] = fg * c[j] + i * cand
                let o = f(clipped(xw[hs + j] + hr[hs + j] + pp[hs + j] * c[j]))
                h[j] = o * hf(c[j])
            }
        }
    }
}
