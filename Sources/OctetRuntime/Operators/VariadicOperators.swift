import OctetCore

/// Max, Min, Sum, Mean over one or more inputs, all broadcast together (NumPy rules).
/// Max, Min and Sum take any numeric type (a NaN operand gives NaN in Max and Min, as
/// ONNX Runtime; integer sums wrap); Mean takes the floating types.
enum VariadicOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        for (name, op) in [("Max", VariadicOperator.Fold.max), ("Min", .min), ("Sum", .sum), ("Mean", .mean)] {
            f[name] = { n, _ in VariadicOperator(site: OperatorSite(n), fold: op) }
        }
    }
}

struct VariadicOperator: GraphOperator {
    enum Fold: Sendable { case max, min, sum, mean }
    let site: OperatorSite
    let fold: Fold

    func accepts(_ d: DType) -> Bool {
        switch fold {
        case .max, .min, .sum: d.isNumeric
        case .mean: d.isFloatingPoint
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let present = inputs.compactMap { $0 }
        guard let first = present.first else { throw site.error("needs at least one input") }
        for t in present {
            guard t.dtype == first.dtype else { throw site.error("operand types differ: \(first.dtype) and \(t.dtype)") }
        }
        guard accepts(first.dtype) else { throw site.error("\(first.dtype) operands are not supported") }
        let shapes = present.compactMap(\.shape)
        guard shapes.count == present.count else { return [ValueType(first.dtype, nil)] }
        guard let s = Broadcasting.shape(shapes) else { throw site.error("shapes \(shapes.map(\.description).joined(separator: ", ")) do not broadcast") }
        return [ValueType(first.dtype, s)]
    }

    struct Kernel: NumericVisitor {
        let fold: Fold
        let operands: [Tensor]

        func combine<T: NumericElement>(_ x: T, _ y: T) -> T {
            switch fold {
            case .max: x.isNaNValue || y.isNaNValue ? T(converting: .nan) : Swift.max(x, y)
            case .min: x.isNaNValue || y.isNaNValue ? T(converting: .nan) : Swift.min(x, y)
            case .sum, .mean: x.wrappingAdding(y)
            }
        }

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws {
            // Fold left: each step broadcasts the running value with the next operand into
            // the output's shape (a smaller running value is broadcast in place).
            var acc = operands[0]
            for next in operands.dropFirst() {
                var step = try Tensor(zeros: out.dtype, shape: TensorShape(Broadcasting.shapeOf(acc.shape, next.shape)))
                try Elementwise.binary(acc, next, &step, as: T.self) { combine($0, $1) }
                acc = step
            }
            if acc.shape != out.shape {
                // One operand (or all the same small shape): broadcast it to the output.
                let ones = try Tensor(zeros: out.dtype, shape: out.shape)
                try Elementwise.binary(ones, acc, &out, as: T.self) { $1 }
            } else {
                try Elementwise.copy(acc, into: &out)
            }
            if fold == .mean {
                let n = T(converting: Double(operands.count))
                try out.withUnsafeMutableBufferPointer(as: T.self) { d in for i in 0..<d.count { d[i] = d[i].dividing(n) } }
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let operands = inputs.compactMap { $0 }
        guard let first = operands.first else { throw site.error("needs at least one input") }
        guard try first.dtype.visitNumeric(Kernel(fold: fold, operands: operands), into: &outputs[0]) != nil else {
            throw site.error("\(first.dtype) operands are not supported")
        }
    }
}

extension Broadcasting {
    /// The broadcast of two concrete shapes (already checked to broadcast).
    static func shapeOf(_ a: TensorShape, _ b: TensorShape) -> [Int] {
        let r = max(a.rank, b.rank)
        return (0..<r).map { i in
            let x = i - (r - a.rank) >= 0 ? a.dims[i - (r - a.rank)] : 1
            let y = i - (r - b.rank) >= 0 ? b.dims[i - (r - b.rank)] : 1
            return x == 1 ? y : x
        }
    }
}
