import Foundation
import Octet
import Testing

/// Convolutions on oneDNN run channels-last, with reorders where NHWC values meet ops that
/// need NCHW; the answers equal a plan with every value row-major (fp32-ref only).
@Suite struct ChannelsLastTests {
    func random(_ dims: [Int], seed: UInt64) throws -> Tensor {
        var g = SeededGenerator(seed: seed)
        let shape = try TensorShape(dims)
        return try Tensor((0..<shape.elementCount).map { _ in Float.random(in: -1...1, using: &g) }, shape: shape)
    }

    /// conv → (+ constant of the same shape) → (+ per-channel bias, broadcast) → relu →
    /// maxpool → conv → avgpool (pads counted) → (+ second branch) → transpose → and a
    /// global average pool as a second output.
    func graph() throws -> Graph {
        Graph(
            name: "nhwc", inputs: [.init(name: "x", type: ValueType(.f32, try TensorShape([2, 3, 12, 12])))],
            outputs: [.init(name: "t", type: nil), .init(name: "g", type: nil)],
            nodes: [
                Node(name: "c1", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["a"], attributes: ["pads": .ints([1, 1, 1, 1])]),
                Node(name: "same", opType: "Add", inputs: ["a", "k"], outputs: ["b"]),
                Node(name: "bias", opType: "Add", inputs: ["b", "cb"], outputs: ["c"]),
                Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["d"]),
                Node(name: "pool", opType: "MaxPool", inputs: ["d"], outputs: ["e"], attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])]),
                Node(name: "c2", opType: "Conv", inputs: ["e", "w2"], outputs: ["f"], attributes: ["pads": .ints([1, 1, 1, 1])]),
                Node(name: "avg", opType: "AveragePool", inputs: ["f"], outputs: ["h"], attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "count_include_pad": .int(1)]),
                Node(name: "mix", opType: "Mul", inputs: ["h", "f"], outputs: ["m"]),
                Node(name: "tr", opType: "Transpose", inputs: ["m"], outputs: ["t"], attributes: ["perm": .ints([0, 2, 3, 1])]),
                Node(name: "gap", opType: "GlobalAveragePool", inputs: ["m"], outputs: ["g"]),
            ],
            initializers: ["w1": try random([8, 3, 3, 3], seed: 1), "b1": try random([8], seed: 2), "k": try random([2, 8, 12, 12], seed: 3),
                           "cb": try random([1, 8, 1, 1], seed: 4), "w2": try random([8, 8, 3, 3], seed: 5)])
    }

    /// An RGB image quantized to u8 and reordered to channels-last for an INT8 convolution
    /// (the planes → pixels interleave, split over two threads at this size): the same bits
    /// on one and two threads, and the float answer of the same QDQ graph within rounding.
    @Test func quantizedImageReorderAgreesWithFloat() throws {
        let (h, w) = (130, 131)
        let wq = try Tensor((0..<12).map { Int8($0 * 21 - 120) }, shape: try TensorShape([4, 3, 1, 1]))
        let scalar = TensorShape.scalar
        let g = Graph(
            name: "rgb", inputs: [.init(name: "x", type: ValueType(.f32, try TensorShape([1, 3, h, w])))], outputs: [.init(name: "y", type: nil)],
            nodes: [
                Node(name: "q", opType: "QuantizeLinear", inputs: ["x", "s", "z"], outputs: ["xq"]),
                Node(name: "dq", opType: "DequantizeLinear", inputs: ["xq", "s", "z"], outputs: ["xd"]),
                Node(name: "dw", opType: "DequantizeLinear", inputs: ["wq", "sw"], outputs: ["wd"]),
                Node(name: "conv", opType: "Conv", inputs: ["xd", "wd"], outputs: ["y"]),
            ],
            initializers: ["s": try Tensor([Float(0.01)], shape: scalar), "z": try Tensor([UInt8(100)], shape: scalar),
                           "wq": wq, "sw": try Tensor([Float(0.005)], shape: scalar)])
        var gen = SeededGenerator(seed: 12)
        let shape = try TensorShape([1, 3, h, w])
        let x = try Tensor((0..<shape.elementCount).map { _ in Float.random(in: -1...1.5, using: &gen) }, shape: shape)
        let rules = try RuleSet.builtIn()
        func run(_ threads: Int, _ registry: BackendRegistry, optimize: Bool = true) throws -> (Tensor, [NodeAssignment]) {
            let session = try Session(graph: g, options: SessionOptions(threads: threads, cpu: .host, registry: registry, rules: rules, optimize: optimize))
            return (try #require(try session.run(["x": x])["y"]), try session.trace().nodes)
        }
        let (one, nodes) = try run(1, BackendRegistry.builtIn()), (two, _) = try run(2, BackendRegistry.builtIn())
        #expect(nodes.contains { $0.opType == "Reorder" }, "the INT8 convolution should run channels-last after a reorder: \(nodes.map(\.opType))")
        #expect(try one.scalars(as: Float.self) == two.scalars(as: Float.self))
        // The graph as written (no QDQ fusion): DequantizeLinear, then a float convolution.
        let (reference, _) = try run(1, try ModelSuite.registry(BackendRegistry.builtInBackends().filter { $0.name == "fp32-ref" }), optimize: false)
        let err = try #require(ModelSuite.error(one, reference))
        #expect(err <= 1e-4, "error \(err)")
    }

    @Test func channelsLastAgreesWithRowMajor() throws {
        let g = try graph()
        let inputs = ["x": try random([2, 3, 12, 12], seed: 9)]
        let onednn = try Session(graph: g, options: SessionOptions(threads: 2, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn()))
        let reference = try Session(graph: g, options: SessionOptions(threads: 1, cpu: .host,
                                                                     registry: try ModelSuite.registry(BackendRegistry.builtInBackends().filter { $0.name == "fp32-ref" }),
                                                                     rules: try RuleSet.builtIn()))
        let (trace, nodes, _) = try onednn.trace()
        #expect(trace.ops.filter(\.signature.kind.isConvolution).allSatisfy { $0.signature.activationLayout == .nhwc }, "convolutions should run channels-last on oneDNN")
        #expect(nodes.filter { $0.opType == "Reorder" }.count <= 4, "reorders: \(nodes.filter { $0.opType == "Reorder" }.map(\.node))")
        let a = try onednn.run(inputs), b = try reference.run(inputs)
        for key in ["t", "g"] {
            let x = try #require(a[key]), y = try #require(b[key])
            #expect(x.layout == .rowMajor)
            let err = try #require(ModelSuite.error(x, y))
            #expect(err <= 1e-5, "\(key): \(err)")
        }
    }
}
