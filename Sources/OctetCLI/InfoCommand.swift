import ArgumentParser
import Foundation
import Octet

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a model: inputs, outputs, op counts, parameters, opset.")

    @Argument(help: ArgumentHelp("The ONNX model.", valueName: "MODEL")) var model: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let m = try ONNXModel.load(contentsOf: model)
        // Inferred output types where the model leaves them out or symbolic.
        let g = (try? ShapeInference.run(m.graph)).map { inferred -> Graph in
            var g = m.graph
            g.outputs = g.outputs.map { p in Graph.Port(name: p.name, type: inferred.valueTypes[p.name] ?? p.type) }
            return g
        } ?? m.graph
        var counts: [String: Int] = [:]
        for n in g.nodes { counts[(n.domain.isEmpty ? "" : n.domain + ".") + n.opType, default: 0] += 1 }
        let (params, bytes) = g.parameterCount
        let unsupported = Set(g.nodes.filter { !OctetRuntime.supportedOps.contains($0.opType) || !($0.domain.isEmpty || $0.domain == "ai.onnx") }.map(\.opType)).sorted()
        func port(_ p: Graph.Port) -> [String: Any] {
            ["name": p.name, "dtype": p.type.map { $0.dtype.rawValue } ?? NSNull(),
             "shape": p.type?.shape.map { $0.dims.map { d -> Any in d.value ?? d.description } } ?? NSNull()]
        }
        if json {
            let object: [String: Any] = [
                "model": model, "producer": m.producer, "ir_version": m.irVersion, "opset": g.opset,
                "opsets": Dictionary(uniqueKeysWithValues: g.opsets.map { ($0.key.isEmpty ? "ai.onnx" : $0.key, $0.value) }),
                "inputs": g.inputs.map(port), "outputs": g.outputs.map(port),
                "nodes": g.nodes.count, "op_counts": counts,
                "parameters": params, "parameter_bytes": bytes, "unsupported_ops": unsupported,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            emit(String(decoding: data, as: UTF8.self))
            return
        }
        emit("model     \(model)")
        emit("producer  \(m.producer.isEmpty ? "-" : m.producer), IR version \(m.irVersion), opset \(g.opset)")
        emit("inputs")
        for p in g.inputs { emit("  \(p.name)  \(p.type?.description ?? "?")") }
        emit("outputs")
        for p in g.outputs { emit("  \(p.name)  \(p.type?.description ?? "?")") }
        emit("parameters  \(params) (\(formatBytes(bytes)))")
        emit("nodes       \(g.nodes.count)")
        for (op, n) in counts.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) { emit("  \(op.padding(toLength: 22, withPad: " ", startingAt: 0)) \(n)") }
        if !unsupported.isEmpty { emit("unsupported ops: \(unsupported.joined(separator: ", "))") }
    }
}

func formatBytes(_ b: Int) -> String {
    if b >= 1 << 20 { return String(format: "%.1f MiB", Double(b) / Double(1 << 20)) }
    if b >= 1 << 10 { return String(format: "%.1f KiB", Double(b) / 1024) }
    return "\(b) B"
}
