import Foundation
import OctetCore
import OctetRuntime

/// Static post-training quantization: prepare (fold BatchNorm, pick the nodes, group the
/// activation edges), calibrate (run the FP32 graph over samples, feeding one observer
/// per group), convert (a QDQ graph: QuantizeLinear/DequantizeLinear on every quantized
/// activation edge, s8 weights per output channel, s32 biases with scale `s_in · s_w`).
///
/// The result is standard ONNX: ONNX Runtime runs it, and Octet's planner lowers it to
/// INT8 kernels (`QDQFusion`) with the requantization folded into each kernel.
public struct Quantizer: Sendable {
    public var config: QuantizationConfig

    public init(config: QuantizationConfig = QuantizationConfig()) { self.config = config }

    /// A graph ready to calibrate: folded, with its targets and activation groups.
    public struct Prepared: Sendable {
        public var graph: Graph
        public var targets: [QuantizationTarget]
        public var groups: [ActivationGroup]
        /// `QuantizationConfig.floatOutputs` when prepared.
        public var floatOutputs = false
    }

    /// Folds constants and BatchNorm, picks the targets (Conv, Gemm, MatMul with constant
    /// f32 weights, minus the skip list) and groups their activation edges.
    public func prepare(_ graph: Graph) throws -> Prepared {
        let g = try GraphOptimizer(passes: [ConstantFolding(), BatchNormFolding(), ReshapeChainSimplification(), DeadNodeElimination()]).run(try graph.sorted())
        let readers = g.readers(), outputs = g.outputNames
        var targets: [QuantizationTarget] = []
        for n in g.nodes where n.domain.isEmpty && config.quantizedOpTypes.contains(n.opType) && !config.skip.contains(n.name) {
            guard let x = n.input(0), let w = n.input(1), let weight = g.initializers[w], weight.dtype == .f32,
                  g.initializers[x] == nil else { continue }
            switch n.opType {
            case "Conv": guard weight.shape.rank == 4 else { continue }
            case "Gemm": guard weight.shape.rank == 2, (try? n.int("transA", default: 0)) == 0 else { continue }
            case "MatMul": guard weight.shape.rank == 2, n.inputs.count == 2 else { continue }
            default: continue
            }
            var out = n.outputs[0]
            if let r = readers[out], r.count == 1, !outputs.contains(out), ["Relu", "Clip"].contains(g.nodes[r[0]].opType) {
                out = g.nodes[r[0]].outputs[0]
            }
            targets.append(QuantizationTarget(node: n.name, opType: n.opType, input: x, output: out,
                                              setting: config.setting(node: n.name, opType: n.opType)))
        }
        return Prepared(graph: g, targets: targets, groups: ActivationGrouping.groups(g, targets, floatOutputs: config.floatOutputs),
                        floatOutputs: config.floatOutputs)
    }

    /// Runs the prepared graph over every sample, feeding one observer per group.
    ///
    /// Groups that hold a graph input are observed with min/max whatever the method: the
    /// input's range is the data's own (normalized pixels, embeddings), and clipping it
    /// loses what no later layer can recover.
    public func calibrate(_ prepared: Prepared, data: CalibrationData, options: SessionOptions,
                          progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> [any Observer] {
        var observed = prepared.graph
        let edges = Set(prepared.groups.flatMap(\.observed))
        for e in edges.sorted() where !observed.outputs.contains(where: { $0.name == e }) { observed.outputs.append(Graph.Port(name: e, type: nil)) }
        var opts = options
        opts.optimize = false
        let session = try Session(graph: observed, options: opts)
        var observers: [any Observer] = prepared.groups.map { $0.isGraphInput ? MinMaxObserver() : $0.setting.makeObserver() }
        for (k, sample) in data.samples.enumerated() {
            let values: [String: Tensor]
            do { values = try session.run(sample) } catch { throw QuantizerError.sample(index: k, reason: "\(error)") }
            for (i, group) in prepared.groups.enumerated() {
                for e in group.observed {
                    guard let t = values[e], t.dtype == .f32 else { continue }
                    try t.withUnsafeBufferPointer(as: Float.self) { observers[i].observe($0) }
                }
            }
            progress?(k + 1, data.samples.count)
        }
        return observers
    }

    /// The QDQ graph with activation parameters from `observers` (one per group); nodes
    /// in `sevenBit` read 7-bit activations (their input groups are quantized to 0...127).
    public func convert(_ prepared: Prepared, observers: [any Observer], sevenBit: Set<String> = [],
                        decisions: [SaturationDecision] = []) throws -> QuantizedModel {
        var g = prepared.graph
        var params: [String: QuantParams] = [:]
        var sevenBitEdges: Set<String> = []
        for (group, observer) in zip(prepared.groups, observers) {
            let reduced = prepared.targets.contains { sevenBit.contains($0.node) && group.edges.contains($0.input) }
            let p: QuantParams
            do { p = try observer.quantParams(dtype: .u8, reduceRange: reduced) } catch {
                throw QuantizerError.noRange(edge: group.edges[0], reason: "\(error)")
            }
            for e in group.edges { params[e] = p }
            if reduced { sevenBitEdges.formUnion(group.edges) }
        }
        var rewired: [String: String] = [:]
        var newNodes: [Node] = []
        // Activation edges: e → [Clip to 7 bits] → QuantizeLinear → DequantizeLinear → readers.
        for edge in params.keys.sorted() {
            guard let p = params[edge] else { continue }
            let s = g.freshName(edge + "_scale"), z = g.freshName(edge + "_zero_point")
            g.initializers[s] = try Tensor([p.scales[0]], shape: .scalar)
            g.initializers[z] = try Tensor([UInt8(p.zeroPoints[0])], shape: .scalar)
            var source = edge
            if sevenBitEdges.contains(edge) {
                // Values above 127 would be saturated by the kernels that need 7 bits: say so in the graph.
                let lo = g.freshName(edge + "_7bit_min"), hi = g.freshName(edge + "_7bit_max")
                g.initializers[lo] = try Tensor([Float(p.qmin - p.zeroPoints[0]) * p.scales[0]], shape: .scalar)
                g.initializers[hi] = try Tensor([Float(p.qmax - p.zeroPoints[0]) * p.scales[0]], shape: .scalar)
                source = edge + "_7bit"
                newNodes.append(Node(name: edge + "_Clip7bit", opType: "Clip", inputs: [edge, lo, hi], outputs: [source]))
            }
            let q = edge + "_quantized", dq = edge + "_dequantized"
            newNodes.append(Node(name: edge + "_QuantizeLinear", opType: "QuantizeLinear", inputs: [source, s, z], outputs: [q]))
            newNodes.append(Node(name: edge + "_DequantizeLinear", opType: "DequantizeLinear", inputs: [q, s, z], outputs: [dq]))
            rewired[edge] = dq
        }
        for i in g.nodes.indices { g.nodes[i].inputs = g.nodes[i].inputs.map { rewired[$0] ?? $0 } }
        // Weights and biases of the targets.
        var quantizedNodes: [String] = []
        for t in prepared.targets {
            guard let i = g.nodes.firstIndex(where: { $0.name == t.node }), let inParams = params[t.input] else { continue }
            let n = g.nodes[i]
            guard let wName = n.input(1), let w = g.initializers[wName] else { continue }
            let axis: Int = switch n.opType {
            case "Conv": 0
            case "Gemm": (try? n.int("transB", default: 0)) == 1 ? 0 : 1
            default: 1
            }
            let (wq, wp) = try WeightQuantization.symmetric(w, axis: axis, perChannel: t.setting.perChannelWeights)
            let wqName = g.freshName(wName + "_quantized"), ws = g.freshName(wName + "_scale"), wz = g.freshName(wName + "_zero_point")
            g.initializers[wqName] = wq
            g.initializers[ws] = try Tensor(wp.scales, shape: wp.scales.count == 1 ? .scalar : TensorShape([wp.scales.count]))
            g.initializers[wz] = try Tensor(wp.zeroPoints.map { Int8($0) }, shape: wp.scales.count == 1 ? .scalar : TensorShape([wp.zeroPoints.count]))
            let wdq = g.freshName(wName + "_dequantized_for_" + n.name)
            var dqAttrs: [String: AttributeValue] = [:]
            if wp.scales.count > 1 { dqAttrs["axis"] = .int(axis) }
            newNodes.append(Node(name: wdq + "_DequantizeLinear", opType: "DequantizeLinear", inputs: [wqName, ws, wz], outputs: [wdq], attributes: dqAttrs))
            g.nodes[i].inputs[1] = wdq
            if let bName = n.input(2), let b = g.initializers[bName], b.dtype == .f32, b.shape.elementCount == w.shape.dims[axis] {
                let channels = b.shape.elementCount
                let scales = (0..<channels).map { c in inParams.scales[0] * wp.scales[wp.scales.count == 1 ? 0 : c] }
                let values = try b.scalars(as: Float.self)
                let q = values.indices.map { c in AffineQuantization.quantizeDividing(values[c], scale: scales[c], zeroPoint: 0, qmin: .min, qmax: .max) }
                let bq = g.freshName(bName + "_quantized"), bs = g.freshName(bName + "_scale"), bz = g.freshName(bName + "_zero_point")
                g.initializers[bq] = try Tensor(q, shape: TensorShape([channels]))
                g.initializers[bs] = try Tensor(scales, shape: TensorShape([channels]))
                g.initializers[bz] = try Tensor([Int32](repeating: 0, count: channels), shape: TensorShape([channels]))
                let bdq = g.freshName(bName + "_dequantized_for_" + n.name)
                newNodes.append(Node(name: bdq + "_DequantizeLinear", opType: "DequantizeLinear", inputs: [bq, bs, bz], outputs: [bdq],
                                     attributes: ["axis": .int(0)]))
                g.nodes[i].inputs[2] = bdq
            }
            quantizedNodes.append(n.name)
        }
        g.nodes += newNodes
        g.opsets[""] = max(g.opset, 13)
        let sevenBitNodes = prepared.targets.filter { sevenBit.contains($0.node) }.map(\.node)
        if !sevenBitNodes.isEmpty { g.metadata[QuantizedMatrixNode.reduceRangeMetadata] = sevenBitNodes.joined(separator: "\n") }
        g.metadata["octet.quantization"] = "static"
        g = try DeadNodeElimination().run(try g.sorted())
        return QuantizedModel(graph: g, activationParameters: params, quantizedNodes: quantizedNodes, decisions: decisions)
    }

    /// Prepare, calibrate, decide 7 or 8 bits per node for `options.cpu`, and convert.
    public func quantize(_ graph: Graph, data: CalibrationData, options: SessionOptions,
                         progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> QuantizedModel {
        let prepared = try prepare(graph)
        let observers = try calibrate(prepared, data: data, options: options, progress: progress)
        return try convert(prepared, observers: observers, options: options, sample: data.samples.first)
    }

    /// Converts with the saturation policy: a first 8-bit conversion is planned for
    /// `options.cpu`, each target asks its backend, and the model is converted again with
    /// 7-bit inputs where a backend needs them (or where the configuration says so).
    public func convert(_ prepared: Prepared, observers: [any Observer], options: SessionOptions, sample: [String: Tensor]?) throws -> QuantizedModel {
        let forced = Set(prepared.targets.filter { $0.setting.reduceRange == .on }.map(\.node))
        let first = try convert(prepared, observers: observers, sevenBit: forced)
        let decisions = try SaturationPolicy.decide(first.graph, targets: prepared.targets, options: options, sample: sample)
        let sevenBit = Set(decisions.filter(\.reduceRange).map(\.node))
        return try convert(prepared, observers: observers, sevenBit: sevenBit, decisions: decisions)
    }
}

/// Symmetric s8 weight quantization.
enum WeightQuantization {
    /// Symmetric s8 weights, per channel along `axis` (or per tensor), with ONNX's
    /// rounding: `w / scale`, half to even, saturated (what DequantizeLinear undoes).
    static func symmetric(_ w: Tensor, axis: Int, perChannel: Bool) throws -> (Tensor, QuantParams) {
        let values = try w.scalars(as: Float.self)
        let channels = perChannel ? w.shape.dims[axis] : 1
        let inner = w.shape.dims[(axis + 1)...].reduce(1, *)
        var mins = [Float](repeating: 0, count: channels), maxs = [Float](repeating: 0, count: channels)
        for (i, v) in values.enumerated() {
            let c = channels == 1 ? 0 : (i / inner) % channels
            mins[c] = min(mins[c], v)
            maxs[c] = max(maxs[c], v)
        }
        let p = channels == 1
            ? try QParamsSelection.choose(min: mins[0], max: maxs[0], dtype: .s8, symmetric: true)
            : try QParamsSelection.choosePerChannel(mins: mins, maxs: maxs, axis: axis, dtype: .s8, symmetric: true)
        let q = values.enumerated().map { i, v -> Int8 in
            let c = channels == 1 ? 0 : (i / inner) % channels
            return Int8(AffineQuantization.quantizeDividing(v, scale: p.scales[c], zeroPoint: 0, qmin: -128, qmax: 127))
        }
        return (try Tensor(q, shape: w.shape), p)
    }
}

/// A quantized graph (QDQ form) and what was decided.
public struct QuantizedModel: Sendable {
    public var graph: Graph
    /// Parameters of every quantized activation edge.
    public var activationParameters: [String: QuantParams]
    public var quantizedNodes: [String]
    /// 7 or 8 bits, per node, and why.
    public var decisions: [SaturationDecision]
}

/// Why quantization could not finish.
public enum QuantizerError: Error, Sendable, CustomStringConvertible {
    case noRange(edge: String, reason: String)
    case unsupported(String)
    /// Running the FP32 graph on a calibration sample failed (a token id outside the
    /// vocabulary, a shape the graph refuses): the sample's index (0-based) and why.
    case sample(index: Int, reason: String)

    public var description: String {
        switch self {
        case let .noRange(edge, reason): "edge '\(edge)': no range could be chosen (\(reason)); does the calibration data reach it?"
        case let .unsupported(what): what
        case let .sample(index, reason): "calibration sample \(index): \(reason)"
        }
    }
}
