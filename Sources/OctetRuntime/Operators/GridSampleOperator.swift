import Foundation
import OctetCore

/// ONNX GridSample (opsets 16, 20, 22): samples X (N x C x D1 x … x Dr, r ≥ 1, row-major)
/// at the normalized positions of grid (N x H1 x … x Hr x r, the last axis in reverse axis
/// order: x (width) first), giving N x C x H1 x … x Hr. Coordinates are denormalized with
/// `align_corners` (1: -1 and 1 are the centres of the corner pixels, 0: their outer edges);
/// `mode` is nearest (round half to even), linear/bilinear or cubic/bicubic (Keys, α = -0.75),
/// applied per axis as a tensor product; `padding_mode` zeros, border or reflection decides
/// positions and taps outside the input. Any floating X and grid type; computed in Double.
/// Formulas: onnx/defs/tensor/defs.cc (GridSample), onnx/reference/ops/op_grid_sample.py
/// (after PyTorch's GridSampler.h).
struct GridSampleOperator: GraphOperator {
    enum Mode: Sendable { case nearest, linear, cubic }
    enum Padding: Sendable { case zeros, border, reflection }

    let site: OperatorSite
    let mode: Mode
    let padding: Padding
    let alignCorners: Bool
    /// The most input elements one sample may weigh (taps per axis to the power of the axes).
    static let maximumTaps = 1 << 20

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["GridSample"] = { n, _ in try GridSampleOperator(n) }
    }

    /// - Throws: `GraphError` naming the node and attribute for an unknown mode or padding_mode.
    init(_ n: Node) throws {
        site = OperatorSite(n)
        let m = try n.string("mode", default: "linear")
        switch m {
        case "nearest": mode = .nearest
        case "linear", "bilinear": mode = .linear
        case "cubic", "bicubic": mode = .cubic
        default: throw GraphError.attribute(node: n.name, opType: n.opType, name: "mode", expected: "nearest, linear (bilinear) or cubic (bicubic)", got: m)
        }
        let p = try n.string("padding_mode", default: "zeros")
        switch p {
        case "zeros": padding = .zeros
        case "border": padding = .border
        case "reflection": padding = .reflection
        default: throw GraphError.attribute(node: n.name, opType: n.opType, name: "padding_mode", expected: "zeros, border or reflection", got: p)
        }
        alignCorners = try n.int("align_corners", default: 0) != 0
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), g = try site.type(inputs, 1, "grid")
        guard x.dtype.isFloatingPoint else { throw site.error("input 0 (X) must be floating-point, got \(x.dtype)") }
        guard g.dtype.isFloatingPoint else { throw site.error("input 1 (grid) must be floating-point, got \(g.dtype)") }
        guard let xs = x.shape, let gs = g.shape else { return [ValueType(x.dtype, nil)] }
        guard xs.rank >= 3, gs.rank == xs.rank else {
            throw site.error("needs X of rank ≥ 3 (N x C x spatial) and grid of the same rank, got X \(xs) and grid \(gs)")
        }
        if let last = gs.dims[gs.rank - 1].value, last != xs.rank - 2 {
            throw site.error("the last axis of grid \(gs) must hold \(xs.rank - 2) coordinates, one per spatial axis of X \(xs)")
        }
        return [ValueType(x.dtype, SymbolicShape([xs.dims[0], xs.dims[1]] + Array(gs.dims[1..<(gs.rank - 1)])))]
    }

    /// The grid's values widened to Double.
    private func doubles(_ g: Tensor) throws -> [Double] {
        switch g.dtype {
        case .f32: return try g.scalars(as: Float.self).map(Double.init)
        case .f64: return try g.scalars(as: Double.self)
        case .bf16: return try g.scalars(as: BFloat16.self).map(\.asDouble)
        #if arch(x86_64) || arch(arm64)
        case .f16: return try g.scalars(as: Float16.self).map(\.asDouble)
        #endif
        default: throw site.error("input 1 (grid) must be floating-point, got \(g.dtype)")
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0), g = try site.tensor(inputs, 1)
        let r = x.shape.rank - 2
        guard r >= 1, g.shape.rank == r + 2, g.shape.dims[r + 1] == r, g.shape.dims[0] == x.shape.dims[0] else {
            throw site.error("needs X N x C x D1..Dr and grid N x H1..Hr x r with the same N, got X \(x.shape) and grid \(g.shape)")
        }
        guard x.shape.dims[2...].allSatisfy({ $0 > 0 }) || g.shape.elementCount == 0 || x.shape.dims[1] == 0 else {
            throw site.error("cannot sample X \(x.shape), which has an empty spatial axis, at the positions of grid \(g.shape)")
        }
        // Each sample weighs taps^r input elements (2^r bilinear, 4^r bicubic): refuse more
        // than `maximumTaps`, which also keeps the count within an Int.
        let taps = mode == .nearest ? 1 : (mode == .linear ? 2 : 4)
        guard pow(Double(taps), Double(r)) <= Double(Self.maximumTaps) else {
            throw site.error("\(mode) sampling over \(r) spatial axes weighs \(taps)^\(r) elements per sample; at most \(Self.maximumTaps)")
        }
        // An empty output (no batch, channel or sample) reads nothing, whatever X's declared sizes.
        guard outputs[0].shape.elementCount > 0 else { return }
        let kernel = Kernel(op: self, x: x, grid: try doubles(g), points: g.shape.elementCount / max(1, g.shape.dims[0] * r))
        guard try x.dtype.visitFloat(kernel, into: &outputs[0]) != nil else {
            throw site.error("input 0 (X) must be floating-point, got \(x.dtype)")
        }
    }

    /// Reflects `v` into [lo, hi] by its nearer border until it lies inside (GridSampler.h).
    static func reflect(_ v: Double, _ lo: Double, _ hi: Double) -> Double {
        let range = hi - lo
        guard range > 0 else { return lo }
        if v < lo || v > hi {
            let dx = v < lo ? lo - v : v - hi
            let turns = (dx / range).rounded(.towardZero)
            let rest = dx - turns * range
            let even = turns.truncatingRemainder(dividingBy: 2) == 0
            return (v < lo) == even ? lo + rest : hi - rest
        }
        return v
    }

    /// Keys' cubic convolution weights for the taps at -1, 0, 1, 2 from a fraction t in [0, 1).
    static func cubicWeights(_ t: Double) -> [Double] {
        let a = -0.75
        func near(_ s: Double) -> Double { ((a + 2) * s - (a + 3)) * s * s + 1 }
        func far(_ s: Double) -> Double { ((a * s - 5 * a) * s + 8 * a) * s - 4 * a }
        return [far(t + 1), near(t), near(1 - t), far(2 - t)]
    }

    struct Kernel: FloatVisitor {
        let op: GridSampleOperator
        let x: Tensor
        let grid: [Double]
        /// Sample positions per batch item (H1 x … x Hr).
        let points: Int

        /// The input index tap `i` along an axis of length `d` reads, or nil for a zero.
        func tap(_ i: Int, _ d: Int, lo: Double, hi: Double) -> Int? {
            switch op.padding {
            case .zeros: return i >= 0 && i < d ? i : nil
            case .border: return Swift.min(Swift.max(i, 0), d - 1)
            case .reflection:
                let v = GridSampleOperator.reflect(Double(i), lo, hi).rounded(.towardZero)
                return Swift.min(Swift.max(Int(v), 0), d - 1)
            }
        }

        func visit<T: FloatElement>(_: T.Type, into out: inout Tensor) throws {
            let dims = Array(x.shape.dims[2...]), r = dims.count
            let (nb, c) = (x.shape.dims[0], x.shape.dims[1])
            let plane = dims.reduce(1, *)
            var strides = [Int](repeating: 1, count: r)
            for a in stride(from: r - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * dims[a + 1] }
            let lo = dims.map { _ in op.alignCorners ? 0.0 : -0.5 }
            let hi = dims.map { op.alignCorners ? Double($0 - 1) : Double($0) - 0.5 }
            let taps = op.mode == .nearest ? 1 : (op.mode == .linear ? 2 : 4)
            let combos = Int(pow(Double(taps), Double(r)))
            try x.withUnsafeBufferPointer(as: T.self) { src in
                try out.withUnsafeMutableBufferPointer(as: T.self) { dst in
                    // Per axis: the tap indices (nil: a zero) and their weights.
                    var index = [[Int?]](repeating: [], count: r), weight = [[Double]](repeating: [], count: r)
                    for n in 0..<nb {
                        for q in 0..<points {
                            for a in 0..<r {
                                let normalized = grid[(n * points + q) * r + (r - 1 - a)]
                                let d = Double(dims[a])
                                var v = op.alignCorners ? (normalized + 1) / 2 * (d - 1) : ((normalized + 1) * d - 1) / 2
                                if op.mode == .nearest { v = v.rounded(.toNearestOrEven) }
                                if v < lo[a] || v > hi[a] {
                                    switch op.padding {
                                    case .border: v = Swift.min(Swift.max(v, 0), d - 1)
                                    case .reflection: v = GridSampleOperator.reflect(v, lo[a], hi[a])
                                    case .zeros: break
                                    }
                                }
                                // Non-finite or huge positions read nothing (zeros) or the border.
                                let safe = v.isFinite ? Swift.min(Swift.max(v, -4 - d), 2 * d + 4) : -4 - d
                                switch op.mode {
                                case .nearest:
                                    index[a] = [tap(Int(safe.rounded(.towardZero)), dims[a], lo: lo[a], hi: hi[a])]
                                    weight[a] = [1]
                                case .linear:
                                    let f = safe.rounded(.down), t = safe - f, i0 = Int(f)
                                    index[a] = [tap(i0, dims[a], lo: lo[a], hi: hi[a]), tap(i0 + 1, dims[a], lo: lo[a], hi: hi[a])]
                                    weight[a] = [1 - t, t]
                                case .cubic:
                                    let f = safe.rounded(.down), i0 = Int(f)
                                    index[a] = (-1...2).map { tap(i0 + $0, dims[a], lo: lo[a], hi: hi[a]) }
                                    weight[a] = GridSampleOperator.cubicWeights(safe - f)
                                }
                            }
                            for ch in 0..<c {
                                let base = (n * c + ch) * plane
                                var sum = 0.0
                                for combo in 0..<combos {
                                    var rest = combo, offset = 0, w = 1.0, zero = false
                                    for a in stride(from: r - 1, through: 0, by: -1) {
                                        let k = rest % taps
                                        rest /= taps
                                        guard let i = index[a][k] else { zero = true; break }
                                        offset += i * strides[a]
                                        w *= weight[a][k]
                                    }
                                    if !zero { sum += w * src[base + offset].asDouble }
                                }
                                dst[(n * c + ch) * points + q] = T(converting: sum)
                            }
                        }
                    }
                }
            }
        }
    }
}
