import Foundation
import Octet

/// Small graphs built in Swift for hostile-input tests: planned and run with zero-filled
/// inputs under a small memory budget; the outcome is the error text or the outputs.
enum HostileGraph {
    static let rules: RuleSet? = try? RuleSet.builtIn()
    static let registry = Octet.makeRegistry()
    /// Small enough that no hostile case allocates much, large enough for every real one.
    static let budget = MemoryBudget(bytes: 64 << 20)

    static func graph(_ nodes: [Node], inputs: [(String, DType, [Int])] = [], outputs: [String], initializers: [String: Tensor] = [:], opset: Int = 17) -> Graph {
        Graph(name: "hostile", inputs: inputs.map { Graph.Port(name: $0.0, type: ValueType($0.1, SymbolicShape($0.2.map(Dimension.fixed)))) },
              outputs: outputs.map { Graph.Port(name: $0, type: nil) }, nodes: nodes, initializers: initializers, opsets: ["": opset])
    }

    /// Plans and runs `g` with zero inputs: the outputs, or the error.
    static func run(_ g: Graph, optimize: Bool = true) -> Result<[String: Tensor], any Error> {
        Result {
            guard let rules else { throw SessionError.invalidOption(name: "rules", detail: "the built-in rules do not load") }
            let session = try Session(graph: g, options: SessionOptions(threads: 1, cpu: .detect(), registry: registry, rules: rules, optimize: optimize, memoryBudget: budget))
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

    static func ints(_ v: [Int]) throws -> Tensor { try Tensor(v.map { Int64($0) }, shape: TensorShape([v.count])) }
    static func scalar<T: TensorElement>(_ v: T) throws -> Tensor { try Tensor([v], shape: .scalar) }
    static func floats(_ v: [Float], _ shape: [Int]) throws -> Tensor { try Tensor(v, shape: TensorShape(shape)) }
}
