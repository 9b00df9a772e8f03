import Foundation
import Octet
import Testing

/// The fast paths of the hot ops (`HotPathKernels`, the threaded f32 binary ops, SiLU):
/// the same bits on 1, 2 and 3 threads, and the values of an independent computation
/// written here with plain loops (exact for data movement, max/min and sums in the
/// documented order; softmax and SiLU within the tolerance of their exp).
@Suite struct HotOpsTests {
    /// One node `op(x, constants…) → y` at opset 17, run on `threads` threads; y's values.
    static func run(_ op: String, _ x: Tensor, constants: [(String, Tensor)] = [], attributes: [String: AttributeValue] = [:],
                    opset: Int = 17, threads: Int) throws -> Tensor {
        let node = Node(name: "n", opType: op, inputs: ["x"] + constants.map(\.0), outputs: ["y"], attributes: attributes)
        let graph = Graph(name: "hot", inputs: [.init(name: "x", type: ValueType(x.dtype, x.shape))], outputs: [.init(name: "y", type: nil)],
                          nodes: [node], initializers: Dictionary(uniqueKeysWithValues: constants), opsets: ["": opset])
        let session = try Session(graph: graph, options: SessionOptions(threads: threads, cpu: .host, registry: BackendRegistry.builtIn(),
                                                                        rules: try RuleSet.builtIn()))
        guard let y = try session.run(["x": x])["y"] else { throw GraphError.node(node: "n", opType: op, detail: "no output y") }
        return y
    }

    /// Runs on 1, 2 and 3 threads, expects the same bits, returns the values.
    static func threadInvariant(_ op: String, _ x: Tensor, constants: [(String, Tensor)] = [], attributes: [String: AttributeValue] = [:]) throws -> Tensor {
        let one = try run(op, x, constants: constants, attributes: attributes, threads: 1)
        for threads in [2, 3] {
            let many = try run(op, x, constants: constants, attributes: attributes, threads: threads)
            #expect(many.shape == one.shape)
            #expect(try many.scalars(as: Float.self).map(\.bitPattern) == one.scalars(as: Float.self).map(\.bitPattern), "\(op) on \(threads) threads")
        }
        return one
    }

    static func random(_ dims: [Int], seed: UInt64) throws -> Tensor {
        var g = SeededGenerator(seed: seed)
        let shape = try TensorShape(dims)
        return try Tensor((0..<shape.elementCount).map { _ in Float.random(in: -4...4, using: &g) }, shape: shape)
    }

    static func ints(_ v: [Int]) throws -> Tensor { try Tensor(v.map(Int64.init), shape: TensorShape([v.count])) }

    @Test func resizeNearestUpsamplingCopiesTheNearestInput() throws {
        let (c, h, w) = (37, 13, 11)
        let x = try Self.random([1, c, h, w], seed: 1)
        let scales = try Tensor([Float(1), 1, 2, 3], shape: TensorShape([4]))
        let y = try Self.threadInvariant("Resize", x, constants: [("roi", try Tensor([Float](), shape: TensorShape([0]))), ("scales", scales)],
                                         attributes: ["mode": .string("nearest"), "coordinate_transformation_mode": .string("asymmetric"), "nearest_mode": .string("floor")])
        let v = try x.scalars(as: Float.self)
        var expected: [Float] = []
        for p in 0..<c { for oy in 0..<(2 * h) { for ox in 0..<(3 * w) { expected.append(v[(p * h + oy / 2) * w + ox / 3]) } } }
        #expect(y.shape.dims == [1, c, 2 * h, 3 * w])
        #expect(try y.scalars(as: Float.self) == expected)
    }

    @Test(arguments: ["constant", "reflect", "edge"])
    func padOfTheLastTwoAxesMatchesIndexArithmetic(_ mode: String) throws {
        let (c, h, w) = (19, 10, 9)
        let x = try Self.random([1, c, h, w], seed: 2)
        // Begin pads 2 (rows) and 1 (columns); end pads 3 and -1 (a crop).
        var constants = [("pads", try Self.ints([0, 0, 2, 1, 0, 0, 3, -1]))]
        if mode == "constant" { constants.append(("value", try Tensor([Float(7.5)], shape: .scalar))) }
        let y = try Self.threadInvariant("Pad", x, constants: constants, attributes: ["mode": .string(mode)])
        func source(_ o: Int, _ n: Int) -> Int? {
            switch mode {
            case "edge": return min(max(o, 0), n - 1)
            case "reflect": return o < 0 ? -o : o >= n ? 2 * (n - 1) - o : o
            default: return o >= 0 && o < n ? o : nil
            }
        }
        let v = try x.scalars(as: Float.self)
        var expected: [Float] = []
        for p in 0..<c {
            for oy in 0..<(h + 5) {
                for ox in 0..<(w) {
                    if let sy = source(oy - 2, h), let sx = source(ox - 1, w) { expected.append(v[(p * h + sy) * w + sx]) } else { expected.append(7.5) }
                }
            }
        }
        #expect(y.shape.dims == [1, c, h + 5, w])
        #expect(try y.scalars(as: Float.self) == expected)
    }

    @Test(arguments: [[0, 2, 1], [1, 0, 2], [2, 0, 1], [0, 2, 3, 1]])
    func transposeMatchesIndexArithmetic(_ perm: [Int]) throws {
        let dims = perm.count == 3 ? [3, 45, 1027] : [2, 21, 13, 11]
        let x = try Self.random(dims, seed: 3)
        let y = try Self.threadInvariant("Transpose", x, attributes: ["perm": .ints(perm)])
        let v = try x.scalars(as: Float.self)
        let outDims = perm.map { dims[$0] }
        var inStrides = [Int](repeating: 1, count: dims.count)
        for a in stride(from: dims.count - 2, through: 0, by: -1) { inStrides[a] = inStrides[a + 1] * dims[a + 1] }
        var expected: [Float] = [], index = [Int](repeating: 0, count: dims.count)
        for _ in 0..<v.count {
            expected.append(v[zip(index, perm).reduce(0) { $0 + $1.0 * inStrides[$1.1] }])
            var a = dims.count - 1
            while a >= 0 { index[a] += 1; if index[a] < outDims[a] { break }; index[a] = 0; a -= 1 }
        }
        #expect(y.shape.dims == outDims)
        #expect(try y.scalars(as: Float.self) == expected)
    }

    /// Reductions over one run of axes, folded in input order (f32 sums for ReduceMean, f64
    /// for ReduceSum), NaN making max/min NaN.
    @Test(arguments: [("ReduceMean", [2, 3]), ("ReduceMean", [1]), ("ReduceMax", [1]), ("ReduceMin", [2, 3]), ("ReduceSum", [1]), ("ReduceSum", [3])])
    func reductionsMatchSequentialFolds(_ op: String, _ axes: [Int]) throws {
        let dims = [2, 23, 17, 29]
        var x = try Self.random(dims, seed: 4)
        try x.withUnsafeMutableBufferPointer(as: Float.self) { $0[1234] = .nan }
        let y = try Self.threadInvariant(op, x, constants: op == "ReduceSum" ? [("axes", try Self.ints(axes))] : [],
                                         attributes: op == "ReduceSum" ? [:] : ["axes": .ints(axes)])
        let v = try x.scalars(as: Float.self)
        let outDims = dims.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        var out = [Int](repeating: 0, count: outDims.reduce(1, *))
        var f32 = [Float](repeating: 0, count: out.count), f64 = [Double](repeating: 0, count: out.count)
        var ext = [Float](repeating: op == "ReduceMax" ? -.infinity : .infinity, count: out.count), nan = [Bool](repeating: false, count: out.count)
        var index = [Int](repeating: 0, count: 4)
        for i in 0..<v.count {
            let k = ((index[0] % outDims[0] * outDims[1] + index[1] % outDims[1]) * outDims[2] + index[2] % outDims[2]) * outDims[3] + index[3] % outDims[3]
            f32[k] += v[i]; f64[k] += Double(v[i]); out[k] += 1
            if v[i].isNaN { nan[k] = true } else if op == "ReduceMax" ? v[i] > ext[k] : v[i] < ext[k] { ext[k] = v[i] }
            var a = 3
            while a >= 0 { index[a] += 1; if index[a] < dims[a] { break }; index[a] = 0; a -= 1 }
        }
        let expected: [Float] = (0..<out.count).map { k in
            switch op {
            case "ReduceMean": f32[k] / Float(out[k])
            case "ReduceSum": Float(f64[k])
            default: nan[k] ? .nan : ext[k]
            }
        }
        let got = try y.scalars(as: Float.self)
        #expect(y.shape.dims == outDims)
        #expect(got.count == expected.count)
        for k in 0..<min(got.count, expected.count) where !(got[k] == expected[k] || (got[k].isNaN && expected[k].isNaN)) {
            Issue.record("\(op) \(axes) output \(k): \(got[k]), expected \(expected[k])")
            break
        }
    }

    @Test func softmaxAlongAStridedAxisMatchesDoublePrecision() throws {
        let dims = [2, 16, 517]
        let x = try Self.random(dims, seed: 5)
        let y = try Self.threadInvariant("Softmax", x, attributes: ["axis": .int(1)])
        let v = try x.scalars(as: Float.self), got = try y.scalars(as: Float.self)
        for o in 0..<dims[0] {
            for j in 0..<dims[2] {
                let column = (0..<dims[1]).map { Double(v[(o * dims[1] + $0) * dims[2] + j]) }
                let m = column.max() ?? 0, e = column.map { Foundation.exp($0 - m) }, s = e.reduce(0, +)
                for i in 0..<dims[1] {
                    let g = Double(got[(o * dims[1] + i) * dims[2] + j])
                    #expect(abs(g - e[i] / s) <= 1e-6 + 1e-5 * e[i] / s, "softmax (\(o), \(i), \(j)): \(g) vs \(e[i] / s)")
                }
            }
        }
    }

    /// Broadcasting both ways ([2, 3, 1, 7] · [3, 5, 1] → [2, 3, 5, 7], large enough to split).
    @Test func twoWayBroadcastSubtractMatchesPlainLoops() throws {
        let (n, c, h, w) = (2, 30, 50, 70)
        let x = try Self.random([n, c, 1, w], seed: 10), b = try Self.random([c, h, 1], seed: 11)
        let y = try Self.threadInvariant("Sub", x, constants: [("b", b)])
        let v = try x.scalars(as: Float.self), bv = try b.scalars(as: Float.self)
        var expected: [Float] = []
        for i in 0..<n { for j in 0..<c { for k in 0..<h { for l in 0..<w { expected.append(v[(i * c + j) * w + l] - bv[j * h + k]) } } } }
        #expect(y.shape.dims == [n, c, h, w])
        #expect(try y.scalars(as: Float.self) == expected)
    }

    @Test func broadcastMultiplyMatchesPlainLoops() throws {
        let (c, h, w) = (64, 40, 41)
        let x = try Self.random([1, c, h, w], seed: 6), b = try Self.random([1, c, 1, 1], seed: 7)
        let y = try Self.threadInvariant("Mul", x, constants: [("b", b)])
        let v = try x.scalars(as: Float.self), bv = try b.scalars(as: Float.self)
        #expect(try y.scalars(as: Float.self) == v.indices.map { v[$0] * bv[$0 / (h * w)] })
    }

    /// Separable f32 max pooling gives the window's first maximum in row-major order (so
    /// -0 vs +0 ties keep the earlier one), skips NaN and padding.
    @Test(arguments: [([5, 5], [1, 1], [2, 2, 2, 2], 0), ([2, 2], [2, 2], [0, 0, 0, 0], 0), ([3, 3], [2, 2], [1, 1, 1, 1], 1), ([3, 2], [1, 2], [0, 1, 2, 0], 0)])
    func maxPoolMatchesWindowByWindow(_ kernel: [Int], _ strides: [Int], _ pads: [Int], _ ceil: Int) throws {
        let (c, h, w) = (13, 20, 21)
        var x = try Self.random([1, c, h, w], seed: 8)
        try x.withUnsafeMutableBufferPointer(as: Float.self) { v in
            for i in stride(from: 0, to: v.count, by: 7) { v[i] = i % 2 == 0 ? 0 : -0.0 }
            v[100] = .nan
        }
        let y = try Self.threadInvariant("MaxPool", x, attributes: ["kernel_shape": .ints(kernel), "strides": .ints(strides), "pads": .ints(pads), "ceil_mode": .int(ceil)])
        let v = try x.scalars(as: Float.self)
        let (oh, ow) = (y.shape.dims[2], y.shape.dims[3])
        var expected: [Float] = []
        for p in 0..<c {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var m = -Float.infinity
                    for ky in 0..<kernel[0] {
                        for kx in 0..<kernel[1] {
                            let iy = oy * strides[0] - pads[0] + ky, ix = ox * strides[1] - pads[1] + kx
                            if iy >= 0, iy < h, ix >= 0, ix < w, v[(p * h + iy) * w + ix] > m { m = v[(p * h + iy) * w + ix] }
                        }
                    }
                    expected.append(m)
                }
            }
        }
        #expect(try y.scalars(as: Float.self).map(\.bitPattern) == expected.map(\.bitPattern))
    }

    /// Mul(x, Sigmoid(x)) becomes one Swish node, with the bits of the two nodes it replaces.
    @Test func siluFusionKeepsTheBitsOfSigmoidThenMul() throws {
        let x = try Self.random([2, 16, 33, 35], seed: 9)
        let nodes = [Node(name: "s", opType: "Sigmoid", inputs: ["x"], outputs: ["s"]), Node(name: "m", opType: "Mul", inputs: ["s", "x"], outputs: ["y"])]
        let graph = Graph(name: "silu", inputs: [.init(name: "x", type: ValueType(.f32, x.shape))], outputs: [.init(name: "y", type: nil)],
                          nodes: nodes, initializers: [:], opsets: ["": 17])
        #expect(try SiLUFusion().run(graph).nodes.map(\.opType) == ["Swish"])
        func run(threads: Int, optimize: Bool) throws -> [UInt32] {
            let session = try Session(graph: graph, options: SessionOptions(threads: threads, cpu: .host, registry: BackendRegistry.builtIn(),
                                                                            rules: try RuleSet.builtIn(), optimize: optimize))
            return try session.run(["x": x])["y"]?.scalars(as: Float.self).map(\.bitPattern) ?? []
        }
        let unfused = try run(threads: 1, optimize: false)
        #expect(try run(threads: 1, optimize: true) == unfused)
        #expect(try run(threads: 2, optimize: true) == unfused)
        // And x · σ(x) in double precision, within the f32 exp's error.
        let v = try x.scalars(as: Float.self)
        for (i, bits) in unfused.enumerated() {
            let e = Double(v[i]) / (1 + Foundation.exp(-Double(v[i])))
            #expect(abs(Double(Float(bitPattern: bits)) - e) <= 1e-6 * max(1, abs(e)), "element \(i)")
        }
    }
}
