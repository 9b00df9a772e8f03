import Foundation
import Octet
import OctetQuant
import Testing

/// The per-token dynamic export: one file that ONNX Runtime loads and runs (per tensor, as
/// written) and that Octet plans per row because of its metadata entry.
@Suite struct DynamicPerTokenTests {
    static let nets = QuantizationWorkflowTests.nets

    static func quantized(_ activations: DynamicActivations) throws -> (path: String, graph: Graph, fp32: Graph, inputs: [String: Tensor]) {
        let model = try ONNXModel.load(contentsOf: nets.appendingPathComponent("bert_tiny.onnx").path)
        let inputs = Dictionary(uniqueKeysWithValues: try NumPyFiles.readArchive(at: nets.appendingPathComponent("bert_tiny.inputs.npz").path).map { ($0.name, $0.tensor) })
        let q = try DynamicQuantizer(activations: activations).quantize(model.graph)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("octet-dynamic-\(activations.rawValue)-\(UUID().uuidString).onnx").path
        try ONNXModel(graph: q.graph).serialized().write(to: URL(fileURLWithPath: path))
        return (path, try ONNXModel.load(contentsOf: path).graph, model.graph, inputs)
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        let dot = zip(a, b).map { Double($0) * Double($1) }.reduce(0, +)
        return dot / (a.map { Double($0 * $0) }.reduce(0, +).squareRoot() * b.map { Double($0 * $0) }.reduce(0, +).squareRoot())
    }

    /// The metadata entry decides the plan: per-row kernels for per-token, per-tensor otherwise.
    @Test(arguments: DynamicActivations.allCases)
    func metadataSelectsTheKernel(activations: DynamicActivations) throws {
        let m = try Self.quantized(activations)
        defer { try? FileManager.default.removeItem(atPath: m.path) }
        #expect(m.graph.metadata[DynamicActivations.metadataKey] == activations.rawValue)
        let session = try Session(graph: m.graph, options: QuantizationWorkflowTests.options())
        let ops = try session.trace(inputShapes: m.inputs.mapValues(\.shape)).trace.ops.filter { $0.signature.quantization?.dynamic == true }
        #expect(ops.count >= 12)
        #expect(ops.allSatisfy { $0.signature.quantization?.perRowActivations == (activations == .perToken) })
        #expect(ops.allSatisfy { ($0.kernel ?? "").contains("pertoken") == (activations == .perToken) }, "\(ops.map { $0.kernel ?? "-" })")
        // Close to FP32 either way.
        let fp32 = try Session(graph: m.fp32, options: QuantizationWorkflowTests.options()).run(m.inputs)
        let got = try session.run(m.inputs)
        for name in ["hidden", "pooled"] {
            let c = Self.cosine(try #require(fp32[name]).scalars(as: Float.self), try #require(got[name]).scalars(as: Float.self))
            #expect(c >= 0.99, "\(name): cosine \(c)")
        }
    }

    /// ONNX Runtime loads and runs the per-token file (as the per-tensor graph it holds): its
    /// outputs agree with Octet running the per-tensor file, and with FP32.
    @Test func onnxRuntimeRunsThePerTokenFile() throws {
        let m = try Self.quantized(.perToken)
        defer { try? FileManager.default.removeItem(atPath: m.path) }
        let out = m.path + ".ort.npz"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let script = """
        import sys, numpy as np, onnxruntime as ort
        s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
        feeds = dict(np.load(sys.argv[2]))
        names = [o.name for o in s.get_outputs()]
        np.savez(sys.argv[3], **dict(zip(names, s.run(None, feeds))))
        """
        try DynamicBiasFusionTests.python(script, [m.path, Self.nets.appendingPathComponent("bert_tiny.inputs.npz").path, out])
        let ort = Dictionary(uniqueKeysWithValues: try NumPyFiles.readArchive(at: out).map { ($0.name, $0.tensor) })
        let perTensor = try Self.quantized(.perTensor)
        defer { try? FileManager.default.removeItem(atPath: perTensor.path) }
        let octet = try Session(graph: perTensor.graph, options: QuantizationWorkflowTests.options()).run(m.inputs)
        let fp32 = try Session(graph: m.fp32, options: QuantizationWorkflowTests.options()).run(m.inputs)
        for name in ["hidden", "pooled"] {
            let a = try #require(ort[name]).scalars(as: Float.self)
            let vsOctet = Self.cosine(a, try #require(octet[name]).scalars(as: Float.self)), vsFP32 = Self.cosine(a, try #require(fp32[name]).scalars(as: Float.self))
            // ORT's own u8·s8 kernels on AVX2 saturate int16 pairs (vpmaddubsw; hence its
            // reduce_range advice), so it lands a little further from FP32 than Octet does
            // (measured 0.987 on `pooled`); it must still have run the quantized graph.
            #expect(vsOctet >= 0.98 && vsFP32 >= 0.98 && vsFP32 < 0.999_999, "\(name): ORT vs Octet per tensor \(vsOctet), vs FP32 \(vsFP32)")
        }
    }
}
