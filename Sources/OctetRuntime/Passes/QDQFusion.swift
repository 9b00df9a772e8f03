import OctetCore

/// The node `QDQFusion` makes of a DequantizeLinear → Conv / Gemm / MatMul (→ Relu / Clip)
/// → QuantizeLinear pattern: one integer matrix product with the requantization folded
/// into its output stage, planned through the backends as an INT8 `OpSignature`.
///
/// Domain `octet`, op type `QuantizedMatrix`, the source node's attributes plus
/// `octet.op` (`Conv`, `Gemm` or `MatMul`). Inputs: `x_q, x_scale, x_zero_point, w_q,
/// w_scale, w_zero_point, bias_s32, y_scale, y_zero_point`; the bias may be absent (""),
/// and without `y_scale` / `y_zero_point` the output is f32 (dequantized in the kernel).
/// A Conv may take a tenth input, the operand of a residual add fused into it
/// (`ConvSumFusion`, with the Add's parameters in `octet.sum_*` attributes).
/// The weight's scales run along the source op's output-channel axis.
public enum QuantizedMatrixNode {
    public static let domain = "octet"
    public static let opType = "QuantizedMatrix"
    /// `string`: the op the node computes.
    public static let sourceAttribute = "octet.op"
    /// `int` 1: the activation input holds 7-bit values (PyTorch's `reduce_range`).
    public static let reduceRangeAttribute = "octet.reduce_range"
    /// `int` 1: activations are quantized per call from their own range (inputs 1 and 2 empty, f32 in and out).
    public static let dynamicAttribute = "octet.dynamic"
    /// `int` 1 (with `dynamicAttribute`): one scale and zero point per row of the activation (per token).
    public static let perRowActivationsAttribute = "octet.per_row_activations"
    /// Graph metadata key: the names of the nodes whose activations are 7-bit, one per line.
    public static let reduceRangeMetadata = "octet.reduce_range_nodes"

    /// `strings`: the source nodes folded into this one and what each became, one per entry
    /// (`Add '/q/Add': its f32 bias, added in the output stage`); the dispatch trace shows them.
    public static let fusedNodesAttribute = "octet.fused_nodes"

    static func matches(_ n: Node) -> Bool { n.domain == domain && n.opType == opType }

    /// Records in `node` that `source` was folded into it as `role`.
    static func recordFused(_ source: Node, as role: String, in node: inout Node) {
        var names: [String] = []
        if case let .strings(v)? = node.attributes[fusedNodesAttribute] { names = v }
        node.attributes[fusedNodesAttribute] = .strings(names + ["\(source.opType) '\(source.name)': \(role)"])
    }
}

/// Lowers QDQ patterns to integer ops: every Conv, Gemm or MatMul whose activation and
/// (constant) weight arrive through DequantizeLinear becomes a `QuantizedMatrixNode`,
/// taking the QuantizeLinear that reads its result into its output stage; an Add or Mul of two
/// dequantized activations (→ Relu) → QuantizeLinear becomes a `QuantizedBinaryNode`; an
/// AveragePool or GlobalAveragePool between them runs on the codes (`PoolRequantization`), an
/// elementwise op of one tensor (Sigmoid, HardSwish, …) becomes a table (`QuantizedLookupNode`), a
/// Concat of dequantized values runs on the codes (inputs with other parameters requantized by a table); MaxPool and
/// shape ops between a DequantizeLinear and a QuantizeLinear with the same parameters
/// run on the integers directly. The DequantizeLinear nodes left unread are removed
/// by dead-node elimination.
///
/// The result computes the same quantized values as the QDQ graph evaluated in floating
/// point, up to the rounding of the requantization (at most one step).
public struct QDQFusion: GraphPass {
    public var name: String { "qdq-fusion" }
    public init() {}

    /// Ops that commute with a monotonic per-tensor dequantization and keep its parameters:
    /// they run on quantized values as they are (the quantizer gives their input and output
    /// one set of parameters for this).
    public static let passThrough: Set<String> = ["MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Identity"]

    /// Whether `n` is a pass-through op: one of `passThrough`, or a nearest-neighbour
    /// Resize (it copies input values, so it keeps the parameters too).
    public static func commutesWithDequantization(_ n: Node) -> Bool {
        guard n.domain.isEmpty || n.domain == "ai.onnx" else { return false }
        if passThrough.contains(n.opType) { return true }
        return n.opType == "Resize" && ((try? n.string("mode", default: "nearest")) ?? "") == "nearest"
    }

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        var removed: Set<Int> = []
        /// Nodes that go right before node i (the requantizing tables of a fused Concat's inputs).
        var inserted: [Int: [Node]] = [:]
        let producers = g.producers(), readers = g.readers()
        // Inferred shapes, for the patterns that need them (the fused Add and Mul do not broadcast).
        let types = (try? ShapeInference.run(graph).valueTypes) ?? graph.valueTypes

        /// The DequantizeLinear producing `v`, with constant per-tensor or per-axis parameters.
        func dequantizer(_ v: String) -> (index: Int, node: Node, params: QDQParameters)? {
            guard let pi = producers[v], !removed.contains(pi) else { return nil }
            let n = g.nodes[pi]
            guard n.opType == "DequantizeLinear", n.domain.isEmpty, let p = QDQParameters(node: n, in: g) else { return nil }
            return (pi, n, p)
        }
        /// The only reader of `v` when it is a QuantizeLinear with constant per-tensor parameters,
        /// possibly after a Clip to its 7-bit range (what a `reduce_range` edge is written as);
        /// `removable` holds the nodes the fused op absorbs.
        func quantizer(_ v: String) -> Quantizer? {
            guard let r = readers[v], r.count == 1, !g.outputNames.contains(v), !removed.contains(r[0]) else { return nil }
            var n = g.nodes[r[0]]
            var clip: Int?
            if n.opType == "Clip", n.domain.isEmpty, let y = n.outputs.first, let r2 = readers[y], r2.count == 1, !g.outputNames.contains(y), !removed.contains(r2[0]) {
                clip = r[0]
                n = g.nodes[r2[0]]
            }
            guard n.opType == "QuantizeLinear", n.domain.isEmpty, let p = QDQParameters(node: n, in: g), p.scales.count == 1,
                  let qi = clip == nil ? r.first : readers[n.inputs[0]]?.first else { return nil }
            if let clip {
                // The Clip must be exactly the 7-bit range of these parameters: [(0 − zp)·s, (127 − zp)·s].
                guard p.zeroPointType != .s8, p.zeroPoints[0] <= 127, let (lo, hi) = Self.bounds(g.nodes[clip], g) else { return nil }
                let s = p.scales[0], z = Float(p.zeroPoints[0])
                guard abs(hi - (127 - z) * s) <= 1e-5 * max(abs(hi), s), lo <= (0 - z) * s + 1e-5 * s else { return nil }
            }
            return Quantizer(index: qi, node: n, params: p, clip: clip)
        }

        for (i, node) in g.nodes.enumerated() where node.domain.isEmpty && !removed.contains(i) {
            if ["Conv", "Gemm", "MatMul"].contains(node.opType) {
                guard let fused = fuseMatrix(node, g, dequantizer: dequantizer, quantizer: quantizer) else { continue }
                g.nodes[i] = fused.node
                for (name, t) in fused.initializers { g.initializers[name] = t }
                removed.formUnion(fused.consumed)
            } else if node.opType == "Add" || node.opType == "Mul" {
                guard let fused = fuseBinary(node, g, dequantizer: dequantizer, quantizer: quantizer, readers: readers, types: types) else { continue }
                g.nodes[i] = fused.node
                removed.formUnion(fused.consumed)
            } else if QuantizedLookupNode.unaryOps.contains(node.opType) {
                guard let fused = fuseLookup(node, g, dequantizer: dequantizer, quantizer: quantizer) else { continue }
                g.nodes[i] = fused.node
                removed.formUnion(fused.consumed)
            } else if node.opType == "Concat" {
                guard let fused = fuseConcat(node, g, dequantizer: dequantizer, quantizer: quantizer) else { continue }
                g.nodes[i] = fused.node
                inserted[i] = fused.requantizers
                removed.formUnion(fused.consumed)
            } else if node.opType == "AveragePool" || node.opType == "GlobalAveragePool" {
                guard let fused = fusePool(node, g, dequantizer: dequantizer, quantizer: quantizer) else { continue }
                g.nodes[i] = fused.node
                removed.formUnion(fused.consumed)
            } else if Self.commutesWithDequantization(node) {
                // DQ(a) → op → Q with the same parameters: the op on `a` itself.
                guard let x = node.input(0), let d = dequantizer(x), d.params.scales.count == 1, let q = quantizer(node.outputs[0]),
                      q.params.sameQuantization(as: d.params), d.node.input(0).map({ g.initializers[$0] == nil }) ?? false else { continue }
                g.nodes[i].inputs[0] = d.node.inputs[0]
                g.nodes[i].outputs = [q.node.outputs[0]]
                removed.formUnion(q.consumed)
            }
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.flatMap { (inserted[$0.offset] ?? []) + [$0.element] }
        return try DeadNodeElimination().run(g)
    }

    /// Constant bounds of a Clip (opset 11+ inputs).
    static func bounds(_ c: Node, _ g: Graph) -> (Float, Float)? {
        func bound(_ i: Int) -> Float? { c.input(i).flatMap { g.initializers[$0] }.flatMap { try? $0.scalars(as: Float.self).first } }
        guard let lo = bound(1), let hi = bound(2) else { return nil }
        return (lo, hi)
    }

    struct Fused {
        var node: Node
        var initializers: [String: Tensor]
        /// The QuantizeLinear (and 7-bit Clip) taken into the node.
        var consumed: [Int]
    }

    struct Quantizer {
        var index: Int
        var node: Node
        var params: QDQParameters
        /// A Clip to the 7-bit range before the QuantizeLinear.
        var clip: Int?

        /// The nodes a fused op takes in: the QuantizeLinear and its 7-bit Clip.
        var consumed: [Int] { [index] + (clip.map { [$0] } ?? []) }
        /// The Clip (if any) and the QuantizeLinear, in graph order: the tail of a table's chain.
        func tail(in g: Graph) -> [Node] { (clip.map { [g.nodes[$0]] } ?? []) + [node] }
    }

    private func fuseMatrix(_ node: Node, _ g: Graph, dequantizer: (String) -> (index: Int, node: Node, params: QDQParameters)?,
                            quantizer: (String) -> Quantizer?) -> Fused? {
        guard let x = node.input(0), let w = node.input(1), let xd = dequantizer(x), xd.params.scales.count == 1,
              let xq = xd.node.input(0), g.initializers[xq] == nil,
              let wd = dequantizer(w), let wq = wd.node.input(0), let weight = g.initializers[wq], weight.dtype == .s8 || weight.dtype == .u8
        else { return nil }
        // The axis of the weight's output channels, and how many there are.
        let channelAxis: Int
        switch node.opType {
        case "Conv":
            guard weight.shape.rank == 4 else { return nil }
            channelAxis = 0
        case "Gemm":
            guard weight.shape.rank == 2, (try? node.int("transA", default: 0)) == 0,
                  (try? node.float("alpha", default: 1)) == 1, (try? node.float("beta", default: 1)) == 1 else { return nil }
            channelAxis = (try? node.int("transB", default: 0)) == 1 ? 0 : 1
        default:
            guard weight.shape.rank == 2, node.inputs.count == 2 else { return nil }
            channelAxis = 1
        }
        let channels = weight.shape.dims[channelAxis]
        if wd.params.scales.count > 1 {
            guard wd.params.scales.count == channels, wd.params.axis == channelAxis || wd.params.axis - weight.shape.rank == channelAxis else { return nil }
        }
        var initializers: [String: Tensor] = [:]
        // The bias, requantized to s32 with scale x_scale · w_scale[c] (exact when it was written that way).
        var biasName = ""
        if let b = node.input(2) {
            let real: [Float]
            if let t = g.initializers[b], t.dtype == .f32, let v = try? t.scalars(as: Float.self) {
                real = v
            } else if let bd = dequantizer(b), let bq = bd.node.input(0), let t = g.initializers[bq], let v = try? integerValues(t, OperatorSite(bd.node)),
                      bd.params.scales.count == 1 || bd.params.scales.count == v.count {
                real = v.enumerated().map { i, q in Float(Int64(q) - Int64(bd.params.zeroPoint(i))) * bd.params.scale(i) }
            } else {
                return nil
            }
            guard real.count == channels else { return nil }
            let xs = xd.params.scales[0]
            let q = real.enumerated().map { c, v -> Int32 in
                let s = xs * wd.params.scale(c)
                return AffineQuantization.saturatingRound(v / s, zeroPoint: 0, qmin: .min, qmax: .max)
            }
            biasName = g.freshName(node.name + "_bias_s32")
            initializers[biasName] = try? Tensor(q, shape: TensorShape([channels]))
        }
        var fused = node
        fused.domain = QuantizedMatrixNode.domain
        fused.opType = QuantizedMatrixNode.opType
        fused.attributes[QuantizedMatrixNode.sourceAttribute] = .string(node.opType)
        let sevenBit = g.metadata[QuantizedMatrixNode.reduceRangeMetadata]?.split(separator: "\n").contains { $0 == node.name } ?? false
        if sevenBit { fused.attributes[QuantizedMatrixNode.reduceRangeAttribute] = .int(1) }
        fused.inputs = [xq, xd.node.inputs[1], xd.node.input(2) ?? "", wq, wd.node.inputs[1], wd.node.input(2) ?? "", biasName]
        var consumed: [Int] = []
        if let q = quantizer(node.outputs[0]), let zp = q.node.input(2) {
            fused.inputs += [q.node.inputs[1], zp]
            fused.outputs = [q.node.outputs[0]]
            consumed = q.consumed
            if let c = q.clip, let (lo, hi) = Self.bounds(g.nodes[c], g) {
                // The 7-bit Clip becomes a post-op: the full-range requantization then never passes 127.
                var names: [String] = [], bounds: [Float] = []
                if case let .strings(v)? = fused.attributes[FusedActivation.attribute] { names = v }
                if case let .floats(v)? = fused.attributes[FusedActivation.boundsAttribute] { bounds = v }
                fused.attributes[FusedActivation.attribute] = .strings(names + ["clip"])
                fused.attributes[FusedActivation.boundsAttribute] = .floats(bounds + [lo, hi])
            }
        }
        return Fused(node: fused, initializers: initializers, consumed: consumed)
    }
}

/// Lowers the dynamic-quantization forms ONNX Runtime's `quantize_dynamic` writes —
/// `DynamicQuantizeLinear(x)` → `MatMulInteger(x_q, W_q, x_zp, w_zp)` → `Cast(float)` →
/// `Mul(·, Mul(x_scale, w_scale))` — to one dynamic INT8 linear node (activations
/// quantized per call from their own range, s8 or u8 weights packed once). When the model's
/// metadata says `octet.dynamic_activations = per-token` (`DynamicActivations`), the nodes
/// quantize each activation row with its own parameters. The ConvInteger form becomes a
/// dynamic INT8 convolution (`DynamicConvFusion`).
public struct DynamicQuantizationFusion: GraphPass {
    public var name: String { "dynamic-quantization-fusion" }
    public init() {}

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        var removed: Set<Int> = []
        let producers = g.producers(), readers = g.readers()
        let perRow = g.metadata[DynamicActivations.metadataKey] == DynamicActivations.perToken.rawValue
        func only(_ v: String, _ op: String) -> (Int, Node)? {
            guard let r = readers[v], r.count == 1, !g.outputNames.contains(v), g.nodes[r[0]].opType == op, g.nodes[r[0]].domain.isEmpty else { return nil }
            return (r[0], g.nodes[r[0]])
        }
        for (i, mm) in g.nodes.enumerated() where mm.opType == "MatMulInteger" && mm.domain.isEmpty {
            guard let a = mm.input(0), let pi = producers[a], g.nodes[pi].opType == "DynamicQuantizeLinear", g.nodes[pi].outputs.count == 3,
                  mm.input(2) == g.nodes[pi].outputs[2], let w = mm.input(1), let weight = g.initializers[w], weight.dtype == .s8 || weight.dtype == .u8,
                  weight.shape.rank == 2,
                  let (ci, cast) = only(mm.outputs[0], "Cast"), (try? cast.int("to", default: 0)) == 1,
                  let (mi, mul) = only(cast.outputs[0], "Mul"), let scale = mul.inputs.first(where: { $0 != cast.outputs[0] }),
                  let si = producers[scale], g.nodes[si].opType == "Mul", g.nodes[si].inputs.contains(g.nodes[pi].outputs[1]),
                  let wScale = g.nodes[si].inputs.first(where: { $0 != g.nodes[pi].outputs[1] }), let ws = g.initializers[wScale], ws.dtype == .f32,
                  ws.shape.elementCount == 1 || ws.shape.elementCount == weight.shape.dims[1] else { continue }
            // The weight zero point: constant, of the weight's type, one value or one per column
            // (`quantize_dynamic` with QUInt8 weights writes u8 weights with one zero point).
            if let z = mm.input(3) {
                guard let zt = g.initializers[z], zt.dtype == weight.dtype, zt.shape.elementCount == 1 || zt.shape.elementCount == weight.shape.dims[1] else { continue }
            } else if weight.dtype == .u8 {
                continue
            }
            // A constant f32 bias of N values added next (how `quantize_dynamic` writes nn.Linear's bias):
            // added in the kernel's store instead of by a separate pass over the output.
            let bias = Self.bias(after: mul.outputs[0], columns: weight.shape.dims[1], g, only: only)
            var fused = Node(name: mm.name, opType: QuantizedMatrixNode.opType, domain: QuantizedMatrixNode.domain,
                             inputs: [g.nodes[pi].inputs[0], "", "", w, wScale, mm.input(3) ?? "", bias?.value ?? ""],
                             outputs: bias?.add.outputs ?? mul.outputs)
            fused.attributes[QuantizedMatrixNode.sourceAttribute] = .string("MatMul")
            fused.attributes[QuantizedMatrixNode.dynamicAttribute] = .int(1)
            if perRow { fused.attributes[QuantizedMatrixNode.perRowActivationsAttribute] = .int(1) }
            if let bias { QuantizedMatrixNode.recordFused(bias.add, as: "its f32 bias, added in the output stage", in: &fused) }
            g.nodes[i] = fused
            removed.formUnion([ci, mi] + (bias.map { [$0.index] } ?? []))
        }
        for i in g.nodes.indices where g.nodes[i].opType == "ConvInteger" && !removed.contains(i) {
            guard let f = DynamicConvFusion.fuse(i, g, producers: producers, only: only) else { continue }
            g.nodes[i] = f.node
            for (name, t) in f.initializers { g.initializers[name] = t }
            removed.formUnion(f.removed)
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return try DeadNodeElimination().run(g)
    }

    /// The Add that alone reads `v` and adds a constant f32 vector of `columns` values (either
    /// operand order; rank 1, so the sum keeps `v`'s shape), with that vector's name.
    static func bias(after v: String, columns: Int, _ g: Graph, only: (String, String) -> (Int, Node)?) -> (index: Int, add: Node, value: String)? {
        guard let (ai, add) = only(v, "Add"), add.inputs.count == 2, let c = add.inputs.first(where: { $0 != v }), add.inputs.contains(v),
              let t = g.initializers[c], t.dtype == .f32, t.shape.rank == 1, t.shape.elementCount == columns else { return nil }
        return (ai, add, c)
    }
}

/// Lowers FP16-weight matrix products (the form `octet quantize --mode fp16` writes: a
/// binary16 initializer cast to float) to the fp16 backend: the node reads the binary16
/// weight directly, and plans as an `fp16` signature.
public struct FP16WeightFusion: GraphPass {
    public var name: String { "fp16-weight-fusion" }
    public init() {}

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        let producers = g.producers()
        for (i, n) in g.nodes.enumerated() where ["Conv", "Gemm", "MatMul"].contains(n.opType) && n.domain.isEmpty {
            guard let w = n.input(1), let pi = producers[w], g.nodes[pi].opType == "Cast", (try? g.nodes[pi].int("to", default: 0)) == 1,
                  let source = g.nodes[pi].input(0), let t = g.initializers[source], t.dtype == .f16 else { continue }
            g.nodes[i].inputs[1] = source
        }
        return try DeadNodeElimination().run(g)
    }
}
