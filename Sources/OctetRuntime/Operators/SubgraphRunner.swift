import OctetCore
import Synchronization

/// The options of the session that is running (or planning), for the subgraphs its ops
/// run: If's branches, Loop's and Scan's bodies are planned as sessions of their own,
/// with the same CPU, backends and rules.
enum SubgraphContext {
    @TaskLocal static var options: SessionOptions?
}

/// One subgraph of a node (an If branch, a Loop or Scan body), run as a session whose
/// inputs are the subgraph's own inputs and the outer-scope values it reads. A session is
/// made per set of input element types and ranks, and plans per set of shapes itself.
final class SubgraphRunner: Sendable {
    let graph: Graph
    /// The outer-scope values the subgraph reads, in the order `run` takes them.
    let outerNames: [String]
    private let site: OperatorSite
    private let sessions = Mutex<[String: Session]>([:])

    init(_ graph: Graph, site: OperatorSite) {
        self.graph = graph
        self.site = site
        outerNames = graph.outerScopeReferences()
    }

    /// Runs the subgraph on `formal` (one tensor per subgraph input, in order) and
    /// `outer` (keyed by outer-scope name); returns its outputs in order.
    func run(_ formal: [Tensor], outer: [String: Tensor]) throws -> [Tensor] {
        guard formal.count == graph.inputs.count else {
            throw site.error("subgraph '\(graph.name)' takes \(graph.inputs.count) inputs, given \(formal.count)")
        }
        var feeds: [String: Tensor] = [:]
        for (p, t) in zip(graph.inputs, formal) { feeds[p.name] = t }
        for name in outerNames {
            guard let t = outer[name] else { throw site.error("subgraph '\(graph.name)' reads '\(name)' from the outer scope, which is not given") }
            feeds[name] = t
        }
        let names = graph.inputs.map(\.name) + outerNames
        let key = names.map { n in feeds[n].map { "\($0.dtype)/\($0.shape.rank)" } ?? "-" }.joined(separator: ",")
        let session = try sessions.withLock { $0[key] } ?? makeSession(names, feeds, key: key)
        let out = try session.run(feeds)
        return try graph.outputs.map { p in
            guard let t = out[p.name] else { throw site.error("subgraph '\(graph.name)' did not produce '\(p.name)'") }
            return t
        }
    }

    private func makeSession(_ names: [String], _ feeds: [String: Tensor], key: String) throws -> Session {
        guard let options = SubgraphContext.options else { throw site.error("subgraph '\(graph.name)' run outside a session") }
        var g = graph
        // Any shape of the rank given; the declared output types are checked by the node.
        g.inputs = names.compactMap { n in
            feeds[n].map { t in Graph.Port(name: n, type: ValueType(t.dtype, SymbolicShape((0..<t.shape.rank).map { .symbol("\(n)_d\($0)") }))) }
        }
        g.outputs = graph.outputs.map { Graph.Port(name: $0.name, type: nil) }
        g.valueTypes = [:]
        let session: Session
        do { session = try Session(graph: g, options: options) } catch { throw site.error("subgraph '\(graph.name)': \(error)") }
        sessions.withLock { $0[key] = session }
        return session
    }

    /// The element type of output `i` and its rank when known: as the subgraph declares
    /// it, else inferred from the types of its inputs (`formal`, in order) and of the
    /// outer-scope values it reads (`outer`, by name).
    func outputType(_ i: Int, formal: [ValueType?], outer: [String: ValueType]) throws -> (DType, Int?) {
        guard i < graph.outputs.count else { throw site.error("subgraph '\(graph.name)' has no output \(i)") }
        let name = graph.outputs[i].name
        if let t = graph.outputs[i].type { return (t.dtype, t.shape?.rank) }
        var g = graph
        g.inputs = zip(graph.inputs, formal + Array(repeating: nil, count: max(0, graph.inputs.count - formal.count))).map { p, t in
            Graph.Port(name: p.name, type: p.type ?? t)
        } + outerNames.map { Graph.Port(name: $0, type: outer[$0]) }
        let inferred: Graph
        do { inferred = try ShapeInference.run(g) } catch { throw site.error("subgraph '\(graph.name)': \(error)") }
        guard let t = inferred.type(of: name) ?? inferred.valueTypes[name] else {
            throw site.error("subgraph '\(graph.name)' output \(i) ('\(name)'): its element type is neither declared nor inferred")
        }
        return (t.dtype, t.shape?.rank)
    }
}

/// Outer-scope values of a node with subgraphs: its last `Node.outerScopeCount` inputs.
struct OuterScope: Sendable {
    /// Input index of each outer-scope value, by name.
    let indices: [String: Int]
    /// How many inputs are the op's own (before the outer-scope ones).
    let ownInputs: Int

    init(_ node: Node) {
        let names = node.subgraphs.flatMap { $0.graph.outerScopeReferences() }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let count = node.outerScopeCount
        ownInputs = node.inputs.count - count
        var indices: [String: Int] = [:]
        for (j, name) in names.prefix(count).enumerated() { indices[name] = ownInputs + j }
        self.indices = indices
    }

    /// The types of the outer-scope values among `inputs`, by name.
    func types(_ inputs: [ValueType?]) -> [String: ValueType] {
        var out: [String: ValueType] = [:]
        for (name, i) in indices where i < inputs.count { out[name] = inputs[i] }
        return out
    }

    /// The outer-scope tensors among `inputs`, by the names the subgraphs use.
    func values(_ inputs: [Tensor?]) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, i) in indices where i < inputs.count { out[name] = inputs[i] }
        return out
    }

    /// A type of `rank` (unknown when `nil`) with every dimension named for `what`.
    static func symbolic(_ dtype: DType, rank: Int?, _ what: String) -> ValueType {
        ValueType(dtype, rank.map { r in SymbolicShape((0..<r).map { .symbol("\(what)[\($0)]") }) })
    }
}
