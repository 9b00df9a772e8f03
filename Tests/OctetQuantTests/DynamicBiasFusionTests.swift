import Foundation
import Octet
import OctetQuant
import Testing

/// The bias Add after a dynamic linear (`quantize_dynamic`'s DynamicQuantizeLinear →
/// MatMulInteger → Cast → Mul → Add) runs in the packed kernel's store: no Add is left, the
/// trace names it as fused, and the outputs match ONNX Runtime running the same file (per
/// tensor, 8 bits) or numpy's computation (per token, and 7-bit codes where those are
/// planned), computed independently in Python.
@Suite struct DynamicBiasFusionTests {
    /// Writes the model, its input and the expected outputs (`ort` per tensor from ONNX Runtime,
    /// `rows` per token from numpy) to `dir`. Weights stay within ±63 so that ORT's AVX2
    /// u8·s8 pairs cannot saturate int16 and its result is exact.
    static let script = """
    import sys, numpy as np, onnx, onnxruntime as ort
    from onnx import helper as h, TensorProto as T, numpy_helper as nh
    d, m, k, n, bias_first, per_channel = sys.argv[1], *map(int, sys.argv[2:7])
    rng = np.random.default_rng(7 + m + k + n)
    w = rng.integers(-63, 64, size=(k, n), dtype=np.int8)
    ws = (rng.uniform(0.001, 0.02, size=n) if per_channel else np.array(0.01)).astype(np.float32)
    b = rng.normal(0, 1, size=n).astype(np.float32)
    x = (rng.normal(0, 2, size=(2, m, k)) + rng.uniform(-1, 3, size=(2, m, 1))).astype(np.float32)
    x[0, 0, 0] = 40.0  # one outlier: full-range codes, and per-row scales differ
    nodes = [h.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             h.make_node("MatMulInteger", ["xq", "w", "xz"], ["acc"]),
             h.make_node("Cast", ["acc"], ["accf"], to=T.FLOAT),
             h.make_node("Mul", ["xs", "ws"], ["s"]),
             h.make_node("Mul", ["accf", "s"], ["mm"]),
             h.make_node("Add", ["b", "mm"] if bias_first else ["mm", "b"], ["y"], name="bias_add")]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [2, m, k])], [h.make_tensor_value_info("y", T.FLOAT, None)],
                     [nh.from_array(w, "w"), nh.from_array(ws, "ws"), nh.from_array(b, "b")])
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    onnx.save(model, d + "/model.onnx")
    y = ort.InferenceSession(d + "/model.onnx", providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    # PyTorch's parameters for each row's (per token) or the tensor's range, codes [0, qmax]
    # (255, or 127 with reduce_range), then the same integer product.
    out = {"x": x, "ort": y}
    for qmax in (255, 127):
        for name, r in (("rows", x.reshape(-1, k)), ("tensor", x.reshape(1, -1))):
            lo, hi = np.minimum(r.min(1), 0), np.maximum(r.max(1), 0)
            sc = np.maximum((hi - lo) / np.float32(qmax), np.finfo(np.float32).eps).astype(np.float32)
            zp = np.clip(np.rint(-lo / sc), 0, qmax)
            q = (np.clip(np.rint(r * (np.float32(1) / sc[:, None])) + zp[:, None], 0, qmax) - zp[:, None]).reshape(-1, k)
            s = np.repeat(sc, q.shape[0] // len(sc))
            acc = q.astype(np.int64) @ w.astype(np.int64)
            out[f"{name}{qmax}"] = (acc.astype(np.float32) * (s[:, None] * ws) + b).reshape(2, m, n).astype(np.float32)
            out[f"step{name}{qmax}"] = (s[:, None] * np.abs(w).sum(0) * ws).max().astype(np.float32)
    np.savez(d + "/data.npz", **out)
    """

    /// Runs `script` with `arguments` in python3; fails the test with its error output.
    static func python(_ script: String, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script] + arguments
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try #require(p.terminationStatus == 0, "python3 failed: \(message)")
    }

    @Test(arguments: [(5, 37, 19, true, true), (1, 16, 33, false, false), (7, 64, 48, false, true)])
    func biasRunsInTheStore(shape: (m: Int, k: Int, n: Int, biasFirst: Bool, perChannel: Bool)) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-dyn-bias-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.python(Self.script, [dir] + [shape.m, shape.k, shape.n, shape.biasFirst ? 1 : 0, shape.perChannel ? 1 : 0].map(String.init))
        let data = Dictionary(uniqueKeysWithValues: try NumPyFiles.readArchive(at: dir + "/data.npz").map { ($0.name, $0.tensor) })
        let x = try #require(data["x"])
        for perToken in [false, true] {
            var graph = try ONNXModel.load(contentsOf: dir + "/model.onnx").graph
            if perToken { graph.metadata[DynamicActivations.metadataKey] = DynamicActivations.perToken.rawValue }
            let session = try Session(graph: graph, options: QuantizationWorkflowTests.options())
            let trace = try session.trace(inputShapes: ["x": x.shape]).trace
            #expect(!trace.nodes.contains { $0.opType == "Add" }, "the bias Add still runs on its own")
            let linear = try #require(trace.ops.first { $0.signature.quantization?.dynamic == true })
            #expect(linear.notes.contains { $0.contains("fused Add 'bias_add'") }, "\(linear.notes)")
            // 7-bit codes where planned (AVX2 without VNNI): numpy's; 8-bit per tensor: ONNX Runtime's.
            let qmax = linear.signature.quantization?.reduceRange == true ? 127 : 255
            let key = perToken ? "rows\(qmax)" : qmax == 255 ? "ort" : "tensor127"
            let step = try #require(data["step" + (perToken ? "rows" : "tensor") + "\(qmax)"]).scalars(as: Float.self)[0]
            let got = try #require(try session.run(["x": x])["y"]).scalars(as: Float.self)
            let want = try #require(data[key]).scalars(as: Float.self)
            #expect(got.count == want.count)
            // Float rounding of the scale products, and at most one code of rounding-tie difference per activation.
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-4 + step / 64, "per-token \(perToken): max |Octet − reference| \(worst)")
        }
    }

    /// Planned for an AVX2 CPU without VNNI (Zen 3), the dynamic linears take 7-bit codes on the
    /// k-quad kernel and say why; planned for the portable kernels, they keep 8 bits.
    @Test func sevenBitIsPlannedWhereFaster() throws {
        let m = try DynamicPerTokenTests.quantized(.perToken)
        defer { try? FileManager.default.removeItem(atPath: m.path) }
        let shapes = m.inputs.mapValues(\.shape)
        let zen3 = try Session.planTrace(graph: m.graph, options: QuantizationWorkflowTests.options(cpu: try CPUFeatures.assumed("zen3")), inputShapes: shapes)
        let dynamic = zen3.ops.filter { $0.signature.quantization?.dynamic == true }
        #expect(dynamic.count >= 12)
        #expect(dynamic.allSatisfy { $0.signature.quantization?.reduceRange == true && $0.notes.contains { $0.hasPrefix("7-bit dynamic activations: packed is faster") } })
        if CPUFeatures.host.hasAll([.avx2, .fma]) {
            #expect(dynamic.allSatisfy { $0.kernel == "f32u7s8-dqgemm-pertoken-6x16c4-avx2" }, "\(dynamic.map { $0.kernel ?? "-" })")
        }
        let portable = try Session.planTrace(graph: m.graph, options: QuantizationWorkflowTests.options(cpu: CPUFeatures.host.capped(at: .scalar)), inputShapes: shapes)
        let eight = portable.ops.filter { $0.signature.quantization?.dynamic == true }
        #expect(eight.allSatisfy { $0.signature.quantization?.reduceRange == false && $0.kernel == "f32u8s8-dqgemm-pertoken-6x16-scalar" }, "\(eight.map { $0.kernel ?? "-" })")
    }
}
