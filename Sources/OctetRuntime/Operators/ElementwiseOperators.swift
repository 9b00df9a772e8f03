import COctetGraphKernels
import Foundation
import OctetCore

/// Elementwise ops: binary arithmetic with broadcasting, comparisons, `Where`, unary
/// activations, `Cast` and `Identity`.
enum ElementwiseOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        for (name, op) in [("Add", BinaryOperator.Arithmetic.add), ("Sub", .sub), ("Mul", .mul), ("Div", .div), ("Pow", .pow)] {
            f[name] = { n, _ in BinaryOperator(site: OperatorSite(n), op: op) }
        }
        f["Equal"] = { n, _ in EqualOperator(site: OperatorSite(n)) }
        f["Where"] = { n, _ in WhereOperator(site: OperatorSite(n)) }
        f["Identity"] = { n, _ in UnaryOperator(site: OperatorSite(n), function: .identity) }
        f["Relu"] = { n, _ in UnaryOperator(site: OperatorSite(n), function: .relu) }
        f["Sigmoid"] = { n, _ in UnaryOperator(site: OperatorSite(n), function: .sigmoid) }
        f["Tanh"] = { n, _ in UnaryOperator(site: OperatorSite(n), function: .tanh) }
        f["Sqrt"] = { n, _ in UnaryOperator(site: OperatorSite(n), function: .sqrt) }
        f["Erf"] = { n, _ in UnaryOperator(site: OperatorSite(n), function: .erf) }
        f["HardSwish"] = { n, _ in UnaryOperator(site: OperatorSite(n), function: .hardSwish) }
        f["HardSigmoid"] = { n, _ in
            UnaryOperator(site: OperatorSite(n), function: .hardSigmoid(alpha: try n.float("alpha", default: 0.2), beta: try n.float("beta", default: 0.5)))
        }
        f["Gelu"] = { n, _ in
            let approximate = try n.string("approximate", default: "none")
            guard approximate == "none" || approximate == "tanh" else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "approximate", expected: "\"none\" or \"tanh\"", got: "\"\(approximate)\"")
            }
            return UnaryOperator(site: OperatorSite(n), function: approximate == "tanh" ? .geluTanh : .gelu)
        }
        f["Clip"] = { n, opset in
            // Opset < 11 carried the bounds as attributes; later as optional inputs.
            ClipOperator(site: OperatorSite(n), attributeMin: opset < 11 ? try n.float("min", default: -.infinity) : nil,
                         attributeMax: opset < 11 ? try n.float("max", default: .infinity) : nil)
        }
        f["Cast"] = { n, _ in
            let to = try n.int("to", default: -1)
            guard let dtype = castTarget(to) else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "to", expected: DType.onnxNames, got: "type code \(to)")
            }
            return CastOperator(site: OperatorSite(n), to: dtype)
        }
    }

    /// The element type of an ONNX `TensorProto.DataType` code, for `to`/`dtype` attributes.
    static func castTarget(_ code: Int) -> DType? { DType(onnxCode: code) }
}

/// Add, Sub, Mul, Div, Pow with NumPy broadcasting, on every numeric type (`NumericElement`):
/// f32 add/sub/mul/div through the vectorized C kernel, the rest through one generic loop.
/// Integer results wrap around (two's complement, as NumPy and ONNX Runtime); integer
/// division truncates toward zero. Pow's exponent may have another type: it is cast to the
/// base's type first (as ONNX Runtime does), f64 math stays in f64.
struct BinaryOperator: GraphOperator {
    enum Arithmetic: Sendable { case add, sub, mul, div, pow }
    let site: OperatorSite
    let op: Arithmetic

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let a = try site.type(inputs, 0), b = try site.type(inputs, 1)
        guard op == .pow || a.dtype == b.dtype else { throw site.error("operand types differ: \(a.dtype) and \(b.dtype)") }
        guard a.dtype.isNumeric, b.dtype.isNumeric else { throw site.error("needs numeric operands, got \(a.dtype) and \(b.dtype)") }
        // ONNX Pow's base is int32, int64 or a floating type (the exponent may be any number).
        guard op != .pow || a.dtype == .s32 || a.dtype == .s64 || a.dtype.isFloatingPoint else {
            throw site.error("Pow of \(a.dtype) is not defined (the base must be int32, int64 or a floating type)")
        }
        guard let sa = a.shape, let sb = b.shape else { return [ValueType(a.dtype, nil)] }
        guard let s = Broadcasting.shape(sa, sb) else { throw site.error("shapes \(sa) and \(sb) do not broadcast") }
        return [ValueType(a.dtype, s)]
    }

    struct Kernel: NumericVisitor {
        let op: Arithmetic
        let a: Tensor, b: Tensor

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws {
            switch op {
            case .add: try Elementwise.binary(a, b, &out, as: T.self) { $0.wrappingAdding($1) }
            case .sub: try Elementwise.binary(a, b, &out, as: T.self) { $0.wrappingSubtracting($1) }
            case .mul: try Elementwise.binary(a, b, &out, as: T.self) { $0.wrappingMultiplying($1) }
            case .div: try Elementwise.binary(a, b, &out, as: T.self) { $0.dividing($1) }
            case .pow: try Elementwise.binary(a, b, &out, as: T.self) { $0.power($1) }
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let a = try site.tensor(inputs, 0), b = try site.tensor(inputs, 1)
        if a.dtype == .f32, b.dtype == .f32, op != .pow {
            try Elementwise.binaryF32(a, b, &outputs[0], op == .add ? OCTET_ADD : op == .sub ? OCTET_SUB : op == .mul ? OCTET_MUL : OCTET_DIV)
            return
        }
        let exponent = b.dtype == a.dtype ? b : try CastOperator.convert(b, to: a.dtype)
        guard try a.dtype.visitNumeric(Kernel(op: op, a: a, b: exponent), into: &outputs[0]) != nil else {
            throw site.error("needs numeric operands, got \(a.dtype)")
        }
    }
}

/// `Equal` on any element type (bool included), giving bool.
struct EqualOperator: GraphOperator {
    let site: OperatorSite

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let a = try site.type(inputs, 0), b = try site.type(inputs, 1)
        guard a.dtype == b.dtype else { throw site.error("operand types differ: \(a.dtype) and \(b.dtype)") }
        guard let sa = a.shape, let sb = b.shape else { return [ValueType(.bool, nil)] }
        guard let s = Broadcasting.shape(sa, sb) else { throw site.error("shapes \(sa) and \(sb) do not broadcast") }
        return [ValueType(.bool, s)]
    }

    struct Kernel: ElementVisitor {
        let a: Tensor, b: Tensor

        func visit<T: ElementValue>(_: T.Type, into out: inout Tensor) throws {
            try Elementwise.compare(a, b, &out, as: T.self, ==)
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let a = try site.tensor(inputs, 0), b = try site.tensor(inputs, 1)
        guard try a.dtype.visitElement(Kernel(a: a, b: b), into: &outputs[0]) != nil else { throw site.error("\(a.dtype) operands are not supported") }
    }
}

/// `Where(condition, x, y)` with three-way broadcasting, x and y of any element type.
struct WhereOperator: GraphOperator {
    let site: OperatorSite

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let c = try site.type(inputs, 0), x = try site.type(inputs, 1), y = try site.type(inputs, 2)
        guard c.dtype == .bool else { throw site.error("the condition must be bool, got \(c.dtype)") }
        guard x.dtype == y.dtype else { throw site.error("x and y types differ: \(x.dtype) and \(y.dtype)") }
        guard let sc = c.shape, let sx = x.shape, let sy = y.shape else { return [ValueType(x.dtype, nil)] }
        guard let s = Broadcasting.shape([sc, sx, sy]) else { throw site.error("shapes \(sc), \(sx), \(sy) do not broadcast") }
        return [ValueType(x.dtype, s)]
    }

    struct Kernel: ElementVisitor {
        let c: Tensor, x: Tensor, y: Tensor

        func visit<T: ElementValue>(_: T.Type, into out: inout Tensor) throws {
            let shape = out.shape
            try c.withUnsafeBufferPointer(as: Bool.self) { cp in
                try x.withUnsafeBufferPointer(as: T.self) { xp in
                    try y.withUnsafeBufferPointer(as: T.self) { yp in
                        try out.withUnsafeMutableBufferPointer(as: T.self) { o in
                            Broadcasting.forEachRow(shape, [c.shape, x.shape, y.shape]) { base, off, n, st in
                                for i in 0..<n { o[base + i] = cp[off[0] + i * st[0]] ? xp[off[1] + i * st[1]] : yp[off[2] + i * st[2]] }
                            }
                        }
                    }
                }
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let c = try site.tensor(inputs, 0), x = try site.tensor(inputs, 1), y = try site.tensor(inputs, 2)
        guard try x.dtype.visitElement(Kernel(c: c, x: x, y: y), into: &outputs[0]) != nil else { throw site.error("\(x.dtype) operands are not supported") }
    }
}

/// Unary activations: f32 through the vectorized C kernels; f16, bf16 (in single
/// precision) and f64 (in double) through one generic loop; Relu also on the signed
/// integer types (opset 14).
struct UnaryOperator: GraphOperator {
    enum Function: FloatUnaryFunction {
        case identity, relu, sigmoid, tanh, sqrt, erf, hardSwish, gelu, geluTanh
        case hardSigmoid(alpha: Float, beta: Float)

        /// The function in precision `N` (the generic path; f32 tensors use the C kernels).
        func callAsFunction<N: FloatMath>(_ x: N) -> N {
            switch self {
            case .identity: x
            case .relu: x < 0 ? 0 : x
            case .sigmoid: 1 / (1 + N.exp(-x))
            case .tanh: N.tanh(x)
            case .sqrt: x.squareRoot()
            case .erf: N.erf(x)
            case .hardSwish: x * Swift.min(Swift.max(x / 6 + 0.5, 0), 1)
            case let .hardSigmoid(alpha, beta): Swift.min(Swift.max(N(alpha) * x + N(beta), 0), 1)
            case .gelu: 0.5 * x * (1 + N.erf(x / N(2).squareRoot()))
            case .geluTanh: 0.5 * x * (1 + N.tanh(N(0.7978845608028654) * (x + N(0.044715) * x * x * x)))
            }
        }
    }
    let site: OperatorSite
    let function: Function

    private var isRelu: Bool { if case .relu = function { true } else { false } }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        if case .identity = function { return [t] }
        guard t.dtype.isFloatingPoint || (isRelu && t.dtype.isNumeric) else { throw site.error("needs a floating-point input, got \(t.dtype)") }
        return [t]
    }

    /// Relu of integers: max(x, 0).
    struct ReluKernel: NumericVisitor {
        let x: Tensor

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws {
            try Elementwise.map(x, into: &out) { (v: T) in v < .zero ? .zero : v }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        if case .identity = function {
            try Elementwise.copy(x, into: &outputs[0])
            return
        }
        if x.dtype == .f32 {
            try x.withUnsafeBufferPointer(as: Float.self) { src in
                try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
                    Self.apply(function, src, dst)
                }
            }
            return
        }
        let done: Void? = x.dtype.isFloatingPoint
            ? try x.dtype.visitFloat(FloatMapKernel(function: function, x: x), into: &outputs[0])
            : try x.dtype.visitNumeric(ReluKernel(x: x), into: &outputs[0])
        guard done != nil else { throw site.error("needs a floating-point input, got \(x.dtype)") }
    }

    /// One of the vectorized C functions over `src`, split over the session's threads.
    static func vector(_ op: octet_unary_op, _ src: UnsafeBufferPointer<Float>, _ dst: UnsafeMutableBufferPointer<Float>) {
        struct Chunks: RangeTask {
            let op: octet_unary_op, s: UnsafePointer<Float>, d: UnsafeMutablePointer<Float>
            func callAsFunction(_ r: Range<Int>) { octet_f32_unary(op, s + r.lowerBound, d + r.lowerBound, r.count) }
        }
        if let s = src.baseAddress, let d = dst.baseAddress {
            IntraOpParallelism.forEachChunk(src.count, grain: 1 << 13, Chunks(op: op, s: s, d: d))
        }
    }

    /// `dst[i] = min(max(src[i], lo), hi)` over the chunks of `forEachChunk`.
    struct ClampChunks: RangeTask {
        let s: UnsafePointer<Float>, d: UnsafeMutablePointer<Float>, lo: Float, hi: Float
        func callAsFunction(_ r: Range<Int>) { octet_f32_clamp(s + r.lowerBound, d + r.lowerBound, r.count, lo, hi) }
    }

    static func apply(_ function: Function, _ src: UnsafeBufferPointer<Float>, _ dst: UnsafeMutableBufferPointer<Float>) {
        let n = src.count
        func vector(_ op: octet_unary_op) { Self.vector(op, src, dst) }
        switch function {
        case .identity: for i in 0..<n { dst[i] = src[i] }
        case .relu:
            if let s = src.baseAddress, let d = dst.baseAddress {
                IntraOpParallelism.forEachChunk(n, grain: 1 << 14, ClampChunks(s: s, d: d, lo: 0, hi: .infinity))
            }
        case .sigmoid: vector(OCTET_SIGMOID)
        case .tanh: vector(OCTET_TANH)
        case .sqrt: for i in 0..<n { dst[i] = src[i].squareRoot() }
        case .erf: vector(OCTET_ERF)
        case .hardSwish: for i in 0..<n { let x = src[i]; dst[i] = x * min(max(x / 6 + 0.5, 0), 1) }
        case let .hardSigmoid(alpha, beta): for i in 0..<n { dst[i] = min(max(alpha * src[i] + beta, 0), 1) }
        case .gelu: vector(OCTET_GELU)
        case .geluTanh:
            for i in 0..<n {
                let x = src[i]
                dst[i] = 0.5 * x * (1 + Foundation.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
            }
        }
    }
}

/// `Clip` with bounds from inputs 1 and 2 (opset ≥ 11) or attributes (older); f32, and
/// from opset 12 every numeric type (bounds of the input's type).
struct ClipOperator: GraphOperator {
    let site: OperatorSite
    let attributeMin: Float?, attributeMax: Float?

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype.isNumeric else { throw site.error("needs a numeric input, got \(t.dtype)") }
        return [t]
    }

    /// Clamping for the integer types, bounds read in their own type.
    struct IntegerKernel: NumericVisitor {
        let x: Tensor, low: Tensor?, high: Tensor?

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws {
            let lo = try low.flatMap { try $0.scalars(as: T.self).first } ?? T.lowest
            let hi = try high.flatMap { try $0.scalars(as: T.self).first } ?? T.highest
            try x.withUnsafeBufferPointer(as: T.self) { s in
                try out.withUnsafeMutableBufferPointer(as: T.self) { d in for i in 0..<s.count { d[i] = Swift.min(Swift.max(s[i], lo), hi) } }
            }
        }
    }

    /// The bounds, from constant inputs or attributes.
    func bounds(_ inputs: [Tensor?]) throws -> (Float, Float) {
        func scalar(_ i: Int) throws -> Float? {
            guard i < inputs.count, let t = inputs[i] else { return nil }
            guard t.dtype == .f32, t.shape.elementCount == 1 else { throw site.error("bound \(i) must be a single f32, got \(t.dtype) \(t.shape)") }
            return try t.scalars(as: Float.self)[0]
        }
        return (try scalar(1) ?? attributeMin ?? -.infinity, try scalar(2) ?? attributeMax ?? .infinity)
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        if x.dtype != .f32 {
            func bound(_ i: Int) throws -> Tensor? {
                guard i < inputs.count, let t = inputs[i] else { return nil }
                guard t.dtype == x.dtype, t.shape.elementCount == 1 else { throw site.error("bound \(i) must be a single \(x.dtype), got \(t.dtype) \(t.shape)") }
                return t
            }
            guard try x.dtype.visitNumeric(IntegerKernel(x: x, low: try bound(1), high: try bound(2)), into: &outputs[0]) != nil else {
                throw site.error("needs a numeric input, got \(x.dtype)")
            }
            return
        }
        let (lo, hi) = try bounds(inputs)
        try x.withUnsafeBufferPointer(as: Float.self) { src in
            try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
                if let s = src.baseAddress, let d = dst.baseAddress {
                    IntraOpParallelism.forEachChunk(src.count, grain: 1 << 14, UnaryOperator.ClampChunks(s: s, d: d, lo: lo, hi: hi))
                }
            }
        }
    }
}

/// `Cast` between any two element types, through `WideValue` (no precision lost on the
/// way: s64 and u64 stay integers, f64 stays f64). See `ElementValue.init(wide:)` for the
/// rounding and saturation rules.
struct CastOperator: GraphOperator {
    let site: OperatorSite
    let to: DType

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        [ValueType(to, try site.type(inputs, 0).shape)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        try Self.convert(try site.tensor(inputs, 0), into: &outputs[0])
    }

    /// The source side: reads `x` as `S`, then the target side writes `out` as `D`.
    private struct Source: ElementVisitor {
        let x: Tensor
        func visit<S: ElementValue>(_: S.Type, into out: inout Tensor) throws {
            guard try out.dtype.visitElement(Target<S>(x: x), into: &out) != nil else { throw TensorError.dtypeMismatch(expected: x.dtype, got: out.dtype) }
        }
    }

    private struct Target<S: ElementValue>: ElementVisitor {
        let x: Tensor
        func visit<D: ElementValue>(_: D.Type, into out: inout Tensor) throws {
            try Elementwise.map(x, into: &out) { (v: S) in D(wide: v.wide) }
        }
    }

    /// `x` converted element by element to `to`, as a new tensor of `x`'s shape.
    static func convert(_ x: Tensor, to: DType) throws -> Tensor {
        var out = try Tensor(zeros: to, shape: x.shape)
        try convert(x, into: &out)
        return out
    }

    /// Converts `x` element by element into `out` (as many elements, any type), in place.
    static func convert(_ x: Tensor, into out: inout Tensor) throws {
        if x.dtype == out.dtype { return try Elementwise.copy(x, into: &out) }
        guard try x.dtype.visitElement(Source(x: x), into: &out) != nil else { throw TensorError.dtypeMismatch(expected: out.dtype, got: x.dtype) }
    }
}

/// Loops shared by the elementwise operators.
enum Elementwise {
    /// `out[i] = f(x[i])`: `x` read as `S`, `out` (as many elements) written as `D`; returns `out`.
    // Inlined into each typed kernel so that `f` is inlined into the loop (a call per element otherwise).
    @inline(__always) static func map<S: TensorElement, D: TensorElement>(_ x: Tensor, into out: inout Tensor, _ f: (S) -> D) throws {
        try x.withUnsafeBufferPointer(as: S.self) { s in
            try out.withUnsafeMutableBufferPointer(as: D.self) { d in
                for i in 0..<Swift.min(s.count, d.count) { d[i] = f(s[i]) }
            }
        }
    }

    @inline(__always) static func binary<T: TensorElement>(_ a: Tensor, _ b: Tensor, _ out: inout Tensor, as _: T.Type, _ f: (T, T) -> T) throws {
        let shape = out.shape
        try a.withUnsafeBufferPointer(as: T.self) { ap in
            try b.withUnsafeBufferPointer(as: T.self) { bp in
                try out.withUnsafeMutableBufferPointer(as: T.self) { o in
                    if a.shape == shape && b.shape == shape {
                        for i in 0..<o.count { o[i] = f(ap[i], bp[i]) }
                    } else if a.shape == shape && b.shape.elementCount == 1 {
                        let s = bp[0]
                        for i in 0..<o.count { o[i] = f(ap[i], s) }
                    } else {
                        Broadcasting.forEachRow(shape, [a.shape, b.shape]) { base, off, n, st in
                            let (oa, ob, sa, sb) = (off[0], off[1], st[0], st[1])
                            if sa == 1 && sb == 1 {
                                for i in 0..<n { o[base + i] = f(ap[oa + i], bp[ob + i]) }
                            } else if sa == 1 && sb == 0 {
                                let s = bp[ob]
                                for i in 0..<n { o[base + i] = f(ap[oa + i], s) }
                            } else if sa == 0 && sb == 1 {
                                let s = ap[oa]
                                for i in 0..<n { o[base + i] = f(s, bp[ob + i]) }
                            } else {
                                for i in 0..<n { o[base + i] = f(ap[oa + i * sa], bp[ob + i * sb]) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// f32 add/sub/mul/div with broadcasting, one vectorized C call per output row.
    static func binaryF32(_ a: Tensor, _ b: Tensor, _ out: inout Tensor, _ op: octet_binary_op) throws {
        // Channels-last output: broadcast in memory order (N, H, W, C); the planner gives
        // NHWC 4-D operands and smaller ones whose memory order is the same either way.
        func memoryOrder(_ t: TensorShape) throws -> TensorShape {
            let d = Array(repeating: 1, count: max(0, 4 - t.rank)) + t.dims
            return try TensorShape([d[0], d[2], d[3], d[1]])
        }
        let nhwc = out.layout == .nhwc
        let shape = nhwc ? try memoryOrder(out.shape) : out.shape
        let aShape = nhwc ? try memoryOrder(a.shape) : a.shape, bShape = nhwc ? try memoryOrder(b.shape) : b.shape
        try a.withUnsafeBufferPointer(as: Float.self) { ap in
            try b.withUnsafeBufferPointer(as: Float.self) { bp in
                try out.withUnsafeMutableBufferPointer(as: Float.self) { o in
                    guard let A = ap.baseAddress, let B = bp.baseAddress, let O = o.baseAddress else { return }
                    // Whole-tensor cases split by elements; broadcasting splits by output rows
                    // (each row one C call, as on one thread).
                    struct Flat: RangeTask {
                        let op: octet_binary_op, A: UnsafePointer<Float>, sa: Int, B: UnsafePointer<Float>, sb: Int, O: UnsafeMutablePointer<Float>
                        func callAsFunction(_ r: Range<Int>) {
                            octet_f32_binary(op, A + sa * r.lowerBound, sa, B + sb * r.lowerBound, sb, O + r.lowerBound, r.count)
                        }
                    }
                    func flat(_ sa: Int, _ sb: Int) {
                        IntraOpParallelism.forEachChunk(o.count, grain: 1 << 14, Flat(op: op, A: A, sa: sa, B: B, sb: sb, O: O))
                    }
                    if aShape == shape && bShape == shape { return flat(1, 1) }
                    if aShape == shape && bShape.elementCount == 1 { return flat(1, 0) }
                    if bShape == shape && aShape.elementCount == 1 { return flat(0, 1) }
                    // Broadcasting: merged axes (e.g. C x 1 x 1 against C x H x W: C rows of H·W).
                    let (rowShape, operands) = Broadcasting.collapsed(shape, [aShape, bShape])
                    if IntraOpParallelism.threads > 1, let inner = rowShape.dims.last, inner > 0, o.count >= 1 << 15 {
                        var rows: [(base: Int, a: Int, b: Int, sa: Int, sb: Int)] = []
                        rows.reserveCapacity(o.count / inner)
                        Broadcasting.forEachRow(rowShape, operands) { base, off, _, st in rows.append((base, off[0], off[1], st[0], st[1])) }
                        struct Rows: RangeTask {
                            let op: octet_binary_op, A: UnsafePointer<Float>, B: UnsafePointer<Float>, O: UnsafeMutablePointer<Float>, inner: Int
                            let rows: UnsafeBufferPointer<(base: Int, a: Int, b: Int, sa: Int, sb: Int)>
                            func callAsFunction(_ r: Range<Int>) {
                                for row in rows[r] { octet_f32_binary(op, A + row.a, row.sa, B + row.b, row.sb, O + row.base, inner) }
                            }
                        }
                        rows.withUnsafeBufferPointer { rp in
                            IntraOpParallelism.forEachChunk(rp.count, grain: Swift.max(1, (1 << 14) / inner), Rows(op: op, A: A, B: B, O: O, inner: inner, rows: rp))
                        }
                    } else {
                        Broadcasting.forEachRow(rowShape, operands) { base, off, n, st in
                            octet_f32_binary(op, A + off[0], st[0], B + off[1], st[1], O + base, n)
                        }
                    }
                }
            }
        }
    }

    @inline(__always) static func compare<T: TensorElement>(_ a: Tensor, _ b: Tensor, _ out: inout Tensor, as _: T.Type, _ f: (T, T) -> Bool) throws {
        let shape = out.shape
        try a.withUnsafeBufferPointer(as: T.self) { ap in
            try b.withUnsafeBufferPointer(as: T.self) { bp in
                try out.withUnsafeMutableBufferPointer(as: Bool.self) { o in
                    Broadcasting.forEachRow(shape, [a.shape, b.shape]) { base, off, n, st in
                        for i in 0..<n { o[base + i] = f(ap[off[0] + i * st[0]], bp[off[1] + i * st[1]]) }
                    }
                }
            }
        }
    }

    /// Copies the bytes of `x` into `out` (same element count and type).
    static func copy(_ x: Tensor, into out: inout Tensor) throws {
        guard x.byteCount == out.byteCount else { throw GraphError.node(node: "", opType: "copy", detail: "size mismatch") }
        x.withUnsafeBytes { src in out.withUnsafeMutableBytes { dst in dst.copyMemory(from: src) } }
    }

    /// Any tensor's values as Double (for index arithmetic and f32 helpers; 64-bit
    /// integers past 2^53 round).
    static func doubles(_ x: Tensor) throws -> [Double] {
        guard x.dtype != .f64 else { return try x.scalars(as: Double.self) }
        return try CastOperator.convert(x, to: .f64).scalars(as: Double.self)
    }
}
