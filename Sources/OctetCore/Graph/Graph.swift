/// A computation graph: named values flowing between nodes, with constant tensors
/// (initializers), typed inputs and outputs. Octet's IR for every model it loads.
///
/// Value names are the identity of edges; a value is defined exactly once, by a graph
/// input, an initializer or one node output.
public struct Graph: Sendable {
    /// A named, typed graph input or output.
    public struct Port: Sendable, CustomStringConvertible {
        public var name: String
        /// `nil` when the model does not declare the output's type.
        public var type: ValueType?

        public init(name: String, type: ValueType?) {
            self.name = name
            self.type = type
        }

        public var description: String { "\(name): \(type?.description ?? "?")" }
    }

    public var name: String
    /// Inputs the caller feeds (initializers that ONNX also lists as inputs are not here).
    public var inputs: [Port]
    public var outputs: [Port]
    /// Nodes, in any order (see `topologicalOrder()`).
    public var nodes: [Node]
    /// Constant tensors by value name.
    public var initializers: [String: Tensor]
    /// Declared or inferred types of intermediate values.
    public var valueTypes: [String: ValueType]
    /// Opset version of each domain the graph uses (`""` is ONNX's default domain).
    public var opsets: [String: Int]
    /// Free-form key/value annotations (ONNX `metadata_props`); Octet records under
    /// `octet.*` keys what a quantized model needs beyond standard ONNX (e.g. 7-bit inputs).
    public var metadata: [String: String] = [:]

    public init(name: String = "graph", inputs: [Port] = [], outputs: [Port] = [], nodes: [Node] = [],
                initializers: [String: Tensor] = [:], valueTypes: [String: ValueType] = [:], opsets: [String: Int] = ["": 17]) {
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.nodes = nodes
        self.initializers = initializers
        self.valueTypes = valueTypes
        self.opsets = opsets
    }

    /// Opset version of the default ONNX domain.
    public var opset: Int { opsets[""] ?? opsets["ai.onnx"] ?? 1 }

    /// The opset version governing `node`.
    public func opset(of node: Node) -> Int {
        node.domain.isEmpty || node.domain == "ai.onnx" ? opset : (opsets[node.domain] ?? 1)
    }

    /// The type of a value when known: input, initializer, or declared/inferred.
    public func type(of value: String) -> ValueType? {
        if let t = initializers[value] { return ValueType(t.dtype, t.shape) }
        if let p = inputs.first(where: { $0.name == value }) { return p.type }
        return valueTypes[value]
    }

    /// The node that writes each value.
    public func producers() -> [String: Int] {
        var out: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for o in n.outputs where !o.isEmpty { out[o] = i }
        }
        return out
    }

    /// How many nodes (and graph outputs) read each value.
    public func consumerCounts() -> [String: Int] {
        var out: [String: Int] = [:]
        for n in nodes {
            for i in n.inputs where !i.isEmpty { out[i, default: 0] += 1 }
        }
        for o in outputs { out[o.name, default: 0] += 1 }
        return out
    }

    /// Checks that the graph is well formed and returns the node indices in an order
    /// where every value is defined before it is read.
    ///
    /// Checked: every input of every node is defined, no value is defined twice, node
    /// names are unique, graph inputs are unique, every graph output is defined, there is no cycle.
    public func topologicalOrder() throws(GraphError) -> [Int] {
        var definedBy: [String: String] = [:]
        for p in inputs {
            guard definedBy[p.name] == nil else { throw .duplicateDefinition(value: p.name, first: "graph input '\(p.name)'", second: "another graph input") }
            definedBy[p.name] = "graph input '\(p.name)'"
        }
        for name in initializers.keys where definedBy[name] == nil { definedBy[name] = "initializer '\(name)'" }
        var names: Set<String> = []
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            guard names.insert(n.name).inserted else { throw .duplicateNodeName(n.name) }
            for o in n.outputs where !o.isEmpty {
                if let first = definedBy[o] {
                    throw .duplicateDefinition(value: o, first: first, second: "node '\(n.name)'")
                }
                definedBy[o] = "node '\(n.name)'"
                producer[o] = i
            }
        }
        for n in nodes {
            for v in n.inputs where !v.isEmpty && definedBy[v] == nil {
                throw .undefinedValue(node: n.name, value: v)
            }
        }
        for o in outputs where definedBy[o.name] == nil { throw .undefinedOutput(o.name) }

        // Kahn's algorithm, stable: ready nodes run in their original order.
        var pending = [Int](repeating: 0, count: nodes.count)
        var readers: [[Int]] = Array(repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() {
            for v in Set(n.inputs) where !v.isEmpty {
                if let p = producer[v] {
                    pending[i] += 1
                    readers[p].append(i)
                }
            }
        }
        var ready = Heap(pending.indices.filter { pending[$0] == 0 })
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        while let i = ready.popMin() {
            order.append(i)
            for r in readers[i] {
                pending[r] -= 1
                if pending[r] == 0 { ready.insert(r) }
            }
        }
        if order.count != nodes.count {
            let stuck = pending.indices.filter { pending[$0] > 0 }.map { nodes[$0].name }
            throw .cycle(nodes: stuck)
        }
        return order
    }

    /// The graph with its nodes sorted topologically (see `topologicalOrder()`).
    public func sorted() throws(GraphError) -> Graph {
        let order = try topologicalOrder()
        var g = self
        g.nodes = order.map { nodes[$0] }
        return g
    }

    /// Number of scalar parameters and bytes held by the initializers.
    public var parameterCount: (elements: Int, bytes: Int) {
        initializers.values.reduce((0, 0)) { ($0.0 + $1.shape.elementCount, $0.1 + $1.byteCount) }
    }
}

/// A binary min-heap of node indices (keeps topological order stable and O(n log n)).
private struct Heap {
    private var items: [Int]

    init(_ items: [Int]) {
        self.items = []
        for i in items { insert(i) }
    }

    mutating func insert(_ x: Int) {
        items.append(x)
        var c = items.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard items[c] < items[p] else { break }
            items.swapAt(c, p)
            c = p
        }
    }

    mutating func popMin() -> Int? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == p { break }
                items.swapAt(p, m)
                p = m
            }
        }
        return first
    }
}
