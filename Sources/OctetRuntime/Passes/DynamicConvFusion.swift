import OctetCore

/// The convolution half of `DynamicQuantizationFusion`: ONNX Runtime's `quantize_dynamic`
/// writes a CNN's convolutions as `DynamicQuantizeLinear(x)` → `ConvInteger(x_q, W_q, x_zp,
/// w_zp)` → `Cast(float)` → `Mul(·, Mul(x_scale, w_scale))` (→ `Add` of a constant bias,
/// reshaped to `[1, C, 1, 1]`). That chain becomes one dynamic `QuantizedMatrixNode` (source
/// `Conv`, the ConvInteger's attributes) that reads the f32 activation, quantizes it per call
/// with ONNX's parameters and runs the INT8 convolution with an f32 output; a `Relu` that alone
/// reads the result is fused as well (the store clamps at 0).
///
/// Fused only when every part is exactly what the chain computes: a constant rank-4 weight
/// (s8 or u8), a constant weight zero point of the weight's type (one value or one per output
/// channel), a constant f32 weight scale of one value or one per output channel laid out to
/// broadcast over axis 1 (`[M, 1, 1]`, `[1, M, 1, 1]`), the ConvInteger's `x_zp` the
/// DynamicQuantizeLinear's own, and every intermediate read by the next node only. Anything
/// else stays as written and runs unfused.
enum DynamicConvFusion {
    /// The fused node replacing `ConvInteger` node `i`, the indices of the Cast, Mul and Add it
    /// absorbs, and the initializers it adds; `nil` when the chain does not match.
    static func fuse(_ i: Int, _ g: Graph, producers: [String: Int], only: (String, String) -> (Int, Node)?)
        -> (node: Node, removed: [Int], initializers: [String: Tensor])? {
        let conv = g.nodes[i]
        guard conv.opType == "ConvInteger", conv.domain.isEmpty, conv.outputs.count == 1,
              let a = conv.input(0), let pi = producers[a], g.nodes[pi].opType == "DynamicQuantizeLinear", g.nodes[pi].domain.isEmpty,
              g.nodes[pi].outputs.count == 3, g.nodes[pi].outputs[0] == a, let x = g.nodes[pi].input(0),
              conv.input(2) == g.nodes[pi].outputs[2],
              let w = conv.input(1), let weight = g.initializers[w], weight.dtype == .s8 || weight.dtype == .u8, weight.shape.rank == 4,
              let (ci, cast) = only(conv.outputs[0], "Cast"), (try? cast.int("to", default: 0)) == 1,
              let (mi, mul) = only(cast.outputs[0], "Mul"), mul.inputs.count == 2, mul.inputs.contains(cast.outputs[0]),
              let scale = mul.inputs.first(where: { $0 != cast.outputs[0] }),
              let si = producers[scale], g.nodes[si].opType == "Mul", g.nodes[si].domain.isEmpty, g.nodes[si].inputs.count == 2,
              g.nodes[si].inputs.contains(g.nodes[pi].outputs[1]),
              let wScale = g.nodes[si].inputs.first(where: { $0 != g.nodes[pi].outputs[1] }), let ws = g.initializers[wScale], ws.dtype == .f32,
              let scales = try? ws.scalars(as: Float.self), scales.allSatisfy({ $0.isFinite && $0 > 0 })
        else { return nil }
        let channels = weight.shape.dims[0]
        guard channels > 0, scales.count == 1 || (scales.count == channels && broadcastsOverChannels(ws.shape, channels)) else { return nil }
        var zeroPoints: [Int32] = [0]
        if let z = conv.input(3) {
            guard let zt = g.initializers[z], zt.dtype == weight.dtype, zt.shape.rank <= 1, zt.shape.elementCount == 1 || zt.shape.elementCount == channels,
                  let v = try? integerValues(zt, OperatorSite(conv)) else { return nil }
            zeroPoints = v
        }
        // One value, or one per output channel for both (a per-tensor half repeated).
        let perChannel = scales.count > 1 || zeroPoints.count > 1
        let scaleValues = perChannel && scales.count == 1 ? [Float](repeating: scales[0], count: channels) : scales
        let zeroValues = perChannel && zeroPoints.count == 1 ? [Int32](repeating: zeroPoints[0], count: channels) : zeroPoints
        var initializers: [String: Tensor] = [:]
        let scaleName = g.freshName(conv.name + "_weight_scale")
        let zeroName = g.freshName(conv.name + "_weight_zero_point")
        guard let shape = perChannel ? try? TensorShape([channels]) : TensorShape.scalar,
              let st = try? Tensor(scaleValues, shape: shape),
              let zt = try? (weight.dtype == .s8 ? Tensor(zeroValues.map { Int8($0) }, shape: shape) : Tensor(zeroValues.map { UInt8($0) }, shape: shape))
        else { return nil }
        initializers[scaleName] = st
        initializers[zeroName] = zt
        // A constant f32 bias of one value per output channel added next: added in the store.
        var bias: (index: Int, add: Node, value: String)?
        if let (ai, add) = only(mul.outputs[0], "Add"), add.inputs.count == 2, add.inputs.contains(mul.outputs[0]),
           let b = add.inputs.first(where: { $0 != mul.outputs[0] }), let bt = g.initializers[b], bt.dtype == .f32,
           bt.shape.elementCount == channels, broadcastsOverChannels(bt.shape, channels), let values = try? bt.scalars(as: Float.self),
           let flatShape = try? TensorShape([channels]), let flat = try? Tensor(values, shape: flatShape) {
            let name = g.freshName(conv.name + "_bias")
            initializers[name] = flat
            bias = (ai, add, name)
        }
        // A ReLU reading the result alone (the CNN's activation): clamped in the store.
        let result = bias?.add.outputs[0] ?? mul.outputs[0]
        let relu = only(result, "Relu").flatMap { r in r.1.outputs.count == 1 ? r : nil }
        var fused = Node(name: conv.name, opType: QuantizedMatrixNode.opType, domain: QuantizedMatrixNode.domain,
                         inputs: [x, "", "", w, scaleName, zeroName, bias?.value ?? ""],
                         outputs: relu?.1.outputs ?? [result], attributes: conv.attributes)
        fused.attributes[FusedActivation.attribute] = nil
        fused.attributes[FusedActivation.boundsAttribute] = nil
        if relu != nil { fused.attributes[FusedActivation.attribute] = .strings(["relu"]) }
        fused.attributes[QuantizedMatrixNode.sourceAttribute] = .string("Conv")
        fused.attributes[QuantizedMatrixNode.dynamicAttribute] = .int(1)
        QuantizedMatrixNode.recordFused(g.nodes[pi], as: "the activation, quantized per call with ONNX's parameters", in: &fused)
        QuantizedMatrixNode.recordFused(mul, as: "the rescale by x_scale · w_scale, in the output stage", in: &fused)
        if let bias { QuantizedMatrixNode.recordFused(bias.add, as: "its f32 bias, added in the output stage", in: &fused) }
        if let relu { QuantizedMatrixNode.recordFused(relu.1, as: "clamped at 0 in the output stage", in: &fused) }
        return (fused, [ci, mi] + (bias.map { [$0.index] } ?? []) + (relu.map { [$0.0] } ?? []), initializers)
    }

    /// Whether a tensor of `shape` holding `channels` values broadcasts along axis 1 of an
    /// N x C x H x W value: rank at most 4 with every dimension 1 except the third from last
    /// (`[C, 1, 1]`, `[1, C, 1, 1]`), or all ones when `channels` is 1.
    static func broadcastsOverChannels(_ shape: TensorShape, _ channels: Int) -> Bool {
        let d = shape.dims
        guard d.count <= 4 else { return false }
        if channels == 1 { return d.allSatisfy { $0 == 1 } }
        guard d.count >= 3 else { return false }
        return d.enumerated().allSatisfy { i, n in i == d.count - 3 ? n == channels : n == 1 }
    }
}
