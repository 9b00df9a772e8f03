import Foundation
import Octet
import Testing

/// Values that once trapped the operators added for opsets 17–27 (found by
/// scripts/break-new-ops.py): each is refused with an error naming the node and what was
/// expected, never a crash or an endless loop.
@Suite struct NewOperatorHostileValueTests {
    typealias H = HostileGraph

    /// A window size of int64's maximum once trapped converting to Int.
    @Test func windowSizeBeyondIntIsRefused() throws {
        let g = H.graph([Node(name: "w", opType: "HannWindow", inputs: ["n"], outputs: ["y"])],
                        outputs: ["y"], initializers: ["n": try H.scalar(Int64.max)])
        H.expectError(g, ["node 'w' (HannWindow)", "size is", "beyond the largest size"])
    }

    /// A huge scale (found by fuzz-onnx) once trapped converting the output length to Int.
    @Test func resizeScaleBeyondIntIsRefused() throws {
        let g = H.graph([Node(name: "r", opType: "Resize", inputs: ["x", "", "scales"], outputs: ["y"])],
                        inputs: [("x", .f32, [1, 1, 2, 2])], outputs: ["y"],
                        initializers: ["scales": try Tensor([Float(1), 1, 1e30, 1], shape: TensorShape([4]))], opset: 19)
        H.expectError(g, ["node 'r' (Resize)", "beyond what can be addressed"])
    }

    /// Empty inputs declaring axes of 2^40 once overflowed or looped without end.
    @Test func emptyInputsWithHugeAxesAreRefusedOrEmpty() throws {
        let huge = 1 << 40
        let rs = H.graph([Node(name: "rs", opType: "ReverseSequence", inputs: ["x", "lens"], outputs: ["y"])],
                         inputs: [("x", .f32, [huge, 1, 0])], outputs: ["y"],
                         initializers: ["lens": try Tensor([Int64(0)], shape: TensorShape([1]))], opset: 10)
        // Nothing to reverse in an empty tensor: it runs (no endless loop), or is refused by the planner.
        if let s = try? Session(graph: rs, options: SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn())) {
            _ = try? s.run(["x": try Tensor(zeros: .f32, shape: TensorShape([huge, 1, 0]))])
        }
        let rnn = H.graph([Node(name: "rnn", opType: "GRU", inputs: ["x", "w", "r"], outputs: ["y"], attributes: ["hidden_size": .int(1 << 62)])],
                          inputs: [("x", .f32, [1, 1, 1])], outputs: ["y"],
                          initializers: ["w": try Tensor(zeros: .f32, shape: TensorShape([1, 1, 1])), "r": try Tensor(zeros: .f32, shape: TensorShape([1, 1, 1]))])
        H.expectError(rnn, ["node 'rnn' (GRU)"])
    }

    static func mel(_ lower: Float, _ upper: Float, bins: Int64 = 8, dft: Int64 = 16, rate: Int64 = 8000) throws -> Graph {
        H.graph([Node(name: "mel", opType: "MelWeightMatrix", inputs: ["m", "d", "r", "lo", "hi"], outputs: ["y"])],
                outputs: ["y"], initializers: ["m": try H.scalar(bins), "d": try H.scalar(dft), "r": try H.scalar(rate),
                                               "lo": try H.scalar(lower), "hi": try H.scalar(upper)])
    }

    /// NaN, infinite or ≤ -700 Hz edges once trapped converting a NaN bin to Int.
    @Test func melNonFiniteEdgesAreRefused() throws {
        for (lo, hi) in [(Float(0), Float.nan), (0, .infinity), (-700, 100), (Float.nan, 100)] {
            H.expectError(try Self.mel(lo, hi), ["node 'mel' (MelWeightMatrix)", "must be finite and above -700 Hz"])
        }
    }

    /// An upper edge past the Nyquist frequency once wrote past the matrix (index out of
    /// range); the reference (numpy) raises IndexError there too.
    @Test func melEdgesPastTheSpectrumAreRefused() throws {
        H.expectError(try Self.mel(0, 6100), ["node 'mel' (MelWeightMatrix)", "fall outside the spectrum's 9 bins"])
    }

    /// lower_edge_hertz above upper_edge_hertz once trapped (a range with lowerBound >
    /// upperBound). As the ONNX reference, descending ramps write nothing: the matrix of
    /// these edges is the reference's, 1 where a filter's left and center edges coincide.
    @Test func melDescendingEdgesRunAsTheReference() throws {
        guard case let .success(out) = H.run(try Self.mel(4000, 0)), let y = out["y"] else {
            Issue.record("MelWeightMatrix with descending edges did not run")
            return
        }
        #expect(y.shape.dims == [9, 8])
        // Independent: edges floor(17·hz/8000) of 10 mel points from 4000 Hz down to 0 Hz.
        let melHigh = 2595 * log10(1 + 4000.0 / 700), step = -melHigh / 10
        let edges = (0..<10).map { i in Int((17 * 700 * (pow(10, (melHigh + Double(i) * step) / 2595) - 1) / 8000).rounded(.down)) }
        var expected = [Float](repeating: 0, count: 72)
        for i in 0..<8 where edges[i + 1] == edges[i] { expected[edges[i + 1] * 8 + i] = 1 }
        #expect(try y.scalars(as: Float.self) == expected)
    }

    /// A write index near Int.max once overflowed `index + rows`.
    @Test func tensorScatterHugeWriteIndexIsRefused() throws {
        let g = H.graph([Node(name: "ts", opType: "TensorScatter", inputs: ["p", "u", "i"], outputs: ["y"])],
                        inputs: [("p", .f32, [2, 5, 3]), ("u", .f32, [2, 2, 3])], outputs: ["y"],
                        initializers: ["i": try H.ints([0, Int(Int64.max)])], opset: 24)
        H.expectError(g, ["node 'ts' (TensorScatter)", "write_indices[1]", "outside the 5"])
    }

    /// Circular writes into an empty sequence axis once divided by zero.
    @Test func tensorScatterCircularIntoEmptyAxisIsRefused() throws {
        let g = H.graph([Node(name: "ts", opType: "TensorScatter", inputs: ["p", "u"], outputs: ["y"], attributes: ["mode": .string("circular")])],
                        inputs: [("p", .f32, [2, 0, 3]), ("u", .f32, [2, 2, 3])], outputs: ["y"], opset: 24)
        H.expectError(g, ["node 'ts' (TensorScatter)", "max_sequence ≥ 1"])
    }

    /// Huge head counts over empty features once overflowed `batch · kv_num_heads`.
    @Test func linearAttentionHeadsOfNoFeaturesAreRefused() throws {
        let g = H.graph([Node(name: "la", opType: "LinearAttention", inputs: ["q", "k", "v"], outputs: ["y", "s"],
                              attributes: ["q_num_heads": .int(1 << 61), "kv_num_heads": .int(1 << 61), "update_rule": .string("linear")])],
                        inputs: [("q", .f32, [3, 3, 0]), ("k", .f32, [3, 3, 0]), ("v", .f32, [3, 3, 0])], outputs: ["y", "s"], opset: 27)
        H.expectError(g, ["node 'la' (LinearAttention)", "of at least one feature each"])
    }

    /// Eight labels of 256 once overflowed the count of products to sum (2^64).
    @Test func einsumOverflowingContractionIsRefused() throws {
        let names = (0..<8).map { "x\($0)" }
        let g = H.graph([Node(name: "es", opType: "Einsum", inputs: names, outputs: ["y"], attributes: ["equation": .string("a,b,c,d,e,f,g,h->")])],
                        inputs: names.map { ($0, .f32, [256]) }, outputs: ["y"])
        H.expectError(g, ["node 'es' (Einsum)", "multiply past"])
    }

    /// A 3-D X of no features with num_heads 2^62 once looped 2^62 times; now it is copied.
    @Test func rotaryEmbeddingOfEmptyXReturnsAtOnce() throws {
        let g = H.graph([Node(name: "re", opType: "RotaryEmbedding", inputs: ["x", "c", "s"], outputs: ["y"], attributes: ["num_heads": .int(1 << 62)])],
                        inputs: [("x", .f32, [1, 3, 0]), ("c", .f32, [1, 3, 0]), ("s", .f32, [1, 3, 0])], outputs: ["y"], opset: 23)
        guard case let .success(out) = H.run(g) else {
            Issue.record("RotaryEmbedding of an empty X failed")
            return
        }
        #expect(out["y"]?.shape.dims == [1, 3, 0])
    }
}
