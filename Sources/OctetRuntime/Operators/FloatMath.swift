import Foundation
import OctetCore

/// The elementary functions of a native floating type (`Float` or `Double`), so that one
/// generic function serves f32, f64 (in double precision) and f16/bf16 (through f32).
/// Each is the C library's function of that precision (`expf` / `exp`, …).
protocol FloatMath: BinaryFloatingPoint, Sendable {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
    static func sin(_ x: Self) -> Self
    static func cos(_ x: Self) -> Self
    static func tan(_ x: Self) -> Self
    static func asin(_ x: Self) -> Self
    static func acos(_ x: Self) -> Self
    static func atan(_ x: Self) -> Self
    static func sinh(_ x: Self) -> Self
    static func cosh(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func asinh(_ x: Self) -> Self
    static func acosh(_ x: Self) -> Self
    static func atanh(_ x: Self) -> Self
    static func erf(_ x: Self) -> Self
}

extension Float: FloatMath {
    static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    static func log(_ x: Float) -> Float { Foundation.log(x) }
    static func log1p(_ x: Float) -> Float { Foundation.log1p(x) }
    static func pow(_ x: Float, _ y: Float) -> Float { Foundation.pow(x, y) }
    static func sin(_ x: Float) -> Float { Foundation.sin(x) }
    static func cos(_ x: Float) -> Float { Foundation.cos(x) }
    static func tan(_ x: Float) -> Float { Foundation.tan(x) }
    static func asin(_ x: Float) -> Float { Foundation.asin(x) }
    static func acos(_ x: Float) -> Float { Foundation.acos(x) }
    static func atan(_ x: Float) -> Float { Foundation.atan(x) }
    static func sinh(_ x: Float) -> Float { Foundation.sinh(x) }
    static func cosh(_ x: Float) -> Float { Foundation.cosh(x) }
    static func tanh(_ x: Float) -> Float { Foundation.tanh(x) }
    static func asinh(_ x: Float) -> Float { Foundation.asinh(x) }
    static func acosh(_ x: Float) -> Float { Foundation.acosh(x) }
    static func atanh(_ x: Float) -> Float { Foundation.atanh(x) }
    static func erf(_ x: Float) -> Float { Foundation.erf(x) }
}

extension Double: FloatMath {
    static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    static func log(_ x: Double) -> Double { Foundation.log(x) }
    static func log1p(_ x: Double) -> Double { Foundation.log1p(x) }
    static func pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
    static func sin(_ x: Double) -> Double { Foundation.sin(x) }
    static func cos(_ x: Double) -> Double { Foundation.cos(x) }
    static func tan(_ x: Double) -> Double { Foundation.tan(x) }
    static func asin(_ x: Double) -> Double { Foundation.asin(x) }
    static func acos(_ x: Double) -> Double { Foundation.acos(x) }
    static func atan(_ x: Double) -> Double { Foundation.atan(x) }
    static func sinh(_ x: Double) -> Double { Foundation.sinh(x) }
    static func cosh(_ x: Double) -> Double { Foundation.cosh(x) }
    static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    static func asinh(_ x: Double) -> Double { Foundation.asinh(x) }
    static func acosh(_ x: Double) -> Double { Foundation.acosh(x) }
    static func atanh(_ x: Double) -> Double { Foundation.atanh(x) }
    static func erf(_ x: Double) -> Double { Foundation.erf(x) }
}

/// A function of one floating value, written once for every native precision.
protocol FloatUnaryFunction: Sendable {
    func callAsFunction<N: FloatMath>(_ x: N) -> N
}

/// `y = f(x)` over a floating tensor, computed in its type's native precision
/// (`FloatElement.Native`: f64 in double; f32, f16 and bf16 in single, rounded once).
struct FloatMapKernel<F: FloatUnaryFunction>: FloatVisitor {
    let function: F
    let x: Tensor

    func visit<T: FloatElement>(_: T.Type, into out: inout Tensor) throws {
        let f = function
        return try Elementwise.map(x, into: &out) { (v: T) in T(native: f(v.native)) }
    }
}
