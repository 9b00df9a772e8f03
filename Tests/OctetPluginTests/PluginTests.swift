import Foundation
import Octet
import OctetConformance
import OctetQNNPack
import Testing

/// Shared-library plugins as a user meets them: the example plugin is compiled from
/// `Examples/`, loaded, routed to by a rules file, checked against the reference backend;
/// every broken plugin is refused or reported with its reason, and the process goes on.
@Suite(.serialized) struct PluginTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let header = root.appendingPathComponent("Sources/COctetPlugin/include").path
    static let example = root.appendingPathComponent("Examples/Plugins/int8-linear")
    static let fixture = root.appendingPathComponent("Tests/OctetPluginTests/Fixtures/broken_plugin.c").path
    static let folder = FileManager.default.temporaryDirectory.appendingPathComponent("octet-plugin-tests-\(getpid())")

    /// Compiles `source` into a shared library with the C compiler (`$CC`, else `cc`).
    static func compile(_ source: String, _ name: String, defines: [String] = []) throws -> String {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let out = folder.appendingPathComponent("lib\(name).so").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [ProcessInfo.processInfo.environment["CC"] ?? "cc", "-O2", "-shared", "-fPIC", "-I", header]
            + defines.map { "-D\($0)" } + [source, "-o", out]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CompileError(source: source, status: p.terminationStatus) }
        return out
    }

    struct CompileError: Error { var source: String, status: Int32 }

    static func examplePlugin() throws -> String {
        try compile(example.appendingPathComponent("example_int8_linear.c").path, "example_int8_linear")
    }

    @Test func theExamplePluginPassesTheConformanceHarness() throws {
        let plugin = try PluginBackend(path: try Self.examplePlugin())
        #expect(plugin.name == "example-int8-linear" && plugin.version == "1.0")
        let report = Conformance.check(plugin, reference: QNNPackReferenceBackend(), cpu: .host, kinds: [.linear, .conv2d], casesPerKind: 40)
        #expect((report.tested[.linear] ?? 0) > 20, "\(report.tested) \(report.declined)")
        #expect(report.tested[.conv2d] == nil, "it declines what it does not run")
        #expect(report.failures.isEmpty, "\(report.failures.prefix(3))")
    }

    @Test func aRulesFileRoutesAModelsLinearLayersToThePlugin() throws {
        let registry = BackendRegistry.builtIn()
        try registry.loadPlugin(try Self.examplePlugin())
        let rules = try RuleSet.load(from: Self.example.appendingPathComponent("rules.json").path)
        let digits = Self.root.appendingPathComponent("Models/digits")
        let model = try ONNXModel.load(contentsOf: digits.appendingPathComponent("digits_cnn.onnx").path)
        let calibration = try CalibrationData.load(digits.appendingPathComponent("calibration.npz").path, for: model.graph.inputs)
        let options = SessionOptions(threads: 1, cpu: .host, registry: registry, rules: rules)
        let q = try Quantizer().quantize(model.graph, data: calibration, options: options)
        let withPlugin = try Session(graph: q.graph, options: options)
        let builtIn = try Session(graph: q.graph, options: SessionOptions(threads: 1, cpu: .host, registry: registry, rules: try RuleSet.builtIn()))
        let sample = calibration.samples[0]
        let trace = try withPlugin.trace(inputShapes: sample.mapValues(\.shape))
        let linears = trace.trace.ops.filter { $0.signature.kind == .linear }
        #expect(!linears.isEmpty && linears.allSatisfy { $0.backend == "example-int8-linear" && $0.kernel == "u8s8-linear-reference-c" })
        #expect(trace.trace.text.contains("linear-to-example-plugin  MATCH → example-int8-linear"))
        // Both plans compute the same quantized values, within one output step.
        let a = try #require(try withPlugin.run(sample)["logits"]).scalars(as: Float.self)
        let b = try #require(try builtIn.run(sample)["logits"]).scalars(as: Float.self)
        let step = Double((b.max() ?? 0) - (b.min() ?? 0)) / 255
        #expect(zip(a, b).allSatisfy { Double(abs($0 - $1)) <= step + 1e-6 })
    }

    @Test(arguments: [
        ("NO_ENTRY", "no 'octet_plugin_entry' symbol"),
        ("NULL_TABLE", "returned NULL"),
        ("WRONG_ABI", "ABI version 99, but this Octet loads version 1"),
        ("WRONG_SIZE", "table size"),
        ("EMPTY_NAME", "has no name"),
        ("NULL_RUN", "NULL function pointers: run"),
    ])
    func aBrokenPluginIsRefusedWithItsReason(define: String, reason: String) throws {
        let path = try Self.compile(Self.fixture, "broken_\(define.lowercased())", defines: [define])
        let registry = BackendRegistry.builtIn()
        let before = registry.all.map(\.name)
        #expect {
            try registry.loadPlugin(path)
        } throws: { error in
            "\(error)".contains(path) && "\(error)".contains(reason)
        }
        #expect(registry.all.map(\.name) == before)
        // The process is unharmed: a good plugin still loads and runs.
        try registry.loadPlugin(try Self.examplePlugin())
        #expect(registry.backend(named: "example-int8-linear") != nil)
    }

    @Test func filesThatAreNotPluginsAndDuplicateNamesAreRefused() throws {
        try FileManager.default.createDirectory(at: Self.folder, withIntermediateDirectories: true)
        let text = Self.folder.appendingPathComponent("not-a-library.so").path
        try Data("not ELF".utf8).write(to: URL(fileURLWithPath: text))
        let registry = BackendRegistry.builtIn()
        #expect { try registry.loadPlugin(text) } throws: { "\($0)".contains("not a loadable shared library") && "\($0)".contains(text) }
        #expect { try registry.loadPlugin("/nonexistent/libnothing.so") } throws: { "\($0)".contains("/nonexistent/libnothing.so") }
        let good = try Self.examplePlugin()
        try registry.loadPlugin(good)
        #expect { try registry.loadPlugin(good) } throws: { "\($0)".contains("already registered") && "\($0)".contains(good) }
    }

    @Test func failuresInsideThePluginAreReportedNotFatal() throws {
        let fails = try PluginBackend(path: try Self.compile(Self.fixture, "broken_prepare", defines: ["FAIL_PREPARE"]))
        let runs = try PluginBackend(path: try Self.compile(Self.fixture, "broken_run", defines: []))
        var g = SeededGenerator(seed: 3)
        let c = try ConformanceCases.random(.linear, seed: g.next())
        #expect(fails.capability(for: c.signature, on: .host).isSupported)
        #expect { _ = try fails.prepare(c.signature, constants: c.constants, context: PrepareContext(cpu: .host)) } throws: {
            "\($0)".contains("prepare failed: the device is busy")
        }
        let kernel = try runs.prepare(c.signature, constants: c.constants, context: PrepareContext(cpu: .host))
        var out = try Tensor(zeros: c.signature.outputType, shape: try #require(c.signature.outputShape))
        #expect { try kernel.run(inputs: c.inputs, output: &out) } throws: { "\($0)".contains("run failed: kernel exploded (status 7)") }
        // A declined op says why, in the plugin's words.
        var conv = c.signature
        conv.kind = .conv2d
        #expect(fails.capability(for: conv, on: .host) == .declined(reason: "linear int8 only"))
    }
}
