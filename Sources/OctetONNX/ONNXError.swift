import OctetCore

/// A model file Octet cannot read. Every case names the file and the part at fault.
public enum ONNXError: Error, Sendable, CustomStringConvertible {
    /// The file cannot be opened or read.
    case unreadable(path: String, reason: String)
    /// The bytes are not an ONNX `ModelProto` (truncated, corrupt, not protobuf).
    case notAModel(path: String, reason: String)
    /// The model has no graph.
    case noGraph(path: String)
    /// The default-domain opset is outside what Octet reads.
    case unsupportedOpset(path: String, version: Int, supported: ClosedRange<Int>)
    /// An opset before 7 whose graph uses an op that changed between that opset and 7.
    case legacyOpset(path: String, version: Int, node: String, opType: String)
    /// An initializer, constant or attribute tensor that cannot be decoded.
    case tensor(path: String, name: String, reason: String)
    /// A declared input, output or value type Octet cannot represent.
    case valueType(path: String, name: String, reason: String)
    /// External data that is missing, too short or outside the model's folder.
    case externalData(path: String, tensor: String, reason: String)
    /// The graph is not well formed.
    case graph(path: String, GraphError)
    /// The model cannot be written.
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "\(path): cannot read the file: \(reason)"
        case let .notAModel(path, reason): "\(path): not an ONNX model (expected a serialized onnx.ModelProto): \(reason)"
        case let .noGraph(path): "\(path): the model has no graph"
        case let .unsupportedOpset(path, version, supported):
            "\(path): opset \(version) of the default domain is not supported; Octet reads opsets \(supported.lowerBound) to \(supported.upperBound) (convert with onnx.version_converter)"
        case let .legacyOpset(path, version, node, opType):
            "\(path): node '\(node)' (\(opType)): \(opType) changed between opset \(version) and 7; Octet reads opsets before 7 only for ops defined the same as at opset 7 (convert with onnx.version_converter)"
        case let .tensor(path, name, reason): "\(path): tensor '\(name)': \(reason)"
        case let .valueType(path, name, reason): "\(path): value '\(name)': \(reason)"
        case let .externalData(path, tensor, reason): "\(path): external data of tensor '\(tensor)': \(reason)"
        case let .graph(path, error): "\(path): \(error)"
        case let .unwritable(path, reason): "\(path): cannot write the model: \(reason)"
        }
    }
}
