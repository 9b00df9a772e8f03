import COctetGraphKernels
import OctetCore

/// The quantized ops other tools write (ONNX Runtime's quantizer, PyTorch's exporter):
/// QuantizeLinear, DequantizeLinear, QLinearConv, QLinearMatMul, MatMulInteger,
/// ConvInteger, DynamicQuantizeLinear. Integer arithmetic as ONNX defines it: division
/// by the scale, round half to even, saturation.
enum QuantizedOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["QuantizeLinear"] = { n, _ in try QuantizeLinearOperator(n) }
        f["DequantizeLinear"] = { n, _ in try DequantizeLinearOperator(n) }
        f["DynamicQuantizeLinear"] = { n, _ in
            // y, y_scale and y_zero_point are all required outputs, and `run` writes all three.
            guard n.outputs.count == 3 else {
                throw GraphError.node(node: n.name, opType: n.opType, detail: "needs 3 outputs (y, y_scale, y_zero_point), the node has \(n.outputs.count)")
            }
            return DynamicQuantizeLinearOperator(site: OperatorSite(n))
        }
        f["MatMulInteger"] = { n, _ in IntegerMatMulOperator(site: OperatorSite(n), requantized: false) }
        f["QLinearMatMul"] = { n, _ in IntegerMatMulOperator(site: OperatorSite(n), requantized: true) }
        f["ConvInteger"] = { n, _ in try IntegerConvOperator(n, requantized: false) }
        f["QLinearConv"] = { n, _ in try IntegerConvOperator(n, requantized: true) }
    }
}

/// Integer values of an 8, 16 or 32-bit (signed) integer tensor.
func integerValues(_ t: Tensor, _ site: OperatorSite) throws -> [Int32] {
    switch t.dtype {
    case .u8: return try t.scalars(as: UInt8.self).map(Int32.init)
    case .s8: return try t.scalars(as: Int8.self).map(Int32.init)
    case .u16: return try t.scalars(as: UInt16.self).map(Int32.init)
    case .s16: return try t.scalars(as: Int16.self).map(Int32.init)
    case .s32: return try t.scalars(as: Int32.self)
    default: throw site.error("expected a u8, s8, u16, s16 or s32 tensor, got \(t.dtype)")
    }
}

/// The values of scale input `input`: f32, or f16 / bf16 widened to f32 exactly (QLinearMatMul
/// opset 21 takes them), as many as `counts` allows (any non-zero count when nil), each finite
/// and > 0 with a finite reciprocal (a NaN, infinite, zero or negative scale would silently
/// compute nonsense).
func scaleValues(_ t: Tensor, input: Int, _ site: OperatorSite, counts: [Int]? = nil) throws -> [Float] {
    guard [.f32, .f16, .bf16].contains(t.dtype) else { throw site.error("the scale (input \(input)) must be f32, f16 or bf16, got \(t.dtype)") }
    let v = t.dtype == .f32 ? try t.scalars(as: Float.self) : try Elementwise.doubles(t).map { Float($0) }
    guard !v.isEmpty, counts?.contains(v.count) ?? true else {
        throw site.error("the scale (input \(input)) has \(v.count) values; expected \(counts.map { $0.map(String.init).joined(separator: " or ") } ?? "at least one")")
    }
    for (i, s) in v.enumerated() where !(s.isFinite && s > 0 && (1 / s).isFinite) {
        throw site.error("the scale (input \(input)) must be finite and > 0, but value \(i) is \(s)")
    }
    return v
}

/// The operands of an integer matrix product or convolution are 8-bit (ONNX's T1, T2) or
/// 16-bit codes, whose differences with a zero point fit an Int32; an int32 operand minus its
/// zero point could overflow.
func requireNarrowIntegers(_ a: DType, _ b: DType, _ site: OperatorSite) throws {
    for t in [a, b] where t.integerRange == nil || t.byteSize > 2 {
        throw site.error("the operands must be 8- or 16-bit integers, got \(a) and \(b)")
    }
}

/// The one value of zero-point input `input`.
func singleZeroPoint(_ t: Tensor, input: Int, _ site: OperatorSite) throws -> Int32 {
    let v = try integerValues(t, site)
    guard v.count == 1 else { throw site.error("the zero point (input \(input)) must hold one value, got \(v.count)") }
    return v[0]
}

/// Checks the constant scale inputs among `indices` while types are inferred, so that a bad
/// scale is refused when the session is made, before any pass rewrites the node.
func checkConstantScales(_ constants: [Tensor?], _ indices: [Int], _ site: OperatorSite) throws {
    for i in indices where i < constants.count {
        if let t = constants[i] { _ = try scaleValues(t, input: i, site) }
    }
}

func storeIntegers(_ values: [Int32], into out: inout Tensor, _ site: OperatorSite) throws {
    switch out.dtype {
    case .u8: try out.withUnsafeMutableBufferPointer(as: UInt8.self) { d in for i in values.indices { d[i] = UInt8(clamping: values[i]) } }
    case .s8: try out.withUnsafeMutableBufferPointer(as: Int8.self) { d in for i in values.indices { d[i] = Int8(clamping: values[i]) } }
    case .s32: try out.withUnsafeMutableBufferPointer(as: Int32.self) { d in for i in values.indices { d[i] = values[i] } }
    case let t where t.integerRange != nil && t.byteSize <= 2:
        // Values already in the target's range (quantized): a cast stores them.
        try CastOperator.convert(try Tensor(values, shape: out.shape), into: &out)
    default: throw site.error("cannot store integers into \(out.dtype)")
    }
}

struct QuantizeLinearOperator: GraphOperator {
    let site: OperatorSite
    let axis: Int
    /// Element type from the `output_dtype` attribute (opset 21), if any.
    let outputType: DType?
    /// Code bounds narrower than the type's, from a fused Clip (`ClipQuantizeFusion`).
    let codeMin: Int32?, codeMax: Int32?

    init(_ n: Node) throws {
        site = OperatorSite(n)
        axis = try n.int("axis", default: 1)
        codeMax = try OutputCodeLimit.read(n)
        codeMin = try OutputCodeLimit.read(n, ClipQuantizeFusion.lowerAttribute)
        if try n.int("block_size", default: 0) != 0 { throw site.error("blocked quantization (block_size) is not supported") }
        let code = try n.int("output_dtype", default: 0)
        outputType = code == 0 ? nil : ElementwiseOperators.castTarget(code)
        // Opset 23: the division's precision; Octet divides in f32, the default for f32 scales.
        let precision = try n.int("precision", default: 0)
        guard precision == 0 || precision == 1 else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "precision", expected: "FLOAT (1) or unset", got: "type code \(precision)")
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard x.dtype == .f32 else { throw site.error("input must be f32, got \(x.dtype)") }
        try checkConstantScales(constants, [1], site)
        let zp = inputs.count > 2 ? inputs[2]?.dtype : nil
        let out = zp ?? outputType ?? .u8
        guard [.u8, .s8, .u16, .s16].contains(out) else { throw site.error("quantizes to u8, s8, u16 or s16, not \(out)") }
        return [ValueType(out, x.shape)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0), scaleInput = try site.tensor(inputs, 1), zeroPointInput = inputs.count > 2 ? inputs[2] : nil
        // Per tensor (the common case), read without arrays.
        let (single, read) = try QDQParameters.read(scale: scaleInput, zeroPoint: zeroPointInput, axis: axis, site: site)
        guard let full = outputs[0].dtype.integerRange else { throw site.error("quantizes to an integer type, not \(outputs[0].dtype)") }
        let lo = max(codeMin ?? full.lowerBound, full.lowerBound), hi = min(codeMax ?? full.upperBound, full.upperBound)
        guard lo <= hi else { throw site.error("its code bounds [\(lo), \(hi)] are empty for \(outputs[0].dtype)") }
        if let (scale, zp) = single,
           x.layout == outputs[0].layout, outputs[0].dtype.isQuantized8Bit {
            // Per tensor: the vectorized kernel (same arithmetic).
            let signed: Int32 = outputs[0].dtype == .s8 ? 1 : 0
            try x.withUnsafeBufferPointer(as: Float.self) { src in
                outputs[0].withUnsafeMutableBytes { dst in
                    guard let s = src.baseAddress, let d = dst.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
                    IntraOpParallelism.forEachChunk(src.count, grain: 1 << 14, Chunks(signed: signed, s: s, d: d, scale: scale, zp: zp, lo: lo, hi: hi))
                }
            }
            return
        }
        let p = try read ?? QDQParameters(scale: scaleInput, zeroPoint: zeroPointInput, axis: axis, site: site)
        let channel = try p.channelIndexer(x.shape, site: site)
        let values = try x.scalars(as: Float.self)
        var q = [Int32](repeating: 0, count: values.count)
        for i in values.indices {
            let c = channel(i)
            q[i] = AffineQuantization.quantizeDividing(values[i], scale: p.scales[c], zeroPoint: p.zeroPoints[c], qmin: lo, qmax: hi)
        }
        try storeIntegers(q, into: &outputs[0], site)
    }

    /// Per-tensor quantization of the elements `range`.
    private struct Chunks: RangeTask {
        let signed: Int32, s: UnsafePointer<Float>, d: UnsafeMutablePointer<UInt8>, scale: Float, zp: Int32, lo: Int32, hi: Int32
        func callAsFunction(_ r: Range<Int>) { octet_quantize_i8(signed, s + r.lowerBound, d + r.lowerBound, r.count, scale, zp, lo, hi) }
    }
}

struct DequantizeLinearOperator: GraphOperator {
    let site: OperatorSite
    let axis: Int

    init(_ n: Node) throws {
        site = OperatorSite(n)
        axis = try n.int("axis", default: 1)
        if try n.int("block_size", default: 0) != 0 { throw site.error("blocked quantization (block_size) is not supported") }
        // Opset 23: the output type; Octet dequantizes to f32 (the type of f32 scales).
        let outputType = try n.int("output_dtype", default: 0)
        guard outputType == 0 || outputType == 1 else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "output_dtype", expected: "FLOAT (1) or unset", got: "type code \(outputType)")
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard [.u8, .s8, .u16, .s16, .s32].contains(x.dtype) else { throw site.error("input must be u8, s8, u16, s16 or s32, got \(x.dtype)") }
        try checkConstantScales(constants, [1], site)
        return [ValueType(.f32, x.shape)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0), scaleInput = try site.tensor(inputs, 1), zeroPointInput = inputs.count > 2 ? inputs[2] : nil
        // Per tensor (the common case), read without arrays.
        let (single, read) = try QDQParameters.read(scale: scaleInput, zeroPoint: zeroPointInput, axis: axis, site: site)
        if let (scale, zp) = single,
           x.dtype.isQuantized8Bit, x.layout == outputs[0].layout {
            let signed: Int32 = x.dtype == .s8 ? 1 : 0
            try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
                x.withUnsafeBytes { src in
                    guard let s = src.baseAddress?.assumingMemoryBound(to: UInt8.self), let d = dst.baseAddress else { return }
                    IntraOpParallelism.forEachChunk(dst.count, grain: 1 << 14, Chunks(signed: signed, s: s, d: d, scale: scale, zp: zp))
                }
            }
            return
        }
        let p = try read ?? QDQParameters(scale: scaleInput, zeroPoint: zeroPointInput, axis: axis, site: site)
        let channel = try p.channelIndexer(x.shape, site: site)
        let q = try integerValues(x, site)
        try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { d in
            for i in q.indices {
                let c = channel(i)
                d[i] = Float(Int64(q[i]) - Int64(p.zeroPoints[c])) * p.scales[c]
            }
        }
    }

    /// Per-tensor dequantization of the elements `range`.
    private struct Chunks: RangeTask {
        let signed: Int32, s: UnsafePointer<UInt8>, d: UnsafeMutablePointer<Float>, scale: Float, zp: Int32
        func callAsFunction(_ r: Range<Int>) { octet_dequantize_i8(signed, s + r.lowerBound, d + r.lowerBound, r.count, scale, zp) }
    }
}

/// u8 quantization of a tensor from its own range: outputs y, y_scale, y_zero_point.
///
/// The range is widened to include 0 (NaNs ignored); `y_scale = (max - min) / 255`, or 1
/// when the range is empty (an all-zero input: ONNX Runtime's value; the scale is never 0);
/// `y_zero_point = round(clamp(-min / y_scale, 0, 255))`; `y = saturate(round(x / y_scale) + y_zero_point)`,
/// rounding half to even, as ONNX Runtime and the ONNX reference compute it.
struct DynamicQuantizeLinearOperator: GraphOperator {
    let site: OperatorSite

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard x.dtype == .f32 else { throw site.error("input must be f32, got \(x.dtype)") }
        return [ValueType(.u8, x.shape), ValueType(.f32, TensorShape.scalar), ValueType(.u8, TensorShape.scalar)]
    }

    /// Scale and zero point for values in `lo...hi` (`lo <= 0 <= hi`).
    static func parameters(lo: Float, hi: Float) -> (scale: Float, zeroPoint: Int32) {
        ONNXDynamicQuantization.parameters(min: lo, max: hi)
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let values = try site.tensor(inputs, 0).scalars(as: Float.self)
        var lo: Float = 0, hi: Float = 0
        for v in values where !v.isNaN { lo = min(lo, v); hi = max(hi, v) }
        let (scale, zp) = Self.parameters(lo: lo, hi: hi)
        var q = [Int32](repeating: 0, count: values.count)
        for i in values.indices {
            let r = (values[i] / scale).rounded(.toNearestOrEven)
            q[i] = r.isNaN ? zp : Int32(min(max(r + Float(zp), 0), 255))
        }
        try storeIntegers(q, into: &outputs[0], site)
        outputs[1] = try Tensor([scale], shape: .scalar)
        outputs[2] = try Tensor([UInt8(zp)], shape: .scalar)
    }
}

/// MatMulInteger (s32 out) and QLinearMatMul (requantized), batched with broadcasting.
struct IntegerMatMulOperator: GraphOperator {
    let site: OperatorSite
    let requantized: Bool

    var bIndex: Int { requantized ? 3 : 1 }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let a = try site.type(inputs, 0), b = try site.type(inputs, bIndex)
        try requireNarrowIntegers(a.dtype, b.dtype, site)
        if requantized { try checkConstantScales(constants, [1, 4, 6], site) }
        let outType: DType = requantized ? (inputs.count > 7 ? inputs[7]?.dtype : nil) ?? a.dtype : .s32
        guard let sa = a.shape, let sb = b.shape else { return [ValueType(outType, nil)] }
        return [ValueType(outType, try MatMulShapes.output(sa, sb, site))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let a = try site.tensor(inputs, 0), b = try site.tensor(inputs, bIndex)
        let az: [Int32], bz: [Int32]
        if requantized {
            az = try integerValues(try site.tensor(inputs, 2), site)
            bz = try integerValues(try site.tensor(inputs, 5), site)
        } else {
            az = try (inputs.count > 2 ? inputs[2] : nil).map { try integerValues($0, site) } ?? [0]
            bz = try (inputs.count > 3 ? inputs[3] : nil).map { try integerValues($0, site) } ?? [0]
        }
        guard az.count == 1 else { throw site.error("per-row zero points of A are not supported") }
        let av = try integerValues(a, site).map { $0 - az[0] }
        let n = b.shape.dims.last ?? 1
        guard bz.count == 1 || bz.count == n else { throw site.error("B's zero point must be per tensor or per column") }
        let braw = try integerValues(b, site)
        let bv = braw.indices.map { braw[$0] - bz[bz.count == 1 ? 0 : $0 % n] }
        let acc = try MatMulShapes.multiply(av, a.shape, bv, b.shape, outputs[0].shape, site)
        guard requantized else {
            try storeIntegers(acc, into: &outputs[0], site)
            return
        }
        let sa = try scaleValues(try site.tensor(inputs, 1), input: 1, site, counts: [1])[0]
        let sb = try scaleValues(try site.tensor(inputs, 4), input: 4, site, counts: [1, n])
        let sy = try scaleValues(try site.tensor(inputs, 6), input: 6, site, counts: [1])[0]
        let zy = try singleZeroPoint(try site.tensor(inputs, 7), input: 7, site)
        guard let range = outputs[0].dtype.integerRange else { throw site.error("quantizes to an integer type, not \(outputs[0].dtype)") }
        let q = acc.indices.map { i in
            AffineQuantization.requantize(acc[i], multiplier: sa * sb[sb.count == 1 ? 0 : i % n] / sy, zeroPoint: zy, qmin: range.lowerBound, qmax: range.upperBound)
        }
        try storeIntegers(q, into: &outputs[0], site)
    }
}

/// Shapes and the plain product of NumPy-style batched matrix multiplication.
enum MatMulShapes {
    static func output(_ a: SymbolicShape, _ b: SymbolicShape, _ site: OperatorSite) throws(GraphError) -> SymbolicShape {
        guard a.rank >= 1, b.rank >= 1 else { throw site.error("matmul operands must have at least one dimension") }
        let a2 = a.rank == 1 ? SymbolicShape([.fixed(1)] + a.dims) : a
        let b2 = b.rank == 1 ? SymbolicShape(b.dims + [.fixed(1)]) : b
        let k1 = a2.dims[a2.rank - 1], k2 = b2.dims[b2.rank - 2]
        if let x = k1.value, let y = k2.value, x != y { throw site.error("inner dimensions differ: \(a) · \(b)") }
        guard let batch = Broadcasting.shape(SymbolicShape(Array(a2.dims.dropLast(2))), SymbolicShape(Array(b2.dims.dropLast(2)))) else {
            throw site.error("batch dimensions of \(a) and \(b) do not broadcast")
        }
        var dims = batch.dims
        if a.rank > 1 { dims.append(a2.dims[a2.rank - 2]) }
        if b.rank > 1 { dims.append(b2.dims[b2.rank - 1]) }
        return SymbolicShape(dims)
    }

    static func multiply(_ a: [Int32], _ sa: TensorShape, _ b: [Int32], _ sb: TensorShape, _ out: TensorShape, _ site: OperatorSite) throws -> [Int32] {
        let ad = sa.rank == 1 ? [1] + sa.dims : sa.dims, bd = sb.rank == 1 ? sb.dims + [1] : sb.dims
        let m = ad[ad.count - 2], k = ad[ad.count - 1], n = bd[bd.count - 1]
        let batchShape = try TensorShape(Array(out.dims.prefix(max(0, out.rank - (sa.rank > 1 ? 1 : 0) - (sb.rank > 1 ? 1 : 0)))))
        let aBatch = try TensorShape(Array(ad.dropLast(2))), bBatch = try TensorShape(Array(bd.dropLast(2)))
        let aStr = Broadcasting.strides(of: aBatch, in: batchShape), bStr = Broadcasting.strides(of: bBatch, in: batchShape)
        var result = [Int32](repeating: 0, count: batchShape.elementCount * m * n)
        for batch in 0..<batchShape.elementCount {
            var rest = batch, ao = 0, bo = 0
            for axis in stride(from: batchShape.rank - 1, through: 0, by: -1) {
                let i = rest % batchShape.dims[axis]
                rest /= batchShape.dims[axis]
                ao += i * aStr[axis]
                bo += i * bStr[axis]
            }
            let abase = ao * m * k, bbase = bo * k * n, obase = batch * m * n
            for i in 0..<m {
                for p in 0..<k {
                    let x = a[abase + i * k + p]
                    if x == 0 { continue }
                    for j in 0..<n { result[obase + i * n + j] &+= x &* b[bbase + p * n + j] }
                }
            }
        }
        return result
    }
}

/// ConvInteger (s32 out) and QLinearConv (requantized), NCHW.
struct IntegerConvOperator: GraphOperator {
    let site: OperatorSite
    let requantized: Bool
    let node: Node

    init(_ n: Node, requantized: Bool) throws {
        site = OperatorSite(n)
        self.requantized = requantized
        node = n
    }

    var wIndex: Int { requantized ? 3 : 1 }

    func geometry(_ w: TensorShape) throws -> WindowGeometry {
        guard w.rank == 4 else { throw site.error("only 2-D convolutions are supported; weight is \(w)") }
        return try WindowGeometry(node, kernel: try node.ints("kernel_shape") ?? [w.dims[2], w.dims[3]])
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), w = try site.type(inputs, wIndex)
        try requireNarrowIntegers(x.dtype, w.dtype, site)
        if requantized { try checkConstantScales(constants, [1, 4, 6], site) }
        let outType: DType = requantized ? (inputs.count > 7 ? inputs[7]?.dtype : nil) ?? x.dtype : .s32
        guard let sx = x.shape, let sw = w.shape?.concrete, sx.rank == 4 else { return [ValueType(outType, nil)] }
        // The weight's rank is checked before its dimensions are read, whatever the input's shape.
        let window = try geometry(sw)
        guard let h = sx.dims[2].value, let wd = sx.dims[3].value else {
            return [ValueType(outType, SymbolicShape([sx.dims[0], .fixed(sw.dims[0]), .symbol("\(site.node)_h"), .symbol("\(site.node)_w")]))]
        }
        let out = try window.resolve([h, wd]).output
        return [ValueType(outType, SymbolicShape([sx.dims[0], .fixed(sw.dims[0]), .fixed(out[0]), .fixed(out[1])]))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0), w = try site.tensor(inputs, wIndex)
        let group = try node.int("group", default: 1)
        let g = try geometry(w.shape)
        let (p, out) = try g.resolve([x.shape.dims[2], x.shape.dims[3]])
        let xz: Int32, wz: [Int32]
        if requantized {
            xz = try singleZeroPoint(try site.tensor(inputs, 2), input: 2, site)
            wz = try integerValues(try site.tensor(inputs, 5), site)
        } else {
            xz = try (inputs.count > 2 ? inputs[2] : nil).map { try singleZeroPoint($0, input: 2, site) } ?? 0
            wz = try (inputs.count > 3 ? inputs[3] : nil).map { try integerValues($0, site) } ?? [0]
        }
        let xv = try integerValues(x, site), wv = try integerValues(w, site)
        let (nb, c, h, wd) = (x.shape.dims[0], x.shape.dims[1], x.shape.dims[2], x.shape.dims[3])
        let (oc, icg, kh, kw) = (w.shape.dims[0], w.shape.dims[1], w.shape.dims[2], w.shape.dims[3])
        guard group >= 1, (try? icg.multiplied(by: group)) == c, oc % group == 0 else { throw site.error("weight \(w.shape) does not fit input \(x.shape) with group \(group)") }
        guard wz.count == 1 || wz.count == oc else { throw site.error("weight zero points must be per tensor or per output channel") }
        let (oh, ow) = (out[0], out[1])
        let ocg = oc / group
        var acc = [Int32](repeating: 0, count: nb * oc * oh * ow)
        if requantized, inputs.count > 8, let bias = inputs[8] {
            let bv = try integerValues(bias, site)
            guard bv.count == oc else { throw site.error("bias must hold \(oc) values") }
            for i in acc.indices { acc[i] = bv[(i / (oh * ow)) % oc] }
        }
        for n in 0..<nb {
            for o in 0..<oc {
                let gi = o / ocg, z = wz[wz.count == 1 ? 0 : o]
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var s: Int32 = 0
                        for ci in 0..<icg {
                            let ch = gi * icg + ci
                            for ky in 0..<kh {
                                let y = oy * g.strides[0] - p[0] + ky * g.dilations[0]
                                guard y >= 0, y < h else { continue }
                                for kx in 0..<kw {
                                    let xx = ox * g.strides[1] - p[1] + kx * g.dilations[1]
                                    guard xx >= 0, xx < wd else { continue }
                                    s &+= (xv[((n * c + ch) * h + y) * wd + xx] - xz) &* (wv[((o * icg + ci) * kh + ky) * kw + kx] - z)
                                }
                            }
                        }
                        acc[((n * oc + o) * oh + oy) * ow + ox] &+= s
                    }
                }
            }
        }
        guard requantized else {
            try storeIntegers(acc, into: &outputs[0], site)
            return
        }
        let sx = try scaleValues(try site.tensor(inputs, 1), input: 1, site, counts: [1])[0]
        let sw = try scaleValues(try site.tensor(inputs, 4), input: 4, site, counts: [1, oc])
        let sy = try scaleValues(try site.tensor(inputs, 6), input: 6, site, counts: [1])[0]
        let zy = try singleZeroPoint(try site.tensor(inputs, 7), input: 7, site)
        guard let range = outputs[0].dtype.integerRange else { throw site.error("quantizes to an integer type, not \(outputs[0].dtype)") }
        let q = acc.indices.map { i in
            let o = (i / (oh * ow)) % oc
            return AffineQuantization.requantize(acc[i], multiplier: sx * sw[sw.count == 1 ? 0 : o] / sy, zeroPoint: zy, qmin: range.lowerBound, qmax: range.upperBound)
        }
        try storeIntegers(q, into: &outputs[0], site)
    }
}
