import Foundation
import OctetCore

/// ONNX LpPool (opsets 1–22): `y = (Σ |x|^p)^(1/p)` over each window of an
/// N x C x D1 x … x Dk input (k ≥ 1, row-major), padding counting as 0. The window
/// geometry (kernel_shape, strides, dilations, pads, auto_pad, ceil_mode) is `WindowGeometry`'s,
/// shared with the other pools. Any floating element type; sums are accumulated in Double and
/// rounded once to the element type. Formula: onnx/defs/nn/defs.cc (LpPool) and the
/// `pool(..., "LPPOOL", p)` helper of onnx's backend test cases.
struct LpPoolOperator: GraphOperator {
    let site: OperatorSite
    let window: WindowGeometry
    let p: Int

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["LpPool"] = { n, _ in try LpPoolOperator(n) }
    }

    /// - Throws: `GraphError` naming the node when kernel_shape is missing or empty, p < 1,
    ///   or the window attributes are inconsistent.
    init(_ n: Node) throws {
        site = OperatorSite(n)
        guard let k = try n.ints("kernel_shape"), !k.isEmpty else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "kernel_shape", expected: "a non-empty list of ints", got: "nothing")
        }
        window = try WindowGeometry(n, kernel: k)
        p = try n.int("p", default: 2)
        guard p >= 1 else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "p", expected: "an integer ≥ 1", got: "\(p)")
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        guard t.dtype.isFloatingPoint else { throw site.error("needs a floating-point input, got \(t.dtype)") }
        guard let s = t.shape else { return [t] }
        guard s.rank == window.kernel.count + 2 else {
            throw site.error("needs an N x C x spatial input of rank \(window.kernel.count + 2) (kernel_shape \(window.kernel)), got \(s)")
        }
        let spatial = s.dims[2...].compactMap(\.value)
        guard spatial.count == window.kernel.count else {
            return [site.runtimeShaped(t.dtype, rank: s.rank, "spatial")]
        }
        let out = try window.resolve(spatial).output
        return [ValueType(t.dtype, SymbolicShape([s.dims[0], s.dims[1]] + out.map { .fixed($0) }))]
    }

    struct Kernel: FloatVisitor {
        let x: Tensor
        let windows: PoolWindows
        let p: Int

        func visit<T: FloatElement>(_: T.Type, into out: inout Tensor) throws {
            let p = p, exponent = 1 / Double(p)
            try windows.pool(x, into: &out, as: T.self) { _, src, base, offsets, _ in
                var sum = 0.0
                for offset in offsets {
                    let v = abs(src[base + offset].asDouble)
                    sum += p == 1 ? v : (p == 2 ? v * v : Foundation.pow(v, Double(p)))
                }
                return T(converting: p == 1 ? sum : (p == 2 ? sum.squareRoot() : Foundation.pow(sum, exponent)))
            }
        }
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        guard x.shape.rank == window.kernel.count + 2 else {
            throw site.error("needs an N x C x spatial input of rank \(window.kernel.count + 2) (kernel_shape \(window.kernel)), got \(x.shape)")
        }
        let (pads, output) = try window.resolve(Array(x.shape.dims[2...]))
        let input = Array(x.shape.dims[2...])
        let kernel = Kernel(x: x, windows: try PoolWindows(input: input, output: output, window: window, pads: pads), p: p)
        guard try x.dtype.visitFloat(kernel, into: &outputs[0]) != nil else {
            throw site.error("needs a floating-point input, got \(x.dtype)")
        }
    }
}
