import Foundation
import Octet
@testable import OctetONNX
import SwiftProtobuf
import Testing

/// Small graphs built in Swift for hostile-input tests: planned and run with zero-filled
/// inputs under a small memory budget; the outcome is the error text or the outputs.
enum HostileGraph {
    static let rules: RuleSet? = try? RuleSet.builtIn()
    static let registry = BackendRegistry.builtIn()
    /// Small enough that no hostile case allocates much, large enough for every real one.
    static let budget = MemoryBudget(bytes: 64 << 20)
    /// A hostile trip count is refused past this many iterations rather than run for hours.
    static let maximumLoopIterations = 1 << 10

    static func graph(_ nodes: [Node], inputs: [(String, DType, [Int])] = [], outputs: [String], initializers: [String: Tensor] = [:], opset: Int = 17) -> Graph {
        Graph(name: "hostile", inputs: inputs.map { Graph.Port(name: $0.0, type: ValueType($0.1, SymbolicShape($0.2.map(Dimension.fixed)))) },
              outputs: outputs.map { Graph.Port(name: $0, type: nil) }, nodes: nodes, initializers: initializers, opsets: ["": opset])
    }

    /// Plans and runs `g` with zero inputs: the outputs, or the error.
    static func run(_ g: Graph, optimize: Bool = true) -> Result<[String: Tensor], any Error> {
        Result {
            guard let rules else { throw SessionError.invalidOption(name: "rules", detail: "the built-in rules do not load") }
            var options = SessionOptions(threads: 1, cpu: .host, registry: registry, rules: rules, optimize: optimize, memoryBudget: budget)
            options.maximumLoopIterations = maximumLoopIterations
            let session = try Session(graph: g, options: options)
            var feeds: [String: Tensor] = [:]
            for p in g.inputs {
                guard let type = p.type, let shape = type.shape?.concrete else { continue }
                feeds[p.name] = try Tensor(zeros: type.dtype, shape: shape)
            }
            return try session.run(feeds)
        }
    }

    /// The error text, or nil when the graph ran.
    static func error(_ g: Graph, optimize: Bool = true) -> String? {
        if case let .failure(e) = run(g, optimize: optimize) { return "\(e)" }
        return nil
    }

    /// Records an issue unless `g` fails with an error holding every fragment.
    static func expectError(_ g: Graph, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        guard let text = error(g) else {
            Issue.record("the graph ran; expected an error naming \(fragments)", sourceLocation: sourceLocation)
            return
        }
        for f in fragments { #expect(text.contains(f), "'\(f)' missing from: \(text)", sourceLocation: sourceLocation) }
    }

    /// A serialized model whose one initializer `w` (f32, `dims`) lives in external data with
    /// these entries (`location`, `offset`, `length`); `w` is also the graph's output.
    static func externalDataModel(_ entries: [(String, String)], dims: [Int64]) throws -> Data {
        var t = Onnx_TensorProto()
        t.name = "w"
        t.dataType = 1
        t.dims = dims
        t.dataLocation = .external
        t.externalData = entries.map { k, v in
            var e = Onnx_StringStringEntryProto()
            e.key = k
            e.value = v
            return e
        }
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var o = Onnx_OperatorSetIdProto()
        o.version = 17
        m.opsetImport = [o]
        m.graph.initializer = [t]
        m.graph.output = [ONNXModel.valueInfo("w", nil)]
        return try m.serializedData()
    }

    static func ints(_ v: [Int]) throws -> Tensor { try Tensor(v.map { Int64($0) }, shape: TensorShape([v.count])) }
    static func scalar<T: TensorElement>(_ v: T) throws -> Tensor { try Tensor([v], shape: .scalar) }
    static func floats(_ v: [Float], _ shape: [Int]) throws -> Tensor { try Tensor(v, shape: TensorShape(shape)) }
}
