import Foundation
import Octet

/// The ONNX test suite built by scripts/make-test-models.py: each case is a model, its
/// inputs and the outputs ONNX Runtime computed for them.
enum ModelSuite {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let ops = root.appendingPathComponent("Tests/Models/ops")
    static let nets = root.appendingPathComponent("Tests/Models/nets")
    static let large = root.appendingPathComponent("Models/large")

    /// Case names (model files without `.onnx`) in a folder.
    static func cases(in folder: URL) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return files.filter { $0.hasSuffix(".onnx") }.map { String($0.dropLast(5)) }.sorted()
    }

    struct Case {
        var model: ONNXModel
        var inputs: [String: Tensor]
        var expected: [(name: String, tensor: Tensor)]
    }

    static func load(_ name: String, in folder: URL) throws -> Case {
        let base = folder.appendingPathComponent(name).path
        let model = try ONNXModel.load(contentsOf: base + ".onnx")
        let inputs = Dictionary(uniqueKeysWithValues: try NumPyFiles.readArchive(at: base + ".inputs.npz").map { ($0.name, $0.tensor) })
        return Case(model: model, inputs: inputs, expected: try NumPyFiles.readArchive(at: base + ".outputs.npz"))
    }

    static func registry(_ backends: [any Backend]) throws -> BackendRegistry {
        let r = BackendRegistry()
        for b in backends { try r.register(b) }
        return r
    }

    static func session(_ c: Case, registry: BackendRegistry = BackendRegistry.builtIn(), optimize: Bool = true, threads: Int = 1) throws -> Session {
        try Session(graph: c.model.graph, options: SessionOptions(threads: threads, cpu: CPUFeatures.host, registry: registry,
                                                                 rules: try RuleSet.builtIn(), optimize: optimize))
    }

    /// The largest error relative to the reference's largest magnitude (floats), or the
    /// largest absolute difference (integers); `nil` when types or shapes differ.
    static func error(_ got: Tensor, _ want: Tensor) -> Double? {
        guard got.shape == want.shape else { return nil }
        func doubles(_ t: Tensor) -> [Double]? {
            switch t.dtype {
            case .f32: (try? t.scalars(as: Float.self))?.map(Double.init)
            case .f16: (try? t.scalars(as: Float16.self))?.map(Double.init)
            case .u8: (try? t.scalars(as: UInt8.self))?.map(Double.init)
            case .s8: (try? t.scalars(as: Int8.self))?.map(Double.init)
            case .s32: (try? t.scalars(as: Int32.self))?.map(Double.init)
            case .s64: (try? t.scalars(as: Int64.self))?.map(Double.init)
            case .bool: (try? t.scalars(as: Bool.self))?.map { $0 ? 1 : 0 }
            default: nil
            }
        }
        guard got.dtype == want.dtype, let g = doubles(got), let w = doubles(want) else { return nil }
        var worst = 0.0
        if want.dtype == .f32 || want.dtype == .f16 {
            let scale = max(w.map(abs).max() ?? 0, 1e-6)
            for (a, b) in zip(g, w) {
                if a.isNaN != b.isNaN { return .infinity }
                worst = max(worst, abs(a - b) / scale)
            }
        } else {
            for (a, b) in zip(g, w) { worst = max(worst, abs(a - b)) }
        }
        return worst
    }
}
