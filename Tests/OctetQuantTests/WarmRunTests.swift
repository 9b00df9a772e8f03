import Dispatch
import Octet
import OctetQuant
import Synchronization
import Testing

/// A warm session keeps per-run state between runs (arena windows, step tables, the
/// caller's output tensors): its results must not depend on what ran before. Each warm
/// result is checked against a session made for that one sample (no state kept from any
/// other run), bit for bit, on the bundled digits CNN quantized to INT8.
@Suite struct WarmRunTests {
    static func int8Digits() throws -> (graph: Graph, samples: [[String: Tensor]]) {
        let m = try QuantizationWorkflowTests.digitsModel()
        let q = try Quantizer().quantize(m.graph, data: m.calibration, options: QuantizationWorkflowTests.options())
        return (q.graph, Array(m.test.prefix(12)))
    }

    static func bits(_ t: Tensor?) throws -> [UInt32] {
        try #require(t).scalars(as: Float.self).map(\.bitPattern)
    }

    /// Each sample's logits from a session that has run nothing else.
    static func coldLogits(_ graph: Graph, _ samples: [[String: Tensor]]) throws -> [[UInt32]] {
        try samples.map { sample in
            let session = try Session(graph: graph, options: QuantizationWorkflowTests.options())
            return try bits(session.run(sample)["logits"])
        }
    }

    @Test func warmRunsIntoKeptOutputsGiveTheBitsOfColdRunsInPlace() throws {
        let (graph, samples) = try Self.int8Digits()
        let cold = try Self.coldLogits(graph, samples)
        let session = try Session(graph: graph, options: QuantizationWorkflowTests.options())
        var outputs: [String: Tensor] = [:]
        try session.run(samples[0], into: &outputs)
        let storage = try #require(outputs["logits"]).withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        // Forwards then backwards: each run follows a different one.
        let order = Array(samples.indices) + samples.indices.reversed()
        for i in order {
            try session.run(samples[i], into: &outputs)
            let logits = try #require(outputs["logits"])
            #expect(try Self.bits(logits) == cold[i], "sample \(i)")
            #expect(logits.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) } == storage, "sample \(i): the kept output tensor is written in place")
        }
        // A plain run (outputs allocated) agrees too, and leaves the kept tensor alone.
        #expect(try Self.bits(session.run(samples[3])["logits"]) == cold[3])
        #expect(try Self.bits(outputs["logits"]) == cold[0], "the last run into it was of sample 0")
    }

    @Test func concurrentRunsOfOneSessionGiveTheBitsOfColdRuns() throws {
        let (graph, samples) = try Self.int8Digits()
        let cold = try Self.coldLogits(graph, samples)
        let session = try Session(graph: graph, options: QuantizationWorkflowTests.options())
        let mismatches = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { thread in
            var outputs: [String: Tensor] = [:]
            for round in 0..<20 {
                // The two threads walk the samples in opposite directions.
                let i = thread == 0 ? round % samples.count : samples.count - 1 - round % samples.count
                do {
                    try session.run(samples[i], into: &outputs)
                    if try Self.bits(outputs["logits"]) != cold[i] { mismatches.withLock { $0.append("thread \(thread) round \(round) sample \(i)") } }
                } catch {
                    mismatches.withLock { $0.append("thread \(thread) round \(round): \(error)") }
                }
            }
        }
        #expect(mismatches.withLock { $0 }.isEmpty, "\(mismatches.withLock { $0 })")
    }

    /// A run that fails part way (an index out of range, found while running) names the
    /// node, and the next run of the same session computes the right values.
    @Test func aRunThatFailsLeavesNothingBehind() throws {
        let shape = try TensorShape([6])
        let graph = Graph(name: "gather", inputs: [.init(name: "x", type: ValueType(.f32, shape)), .init(name: "i", type: ValueType(.s64, try TensorShape([3])))],
                          outputs: [.init(name: "y", type: nil)],
                          nodes: [Node(name: "relu", opType: "Relu", inputs: ["x"], outputs: ["r"]),
                                  Node(name: "pick", opType: "Gather", inputs: ["r", "i"], outputs: ["g"]),
                                  Node(name: "neg", opType: "Neg", inputs: ["g"], outputs: ["y"])],
                          opsets: ["": 17])
        let session = try Session(graph: graph, options: QuantizationWorkflowTests.options())
        let x: [Float] = [-1, 2, -3, 4, 5, -6]
        var outputs: [String: Tensor] = [:]
        let bad = ["x": try Tensor(x, shape: shape), "i": try Tensor([Int64(0), 9, 1], shape: try TensorShape([3]))]
        let error = #expect(throws: SessionError.self) { try session.run(bad, into: &outputs) }
        #expect("\(String(describing: error))".contains("pick"))
        for indices in [[Int64(3), 1, 0], [5, 4, 2]] {
            try session.run(["x": try Tensor(x, shape: shape), "i": try Tensor(indices, shape: try TensorShape([3]))], into: &outputs)
            #expect(try #require(outputs["y"]).scalars(as: Float.self) == indices.map { -max(0, x[Int($0)]) })
        }
    }
}
