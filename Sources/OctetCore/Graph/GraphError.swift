/// A graph that is not well formed, or a node Octet cannot read. Every case names the
/// node (and value) at fault and says what was expected.
public enum GraphError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A node reads a value that nothing defines.
    case undefinedValue(node: String, value: String)
    /// Two definitions of one value.
    case duplicateDefinition(value: String, first: String, second: String)
    /// Two nodes with the same name.
    case duplicateNodeName(String)
    /// The nodes form a cycle through these values.
    case cycle(nodes: [String])
    /// A graph output that nothing defines.
    case undefinedOutput(String)
    /// An attribute of the wrong kind or value.
    case attribute(node: String, opType: String, name: String, expected: String, got: String)
    /// An input of the wrong type, shape or count.
    case input(node: String, opType: String, detail: String)
    /// An op Octet does not implement.
    case unsupportedOp(node: String, opType: String, domain: String, opset: Int, supported: [String])
    /// A value whose declared type disagrees with what its producer makes.
    case typeMismatch(node: String, value: String, declared: String, inferred: String)
    /// Anything else about a node.
    case node(node: String, opType: String, detail: String)

    public var description: String {
        switch self {
        case let .undefinedValue(node, value):
            "node '\(node)' reads '\(value)', which is neither a graph input, an initializer nor the output of another node"
        case let .duplicateDefinition(value, first, second):
            "value '\(value)' is defined twice: by \(first) and by \(second)"
        case let .duplicateNodeName(name):
            "two nodes are named '\(name)'"
        case let .cycle(nodes):
            "the graph has a cycle through nodes \(nodes.prefix(8).map { "'\($0)'" }.joined(separator: ", "))\(nodes.count > 8 ? ", …" : "")"
        case let .undefinedOutput(name):
            "graph output '\(name)' is not produced by any node, input or initializer"
        case let .attribute(node, opType, name, expected, got):
            "node '\(node)' (\(opType)): attribute '\(name)' must be \(expected), got \(got)"
        case let .input(node, opType, detail):
            "node '\(node)' (\(opType)): \(detail)"
        case let .unsupportedOp(node, opType, domain, opset, supported):
            "node '\(node)': op \(domain.isEmpty ? "" : domain + ".")\(opType) (opset \(opset)) is not supported; supported ops: \(supported.joined(separator: ", "))"
        case let .typeMismatch(node, value, declared, inferred):
            "node '\(node)' makes '\(value)' as \(inferred), but the model declares \(declared)"
        case let .node(node, opType, detail):
            "node '\(node)' (\(opType)): \(detail)"
        }
    }
}
