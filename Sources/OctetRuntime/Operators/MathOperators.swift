import COctetGraphKernels
import Foundation
import OctetCore

/// Unary math and activations: element by element, output shape = input shape.
///
/// - floating functions (f32, f16, bf16 in single precision; f64 in double): Exp, Log, Floor, Ceil, Round (half to even), Reciprocal, Sin, Cos, Tan,
///   Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh, Softplus, Softsign, Mish, LeakyRelu,
///   Elu, Selu, Celu, ThresholdedRelu, Swish, Shrink.
/// - every numeric type: Abs, Neg, Sign.
/// - bool: Not; floating → bool: IsNaN, IsInf.
enum MathOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        let plain: [(String, FloatFunction)] = [
            ("Exp", .exp), ("Log", .log), ("Floor", .floor), ("Ceil", .ceil), ("Round", .round), ("Reciprocal", .reciprocal),
            ("Sin", .sin), ("Cos", .cos), ("Tan", .tan), ("Asin", .asin), ("Acos", .acos), ("Atan", .atan),
            ("Sinh", .sinh), ("Cosh", .cosh), ("Asinh", .asinh), ("Acosh", .acosh), ("Atanh", .atanh),
            ("Softplus", .softplus), ("Softsign", .softsign), ("Mish", .mish),
        ]
        for (name, function) in plain {
            f[name] = { n, _ in FloatMapOperator(site: OperatorSite(n), function: function) }
        }
        f["LeakyRelu"] = { n, _ in FloatMapOperator(site: OperatorSite(n), function: .leakyRelu(try n.float("alpha", default: 0.01))) }
        f["Elu"] = { n, _ in FloatMapOperator(site: OperatorSite(n), function: .elu(try n.float("alpha", default: 1))) }
        f["Selu"] = { n, _ in
            FloatMapOperator(site: OperatorSite(n), function: .selu(alpha: try n.float("alpha", default: 1.67326319217681884765625),
                                                                    gamma: try n.float("gamma", default: 1.05070102214813232421875)))
        }
        f["Celu"] = { n, _ in
            let alpha = try n.float("alpha", default: 1)
            guard alpha != 0 else { throw GraphError.attribute(node: n.name, opType: n.opType, name: "alpha", expected: "a non-zero float", got: "0") }
            return FloatMapOperator(site: OperatorSite(n), function: .celu(alpha))
        }
        f["ThresholdedRelu"] = { n, _ in FloatMapOperator(site: OperatorSite(n), function: .thresholdedRelu(try n.float("alpha", default: 1))) }
        f["Swish"] = { n, _ in FloatMapOperator(site: OperatorSite(n), function: .swish(try n.float("alpha", default: 1))) }
        f["Shrink"] = { n, _ in
            FloatMapOperator(site: OperatorSite(n), function: .shrink(lambda: try n.float("lambd", default: 0.5), bias: try n.float("bias", default: 0)))
        }
        f["Abs"] = { n, _ in SignedMapOperator(site: OperatorSite(n), function: .abs) }
        f["Neg"] = { n, _ in SignedMapOperator(site: OperatorSite(n), function: .neg) }
        f["Sign"] = { n, _ in SignedMapOperator(site: OperatorSite(n), function: .sign) }
        f["Not"] = { n, _ in NotOperator(site: OperatorSite(n)) }
        f["IsNaN"] = { n, _ in FloatTestOperator(site: OperatorSite(n), test: .nan) }
        f["IsInf"] = { n, _ in
            FloatTestOperator(site: OperatorSite(n), test: .inf(negative: try n.int("detect_negative", default: 1) != 0,
                                                                 positive: try n.int("detect_positive", default: 1) != 0))
        }
    }
}

/// An f32 → f32 function.
enum FloatFunction: FloatUnaryFunction {
    case exp, log, floor, ceil, round, reciprocal
    case sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh
    case softplus, softsign, mish
    case leakyRelu(Float), elu(Float), celu(Float), thresholdedRelu(Float), swish(Float)
    case selu(alpha: Float, gamma: Float)
    case shrink(lambda: Float, bias: Float)

    /// The function in precision `N` (f32 or f64); attributes are f32 as ONNX stores them.
    func callAsFunction<N: FloatMath>(_ x: N) -> N {
        switch self {
        case .exp: N.exp(x)
        case .log: N.log(x)
        case .floor: x.rounded(.down)
        case .ceil: x.rounded(.up)
        case .round: x.rounded(.toNearestOrEven)
        case .reciprocal: 1 / x
        case .sin: N.sin(x)
        case .cos: N.cos(x)
        case .tan: N.tan(x)
        case .asin: N.asin(x)
        case .acos: N.acos(x)
        case .atan: N.atan(x)
        case .sinh: N.sinh(x)
        case .cosh: N.cosh(x)
        case .asinh: N.asinh(x)
        case .acosh: N.acosh(x)
        case .atanh: N.atanh(x)
        case .softplus: Self.logOnePlusExp(x)
        case .softsign: x / (1 + Swift.abs(x))
        case .mish: x * N.tanh(Self.logOnePlusExp(x))
        case let .leakyRelu(alpha): x < 0 ? N(alpha) * x : x
        case let .elu(alpha): x < 0 ? N(alpha) * (N.exp(x) - 1) : x
        case let .celu(alpha): Swift.max(0, x) + Swift.min(0, N(alpha) * (N.exp(x / N(alpha)) - 1))
        case let .thresholdedRelu(alpha): x > N(alpha) ? x : 0
        case let .swish(alpha): x / (1 + N.exp(-N(alpha) * x))
        case let .selu(alpha, gamma): x > 0 ? N(gamma) * x : N(gamma) * (N(alpha) * N.exp(x) - N(alpha))
        case let .shrink(lambda, bias): x < -N(lambda) ? x + N(bias) : (x > N(lambda) ? x - N(bias) : 0)
        }
    }

    /// log(1 + e^x) without overflow for large x.
    static func logOnePlusExp<N: FloatMath>(_ x: N) -> N { x > 20 ? x : N.log1p(N.exp(x)) }
}

/// `y = f(x)` for a floating function, on every floating type (f64 computed in double,
/// f32, f16 and bf16 in single precision).
struct FloatMapOperator: GraphOperator {
    let site: OperatorSite
    let function: FloatFunction

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype.isFloatingPoint else { throw site.error("needs a floating-point input, got \(t.dtype)") }
        return [t]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        if x.dtype == .f32, case .swish(1) = function {
            // SiLU (what `SiLUFusion` makes of x · Sigmoid(x)): the vectorized kernel, with
            // the bits of Sigmoid then Mul.
            try x.withUnsafeBufferPointer(as: Float.self) { src in
                try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in UnaryOperator.vector(OCTET_SILU, src, dst) }
            }
            return
        }
        guard try x.dtype.visitFloat(FloatMapKernel(function: function, x: x), into: &outputs[0]) != nil else {
            throw site.error("needs a floating-point input, got \(x.dtype)")
        }
    }
}

/// Abs, Neg and Sign on any numeric type (integers wrap: Neg of the minimum is itself).
struct SignedMapOperator: GraphOperator {
    enum Function: Sendable { case abs, neg, sign }
    let site: OperatorSite
    let function: Function

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype.isNumeric else { throw site.error("needs a numeric input, got \(t.dtype)") }
        return [t]
    }

    struct Kernel: NumericVisitor {
        let function: Function
        let x: Tensor

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws {
            let f = function
            return try Elementwise.map(x, into: &out) { (v: T) in Self.apply(f, v) }
        }

        static func apply<T: NumericElement>(_ f: Function, _ v: T) -> T {
            switch f {
            case .sign: return v > .zero ? .one : (v < .zero ? T(converting: -1) : (T.isFloatingPoint ? v : .zero))
            case .abs: return v < .zero ? v.wrappingNegated : v
            case .neg: return v.wrappingNegated
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        guard try x.dtype.visitNumeric(Kernel(function: function, x: x), into: &outputs[0]) != nil else {
            throw site.error("needs a numeric input, got \(x.dtype)")
        }
    }
}

/// Logical not of a bool tensor.
struct NotOperator: GraphOperator {
    let site: OperatorSite

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype == .bool else { throw site.error("needs a bool input, got \(t.dtype)") }
        return [t]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        try x.withUnsafeBufferPointer(as: Bool.self) { src in
            try outputs[0].withUnsafeMutableBufferPointer(as: Bool.self) { dst in
                for i in 0..<src.count { dst[i] = !src[i] }
            }
        }
    }
}

/// IsNaN and IsInf: any floating type in, bool out.
struct FloatTestOperator: GraphOperator {
    enum Test: Sendable { case nan, inf(negative: Bool, positive: Bool) }
    let site: OperatorSite
    let test: Test

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype.isFloatingPoint else { throw site.error("needs a floating-point input, got \(t.dtype)") }
        return [ValueType(.bool, t.shape)]
    }

    struct Kernel: FloatVisitor {
        let test: Test
        let x: Tensor

        func visit<T: FloatElement>(_: T.Type, into out: inout Tensor) throws {
            let test = test
            return try Elementwise.map(x, into: &out) { (e: T) -> Bool in
                let v = e.native
                switch test {
                case .nan: return v.isNaN
                case let .inf(negative, positive): return v.isInfinite && (v < 0 ? negative : positive)
                }
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        guard try x.dtype.visitFloat(Kernel(test: test, x: x), into: &outputs[0]) != nil else {
            throw site.error("needs a floating-point input, got \(x.dtype)")
        }
    }
}
