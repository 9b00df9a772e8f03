import Foundation
import Octet
import OctetConformance

// 1. Register the backend beside the built-in ones; 2. check it against the reference
// backend with the conformance harness; 3. route a model's linear layers to it with a rules
// file and run the model; 4. print the trace that names it.
// Usage: custom-backend-demo [OCTET_REPOSITORY_ROOT]   (default: ../..)
let root = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "../.."
do {
    let backend = RowwiseLinearBackend()
    let registry = BackendRegistry.builtIn()
    try registry.register(backend)

    let report = Conformance.check(backend, cpu: .host, kinds: [.linear], casesPerKind: 30)
    print("conformance vs qnnpack-ref: \(report.tested[.linear] ?? 0) linear cases, \(report.failures.count) failures")
    for f in report.failures.prefix(3) { print("  \(f)") }

    let rules = try RuleSet.load(from: "\(root)/Examples/CustomBackend/rules.json")
    let model = try ONNXModel.load(contentsOf: "\(root)/Models/digits/digits_cnn.onnx")
    let calibration = try CalibrationData.load("\(root)/Models/digits/calibration.npz", for: model.graph.inputs)
    let options = SessionOptions(threads: 1, cpu: .host, registry: registry, rules: rules)
    let int8 = try Quantizer().quantize(model.graph, data: calibration, options: options)
    let session = try Session(graph: int8.graph, options: options)
    let sample = calibration.samples[0]
    if let logits = try session.run(sample)["logits"] {
        print("logits: \(try logits.scalars(as: Float.self).map { String(format: "%.4f", $0) }.joined(separator: " "))")
    }
    print(try session.trace(inputShapes: sample.mapValues(\.shape)).trace.text, terminator: "")
    exit(report.failures.isEmpty && (report.tested[.linear] ?? 0) > 0 ? 0 : 1)
} catch {
    FileHandle.standardError.write(Data("custom-backend-demo: \(error)\n".utf8))
    exit(1)
}
