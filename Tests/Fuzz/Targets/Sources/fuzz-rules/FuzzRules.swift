import Foundation
import FuzzSupport
import Octet

/// Rules-file bytes → the rules parser (size and depth limits, JSON, schema), and when
/// the rules parse, the rule engine: a small convolution + matrix network, in FP32, with
/// dynamically quantized INT8 weights and with FP16 weights, planned and run under them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRules(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(Fuzz.bytes(data, size))
    guard let rules = try? RuleSetParser.parse(bytes, source: "fuzz.json") else { return 0 }
    for graph in Network.graphs {
        _ = try? Fuzz.planAndRun(graph, rules: rules)
    }
    return 0
}

/// x[1,1,6,6] → Conv 3x3 (2 channels) → Relu → Flatten → MatMul [32, 4] → Add → y[1,4].
enum Network {
    static let graphs: [Graph] = {
        guard let fp32 = try? fp32Graph() else { return [] }
        var out = [fp32]
        if let int8 = try? DynamicQuantizer().quantize(fp32) { out.append(int8.graph) }
        if let fp16 = try? FP16Converter().convert(fp32) { out.append(fp16.graph) }
        return out
    }()

    static func fp32Graph() throws -> Graph {
        func ramp(_ n: Int, _ step: Float) -> [Float] { (0..<n).map { Float($0 % 7) * step - 0.2 } }
        let initializers: [String: Tensor] = [
            "w": try Tensor(ramp(18, 0.11), shape: TensorShape([2, 1, 3, 3])),
            "b": try Tensor([0.1, -0.1] as [Float], shape: TensorShape([2])),
            "m": try Tensor(ramp(128, 0.05), shape: TensorShape([32, 4])),
            "c": try Tensor([0.5, -0.5, 0.25, 0] as [Float], shape: TensorShape([4])),
        ]
        let nodes = [
            Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["h"], attributes: ["kernel_shape": .ints([3, 3])]),
            Node(name: "relu", opType: "Relu", inputs: ["h"], outputs: ["r"]),
            Node(name: "flatten", opType: "Flatten", inputs: ["r"], outputs: ["f"]),
            Node(name: "matmul", opType: "MatMul", inputs: ["f", "m"], outputs: ["p"]),
            Node(name: "add", opType: "Add", inputs: ["p", "c"], outputs: ["y"]),
        ]
        return Graph(name: "fuzz-rules", inputs: [Graph.Port(name: "x", type: ValueType(.f32, SymbolicShape([1, 1, 6, 6].map(Dimension.fixed))))],
                     outputs: [Graph.Port(name: "y", type: nil)], nodes: nodes, initializers: initializers, opsets: ["": 17])
    }
}
