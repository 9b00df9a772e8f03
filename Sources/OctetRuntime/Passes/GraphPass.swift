import OctetCore
import OctetCPU

/// A rewrite of a graph that keeps its outputs equal (within float rounding).
public protocol GraphPass: Sendable {
    var name: String { get }
    func run(_ graph: Graph) throws -> Graph
}

/// The passes a session runs before planning, in order.
public struct GraphOptimizer: Sendable {
    public var passes: [any GraphPass]

    public init(passes: [any GraphPass]) { self.passes = passes }

    /// Constant folding, BatchNorm folding, reshape/transpose chains, GELU, SiLU and MatMul-bias
    /// fusion, activation fusion, QDQ lowering to INT8 ops, a Clip folded into the QuantizeLinear
    /// it feeds, the residual add folded into the convolution before it (`ConvSumFusion`, a
    /// `sum` post-op), dead-node removal.
    ///
    /// `planning(on:)` leaves `ConvSumFusion` out where it does not pay.
    public static let standard = GraphOptimizer(passes: [
        ConstantFolding(), BatchNormFolding(), ReshapeChainSimplification(), GeluFusion(), SiLUFusion(), MatMulBiasFusion(), ActivationFusion(),
        QOperatorLowering(), QDQFusion(), ClipQuantizeFusion(), ConvSumFusion(), DynamicQuantizationFusion(), FP16WeightFusion(), DeadNodeElimination(),
    ])

    /// The passes a session runs to plan for `cpu`: `standard`, without `ConvSumFusion` on a
    /// CPU without AVX-512 (F and BW). The fused residual sum saves ResNet-50 INT8 its 16
    /// separate adds (6–9% of its latency on oneDNN and on packed's zmm store, AMD Zen 4, 1
    /// and 2 threads); packed's 256-bit sum store, the only one an AVX2 CPU runs, made
    /// ResNet-18/50 2–5% slower than the separate add (Zen 4 capped at AVX2, and Zen 3).
    public static func planning(on cpu: CPUFeatures) -> GraphOptimizer {
        cpu.hasAll([.avx512f, .avx512bw]) ? standard : GraphOptimizer(passes: standard.passes.filter { !($0 is ConvSumFusion) })
    }

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        for p in passes { g = try p.run(g) }
        return g
    }
}

extension Graph {
    /// Nodes reading each value.
    package func readers() -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() { for v in Set(n.inputs) where !v.isEmpty { out[v, default: []].append(i) } }
        return out
    }

    package var outputNames: Set<String> { Set(outputs.map(\.name)) }

    /// Whether `value` is read only by node `reader` and is not a graph output.
    package func onlyFeeds(_ value: String, _ reader: Int, readers: [String: [Int]]) -> Bool {
        readers[value] == [reader] && !outputNames.contains(value)
    }

    /// A fresh initializer name based on `base`.
    package func freshName(_ base: String) -> String {
        var name = base, k = 1
        while initializers[name] != nil || nodes.contains(where: { $0.outputs.contains(name) }) { name = "\(base)_\(k)"; k += 1 }
        return name
    }
}

/// Evaluates every non-matrix node whose inputs are all constants (and `Shape` of values
/// whose shape is fully known), replacing it by initializers. Outputs over
/// `maximumFoldedBytes` are left to the plan, which checks them against the session's
/// memory budget (as ONNX Runtime skips folding large outputs).
public struct ConstantFolding: GraphPass {
    public var name: String { "constant-folding" }
    public init() {}

    /// The largest output folded into an initializer.
    public static let maximumFoldedBytes = 64 << 20

    public func run(_ graph: Graph) throws -> Graph {
        var g = try graph.sorted()
        var kept: [Node] = []
        for node in g.nodes {
            // DequantizeLinear and Cast stay: their integer / binary16 inputs are what QDQ and FP16 fusion hand the kernels.
            guard node.domain.isEmpty, !OperatorCatalog.matrixOps.contains(node.opType), node.opType != "DequantizeLinear", node.opType != "Cast",
                  let op = try? OperatorCatalog.make(node, opset: g.opset(of: node)) else { kept.append(node); continue }
            let constants = node.inputs.map { $0.isEmpty ? nil : g.initializers[$0] }
            let allConstant = node.inputs.allSatisfy { $0.isEmpty || g.initializers[$0] != nil }
            if !allConstant {
                // Shape of a value whose shape is declared in full folds too (from the shape alone).
                guard let shapeOp = op as? ShapeOperator, let v = node.input(0), let s = g.type(of: v)?.shape?.concrete,
                      let value = try? shapeOp.value(for: s) else { kept.append(node); continue }
                g.initializers[node.outputs[0]] = value
                continue
            }
            let inputs = constants
            let types = inputs.map { $0.map { ValueType($0.dtype, $0.shape) } }
            guard let outTypes = try? op.outputTypes(types, constants: inputs),
                  let shapes = Optional(outTypes.compactMap { $0.shape?.concrete }), shapes.count == outTypes.count,
                  zip(outTypes, shapes).allSatisfy({ t, s in s.elementCount <= Self.maximumFoldedBytes / t.dtype.byteSize }) else { kept.append(node); continue }
            var outs = try zip(outTypes, shapes).map { try Tensor(zeros: $0.0.dtype, shape: $0.1) }
            do { try op.run(inputs, outputs: &outs) } catch { kept.append(node); continue }
            for (name, t) in zip(node.outputs, outs) where !name.isEmpty { g.initializers[name] = t }
        }
        g.nodes = kept
        return g
    }
}

/// Folds an inference BatchNormalization into the Conv or Gemm before it (whose output
/// only it reads): `W' = W · γ/σ` per output channel, `b' = (b − μ) · γ/σ + β`.
public struct BatchNormFolding: GraphPass {
    public var name: String { "batchnorm-folding" }
    public init() {}

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        var removed: Set<Int> = []
        let producers = g.producers(), readers = g.readers()
        for (bi, bn) in g.nodes.enumerated() where bn.opType == "BatchNormalization" && bn.domain.isEmpty {
            guard let x = bn.input(0), let pi = producers[x], !removed.contains(pi), g.onlyFeeds(x, bi, readers: readers),
                  bn.outputs.count >= 1, (try? bn.int("training_mode", default: 0)) == 0 else { continue }
            let params = (1...4).map { bn.input($0).flatMap { g.initializers[$0] } }
            guard params.allSatisfy({ $0?.dtype == .f32 }), let scale = try? params[0]?.scalars(as: Float.self),
                  let beta = try? params[1]?.scalars(as: Float.self), let mean = try? params[2]?.scalars(as: Float.self),
                  let variance = try? params[3]?.scalars(as: Float.self) else { continue }
            let eps = (try? bn.float("epsilon", default: 1e-5)) ?? 1e-5
            let mul = zip(scale, variance).map { $0 / ($1 + eps).squareRoot() }
            var producer = g.nodes[pi]
            let channels = mul.count
            guard let wName = producer.input(1), let w = g.initializers[wName], w.dtype == .f32, let wv = try? w.scalars(as: Float.self) else { continue }
            var newW = wv
            let bName = producer.input(2)
            let oldBias: [Float]
            switch producer.opType {
            case "Conv":
                guard w.shape.rank >= 3, w.shape.dims[0] == channels else { continue }
                let inner = w.shape.elementCount / channels
                for i in newW.indices { newW[i] *= mul[i / inner] }
                oldBias = bName.flatMap { try? g.initializers[$0]?.scalars(as: Float.self) } ?? Array(repeating: 0, count: channels)
            case "Gemm":
                let transB = (try? producer.int("transB", default: 0)) ?? 0
                guard w.shape.rank == 2, (transB != 0 ? w.shape.dims[0] : w.shape.dims[1]) == channels,
                      (try? producer.int("transA", default: 0)) == 0 else { continue }
                let alpha = (try? producer.float("alpha", default: 1)) ?? 1, betaG = (try? producer.float("beta", default: 1)) ?? 1
                for i in newW.indices { newW[i] *= alpha * mul[transB != 0 ? i / w.shape.dims[1] : i % channels] }
                producer.attributes["alpha"] = .float(1)
                producer.attributes["beta"] = .float(1)
                guard let b = bName.map({ g.initializers[$0] }) ?? Optional(nil) as Tensor?? else { continue }
                if let b {
                    guard b.shape.elementCount == channels, let bv = try? b.scalars(as: Float.self) else { continue }
                    oldBias = bv.map { $0 * betaG }
                } else {
                    oldBias = Array(repeating: 0, count: channels)
                }
            default:
                continue
            }
            guard oldBias.count == channels else { continue }
            let newBias = (0..<channels).map { (oldBias[$0] - mean[$0]) * mul[$0] + beta[$0] }
            let wNew = g.freshName(wName + "_bnfolded"), bNew = g.freshName(producer.name + "_bias_bnfolded")
            g.initializers[wNew] = try Tensor(newW, shape: w.shape)
            g.initializers[bNew] = try Tensor(newBias, shape: TensorShape([channels]))
            producer.inputs = [producer.inputs[0], wNew, bNew]
            producer.outputs = [bn.outputs[0]]
            g.nodes[pi] = producer
            removed.insert(bi)
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return g
    }
}

/// Fuses a Relu, or a Clip with constant bounds, into the Conv / Gemm / MatMul before it
/// (whose output only it reads), as post-ops the backend applies in its output stage.
public struct ActivationFusion: GraphPass {
    public var name: String { "activation-fusion" }
    public init() {}

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        var removed: Set<Int> = []
        let producers = g.producers(), readers = g.readers()
        for (ai, act) in g.nodes.enumerated() where (act.opType == "Relu" || act.opType == "Clip") && act.domain.isEmpty {
            guard let x = act.input(0), let pi = producers[x], !removed.contains(pi), g.onlyFeeds(x, ai, readers: readers),
                  OperatorCatalog.matrixOps.contains(g.nodes[pi].opType), g.nodes[pi].domain.isEmpty else { continue }
            var names: [String] = []
            var bounds: [Float] = []
            if case let .strings(s)? = g.nodes[pi].attributes[FusedActivation.attribute] { names = s }
            if case let .floats(b)? = g.nodes[pi].attributes[FusedActivation.boundsAttribute] { bounds = b }
            if act.opType == "Relu" {
                names.append("relu")
            } else {
                func bound(_ i: Int) -> Float?? {
                    guard let v = act.input(i) else { return .some(nil) }
                    guard let t = g.initializers[v], t.dtype == .f32, t.shape.elementCount == 1, let s = try? t.scalars(as: Float.self) else { return nil }
                    return .some(s[0])
                }
                let opset = g.opset(of: act)
                let lo: Float, hi: Float
                if opset < 11 {
                    lo = (try? act.float("min", default: -.infinity)) ?? -.infinity
                    hi = (try? act.float("max", default: .infinity)) ?? .infinity
                } else {
                    guard let a = bound(1), let b = bound(2) else { continue }
                    lo = a ?? -.infinity
                    hi = b ?? .infinity
                }
                names.append("clip")
                bounds += [lo, hi]
            }
            g.nodes[pi].attributes[FusedActivation.attribute] = .strings(names)
            if !bounds.isEmpty { g.nodes[pi].attributes[FusedActivation.boundsAttribute] = .floats(bounds) }
            g.nodes[pi].outputs = [act.outputs[0]]
            removed.insert(ai)
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return g
    }
}

/// Removes nodes no graph output depends on, and initializers nothing reads.
public struct DeadNodeElimination: GraphPass {
    public var name: String { "dead-node-elimination" }
    public init() {}

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        var needed = g.outputNames
        var keep = [Bool](repeating: false, count: g.nodes.count)
        for i in stride(from: g.nodes.count - 1, through: 0, by: -1) {
            let n = g.nodes[i]
            if n.outputs.contains(where: { needed.contains($0) }) {
                keep[i] = true
                for v in n.inputs where !v.isEmpty { needed.insert(v) }
            }
        }
        g = try g.sorted()
        // Recompute on the sorted order (sorting may have moved nodes).
        needed = g.outputNames
        keep = [Bool](repeating: false, count: g.nodes.count)
        for i in stride(from: g.nodes.count - 1, through: 0, by: -1) where g.nodes[i].outputs.contains(where: { needed.contains($0) }) {
            keep[i] = true
            for v in g.nodes[i].inputs where !v.isEmpty { needed.insert(v) }
        }
        g.nodes = g.nodes.enumerated().filter { keep[$0.offset] }.map(\.element)
        g.initializers = g.initializers.filter { needed.contains($0.key) }
        return g
    }
}

/// Merges Reshape→Reshape and Transpose→Transpose chains (the first's output read only by
/// the second) and removes Identity nodes and identity transposes.
public struct ReshapeChainSimplification: GraphPass {
    public var name: String { "reshape-chain-simplification" }
    public init() {}

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        var removed: Set<Int> = []
        var rename: [String: String] = [:]
        let producers = g.producers(), readers = g.readers()
        for (i, n) in g.nodes.enumerated() where n.domain.isEmpty {
            switch n.opType {
            case "Reshape":
                guard let x = n.input(0), let pi = producers[x], !removed.contains(pi), g.nodes[pi].opType == "Reshape",
                      g.onlyFeeds(x, i, readers: readers), let s = n.input(1), let target = g.initializers[s],
                      let dims = try? target.scalars(as: Int64.self), !dims.contains(0) else { continue }
                g.nodes[i].inputs[0] = g.nodes[pi].inputs[0]
                removed.insert(pi)
            case "Transpose":
                guard let x = n.input(0), let pi = producers[x], !removed.contains(pi), g.nodes[pi].opType == "Transpose",
                      g.onlyFeeds(x, i, readers: readers), let p1 = try? g.nodes[pi].ints("perm"), let p2 = try? n.ints("perm"),
                      p1.count == p2.count else { continue }
                let composed = p2.map { p1[$0] }
                g.nodes[i].inputs[0] = g.nodes[pi].inputs[0]
                g.nodes[i].attributes["perm"] = .ints(composed)
                removed.insert(pi)
                if composed == Array(0..<composed.count) { g.nodes[i].opType = "Identity"; g.nodes[i].attributes = [:] }
            default:
                break
            }
        }
        // Identity nodes whose output is not a graph output: readers use the input directly.
        let outputs = g.outputNames
        for (i, n) in g.nodes.enumerated() where n.opType == "Identity" && n.domain.isEmpty && !removed.contains(i) {
            guard let x = n.input(0), let y = n.outputs.first, !outputs.contains(y) else { continue }
            rename[y] = x
            removed.insert(i)
        }
        func resolve(_ v: String) -> String {
            var v = v
            while let r = rename[v] { v = r }
            return v
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map { pair in
            var n = pair.element
            n.inputs = n.inputs.map { $0.isEmpty ? $0 : resolve($0) }
            return n
        }
        return g
    }
}
