import Foundation
import OctetCore
import SwiftProtobuf

/// An ONNX model read into Octet's graph IR.
///
/// ```swift
/// let model = try ONNXModel.load(contentsOf: "resnet18.onnx")
/// print(model.graph.inputs, model.graph.opset)
/// ```
public struct ONNXModel: Sendable {
    /// Opsets of the default domain Octet reads: 7 (NumPy broadcasting) to 28, the newest
    /// that onnx 1.23 writes. Each op reads its node's opset and applies that version's
    /// semantics (attributes that became inputs, changed defaults); an opset that changed
    /// nothing for an op is read as the version before it.
    public static let supportedOpsets = 7...28

    /// Opsets before 7 are read for graphs whose default-domain ops (subgraphs included)
    /// are all in `unchangedSinceOpset1`: ops whose ONNX definition at those opsets is the
    /// one in force at opset 7 (no version of theirs between their first and 7; from
    /// `onnx.defs.get_all_schemas_with_history`, onnx 1.23).
    public static let legacyOpsets = 1...6

    /// The ops defined before opset 7 whose definition did not change up to opset 7.
    public static let unchangedSinceOpset1: Set<String> = [
        "ArgMax", "ArgMin", "Constant", "Conv", "ConvTranspose", "DepthToSpace", "Flatten", "Gather",
        "GlobalAveragePool", "GlobalMaxPool", "Hardmax", "Identity", "If", "LRN", "LogSoftmax", "Loop",
        "LpNormalization", "MatMul", "MaxPool", "MaxRoiPool", "Not", "RandomNormal", "RandomNormalLike",
        "RandomUniform", "RandomUniformLike", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
        "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "Shape",
        "Size", "Slice", "Softmax", "Softplus", "Softsign", "SpaceToDepth", "Squeeze", "TopK", "Transpose",
        "Unsqueeze",
    ]

    /// The first default-domain node of `graph` (or of its subgraphs) whose op changed
    /// before opset 7, if any.
    static func changedBeforeOpset7(_ graph: Graph) -> Node? {
        for n in graph.nodes {
            if (n.domain.isEmpty || n.domain == "ai.onnx") && !unchangedSinceOpset1.contains(n.opType) { return n }
            for (_, g) in n.subgraphs { if let found = changedBeforeOpset7(g) { return found } }
        }
        return nil
    }

    /// The graph, validated (every input defined, no cycle) and sorted topologically.
    public var graph: Graph
    /// ONNX IR version of the file.
    public var irVersion: Int
    /// `producer_name producer_version` of the file.
    public var producer: String
    /// Where the model came from, for messages.
    public var path: String

    public init(graph: Graph, irVersion: Int = 8, producer: String = "octet", path: String = "<memory>") {
        self.graph = graph
        self.irVersion = irVersion
        self.producer = producer
        self.path = path
    }

    /// Reads and validates the model at `path`, which must be a regular file; external data
    /// is read from files in the same folder. The file and each external tensor must fit `budget`.
    public static func load(contentsOf path: String, budget: MemoryBudget = .machineDefault) throws(ONNXError) -> ONNXModel {
        let url = URL(fileURLWithPath: path)
        do { _ = try RegularFile.size(at: path, within: budget, for: "the model file") } catch { throw .unreadable(path: path, reason: error.reason) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        return try ONNXModel(serialized: data, path: path, directory: url.deletingLastPathComponent(), budget: budget)
    }

    /// Reads a model from its serialized bytes. `directory` is where external data lives
    /// (`nil`: external data is refused).
    public init(serialized data: Data, path: String = "<memory>", directory: URL? = nil, budget: MemoryBudget = .machineDefault) throws(ONNXError) {
        let proto: Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            proto = try Onnx_ModelProto(serializedBytes: data, extensions: nil, partial: true, options: options)
        } catch {
            throw .notAModel(path: path, reason: "\(error)")
        }
        guard proto.hasGraph else { throw .noGraph(path: path) }
        var opsets: [String: Int] = [:]
        for o in proto.opsetImport {
            let domain = o.domain == "ai.onnx" ? "" : o.domain
            opsets[domain] = Int(o.version)
        }
        // A model that uses only other domains (ai.onnx.ml, ai.onnx.preview.training, a
        // vendor's) need not import the default one; its ops are judged one by one.
        let usesDefaultDomain = proto.graph.node.contains { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        let defaultOpset = opsets[""] ?? (usesDefaultDomain ? 0 : nil)
        if let opset = defaultOpset, !Self.supportedOpsets.contains(opset), !Self.legacyOpsets.contains(opset) {
            throw .unsupportedOpset(path: path, version: opset, supported: Self.supportedOpsets)
        }
        let reader = GraphReader(path: path, decoder: ONNXTensorDecoder(modelPath: path, modelDirectory: directory, budget: budget))
        var graph = try reader.read(proto.graph, opsets: opsets)
        if let opset = defaultOpset, Self.legacyOpsets.contains(opset), let n = Self.changedBeforeOpset7(graph) {
            throw .legacyOpset(path: path, version: opset, node: n.name, opType: n.opType)
        }
        do { graph = try graph.sorted() } catch { throw .graph(path: path, error) }
        for entry in proto.metadataProps { graph.metadata[entry.key] = entry.value }
        self.init(graph: graph, irVersion: Int(proto.irVersion),
                  producer: [proto.producerName, proto.producerVersion].filter { !$0.isEmpty }.joined(separator: " "), path: path)
    }
}

/// Reads a `GraphProto` into a `Graph`.
private struct GraphReader {
    let path: String
    let decoder: ONNXTensorDecoder

    /// A subgraph's (`subgraph`) inputs may leave their type to the node that runs it.
    func read(_ g: Onnx_GraphProto, opsets: [String: Int], subgraph: Bool = false) throws(ONNXError) -> Graph {
        var initializers: [String: Tensor] = [:]
        for t in g.initializer {
            guard !t.name.isEmpty else { throw .tensor(path: path, name: "", reason: "an initializer has no name") }
            guard initializers[t.name] == nil else { throw .tensor(path: path, name: t.name, reason: "two initializers have this name") }
            initializers[t.name] = try decoder.decode(t)
        }
        if let sparse = g.sparseInitializer.first {
            throw .tensor(path: path, name: sparse.values.name, reason: "sparse initializers are not supported")
        }
        var inputs: [Graph.Port] = []
        for v in g.input where initializers[v.name] == nil {
            let type = try valueType(v)
            guard type != nil || subgraph else { throw .valueType(path: path, name: v.name, reason: "a graph input must declare a tensor type") }
            inputs.append(Graph.Port(name: v.name, type: type))
        }
        var outputs: [Graph.Port] = []
        for v in g.output { outputs.append(Graph.Port(name: v.name, type: try valueType(v))) }
        var types: [String: ValueType] = [:]
        for v in g.valueInfo {
            if let t = try valueType(v) { types[v.name] = t }
        }
        var nodes: [Node] = []
        var used: Set<String> = []
        for (i, n) in g.node.enumerated() {
            var name = n.name.isEmpty ? "\(n.opType)_\(i)" : n.name
            while !used.insert(name).inserted { name += "_\(i)" }
            var attributes: [String: AttributeValue] = [:]
            for a in n.attribute {
                if let v = try attribute(a, node: name, opsets: opsets) { attributes[a.name] = v }
            }
            // Values the subgraphs read from this scope become the node's last inputs, so
            // that ordering, liveness and folding see them.
            var inputs = n.input
            let outer = attributes.sorted { $0.key < $1.key }.flatMap { _, v -> [String] in
                if case let .graph(sub) = v { sub.outerScopeReferences() } else { [] }
            }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            if !outer.isEmpty {
                inputs += outer
                attributes[Node.outerScopeCountKey] = .int(outer.count)
            }
            nodes.append(Node(name: name, opType: n.opType, domain: n.domain == "ai.onnx" ? "" : n.domain,
                              inputs: inputs, outputs: n.output, attributes: attributes))
        }
        return Graph(name: g.name.isEmpty ? "graph" : g.name, inputs: inputs, outputs: outputs, nodes: nodes,
                     initializers: initializers, valueTypes: types, opsets: opsets)
    }

    private func valueType(_ v: Onnx_ValueInfoProto) throws(ONNXError) -> ValueType? {
        guard v.hasType, case .tensorType(let t)? = v.type.value else { return nil }
        guard let dtype = ONNXDataType.dtype(t.elemType) else {
            throw .valueType(path: path, name: v.name, reason: "element type \(ONNXDataType.name(t.elemType)) is not supported (supported: \(ONNXDataType.supportedNames))")
        }
        guard t.hasShape else { return ValueType(dtype, nil) }
        var dims: [OctetCore.Dimension] = []
        for (axis, d) in t.shape.dim.enumerated() {
            switch d.value {
            case let .dimValue(x)?:
                guard x >= 0 else { throw .valueType(path: path, name: v.name, reason: "dimension \(axis) is \(x); dimensions must be ≥ 0") }
                dims.append(.fixed(Int(x)))
            case let .dimParam(s)? where !s.isEmpty:
                dims.append(.symbol(s))
            default:
                dims.append(.symbol("\(v.name)_d\(axis)"))
            }
        }
        // Known dimensions whose product overflows cannot describe a tensor.
        let known = dims.compactMap(\.value)
        if (try? known.checkedProduct()) == nil {
            throw .valueType(path: path, name: v.name, reason: "shape \(SymbolicShape(dims)) has more elements than can be addressed")
        }
        return ValueType(dtype, SymbolicShape(dims))
    }

    private func attribute(_ a: Onnx_AttributeProto, node: String, opsets: [String: Int]) throws(ONNXError) -> AttributeValue? {
        switch a.type {
        case .float: return .float(a.f)
        case .int: return .int(Int(a.i))
        case .string: return .string(String(decoding: a.s, as: UTF8.self))
        case .floats: return .floats(a.floats)
        case .ints: return .ints(a.ints.map { Int($0) })
        case .strings: return .strings(a.strings.map { String(decoding: $0, as: UTF8.self) })
        case .tensor: return .tensor(try decoder.decode(a.t, name: "\(node).\(a.name)"))
        case .graph: return .graph(try read(a.g, opsets: opsets, subgraph: true))
        default:
            // Lists of graphs, sparse tensors and type protos belong to ops Octet does not
            // run; those are reported as unsupported ops when planned.
            return nil
        }
    }
}
