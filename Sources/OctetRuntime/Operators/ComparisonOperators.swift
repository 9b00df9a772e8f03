import Foundation
import OctetCore

/// Binary ops with NumPy broadcasting beyond arithmetic: comparisons (numeric → bool),
/// logic (bool), bitwise ops and shifts (integers), Mod, PRelu.
enum ComparisonOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        for (name, c) in [("Less", Comparison.less), ("Greater", .greater), ("LessOrEqual", .lessOrEqual), ("GreaterOrEqual", .greaterOrEqual)] {
            f[name] = { n, _ in CompareOperator(site: OperatorSite(n), comparison: c) }
        }
        for (name, l) in [("And", Logic.and), ("Or", .or), ("Xor", .xor)] {
            f[name] = { n, _ in LogicOperator(site: OperatorSite(n), logic: l) }
        }
        for (name, b) in [("BitwiseAnd", Bitwise.and), ("BitwiseOr", .or), ("BitwiseXor", .xor)] {
            f[name] = { n, _ in BitwiseOperator(site: OperatorSite(n), op: b) }
        }
        f["BitShift"] = { n, _ in
            let direction = try n.string("direction", default: "")
            guard direction == "LEFT" || direction == "RIGHT" else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "direction", expected: "\"LEFT\" or \"RIGHT\"", got: "\"\(direction)\"")
            }
            return BitwiseOperator(site: OperatorSite(n), op: direction == "LEFT" ? .shiftLeft : .shiftRight)
        }
        f["BitwiseNot"] = { n, _ in BitwiseNotOperator(site: OperatorSite(n)) }
        f["Mod"] = { n, _ in ModOperator(site: OperatorSite(n), fmod: try n.int("fmod", default: 0) != 0) }
        f["PRelu"] = { n, _ in PReluOperator(site: OperatorSite(n)) }
    }
}

/// The broadcast output type of two same-typed operands, with `result` as element type.
func broadcastType(_ site: OperatorSite, _ inputs: [ValueType?], result: DType? = nil, accept: (DType) -> Bool, _ what: String) throws -> [ValueType] {
    let a = try site.type(inputs, 0), b = try site.type(inputs, 1)
    guard a.dtype == b.dtype else { throw site.error("operand types differ: \(a.dtype) and \(b.dtype)") }
    guard accept(a.dtype) else { throw site.error("needs \(what) operands, got \(a.dtype)") }
    guard let sa = a.shape, let sb = b.shape else { return [ValueType(result ?? a.dtype, nil)] }
    guard let s = Broadcasting.shape(sa, sb) else { throw site.error("shapes \(sa) and \(sb) do not broadcast") }
    return [ValueType(result ?? a.dtype, s)]
}

enum Comparison: Sendable { case less, greater, lessOrEqual, greaterOrEqual }

/// Less, Greater, LessOrEqual, GreaterOrEqual on numeric operands, giving bool.
struct CompareOperator: GraphOperator {
    let site: OperatorSite
    let comparison: Comparison

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        try broadcastType(site, inputs, result: .bool, accept: \.isNumeric, "numeric")
    }

    struct Kernel: NumericVisitor {
        let comparison: Comparison
        let a: Tensor, b: Tensor

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws {
            switch comparison {
            case .less: try Elementwise.compare(a, b, &out, as: T.self, <)
            case .greater: try Elementwise.compare(a, b, &out, as: T.self, >)
            case .lessOrEqual: try Elementwise.compare(a, b, &out, as: T.self, <=)
            case .greaterOrEqual: try Elementwise.compare(a, b, &out, as: T.self, >=)
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let a = try site.tensor(inputs, 0), b = try site.tensor(inputs, 1)
        guard try a.dtype.visitNumeric(Kernel(comparison: comparison, a: a, b: b), into: &outputs[0]) != nil else {
            throw site.error("needs numeric operands, got \(a.dtype)")
        }
    }
}

enum Logic: Sendable { case and, or, xor }

/// And, Or, Xor on bool operands.
struct LogicOperator: GraphOperator {
    let site: OperatorSite
    let logic: Logic

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        try broadcastType(site, inputs, accept: { $0 == .bool }, "bool")
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let a = try site.tensor(inputs, 0), b = try site.tensor(inputs, 1)
        switch logic {
        case .and: try Elementwise.binary(a, b, &outputs[0], as: Bool.self) { $0 && $1 }
        case .or: try Elementwise.binary(a, b, &outputs[0], as: Bool.self) { $0 || $1 }
        case .xor: try Elementwise.binary(a, b, &outputs[0], as: Bool.self) { $0 != $1 }
        }
    }
}

enum Bitwise: Sendable {
    case and, or, xor, shiftLeft, shiftRight

    func apply<T: FixedWidthInteger>(_ x: T, _ y: T) -> T {
        switch self {
        case .and: x & y
        case .or: x | y
        case .xor: x ^ y
        // Signed right shifts are arithmetic; a negative shift or one by the width or more
        // leaves only the sign extension: -1 for a right shift of a negative x, else 0.
        case .shiftLeft: y < 0 || y >= T.bitWidth ? 0 : x << y
        case .shiftRight: y < 0 || y >= T.bitWidth ? (x < 0 ? ~0 : 0) : x >> y
        }
    }
}

/// BitwiseAnd/Or/Xor and BitShift (opset 28: signed types too) on every integer type.
struct BitwiseOperator: GraphOperator {
    let site: OperatorSite
    let op: Bitwise

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        try broadcastType(site, inputs, accept: \.isInteger, "integer")
    }

    struct Kernel: IntegerVisitor {
        let op: Bitwise
        let a: Tensor, b: Tensor

        func visit<T: IntegerElement>(_: T.Type, into out: inout Tensor) throws {
            let op = op
            return try Elementwise.binary(a, b, &out, as: T.self) { op.apply($0, $1) }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let a = try site.tensor(inputs, 0), b = try site.tensor(inputs, 1)
        guard try a.dtype.visitInteger(Kernel(op: op, a: a, b: b), into: &outputs[0]) != nil else {
            throw site.error("needs integer operands, got \(a.dtype)")
        }
    }
}

/// BitwiseNot on every integer type.
struct BitwiseNotOperator: GraphOperator {
    let site: OperatorSite

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype.isInteger else { throw site.error("needs an integer input, got \(t.dtype)") }
        return [t]
    }

    struct Kernel: IntegerVisitor {
        let x: Tensor

        func visit<T: IntegerElement>(_: T.Type, into out: inout Tensor) throws {
            try Elementwise.map(x, into: &out) { (v: T) in ~v }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        guard try x.dtype.visitInteger(Kernel(x: x), into: &outputs[0]) != nil else { throw site.error("needs an integer input, got \(x.dtype)") }
    }
}

/// Mod on every numeric type: with `fmod = 0` the remainder takes the divisor's sign, as
/// Python's `%`; with `fmod = 1` it takes the dividend's, as C's `fmod`. A zero divisor
/// gives 0 for integers (ONNX Runtime traps) and NaN for floats.
struct ModOperator: GraphOperator {
    let site: OperatorSite
    let fmod: Bool

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        try broadcastType(site, inputs, accept: \.isNumeric, "numeric")
    }

    struct Kernel: NumericVisitor {
        let fmod: Bool
        let a: Tensor, b: Tensor

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws {
            let fmod = fmod
            return try Elementwise.binary(a, b, &out, as: T.self) { $0.remainder($1, fmod: fmod) }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let a = try site.tensor(inputs, 0), b = try site.tensor(inputs, 1)
        guard try a.dtype.visitNumeric(Kernel(fmod: fmod, a: a, b: b), into: &outputs[0]) != nil else {
            throw site.error("needs numeric operands, got \(a.dtype)")
        }
    }
}

/// PRelu: `x < 0 ? slope * x : x`, the slope broadcast to x's shape, on every numeric type.
struct PReluOperator: GraphOperator {
    let site: OperatorSite

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try broadcastType(site, inputs, accept: \.isNumeric, "numeric")
        let x = try site.type(inputs, 0)
        if let s = x.shape, let o = t[0].shape, s.rank != o.rank || zip(s.dims, o.dims).contains(where: { $0.value != nil && $1.value != nil && $0.value != $1.value }) {
            throw site.error("the slope must broadcast to the input's shape \(s)")
        }
        return t
    }

    struct Kernel: NumericVisitor {
        let a: Tensor, b: Tensor

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws {
            try Elementwise.binary(a, b, &out, as: T.self) { $0 < .zero ? $1.wrappingMultiplying($0) : $0 }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let a = try site.tensor(inputs, 0), b = try site.tensor(inputs, 1)
        guard try a.dtype.visitNumeric(Kernel(a: a, b: b), into: &outputs[0]) != nil else {
            throw site.error("needs numeric operands, got \(a.dtype)")
        }
    }
}
