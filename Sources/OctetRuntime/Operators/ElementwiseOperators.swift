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
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "to", expected: "FLOAT, FLOAT16, UINT8, INT8, INT32, INT64 or BOOL", got: "type code \(to)")
            }
            return CastOperator(site: OperatorSite(n), to: dtype)
        }
    }

    static func castTarget(_ code: Int) -> DType? {
        [1: DType.f32, 2: .u8, 3: .s8, 6: .s32, 7: .s64, 9: .bool, 10: .f16][code]
    }
}

/// Add, Sub, Mul, Div, Pow with NumPy broadcasting, on f32, s32 and s64; Add, Sub, Mul
/// and Div also on u8 and s8. Integer results wrap around (two's complement, as NumPy and
/// ONNX Runtime); integer division truncates toward zero.
struct BinaryOperator: GraphOperator {
    enum Arithmetic: Sendable { case add, sub, mul, div, pow }
    let site: OperatorSite
    let op: Arithmetic

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let a = try site.type(inputs, 0), b = try site.type(inputs, 1)
        guard op == .pow || a.dtype == b.dtype else { throw site.error("operand types differ: \(a.dtype) and \(b.dtype)") }
        guard [.f32, .s32, .s64].contains(a.dtype) || (op != .pow && a.dtype.isQuantized8Bit) else {
            throw site.error("\(a.dtype) operands are not supported (f32, int32, int64\(op == .pow ? "" : ", uint8, int8") are)")
        }
        guard let sa = a.shape, let sb = b.shape else { return [ValueType(a.dtype, nil)] }
        guard let s = Broadcasting.shape(sa, sb) else { throw site.error("shapes \(sa) and \(sb) do not broadcast") }
        return [ValueType(a.dtype, s)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let a = try site.tensor(inputs, 0), b = try site.tensor(inputs, 1)
        switch a.dtype {
        case .f32 where op != .pow && b.dtype == .f32:
            try Elementwise.binaryF32(a, b, &outputs[0], op == .add ? OCTET_ADD : op == .sub ? OCTET_SUB : op == .mul ? OCTET_MUL : OCTET_DIV)
        case .f32:
            let bf: Tensor = b.dtype == .f32 ? b : try CastOperator.convert(b, to: .f32)
            try Elementwise.binary(a, bf, &outputs[0], as: Float.self, floatOp())
        // Pow of integers by another type: the exponent in the base's type (as ONNX Runtime).
        case .s64: try Elementwise.binary(a, b.dtype == .s64 ? b : try CastOperator.convert(b, to: .s64), &outputs[0], as: Int64.self, intOp())
        case .s32: try Elementwise.binary(a, b.dtype == .s32 ? b : try CastOperator.convert(b, to: .s32), &outputs[0], as: Int32.self, intOp())
        case .u8 where op != .pow: try Elementwise.binary(a, b, &outputs[0], as: UInt8.self, intOp())
        case .s8 where op != .pow: try Elementwise.binary(a, b, &outputs[0], as: Int8.self, intOp())
        default: throw site.error("\(a.dtype) operands are not supported")
        }
    }

    private func floatOp() -> (Float, Float) -> Float {
        switch op {
        case .add: { $0 + $1 }
        case .sub: { $0 - $1 }
        case .mul: { $0 * $1 }
        case .div: { $0 / $1 }
        case .pow: { x, y in y == 2 ? x * x : (y == 3 ? x * x * x : Foundation.pow(x, y)) }
        }
    }

    private func intOp<T: FixedWidthInteger>() -> (T, T) -> T {
        switch op {
        case .add: { $0 &+ $1 }
        case .sub: { $0 &- $1 }
        case .mul: { $0 &* $1 }
        // Integer division truncates toward zero (as ONNX Runtime does); x / 0 gives 0, not a trap.
        case .div: { $1 == 0 ? 0 : ($0 == T.min && $1 == -1 ? T.min : $0 / $1) }
        case .pow: { x, y in
            guard y >= 0 else { return 0 }
            var r: T = 1
            for _ in 0..<min(Int(y), 64) { r = r &* x }
            return r
        }
        }
    }
}

/// `Equal` on numbers or booleans, giving bool.
struct EqualOperator: GraphOperator {
    let site: OperatorSite

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let a = try site.type(inputs, 0), b = try site.type(inputs, 1)
        guard a.dtype == b.dtype else { throw site.error("operand types differ: \(a.dtype) and \(b.dtype)") }
        guard let sa = a.shape, let sb = b.shape else { return [ValueType(.bool, nil)] }
        guard let s = Broadcasting.shape(sa, sb) else { throw site.error("shapes \(sa) and \(sb) do not broadcast") }
        return [ValueType(.bool, s)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let a = try site.tensor(inputs, 0), b = try site.tensor(inputs, 1)
        switch a.dtype {
        case .f32: try Elementwise.compare(a, b, &outputs[0], as: Float.self, ==)
        case .s64: try Elementwise.compare(a, b, &outputs[0], as: Int64.self, ==)
        case .s32: try Elementwise.compare(a, b, &outputs[0], as: Int32.self, ==)
        case .bool: try Elementwise.compare(a, b, &outputs[0], as: Bool.self, ==)
        case .u8: try Elementwise.compare(a, b, &outputs[0], as: UInt8.self, ==)
        case .s8: try Elementwise.compare(a, b, &outputs[0], as: Int8.self, ==)
        case .f16: throw site.error("f16 operands are not supported")
        }
    }
}

/// `Where(condition, x, y)` with three-way broadcasting.
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

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let c = try site.tensor(inputs, 0), x = try site.tensor(inputs, 1), y = try site.tensor(inputs, 2)
        func select<T: TensorElement>(_: T.Type) throws {
            let shape = outputs[0].shape
            try c.withUnsafeBufferPointer(as: Bool.self) { cp in
                try x.withUnsafeBufferPointer(as: T.self) { xp in
                    try y.withUnsafeBufferPointer(as: T.self) { yp in
                        try outputs[0].withUnsafeMutableBufferPointer(as: T.self) { o in
                            Broadcasting.forEachRow(shape, [c.shape, x.shape, y.shape]) { base, off, n, st in
                                for i in 0..<n { o[base + i] = cp[off[0] + i * st[0]] ? xp[off[1] + i * st[1]] : yp[off[2] + i * st[2]] }
                            }
                        }
                    }
                }
            }
        }
        switch x.dtype {
        case .f32: try select(Float.self)
        case .s64: try select(Int64.self)
        case .s32: try select(Int32.self)
        case .bool: try select(Bool.self)
        case .u8: try select(UInt8.self)
        case .s8: try select(Int8.self)
        case .f16: throw site.error("f16 operands are not supported")
        }
    }
}

/// Unary f32 functions.
struct UnaryOperator: GraphOperator {
    enum Function: Sendable {
        case identity, relu, sigmoid, tanh, sqrt, erf, hardSwish, gelu, geluTanh
        case hardSigmoid(alpha: Float, beta: Float)
    }
    let site: OperatorSite
    let function: Function

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        if case .identity = function { return [t] }
        guard t.dtype == .f32 else { throw site.error("needs f32 input, got \(t.dtype)") }
        return [t]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        if case .identity = function {
            try Elementwise.copy(x, into: &outputs[0])
            return
        }
        try x.withUnsafeBufferPointer(as: Float.self) { src in
            try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
                Self.apply(function, src, dst)
            }
        }
    }

    static func apply(_ function: Function, _ src: UnsafeBufferPointer<Float>, _ dst: UnsafeMutableBufferPointer<Float>) {
        let n = src.count
        func vector(_ op: octet_unary_op) {
            if let s = src.baseAddress, let d = dst.baseAddress {
                IntraOpParallelism.forEachChunk(n, grain: 1 << 13) { r in octet_f32_unary(op, s + r.lowerBound, d + r.lowerBound, r.count) }
            }
        }
        switch function {
        case .identity: for i in 0..<n { dst[i] = src[i] }
        case .relu:
            if let s = src.baseAddress, let d = dst.baseAddress {
                IntraOpParallelism.forEachChunk(n, grain: 1 << 14) { r in octet_f32_clamp(s + r.lowerBound, d + r.lowerBound, r.count, 0, .infinity) }
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
        let x: Tensor, low: Tensor?, high: Tensor?, out: Tensor

        func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
            let lo = try low.flatMap { try $0.scalars(as: T.self).first } ?? T.lowest
            let hi = try high.flatMap { try $0.scalars(as: T.self).first } ?? T.highest
            var out = out
            try x.withUnsafeBufferPointer(as: T.self) { s in
                try out.withUnsafeMutableBufferPointer(as: T.self) { d in for i in 0..<s.count { d[i] = Swift.min(Swift.max(s[i], lo), hi) } }
            }
            return out
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
            guard let out = try x.dtype.visitNumeric(IntegerKernel(x: x, low: try bound(1), high: try bound(2), out: outputs[0])) else {
                throw site.error("needs a numeric input, got \(x.dtype)")
            }
            outputs[0] = out
            return
        }
        let (lo, hi) = try bounds(inputs)
        try x.withUnsafeBufferPointer(as: Float.self) { src in
            try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
                if let s = src.baseAddress, let d = dst.baseAddress {
                    IntraOpParallelism.forEachChunk(src.count, grain: 1 << 14) { r in octet_f32_clamp(s + r.lowerBound, d + r.lowerBound, r.count, lo, hi) }
                }
            }
        }
    }
}

/// `Cast` between the supported element types.
struct CastOperator: GraphOperator {
    let site: OperatorSite
    let to: DType

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        [ValueType(to, try site.type(inputs, 0).shape)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        outputs[0] = try Self.convert(try site.tensor(inputs, 0), to: to, into: outputs[0])
    }

    /// Converts element by element (floats to integers truncate toward zero, saturating).
    static func convert(_ x: Tensor, to: DType, into existing: Tensor? = nil) throws -> Tensor {
        let values = try Elementwise.doubles(x)
        var out = try existing ?? Tensor(zeros: to, shape: x.shape)
        func fill<T: TensorElement>(_: T.Type, _ f: (Double) -> T) throws {
            try out.withUnsafeMutableBufferPointer(as: T.self) { d in for i in values.indices { d[i] = f(values[i]) } }
        }
        switch to {
        case .f32: try fill(Float.self) { Float($0) }
        case .f16:
            #if arch(x86_64) || arch(arm64)
            try fill(Float16.self) { Float16(Float($0)) }
            #endif
        case .u8: try fill(UInt8.self) { $0.isNaN ? 0 : UInt8(clamping: Int64(max(min($0, 1e18), -1e18))) }
        case .s8: try fill(Int8.self) { $0.isNaN ? 0 : Int8(clamping: Int64(max(min($0, 1e18), -1e18))) }
        case .s32: try fill(Int32.self) { $0.isNaN ? 0 : Int32(clamping: Int64(max(min($0, 1e18), -1e18))) }
        case .s64: try fill(Int64.self) { $0.isNaN ? 0 : Int64(max(min($0, 9.2e18), -9.2e18)) }
        case .bool: try fill(Bool.self) { $0 != 0 }
        }
        return out
    }
}

/// Loops shared by the elementwise operators.
enum Elementwise {
    static func binary<T: TensorElement>(_ a: Tensor, _ b: Tensor, _ out: inout Tensor, as _: T.Type, _ f: (T, T) -> T) throws {
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
                    if aShape == shape && bShape == shape {
                        octet_f32_binary(op, A, 1, B, 1, O, o.count)
                    } else if aShape == shape && bShape.elementCount == 1 {
                        octet_f32_binary(op, A, 1, B, 0, O, o.count)
                    } else if bShape == shape && aShape.elementCount == 1 {
                        octet_f32_binary(op, A, 0, B, 1, O, o.count)
                    } else {
                        Broadcasting.forEachRow(shape, [aShape, bShape]) { base, off, n, st in
                            octet_f32_binary(op, A + off[0], st[0], B + off[1], st[1], O + base, n)
                        }
                    }
                }
            }
        }
    }

    static func compare<T: TensorElement>(_ a: Tensor, _ b: Tensor, _ out: inout Tensor, as _: T.Type, _ f: (T, T) -> Bool) throws {
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

    /// Any tensor's values as Double (for casts and index arithmetic).
    static func doubles(_ x: Tensor) throws -> [Double] {
        switch x.dtype {
        case .f32: return try x.scalars(as: Float.self).map(Double.init)
        case .f16:
            #if arch(x86_64) || arch(arm64)
            return try x.scalars(as: Float16.self).map { Double(Float($0)) }
            #else
            throw TensorError.dtypeMismatch(expected: .f32, got: .f16)
            #endif
        case .u8: return try x.scalars(as: UInt8.self).map(Double.init)
        case .s8: return try x.scalars(as: Int8.self).map(Double.init)
        case .s32: return try x.scalars(as: Int32.self).map(Double.init)
        case .s64: return try x.scalars(as: Int64.self).map(Double.init)
        case .bool: return try x.scalars(as: Bool.self).map { $0 ? 1 : 0 }
        }
    }
}
