import OctetCore
import OctetRuntime

/// Dynamic quantization (the transformer case): Linear / MatMul weights to s8 ahead of
/// time, activations quantized per call from their own range; no calibration data.
///
/// Written in the form ONNX Runtime's `quantize_dynamic` writes — `DynamicQuantizeLinear`
/// + `MatMulInteger` + `Cast` + `Mul` by `x_scale · w_scale` (+ `Add` of a Gemm's bias) —
/// which Octet's planner lowers to its dynamic INT8 linear kernel.
///
/// Activation granularity (`activations`): `DynamicQuantizeLinear` has one scale per tensor,
/// so the file always holds the per-tensor form, which ONNX Runtime (and any ONNX runtime)
/// loads and runs as written. `.perToken` adds the model metadata entry
/// `octet.dynamic_activations = per-token` (`DynamicActivations.metadataKey`); Octet's
/// planner then quantizes each row of every such MatMul's input (each token: the last
/// dimension, leading dimensions flattened) with its own scale and zero point, from that
/// row's range, with the same formula. Octet therefore computes a more accurate result from
/// the same file than a runtime that ignores the entry.
public struct DynamicQuantizer: Sendable {
    public var config: QuantizationConfig
    /// One activation scale per row (default) or per tensor, per call.
    public var activations: DynamicActivations

    public init(config: QuantizationConfig = QuantizationConfig(), activations: DynamicActivations = .perToken) {
        self.config = config
        self.activations = activations
    }

    public func quantize(_ graph: Graph) throws -> QuantizedModel {
        var g = try GraphOptimizer(passes: [ConstantFolding(), ReshapeChainSimplification(), DeadNodeElimination()]).run(try graph.sorted())
        var quantized: [String] = []
        var replaced: [Int: [Node]] = [:]
        for (i, n) in g.nodes.enumerated() where n.domain.isEmpty && ["MatMul", "Gemm"].contains(n.opType) && config.quantizedOpTypes.contains(n.opType) && !config.skip.contains(n.name) {
            guard let x = n.input(0), g.initializers[x] == nil, let wName = n.input(1), let w = g.initializers[wName], w.dtype == .f32, w.shape.rank == 2 else { continue }
            var bias: String?
            var weight = w
            if n.opType == "Gemm" {
                guard (try? n.int("transA", default: 0)) == 0, (try? n.float("alpha", default: 1)) == 1, (try? n.float("beta", default: 1)) == 1 else { continue }
                if (try? n.int("transB", default: 0)) == 1 { weight = try Self.transposed(w) }
                bias = n.input(2)
                if let b = bias { guard let bt = g.initializers[b], bt.shape.elementCount == weight.shape.dims[1] else { continue } }
            } else if n.inputs.count != 2 {
                continue
            }
            let setting = config.setting(node: n.name, opType: n.opType)
            // K x N weight, one scale per column (output channel).
            let (wq, wp) = try WeightQuantization.symmetric(weight, axis: 1, perChannel: setting.perChannelWeights)
            let base = n.name
            let wqName = g.freshName(wName + "_quantized"), wsName = g.freshName(wName + "_scale"), wzName = g.freshName(wName + "_zero_point")
            g.initializers[wqName] = wq
            let vector = wp.scales.count > 1
            g.initializers[wsName] = try Tensor(wp.scales, shape: vector ? TensorShape([wp.scales.count]) : .scalar)
            g.initializers[wzName] = try Tensor(wp.zeroPoints.map { Int8($0) }, shape: vector ? TensorShape([wp.scales.count]) : .scalar)
            let xq = base + "_x_quantized", xs = base + "_x_scale", xz = base + "_x_zero_point"
            let acc = base + "_MatMulInteger_output", accf = base + "_cast_output", scale = base + "_scale_product"
            let product = bias == nil ? n.outputs[0] : base + "_product"
            var nodes = [
                Node(name: base + "_DynamicQuantizeLinear", opType: "DynamicQuantizeLinear", inputs: [x], outputs: [xq, xs, xz]),
                Node(name: base, opType: "MatMulInteger", inputs: [xq, wqName, xz, wzName], outputs: [acc]),
                Node(name: base + "_Cast", opType: "Cast", inputs: [acc], outputs: [accf], attributes: ["to": .int(1)]),
                Node(name: base + "_scale_Mul", opType: "Mul", inputs: [xs, wsName], outputs: [scale]),
                Node(name: base + "_output_Mul", opType: "Mul", inputs: [accf, scale], outputs: [product]),
            ]
            if let bias { nodes.append(Node(name: base + "_bias_Add", opType: "Add", inputs: [product, bias], outputs: [n.outputs[0]])) }
            replaced[i] = nodes
            quantized.append(n.name)
        }
        var nodes: [Node] = []
        for (i, n) in g.nodes.enumerated() { nodes += replaced[i] ?? [n] }
        g.nodes = nodes
        g.opsets[""] = max(g.opset, 13)
        g.metadata["octet.quantization"] = "dynamic"
        g.metadata[DynamicActivations.metadataKey] = activations.rawValue
        g = try DeadNodeElimination().run(try g.sorted())
        return QuantizedModel(graph: g, activationParameters: [:], quantizedNodes: quantized, decisions: [])
    }

    static func transposed(_ w: Tensor) throws -> Tensor {
        let (r, c) = (w.shape.dims[0], w.shape.dims[1])
        let v = try w.scalars(as: Float.self)
        var out = [Float](repeating: 0, count: v.count)
        for i in 0..<r { for j in 0..<c { out[j * r + i] = v[i * c + j] } }
        return try Tensor(out, shape: TensorShape([c, r]))
    }
}

/// FP16 weights: every Conv / Gemm / MatMul weight stored in binary16 (round to nearest
/// even) and cast back to float in the graph; Octet runs them on its fp16 backend.
public struct FP16Converter: Sendable {
    public var config: QuantizationConfig

    public init(config: QuantizationConfig = QuantizationConfig()) { self.config = config }

    public func convert(_ graph: Graph) throws -> QuantizedModel {
        var g = try GraphOptimizer(passes: [ConstantFolding(), BatchNormFolding(), ReshapeChainSimplification(), DeadNodeElimination()]).run(try graph.sorted())
        var converted: [String] = []
        var casts: [Node] = []
        for (i, n) in g.nodes.enumerated() where n.domain.isEmpty && config.quantizedOpTypes.contains(n.opType) && !config.skip.contains(n.name) {
            guard let wName = n.input(1), let w = g.initializers[wName], w.dtype == .f32 else { continue }
            let half = try Tensor(try w.scalars(as: Float.self).map { Float16($0) }, shape: w.shape)
            let h = g.freshName(wName + "_fp16"), f = g.freshName(wName + "_from_fp16_for_" + n.name)
            g.initializers[h] = half
            casts.append(Node(name: f + "_Cast", opType: "Cast", inputs: [h], outputs: [f], attributes: ["to": .int(1)]))
            g.nodes[i].inputs[1] = f
            converted.append(n.name)
        }
        g.nodes += casts
        g.metadata["octet.quantization"] = "fp16"
        g = try DeadNodeElimination().run(try g.sorted())
        return QuantizedModel(graph: g, activationParameters: [:], quantizedNodes: converted, decisions: [])
    }
}
