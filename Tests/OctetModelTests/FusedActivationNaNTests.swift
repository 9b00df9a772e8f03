import Foundation
import Octet
import Testing

/// A Relu or Clip fused into a matrix op keeps NaN as the unfused op does (and as ONNX
/// Runtime does): `max(NaN, 0)` is NaN in ONNX, not 0.
@Suite struct FusedActivationNaNTests {
    /// Every f32-output backend that runs a linear layer with a fused post-op on some CPU this
    /// machine can execute: the portable path and, when present, the vector path.
    static let cpus: [CPUFeatures] = {
        var list = [(try? CPUFeatures.assumed("sse4_2"))].compactMap { $0 }
        list.append(CPUFeatures.host)
        return list
    }()

    /// NaN in row 0 of the activations; rows 1... finite. Row 0's outputs are NaN before the
    /// activation, so they must stay NaN after it.
    @Test(arguments: [[PostOp.relu], [PostOp.clip(min: 0, max: 6)], [PostOp.clip(min: -1, max: 1)]])
    func everyFloatBackendKeepsNaN(_ post: [PostOp]) throws {
        let (m, k, n) = (3, 5, 19)
        var rng = SeededGenerator(seed: 19)
        var a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        a[2] = .nan
        let w = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
        var checked = 0
        for backend in BackendRegistry.builtInBackends() {
            for types in [OperandTypes.f32, .f16] {
                let s = try OpSignature.linear(m: m, k: k, n: n, types: types, postOps: post)
                for cpu in Self.cpus where backend.capability(for: s, on: cpu).isSupported {
                    let kernel = try backend.prepare(s, constants: OpConstants(weight: try Tensor(w, shape: TensorShape([n, k])), bias: try Tensor(bias, shape: TensorShape([n]))),
                                                     context: PrepareContext(cpu: cpu))
                    var out = try Tensor(zeros: .f32, shape: TensorShape([m, n]))
                    try kernel.run(inputs: [try Tensor(a, shape: TensorShape([m, k]))], output: &out)
                    let y = try out.scalars(as: Float.self)
                    let (lo, hi) = PostOp.realRange(of: post)
                    let nanRow = y[..<n].allSatisfy { $0.isNaN }
                    #expect(nanRow, "\(backend.name) \(types.precision) on \(cpu.displayName): \(post) turned NaN into \(Array(y[..<n]))")
                    #expect(y[n...].allSatisfy { $0 >= lo && $0 <= hi }, "\(backend.name): finite rows outside [\(lo), \(hi)]")
                    checked += 1
                }
            }
        }
        #expect(checked >= 2, "at least fp32-ref and fp16 run a fused linear layer")
    }

    /// Conv → Relu and Gemm → Relu in a graph: the fused (optimized) plan and the unfused one
    /// give NaN at the same places, and NaN exactly where an input NaN reaches (a 1x1 kernel).
    @Test func fusedGraphMatchesUnfused() throws {
        let x = Graph.Port(name: "x", type: ValueType(.f32, try TensorShape([1, 2, 3, 3])))
        let w = try Tensor([Float](repeating: 0.5, count: 4), shape: TensorShape([2, 2, 1, 1]))
        let g = Graph(name: "g", inputs: [x], outputs: [Graph.Port(name: "y", type: nil), Graph.Port(name: "z", type: nil)],
                      nodes: [Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["c"]),
                              Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["y"]),
                              Node(name: "flat", opType: "Flatten", inputs: ["x"], outputs: ["f"]),
                              Node(name: "gemm", opType: "Gemm", inputs: ["f", "b", "bias"], outputs: ["gm"], attributes: ["transB": .int(1)]),
                              Node(name: "clip", opType: "Clip", inputs: ["gm", "lo", "hi"], outputs: ["z"])],
                      initializers: ["w": w, "b": try Tensor([Float](repeating: 0.25, count: 4 * 18), shape: TensorShape([4, 18])),
                                     "bias": try Tensor([Float](repeating: 0, count: 4), shape: TensorShape([4])),
                                     "lo": try Tensor([Float(0)], shape: .scalar), "hi": try Tensor([Float(6)], shape: .scalar)])
        var input = [Float](repeating: -1, count: 18)
        input[4] = .nan // channel 0, pixel (1, 1)
        let feeds = ["x": try Tensor(input, shape: TensorShape([1, 2, 3, 3]))]
        var results: [[String: [Float]]] = []
        for optimize in [true, false] {
            let session = try Session(graph: g, options: SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn(), optimize: optimize))
            results.append(try session.run(feeds).mapValues { try $0.scalars(as: Float.self) })
        }
        for r in results {
            let y = try #require(r["y"]), z = try #require(r["z"])
            // Both output channels read pixel 4 of channel 0; every other pixel is -1 → Relu 0.
            #expect(y.indices.filter { y[$0].isNaN } == [4, 13], "conv+relu NaN positions: \(y)")
            let allNaN = z.allSatisfy { $0.isNaN }
            #expect(allNaN, "gemm+clip over a NaN input: \(z)")
        }
    }
}
