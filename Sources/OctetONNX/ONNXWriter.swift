import Foundation
import OctetCore
import SwiftProtobuf

extension ONNXModel {
    /// The model as ONNX protobuf bytes: initializers as raw data, inputs and outputs with
    /// their types (symbolic dimensions as `dim_param`), every node and attribute.
    public func serialized() throws(ONNXError) -> Data {
        var m = Onnx_ModelProto()
        m.irVersion = Int64(irVersion)
        m.producerName = producer.isEmpty ? "octet" : producer
        m.opsetImport = graph.opsets.sorted { $0.key < $1.key }.map { domain, version in
            var o = Onnx_OperatorSetIdProto()
            o.domain = domain
            o.version = Int64(version)
            return o
        }
        m.metadataProps = graph.metadata.sorted { $0.key < $1.key }.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        let g = Self.graphProto(graph)
        m.graph = g
        do { return try m.serializedData() } catch { throw .unwritable(path: path, reason: "\(error)") }
    }

    /// Writes the model to `path`.
    public func write(to path: String) throws(ONNXError) {
        let data = try serialized()
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw .unwritable(path: path, reason: (error as NSError).localizedDescription)
        }
    }

    static func tensorProto(_ t: Tensor, name: String) -> Onnx_TensorProto {
        var p = Onnx_TensorProto()
        p.name = name
        p.dims = t.shape.dims.map { Int64($0) }
        p.dataType = ONNXDataType.code(t.dtype)
        p.rawData = t.withUnsafeBytes { Data($0) }
        return p
    }

    static func valueInfo(_ name: String, _ type: ValueType?) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        guard let type else { return v }
        var tt = Onnx_TypeProto.Tensor()
        tt.elemType = ONNXDataType.code(type.dtype)
        if let shape = type.shape {
            var sp = Onnx_TensorShapeProto()
            sp.dim = shape.dims.map { d in
                var pd = Onnx_TensorShapeProto.Dimension()
                switch d {
                case let .fixed(x): pd.dimValue = Int64(x)
                case let .symbol(s): pd.dimParam = s
                }
                return pd
            }
            tt.shape = sp
        }
        var tp = Onnx_TypeProto()
        tp.tensorType = tt
        v.type = tp
        return v
    }

    /// `graph` as a GraphProto; a node's outer-scope inputs (`Node.outerScopeCount`),
    /// which ONNX leaves implicit, are not written.
    static func graphProto(_ graph: Graph) -> Onnx_GraphProto {
        var g = Onnx_GraphProto()
        g.name = graph.name
        g.initializer = graph.initializers.sorted { $0.key < $1.key }.map { Self.tensorProto($0.value, name: $0.key) }
        g.input = graph.inputs.map { Self.valueInfo($0.name, $0.type) }
        g.output = graph.outputs.map { Self.valueInfo($0.name, $0.type) }
        g.valueInfo = graph.valueTypes.sorted { $0.key < $1.key }.map { Self.valueInfo($0.key, $0.value) }
        g.node = graph.nodes.map { n in
            var p = Onnx_NodeProto()
            p.name = n.name
            p.opType = n.opType
            p.domain = n.domain
            p.input = Array(n.inputs.dropLast(n.outerScopeCount))
            p.output = n.outputs
            p.attribute = n.attributes.filter { $0.key != Node.outerScopeCountKey }.sorted { $0.key < $1.key }.map { Self.attribute($0.key, $0.value) }
            return p
        }
        return g
    }

    static func attribute(_ name: String, _ value: AttributeValue) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        switch value {
        case let .int(v): a.type = .int; a.i = Int64(v)
        case let .float(v): a.type = .float; a.f = v
        case let .string(v): a.type = .string; a.s = Data(v.utf8)
        case let .ints(v): a.type = .ints; a.ints = v.map { Int64($0) }
        case let .floats(v): a.type = .floats; a.floats = v
        case let .strings(v): a.type = .strings; a.strings = v.map { Data($0.utf8) }
        case let .tensor(t): a.type = .tensor; a.t = tensorProto(t, name: name)
        case let .graph(g): a.type = .graph; a.g = graphProto(g)
        }
        return a
    }
}
