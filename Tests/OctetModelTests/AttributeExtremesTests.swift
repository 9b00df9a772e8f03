import Foundation
import Octet
import Testing

/// A structured generator: 30 real ops (float, shape and quantized) with sound attributes
/// and constant inputs, each integer attribute value and each int64 constant element
/// replaced in turn by an extreme (±2^63, ±2^62, ±2^32, 2^31, -2 ... 3), every list entry at
/// once, lists shortened and lengthened. Every case is planned and run under a 64 MiB
/// budget: it runs or fails with an error naming the node; none crashes (a trap would end
/// the test process).
@Suite struct AttributeExtremesTests {
    typealias H = HostileGraph

    static let extremes: [Int] = [Int.min, Int.min + 1, -(1 << 62), -(1 << 32), -2, -1, 0, 1, 2, 3, 1 << 31, 1 << 32, 1 << 62, Int.max - 1, Int.max]

    /// One op with sound attributes and inputs (each runs as it stands).
    struct Seed: Sendable {
        var node: Node
        var inputs: [(String, DType, [Int])] = []
        var initializers: [String: Tensor] = [:]
        var opset = 17
    }

    static func seeds() throws -> [Seed] {
        let w = try H.floats(Array(repeating: 0.5, count: 18), [2, 1, 3, 3])
        let x4 = [("x", DType.f32, [1, 2, 6, 6])]
        let x2 = [("x", DType.f32, [4, 6])]
        func node(_ op: String, _ inputs: [String], _ attributes: [String: AttributeValue] = [:], outputs: [String] = ["y"]) -> Node {
            Node(name: "n_\(op)", opType: op, inputs: inputs, outputs: outputs, attributes: attributes)
        }
        let qconv: [String: Tensor] = [
            "xq": try Tensor([UInt8](repeating: 130, count: 72), shape: TensorShape([1, 2, 6, 6])), "xs": try H.scalar(Float(0.1)), "xz": try H.scalar(UInt8(128)),
            "wq": try Tensor([Int8](repeating: 2, count: 18), shape: TensorShape([2, 1, 3, 3])), "ws": try H.floats([0.01, 0.02], [2]),
            "wz": try Tensor([Int8](repeating: 0, count: 2), shape: TensorShape([2])), "ys": try H.scalar(Float(0.05)), "yz": try H.scalar(UInt8(10)),
        ]
        let conv: [String: AttributeValue] = ["kernel_shape": .ints([3, 3]), "strides": .ints([1, 2]), "pads": .ints([1, 1, 0, 2]), "dilations": .ints([1, 1]), "group": .int(2)]
        return [
            Seed(node: node("Conv", ["x", "w"], conv), inputs: x4, initializers: ["w": w]),
            Seed(node: node("ConvTranspose", ["x", "w"], ["strides": .ints([2, 1]), "pads": .ints([0, 1, 1, 0]), "dilations": .ints([1, 1]),
                                                          "output_padding": .ints([1, 0]), "group": .int(1)]),
                 inputs: [("x", .f32, [1, 2, 4, 4])], initializers: ["w": w]),
            Seed(node: node("ConvTranspose", ["x", "w"], ["strides": .ints([2, 2]), "output_shape": .ints([9, 8])]), inputs: [("x", .f32, [1, 2, 4, 4])], initializers: ["w": w]),
            Seed(node: node("MaxPool", ["x"], ["kernel_shape": .ints([2, 3]), "strides": .ints([2, 1]), "pads": .ints([1, 0, 1, 2]), "dilations": .ints([1, 2]), "ceil_mode": .int(1)]), inputs: x4),
            Seed(node: node("AveragePool", ["x"], ["kernel_shape": .ints([3, 2]), "strides": .ints([1, 2]), "pads": .ints([0, 1, 2, 1]), "count_include_pad": .int(1)]), inputs: x4),
            Seed(node: node("GlobalAveragePool", ["x"]), inputs: x4),
            Seed(node: node("Flatten", ["x"], ["axis": .int(2)]), inputs: x4),
            Seed(node: node("Softmax", ["x"], ["axis": .int(-1)]), inputs: x2),
            Seed(node: node("LayerNormalization", ["x", "g"], ["axis": .int(-1)]), inputs: x2, initializers: ["g": try H.floats(Array(repeating: 1, count: 6), [6])]),
            Seed(node: node("ReduceMean", ["x"], ["axes": .ints([1]), "keepdims": .int(1)]), inputs: x2),
            Seed(node: node("Concat", ["x", "x"], ["axis": .int(1)]), inputs: x2),
            Seed(node: node("Gather", ["x", "i"], ["axis": .int(1)]), inputs: x2, initializers: ["i": try H.ints([0, -1, 2])]),
            Seed(node: node("Transpose", ["x"], ["perm": .ints([1, 0])]), inputs: x2),
            Seed(node: node("Split", ["x", "s"], ["axis": .int(1)], outputs: ["a", "b"]), inputs: x2, initializers: ["s": try H.ints([2, 4])]),
            Seed(node: node("Split", ["x"], ["axis": .int(1), "num_outputs": .int(3)], outputs: ["a", "b", "c"]), inputs: x2, opset: 18),
            Seed(node: node("Squeeze", ["x", "a"]), inputs: [("x", .f32, [4, 1, 6])], initializers: ["a": try H.ints([1])]),
            Seed(node: node("Unsqueeze", ["x", "a"]), inputs: x2, initializers: ["a": try H.ints([0, 3])]),
            Seed(node: node("Slice", ["x", "s", "e", "a", "st"]), inputs: x2, initializers: ["s": try H.ints([1, -1]), "e": try H.ints([3, 0]), "a": try H.ints([0, 1]), "st": try H.ints([1, -2])]),
            Seed(node: node("Reshape", ["x", "s"]), inputs: x2, initializers: ["s": try H.ints([2, -1, 3])]),
            Seed(node: node("Expand", ["x", "s"]), inputs: [("x", .f32, [4, 1])], initializers: ["s": try H.ints([2, 4, 3])]),
            Seed(node: node("ConstantOfShape", ["s"]), initializers: ["s": try H.ints([3, 2])]),
            Seed(node: node("Range", ["a", "b", "c"]), initializers: ["a": try H.scalar(Int64(1)), "b": try H.scalar(Int64(9)), "c": try H.scalar(Int64(3))]),
            Seed(node: node("Shape", ["x"], ["start": .int(1), "end": .int(-1)]), inputs: x4),
            Seed(node: node("Gemm", ["x", "b", "c"], ["transA": .int(0), "transB": .int(1)]), inputs: x2,
                 initializers: ["b": try H.floats(Array(repeating: 1, count: 18), [3, 6]), "c": try H.floats([1, 2, 3], [3])]),
            Seed(node: node("QLinearConv", ["xq", "xs", "xz", "wq", "ws", "wz", "ys", "yz"], conv), initializers: qconv),
            Seed(node: node("ConvInteger", ["xq", "wq", "xz"], conv), initializers: qconv),
            Seed(node: node("QuantizeLinear", ["x", "s", "z"], ["axis": .int(1)]), inputs: x2,
                 initializers: ["s": try H.floats(Array(repeating: 0.5, count: 6), [6]), "z": try Tensor([UInt8](repeating: 3, count: 6), shape: TensorShape([6]))]),
            Seed(node: node("Cast", ["x"], ["to": .int(7)]), inputs: x2),
            Seed(node: node("DequantizeLinear", ["q", "s"], ["axis": .int(1)]), initializers: ["q": try Tensor([UInt8](repeating: 7, count: 6), shape: TensorShape([2, 3])),
                                                                                         "s": try H.floats([0.5, 0.25, 0.125], [3])]),
        ]
    }

    /// Every single mutation of a seed's integer attributes and int64 constants.
    static func mutations(of seed: Seed) -> [Seed] {
        var out: [Seed] = []
        for (key, value) in seed.node.attributes.sorted(by: { $0.key < $1.key }) {
            var lists: [[Int]] = []
            switch value {
            case .int:
                out += extremes.map { e in
                    var s = seed
                    s.node.attributes[key] = .int(e)
                    return s
                }
            case let .ints(v):
                for i in v.indices { lists += extremes.map { e in var l = v; l[i] = e; return l } }
                lists += extremes.map { e in Array(repeating: e, count: v.count) }
                lists += [Array(v.dropLast()), v + [Int.max], []]
            default: break
            }
            out += lists.map { l in var s = seed; s.node.attributes[key] = .ints(l); return s }
        }
        for (name, t) in seed.initializers.sorted(by: { $0.key < $1.key }) where t.dtype == .s64 {
            guard let values = try? t.scalars(as: Int64.self) else { continue }
            for i in values.indices {
                for e in extremes {
                    var v = values
                    v[i] = Int64(e)
                    var s = seed
                    s.initializers[name] = try? Tensor(v, shape: t.shape)
                    out.append(s)
                }
            }
        }
        return out
    }

    @Test func everyExtremeRunsOrFailsNamingTheNode() throws {
        var ran = 0, refused = 0, unnamed: [String] = []
        let seeds = try Self.seeds()
        for seed in seeds {
            let outs = seed.node.outputs
            let base = H.graph([seed.node], inputs: seed.inputs, outputs: outs, initializers: seed.initializers, opset: seed.opset)
            if let e = H.error(base) { Issue.record("seed \(seed.node.opType) does not run: \(e)") }
            for m in Self.mutations(of: seed) {
                let g = H.graph([m.node], inputs: m.inputs, outputs: outs, initializers: m.initializers, opset: m.opset)
                // With the passes (constants folded) and without (every op's own code at plan and run time).
                for optimize in [true, false] {
                switch H.run(g, optimize: optimize) {
                case .success: ran += 1
                case let .failure(e):
                    refused += 1
                    if !"\(e)".contains("'\(m.node.name)'") { unnamed.append("\(m.node.opType) \(m.node.attributes): \(e)") }
                }
                }
            }
        }
        #expect(ran + refused > 3000, "\(ran + refused) cases")
        #expect(ran > 100 && refused > 100, "ran \(ran), refused \(refused)")
        #expect(unnamed.isEmpty, "\(unnamed.count) errors do not name the node, e.g. \(unnamed.prefix(5))")
    }
}
