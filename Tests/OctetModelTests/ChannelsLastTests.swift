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
