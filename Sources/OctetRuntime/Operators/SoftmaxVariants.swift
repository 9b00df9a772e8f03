import Foundation
import OctetCore

/// LogSoftmax and Hardmax (f32). As Softmax: before opset 13 the input is read as 2-D,
/// flattened at `axis` (default 1); from 13 they run along one axis (default -1).
enum SoftmaxVariants {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["LogSoftmax"] = { n, opset in
            AxisRowsOperator(site: OperatorSite(n), axis: try n.int("axis", default: opset < 13 ? 1 : -1), coerced: opset < 13, function: .logSoftmax)
        }
        f["Hardmax"] = { n, opset in
            AxisRowsOperator(site: OperatorSite(n), axis: try n.int("axis", default: opset < 13 ? 1 : -1), coerced: opset < 13, function: .hardmax)
        }
    }
}

/// A function of each run of values along an axis (or, coerced, of each trailing block).
struct AxisRowsOperator: GraphOperator {
    enum Function: Sendable {
        /// `x - max - log(sum(exp(x - max)))`.
        case logSoftmax
        /// 1 at the first maximum, 0 elsewhere.
        case hardmax
    }
    let site: OperatorSite
    let axis: Int
    let coerced: Bool
    let function: Function

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype == .f32 else { throw site.error("needs f32 input, got \(t.dtype)") }
        if let s = t.shape { _ = try site.axis(axis, rank: s.rank) }
        return [t]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let shape = x.shape
        let a = try site.axis(axis, rank: shape.rank)
        let len = coerced ? shape.dims[a...].reduce(1, *) : (shape.rank == 0 ? 1 : shape.dims[a])
        let stride = coerced ? 1 : shape.dims[(a + 1)...].reduce(1, *)
        let outer = shape.elementCount / max(len * stride, 1)
        let function = function
        try x.withUnsafeBufferPointer(as: Float.self) { src in
            try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
                for o in 0..<outer {
                    for s in 0..<stride {
                        let base = o * len * stride + s
                        var m = -Float.infinity, at = 0
                        for i in 0..<len where src[base + i * stride] > m || i == 0 {
                            m = src[base + i * stride]
                            at = i
                        }
                        switch function {
                        case .hardmax:
                            for i in 0..<len { dst[base + i * stride] = i == at ? 1 : 0 }
                        case .logSoftmax:
                            var sum: Double = 0
                            for i in 0..<len { sum += Foundation.exp(Double(src[base + i * stride] - m)) }
                            let logSum = Float(Foundation.log(sum))
                            for i in 0..<len { dst[base + i * stride] = src[base + i * stride] - m - logSum }
                        }
                    }
                }
            }
        }
    }
}
