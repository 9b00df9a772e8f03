import Foundation
import FuzzSupport
import Octet

/// ONNX model bytes → what `octet info` and `octet run` do with them: load (protobuf
/// decoding, tensor decoding, graph validation; external data refused, as no folder is
/// given), symbolic shape inference, a Session planned for the host with the built-in
/// rules, and a run on zeros of the declared input shapes (symbolic dimensions = 1).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(Fuzz.bytes(data, size))
    guard let rules = Fuzz.builtInRules else { return 0 }
    do {
        let model = try ONNXModel(serialized: bytes, path: "fuzz.onnx", directory: nil, budget: Fuzz.budget)
        _ = try? ShapeInference.run(model.graph)
        try Fuzz.planAndRun(model.graph, rules: rules)
    } catch {
        // Refused: the expected outcome for most inputs.
    }
    return 0
}
