import OctetCore

/// Why a session could not be planned or run.
public enum SessionError: Error, Sendable, CustomStringConvertible {
    /// A graph that is not well formed or holds a node Octet cannot run.
    case graph(GraphError)
    /// A required input was not given.
    case missingInput(name: String, expected: ValueType?)
    /// An input that the graph does not have.
    case unknownInput(name: String, known: [String])
    /// An input of the wrong element type or shape.
    case inputMismatch(name: String, expected: ValueType, got: String)
    /// No registered backend can run a node.
    case noBackend(node: String, signature: String, reasons: [String])
    /// A node failed while planning or running.
    case node(node: String, opType: String, detail: String)
    /// A session option out of range.
    case invalidOption(name: String, detail: String)

    public var description: String {
        switch self {
        case let .graph(e): "\(e)"
        case let .missingInput(name, expected): "input '\(name)' is missing; expected \(expected?.description ?? "a tensor")"
        case let .unknownInput(name, known): "the model has no input '\(name)'; its inputs are \(known.joined(separator: ", "))"
        case let .inputMismatch(name, expected, got): "input '\(name)': expected \(expected), got \(got)"
        case let .noBackend(node, signature, reasons):
            "node '\(node)': no backend can run \(signature): \(reasons.joined(separator: "; "))"
        case let .node(node, opType, detail): "node '\(node)' (\(opType)): \(detail)"
        case let .invalidOption(name, detail): "session option '\(name)' \(detail)"
        }
    }
}
