import OctetCore
import OctetDispatch

/// Conv, ConvTranspose, Gemm and MatMul: typed here, run through the backends. At plan
/// time each becomes an `OpSignature` (conv2d, conv_transpose2d, linear or matmul) with
/// its constant operands, plus the operand rearrangements the backend call needs.
/// A 1-D convolution (N x C x W input, O x I x k weight) is the 2-D one of an
/// N x C x 1 x W input and an O x I x 1 x k weight (ONNX operator spec, Conv and
/// ConvTranspose: "X … (N x C x D1 x … x Dn)"): its attributes are lifted to 2-D
/// (`SpatialLifting`) and the backends keep their 2-D contract.
struct MatrixOperator: GraphOperator {
    let site: OperatorSite
    let node: Node
    /// The node with 1-D convolution attributes lifted to 2-D (`SpatialLifting`).
    let lifted: Node

    init(_ node: Node) throws {
        site = OperatorSite(node)
        self.node = node
        lifted = SpatialLifting.lifted(node)
        guard OperatorCatalog.matrixOps.contains(node.opType) else { throw site.error("not a matrix op") }
    }

    // MARK: Types

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let a = try site.type(inputs, 0), b = try site.type(inputs, 1)
        // A constant binary16 weight (FP16WeightFusion) plans as an fp16 signature.
        guard a.dtype == .f32, b.dtype == .f32 || (b.dtype == .f16 && constants.count > 1 && constants[1] != nil) else {
            throw site.error("needs f32 operands, got \(a.dtype) and \(b.dtype)")
        }
        guard let sa = a.shape, let sb = b.shape else { return [ValueType(.f32, nil)] }
        switch node.opType {
        case "MatMul":
            return [ValueType(.f32, try MatMulShapes.output(sa, sb, site))]
        case "Gemm":
            guard sa.rank == 2, sb.rank == 2 else { throw site.error("Gemm operands must be 2-D, got \(sa) and \(sb)") }
            let transA = try node.int("transA", default: 0) != 0, transB = try node.int("transB", default: 0) != 0
            let m = transA ? sa.dims[1] : sa.dims[0], n = transB ? sb.dims[0] : sb.dims[1]
            let k1 = transA ? sa.dims[0] : sa.dims[1], k2 = transB ? sb.dims[1] : sb.dims[0]
            if let x = k1.value, let y = k2.value, x != y { throw site.error("inner dimensions differ: \(sa) · \(sb) (transA \(transA), transB \(transB))") }
            if node.input(2) != nil, inputs.count > 2, let c = inputs[2]?.shape { try checkBias(c, output: [m, n]) }
            return [ValueType(.f32, SymbolicShape([m, n]))]
        default:
            if sa.rank >= 5, let w = sb.concrete, w.rank == sa.rank {
                // 3 or more spatial axes: the built-in reference (`SpatialConvolution`).
                let conv = try SpatialConvolution(node, weight: w.dims)
                let spatial = sa.dims[2...].compactMap(\.value)
                guard spatial.count == sa.rank - 2 else { return [ValueType(.f32, nil)] }
                let (channels, out, _) = try conv.output(spatial, weight: w.dims)
                return [ValueType(.f32, SymbolicShape([sa.dims[0], .fixed(channels)] + out.map { .fixed($0) }))]
            }
            let oneD = sa.rank == 3 && sb.rank == 3
            guard sa.rank == 4 || oneD, let w = try sb.concrete.map({ oneD ? try SpatialLifting.lift($0) : $0 }), w.rank == 4 else {
                throw site.error("only 1-D and 2-D convolutions (N x C x W or N x C x H x W input, 3-D or 4-D weight) are supported; got \(sa) and \(sb)")
            }
            guard let h = oneD ? 1 : sa.dims[2].value, let wd = sa.dims[sa.rank - 1].value else {
                let spatial: [Dimension] = (oneD ? [] : [.symbol("\(site.node)_h")]) + [.symbol("\(site.node)_w")]
                return [ValueType(.f32, SymbolicShape([sa.dims[0], .fixed(try outputChannels(w))] + spatial))]
            }
            let (_, spatial) = try convGeometry(input: [h, wd], weight: w, oneD: oneD)
            let out = SymbolicShape([sa.dims[0], .fixed(try outputChannels(w))] + (oneD ? [] : [.fixed(spatial.0)]) + [.fixed(spatial.1)])
            guard out.isAddressable else { throw site.error("the output \(out) has more elements than can be addressed (\(geometryAttributes))") }
            return [ValueType(.f32, out)]
        }
    }

    /// Only an empty product runs here (an output with a zero-size dimension: nothing to
    /// compute, as ONNX Runtime returns it); every other one runs through a backend kernel.
    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        if let x = inputs.first ?? nil, runsBuiltIn(inputRank: x.shape.rank), outputs[0].shape.elementCount > 0 {
            let w = try site.tensor(inputs, 1), bias = inputs.count > 2 ? inputs[2] : nil
            try SpatialConvolution(node, weight: w.shape.dims).run(x, w, bias: bias, range: PostOp.realRange(of: postOps), into: &outputs[0])
            return
        }
        guard outputs.allSatisfy({ $0.shape.elementCount == 0 }) else { throw site.error("matrix ops run through a backend kernel (see Session)") }
    }

    /// Whether the node runs on the built-in reference rather than a backend: a Conv or
    /// ConvTranspose of 3 or more spatial axes, which no backend signature describes.
    func runsBuiltIn(inputRank: Int) -> Bool {
        (node.opType == "Conv" || node.opType == "ConvTranspose") && inputRank >= 5
    }

    /// Gemm's C must broadcast one way to M x N (ONNX Runtime: "Invalid bias shape for
    /// broadcast"): a bias shorter or longer than N is refused, never truncated or overrun.
    private func checkBias(_ c: SymbolicShape, output: [Dimension]) throws(GraphError) {
        let fits = c.rank <= 2 && zip(c.dims.reversed(), output.reversed()).allSatisfy { d, o in
            d.value == 1 || d.value == nil || o.value == nil || d.value == o.value
        }
        guard fits else { throw site.error("the bias C (input 2) has shape \(c), which does not broadcast to the output M x N = \(SymbolicShape(output))") }
    }

    /// The geometry attributes the node sets, for messages: `strides [1, 1], pads [...]`.
    private var geometryAttributes: String {
        ["kernel_shape", "strides", "pads", "dilations", "group", "output_padding", "output_shape", "auto_pad"]
            .compactMap { key in node.attributes[key].map { "\(key) \($0)" } }.joined(separator: ", ")
    }

    private func outputChannels(_ w: TensorShape) throws(GraphError) -> Int {
        guard node.opType != "Conv" else { return w.dims[0] }
        let group = try node.int("group", default: 1)
        return try site.checked("the output channels (weight \(w) x group \(group))") { () throws(ArithmeticOverflow) in try w.dims[1].multiplied(by: group) }
    }

    /// Strides, pads, dilations, groups (and output padding) for a concrete input.
    func convGeometry(input: [Int], weight w: TensorShape, oneD: Bool = false) throws -> (ConvolutionGeometry, (Int, Int)) {
        let node = oneD ? lifted : node
        let group = try node.int("group", default: 1)
        guard group >= 1 else { throw site.error("group must be ≥ 1, got \(group)") }
        let kernel = try node.ints("kernel_shape") ?? [w.dims[2], w.dims[3]]
        guard kernel == [w.dims[2], w.dims[3]] else { throw site.error("kernel_shape \(kernel) disagrees with the weight \(w)") }
        let window = try WindowGeometry(node, kernel: kernel)
        if node.opType == "Conv" {
            let (p, out) = try window.resolve(input)
            let geometry = ConvolutionGeometry(stride: (window.strides[0], window.strides[1]), pads: (p[0], p[1], p[2], p[3]),
                                               dilation: (window.dilations[0], window.dilations[1]), groups: group)
            guard out[0] > 0, out[1] > 0 else { throw site.error("kernel \(kernel) does not fit the input \(input) with pads \(p)") }
            return (geometry, (out[0], out[1]))
        }
        // ConvTranspose: output_padding, and output_shape (which decides the pads) or auto_pad.
        var outPad = try node.ints("output_padding") ?? [0, 0]
        guard outPad.count == 2 else { throw site.error("output_padding must have 2 values") }
        var pads = window.pads
        let s = window.strides, d = window.dilations
        func full(_ i: Int) throws(GraphError) -> Int {
            try site.checked("the output size along spatial axis \(i) (input \(input[i]), kernel_shape \(kernel), strides \(s), dilations \(d), output_padding \(outPad))") {
                () throws(ArithmeticOverflow) in
                try (input[i] - 1).multiplied(by: s[i]).adding(d[i].multiplied(by: kernel[i] - 1)).adding(1).adding(outPad[i])
            }
        }
        guard input.allSatisfy({ $0 >= 1 }) else { throw site.error("the transposed convolution needs a non-empty input, got \(input)") }
        if let shape = try node.ints("output_shape") {
            guard shape.count >= 2 else {
                throw GraphError.attribute(node: site.node, opType: site.opType, name: "output_shape", expected: "the 2 spatial output sizes", got: "\(shape)")
            }
            let target = Array(shape.suffix(2))
            guard target.allSatisfy({ $0 >= 1 }) else {
                throw GraphError.attribute(node: site.node, opType: site.opType, name: "output_shape", expected: "positive sizes", got: "\(shape)")
            }
            for i in 0..<2 {
                let total = try full(i) - target[i]
                guard total >= 0 else {
                    // A larger target is reached with extra output padding.
                    outPad[i] = try site.checked("output_padding for output_shape \(shape)") { () throws(ArithmeticOverflow) in try outPad[i].adding(-total) }
                    pads[i] = 0; pads[i + 2] = 0
                    continue
                }
                let autoPad = window.autoPad
                pads[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
                pads[i + 2] = total - pads[i]
            }
        } else if window.autoPad == "SAME_UPPER" || window.autoPad == "SAME_LOWER" {
            for i in 0..<2 {
                let scaled = try site.checked("the SAME output size (input \(input[i]) x strides \(s))") { () throws(ArithmeticOverflow) in try input[i].multiplied(by: s[i]) }
                let total = max(0, try full(i) - scaled)
                pads[i] = window.autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
                pads[i + 2] = total - pads[i]
            }
        } else if window.autoPad == "VALID" {
            pads = [0, 0, 0, 0]
        }
        let geometry = ConvolutionGeometry(stride: (s[0], s[1]), pads: (pads[0], pads[1], pads[2], pads[3]), dilation: (d[0], d[1]),
                                           groups: group, outputPadding: (outPad[0], outPad[1]))
        let (f0, f1) = (try full(0), try full(1))
        let (oh, ow) = try site.checked("the output size (pads \(pads))") { () throws(ArithmeticOverflow) in
            (try f0.subtracting(pads[0]).subtracting(pads[2]), try f1.subtracting(pads[1]).subtracting(pads[3]))
        }
        guard oh > 0, ow > 0 else { throw site.error("the transposed convolution has an empty output") }
        return (geometry, (oh, ow))
    }

    /// Post-ops fused by the activation-fusion pass.
    var postOps: [PostOp] {
        guard case let .strings(names)? = node.attributes[FusedActivation.attribute] else { return [] }
        let bounds: [Float]
        if case let .floats(b)? = node.attributes[FusedActivation.boundsAttribute] { bounds = b } else { bounds = [] }
        var ops: [PostOp] = []
        var k = 0
        for name in names {
            if name == "relu" { ops.append(.relu) } else if name == "clip", k + 1 < bounds.count {
                ops.append(.clip(min: bounds[k], max: bounds[k + 1]))
                k += 2
            }
        }
        return ops
    }

    // MARK: Planning

    /// The backend call for concrete inputs; `constants[i]` holds input i's value when constant.
    func plan(_ inputs: [Tensor?], shapes: [TensorShape], constants: [Tensor?]) throws -> MatrixCall {
        var call: MatrixCall
        switch node.opType {
        case "Conv", "ConvTranspose": call = try planConvolution(shapes, constants)
        case "Gemm": call = try planGemm(shapes, constants)
        default: call = try planMatMul(shapes, constants)
        }
        if call.constants.weight?.dtype == .f16 {
            call.signature.precision = .fp16
            call.signature.weightType = .f16
        }
        return call
    }

    private func constant(_ constants: [Tensor?], _ i: Int, _ what: String) throws -> Tensor {
        guard i < constants.count, let t = constants[i] else {
            throw site.error("\(what) (input \(i)) must be a constant (an initializer); computed \(what)s are not supported")
        }
        return t
    }

    private func planConvolution(_ shapes: [TensorShape], _ constants: [Tensor?]) throws -> MatrixCall {
        let oneD = shapes[0].rank == 3 && (constants.count > 1 ? constants[1]?.shape.rank : nil) == 3
        let x = oneD ? try SpatialLifting.lift(shapes[0]) : shapes[0]
        let given = try constant(constants, 1, "the weight")
        let w = oneD ? try given.reshaped(to: SpatialLifting.lift(given.shape)) : given
        guard x.rank == 4, w.shape.rank == 4 else {
            throw site.error("only 1-D and 2-D convolutions are supported; input \(shapes[0]), weight \(given.shape)")
        }
        let (geometry, out) = try convGeometry(input: [x.dims[2], x.dims[3]], weight: w.shape, oneD: oneD)
        let bias = node.input(2) != nil ? try constant(constants, 2, "the bias") : nil
        let signature = OpSignature(kind: node.opType == "Conv" ? .conv2d : .convTranspose2d, precision: .fp32, inputType: .f32,
                                    weightType: .f32, outputType: .f32, input: x, weight: w.shape, convolution: geometry,
                                    postOps: postOps, label: site.node)
        do { try signature.validate() } catch { throw site.error("\(error)") }
        var call = MatrixCall(signature: signature, constants: OpConstants(weight: w, bias: bias), operands: [oneD ? .reshaped(0, x) : .input(0)])
        if oneD { call.outputView = try TensorShape([x.dims[0], try outputChannels(w.shape), out.0, out.1]) }
        return call
    }

    private func planGemm(_ shapes: [TensorShape], _ constants: [Tensor?]) throws -> MatrixCall {
        let transA = try node.int("transA", default: 0) != 0, transB = try node.int("transB", default: 0) != 0
        let alpha = try node.float("alpha", default: 1), beta = try node.float("beta", default: 1)
        let a = shapes[0], b = shapes[1]
        let m = transA ? a.dims[1] : a.dims[0], k = transA ? a.dims[0] : a.dims[1], n = transB ? b.dims[0] : b.dims[1]
        let first: MatrixCall.Operand = transA ? .transposed(0) : .input(0)
        let aShape = try concreteShape([m, k], site)
        var addend: MatrixCall.Addend?
        var bias: Tensor?
        if node.input(2) != nil {
            if let c = constants.count > 2 ? constants[2] : nil, c.shape.elementCount == n, c.shape.rank <= 2, c.shape.rank == 0 || c.shape.dims.last == n {
                bias = try Self.scaled(c.reshaped(to: TensorShape([n])), by: beta)
            } else {
                addend = .init(input: 2, scale: beta)
            }
        }
        if let w = constants.count > 1 ? constants[1] : nil {
            // Constant B: a linear layer with N x K weights, alpha folded in (when prepared).
            guard w.shape.rank == 2 else { throw site.error("B must be 2-D, got \(w.shape)") }
            let weightShape = try concreteShape(transB ? w.shape.dims : [w.shape.dims[1], w.shape.dims[0]], site)
            let signature = OpSignature(kind: .linear, precision: .fp32, inputType: .f32, weightType: .f32, outputType: .f32,
                                        input: aShape, weight: weightShape, postOps: addend == nil ? postOps : [], label: site.node)
            var call = MatrixCall(signature: signature, constants: OpConstants(weight: w, bias: bias), operands: [first],
                                  addend: addend, trailingPostOps: addend == nil ? [] : postOps)
            if !transB || alpha != 1 {
                call.weightTransform = { w in try Self.scaled(transB ? w : TransposeKernel.transpose2D(w), by: alpha) }
            }
            return call
        }
        let signature = OpSignature(kind: .matmul, precision: .fp32, inputType: .f32, weightType: .f32, outputType: .f32,
                                    input: aShape, weight: try concreteShape([k, n], site), label: site.node)
        if let bias { addend = .init(constant: bias, scale: 1) }
        return MatrixCall(signature: signature, constants: OpConstants(), operands: [first, transB ? .transposed(1) : .input(1)],
                          outputScale: alpha, addend: addend, trailingPostOps: postOps)
    }

    private func planMatMul(_ shapes: [TensorShape], _ constants: [Tensor?]) throws -> MatrixCall {
        let a = shapes[0], b = shapes[1]
        let out = try MatMulShapes.output(SymbolicShape(a), SymbolicShape(b), site)
        guard let outShape = out.concrete else { throw site.error("output shape is not concrete") }
        if let w = constants.count > 1 ? constants[1] : nil, w.shape.rank == 2, a.rank >= 1 {
            // Constant 2-D B: a linear layer (weight N x K, transposed when prepared).
            let n = w.shape.dims[1]
            let weightShape = try concreteShape([n, w.shape.dims[0]], site)
            let aShape = a.rank == 1 ? try concreteShape([1, a.dims[0]], site) : a
            let signature = OpSignature(kind: .linear, precision: .fp32, inputType: .f32, weightType: .f32, outputType: .f32,
                                        input: aShape, weight: weightShape, postOps: postOps, label: site.node)
            // A bias fused by MatMulBiasFusion (input 2, N values).
            let bias = try node.input(2).map { _ in try constant(constants, 2, "the fused bias").reshaped(to: TensorShape([n])) }
            var call = MatrixCall(signature: signature, constants: OpConstants(weight: w, bias: bias), operands: [a.rank == 1 ? .reshaped(0, aShape) : .input(0)])
            call.weightTransform = { w in try TransposeKernel.transpose2D(w) }
            return call
        }
        guard node.input(2) == nil else { throw site.error("a fused bias needs constant 2-D weights") }
        // Two activations: broadcast both to the full batch, as [batch..., M, K] · [batch..., K, N].
        let a2 = a.rank == 1 ? [1] + a.dims : a.dims, b2 = b.rank == 1 ? b.dims + [1] : b.dims
        let batch = Array(outShape.dims.prefix(outShape.rank - (a.rank > 1 ? 1 : 0) - (b.rank > 1 ? 1 : 0)))
        let fullA = try concreteShape(batch + Array(a2.suffix(2)), site), fullB = try concreteShape(batch + Array(b2.suffix(2)), site)
        let signature = OpSignature(kind: .matmul, precision: .fp32, inputType: .f32, weightType: .f32, outputType: .f32,
                                    input: fullA, weight: fullB, postOps: postOps, label: site.node)
        let viewA = try concreteShape(a2, site), viewB = try concreteShape(b2, site)
        return MatrixCall(signature: signature, constants: OpConstants(),
                          operands: [a.dims == fullA.dims ? .input(0) : .broadcast(0, viewA, fullA), b.dims == fullB.dims ? .input(1) : .broadcast(1, viewB, fullB)])
    }

    private static func scaled(_ t: Tensor, by factor: Float) throws -> Tensor {
        guard factor != 1 else { return t }
        return try Tensor(t.scalars(as: Float.self).map { $0 * factor }, shape: t.shape)
    }
}

/// The attribute names the activation-fusion pass writes onto matrix nodes.
public enum FusedActivation {
    /// `strings`: the fused activations in order (`relu`, `clip`).
    public static let attribute = "octet.activations"
    /// `floats`: min and max of each fused `clip`, in order.
    public static let boundsAttribute = "octet.clip_bounds"
}

/// How a planned matrix node calls its kernel.
struct MatrixCall: Sendable {
    /// How each kernel operand is made from the node's inputs.
    enum Operand: Sendable {
        case input(Int)
        case transposed(Int)
        case reshaped(Int, TensorShape)
        /// Input `i` read as `view` (same elements), broadcast to `full`.
        case broadcast(Int, TensorShape, TensorShape)

        /// The node input the operand is made from.
        var inputIndex: Int {
            switch self {
            case let .input(i), let .transposed(i), let .reshaped(i, _), let .broadcast(i, _, _): i
            }
        }
    }

    /// A tensor added to the product after the kernel (Gemm's C when not a bias).
    struct Addend: Sendable {
        var input: Int?
        var constant: Tensor?
        var scale: Float

        init(input: Int, scale: Float) {
            self.input = input
            self.scale = scale
        }

        init(constant: Tensor, scale: Float) {
            self.constant = constant
            self.scale = scale
        }
    }

    var signature: OpSignature
    /// The constants as the model holds them; the weight becomes the kernel's through
    /// `weightTransform` only when a kernel is prepared, so selecting packs nothing.
    var constants: OpConstants
    /// Makes the kernel's weight (`signature.weight`'s shape: N x K for linear) from the
    /// model's: transposed, alpha folded in, quantization parameters attached.
    var weightTransform: (@Sendable (Tensor) throws -> Tensor)?
    var operands: [Operand]
    var outputScale: Float = 1
    var addend: Addend?
    /// Post-ops the kernel could not apply (they must follow the addend).
    var trailingPostOps: [PostOp] = []
    /// The shape a convolution kernel writes when it differs from the node's output
    /// (a 1-D convolution run as 2-D: N x O x 1 x W).
    var outputView: TensorShape?

    /// The constants a backend prepares with: the weight transformed for the kernel.
    func preparedConstants() throws -> OpConstants {
        guard let transform = weightTransform, let w = constants.weight else { return constants }
        var c = constants
        c.weight = try transform(w)
        return c
    }

    /// The output shape the kernel writes (same elements as the node's output).
    var kernelOutputShape: TensorShape? {
        switch signature.kind {
        case .linear:
            return try? TensorShape(Array(signature.input.dims.dropLast()) + [signature.weight[0]])
        case .matmul:
            return try? TensorShape(Array(signature.input.dims.dropLast()) + [signature.weight[-1]])
        default:
            return outputView
        }
    }

    /// The kernel's operands from the node's inputs, written into `operands` (one element
    /// per `self.operands`, reused from run to run, so only a transposed or broadcast
    /// operand allocates).
    func kernelInputs(_ inputs: [Tensor?], into operands: inout [Tensor], site: OperatorSite) throws {
        for (k, op) in self.operands.enumerated() {
            operands[k] = try operand(op, inputs, site: site)
        }
    }

    private func operand(_ op: Operand, _ inputs: [Tensor?], site: OperatorSite) throws -> Tensor {
        switch op {
        case let .input(i): return try site.tensor(inputs, i)
        case let .transposed(i): return try TransposeKernel.transpose2D(try site.tensor(inputs, i))
        case let .reshaped(i, shape): return try site.tensor(inputs, i).reshaped(to: shape)
        case let .broadcast(i, view, full):
            let src = try site.tensor(inputs, i).reshaped(to: view)
            var out = try Tensor(zeros: src.dtype, shape: full)
            Strided.gather(src, strides: Broadcasting.strides(of: view, in: full), offset: 0, into: &out)
            return out
        }
    }

    /// Alpha, the addend and the trailing post-ops, applied to the kernel's output.
    func finish(_ inputs: [Tensor?], output: inout Tensor, site: OperatorSite) throws {
        guard outputScale != 1 || addend != nil || !trailingPostOps.isEmpty else { return }
        var add: Tensor?
        if let addend {
            add = try addend.constant ?? site.tensor(inputs, addend.input ?? 0)
        }
        let (lo, hi) = PostOp.realRange(of: trailingPostOps)
        let shape = output.shape
        let scale = outputScale, addScale = addend?.scale ?? 0
        let addValues = try add?.scalars(as: Float.self)
        let addShape = add?.shape
        try output.withUnsafeMutableBufferPointer(as: Float.self) { o in
            for i in 0..<o.count { o[i] *= scale }
            if let addValues, let addShape {
                Broadcasting.forEachRow(shape, [addShape]) { base, off, n, st in
                    for i in 0..<n { o[base + i] += addScale * addValues[off[0] + i * st[0]] }
                }
            }
            PostOp.clamp(o, lo: lo, hi: hi)
        }
    }
}

/// Transposition of the last two axes.
enum TransposeKernel {
    static func transpose2D(_ t: Tensor) throws -> Tensor {
        guard t.shape.rank == 2 else { throw GraphError.node(node: "", opType: "transpose", detail: "expected a 2-D tensor, got \(t.shape)") }
        let (r, c) = (t.shape.dims[0], t.shape.dims[1])
        var out = try Tensor(zeros: t.dtype, shape: TensorShape([c, r]))
        Strided.gather(t, strides: [1, c], offset: 0, into: &out)
        return out
    }
}
