/// The value of a node attribute (ONNX `AttributeProto`, the kinds Octet reads).
public enum AttributeValue: Sendable, CustomStringConvertible {
    case int(Int)
    case float(Float)
    case string(String)
    case ints([Int])
    case floats([Float])
    case strings([String])
    case tensor(Tensor)
    /// A subgraph (If's branches, Loop's and Scan's body).
    case graph(Graph)

    /// The kind, for error messages.
    public var kind: String {
        switch self {
        case .int: "int"
        case .float: "float"
        case .string: "string"
        case .ints: "ints"
        case .floats: "floats"
        case .strings: "strings"
        case .tensor: "tensor"
        case .graph: "graph"
        }
    }

    public var description: String {
        switch self {
        case let .int(v): String(v)
        case let .float(v): String(v)
        case let .string(v): "\"\(v)\""
        case let .ints(v): "\(v)"
        case let .floats(v): "\(v)"
        case let .strings(v): "\(v)"
        case let .tensor(t): "tensor \(t.dtype)[\(t.shape)]"
        case let .graph(g): "graph '\(g.name)' (\(g.nodes.count) nodes)"
        }
    }
}
