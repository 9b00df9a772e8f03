/// One operation of a graph: an op type (ONNX's names, e.g. `Conv`), the names of the
/// values it reads and writes, and its attributes.
public struct Node: Sendable {
    /// Unique within the graph (the importer names unnamed nodes).
    public var name: String
    /// Op type, e.g. `Conv`, `MatMul`, `QuantizeLinear`.
    public var opType: String
    /// Operator set domain; `""` is the default ONNX domain, `com.microsoft` and `octet` others.
    public var domain: String
    /// Input value names in order; `""` marks an omitted optional input.
    public var inputs: [String]
    /// Output value names in order; `""` marks an unused optional output.
    public var outputs: [String]
    public var attributes: [String: AttributeValue]

    public init(name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [String: AttributeValue] = [:]) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// Input `i`, or `nil` when absent or omitted.
    public func input(_ i: Int) -> String? { i < inputs.count && !inputs[i].isEmpty ? inputs[i] : nil }
}

extension Node {
    /// An integer attribute, or `fallback` when absent.
    public func int(_ key: String, default fallback: Int) throws(GraphError) -> Int {
        guard let a = attributes[key] else { return fallback }
        guard case let .int(v) = a else { throw .attribute(node: name, opType: opType, name: key, expected: "an int", got: a.kind) }
        return v
    }

    /// An optional integer attribute.
    public func int(_ key: String) throws(GraphError) -> Int? {
        guard let a = attributes[key] else { return nil }
        guard case let .int(v) = a else { throw .attribute(node: name, opType: opType, name: key, expected: "an int", got: a.kind) }
        return v
    }

    public func float(_ key: String, default fallback: Float) throws(GraphError) -> Float {
        guard let a = attributes[key] else { return fallback }
        switch a {
        case let .float(v): return v
        case let .int(v): return Float(v)
        default: throw .attribute(node: name, opType: opType, name: key, expected: "a float", got: a.kind)
        }
    }

    public func string(_ key: String, default fallback: String) throws(GraphError) -> String {
        guard let a = attributes[key] else { return fallback }
        guard case let .string(v) = a else { throw .attribute(node: name, opType: opType, name: key, expected: "a string", got: a.kind) }
        return v
    }

    public func ints(_ key: String) throws(GraphError) -> [Int]? {
        guard let a = attributes[key] else { return nil }
        switch a {
        case let .ints(v): return v
        case let .int(v): return [v]
        default: throw .attribute(node: name, opType: opType, name: key, expected: "a list of ints", got: a.kind)
        }
    }

    public func floats(_ key: String) throws(GraphError) -> [Float]? {
        guard let a = attributes[key] else { return nil }
        switch a {
        case let .floats(v): return v
        case let .float(v): return [v]
        default: throw .attribute(node: name, opType: opType, name: key, expected: "a list of floats", got: a.kind)
        }
    }

    /// A list-of-strings attribute (a single string reads as a list of one).
    public func strings(_ key: String) throws(GraphError) -> [String]? {
        guard let a = attributes[key] else { return nil }
        switch a {
        case let .strings(v): return v
        case let .string(v): return [v]
        default: throw .attribute(node: name, opType: opType, name: key, expected: "a list of strings", got: a.kind)
        }
    }

    public func tensor(_ key: String) throws(GraphError) -> Tensor? {
        guard let a = attributes[key] else { return nil }
        guard case let .tensor(v) = a else { throw .attribute(node: name, opType: opType, name: key, expected: "a tensor", got: a.kind) }
        return v
    }

    /// A subgraph attribute (an If branch, a Loop or Scan body).
    public func graph(_ key: String) throws(GraphError) -> Graph? {
        guard let a = attributes[key] else { return nil }
        guard case let .graph(g) = a else { throw .attribute(node: name, opType: opType, name: key, expected: "a graph", got: a.kind) }
        return g
    }

    /// Attribute under which a node with subgraphs records how many of its inputs, at the
    /// end, are the outer-scope values its subgraphs read (see `Graph.outerScopeReferences`).
    public static let outerScopeCountKey = "octet.outer_scope_count"

    /// How many of the node's last inputs are outer-scope values read by its subgraphs.
    public var outerScopeCount: Int {
        if case let .int(n)? = attributes[Self.outerScopeCountKey] { return max(0, min(n, inputs.count)) }
        return 0
    }

    /// The node's subgraphs, by attribute name, in name order.
    public var subgraphs: [(name: String, graph: Graph)] {
        attributes.sorted { $0.key < $1.key }.compactMap { k, v in if case let .graph(g) = v { (k, g) } else { nil } }
    }
}
