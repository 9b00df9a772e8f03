import Foundation
import Octet
import Testing

/// Every single-op model against ONNX Runtime's answer: f32 within 1e-4 relative to the
/// output's largest magnitude; integers within one step (requantized u8/s8) or exact.
@Suite struct OperatorConformanceTests {
    static let cases = ModelSuite.cases(in: ModelSuite.ops)

    @Test func theSuiteIsPresent() {
        #expect(Self.cases.count >= 70, "Tests/Models/ops holds \(Self.cases.count) cases; run scripts/make-test-models.py")
    }

    @Test(arguments: cases) func matchesONNXRuntime(_ name: String) throws {
        let c = try ModelSuite.load(name, in: ModelSuite.ops)
        let outputs = try ModelSuite.session(c).run(c.inputs)
        try check(outputs, c, name)
    }

    /// The same without graph passes (folding, fusion), so that every op's own code runs.
    @Test(arguments: cases) func matchesONNXRuntimeUnoptimized(_ name: String) throws {
        let c = try ModelSuite.load(name, in: ModelSuite.ops)
        let outputs = try ModelSuite.session(c, optimize: false).run(c.inputs)
        try check(outputs, c, name)
    }

    /// Matrix ops on the fp32-ref backend alone (what runs where oneDNN is absent).
    @Test(arguments: cases.filter { $0.hasPrefix("conv") || $0.hasPrefix("gemm") || $0.hasPrefix("matmul") })
    func matchesONNXRuntimeOnFP32Reference(_ name: String) throws {
        let c = try ModelSuite.load(name, in: ModelSuite.ops)
        let registry = try ModelSuite.registry(BackendRegistry.builtInBackends().filter { $0.name == "fp32-ref" })
        let outputs = try ModelSuite.session(c, registry: registry).run(c.inputs)
        try check(outputs, c, name)
    }

    func check(_ outputs: [String: Tensor], _ c: ModelSuite.Case, _ name: String) throws {
        for (key, want) in c.expected {
            let got = try #require(outputs[key], "\(name): output \(key) missing")
            let err = try #require(ModelSuite.error(got, want), "\(name): \(key) is \(got.dtype)[\(got.shape)], ONNX Runtime gives \(want.dtype)[\(want.shape)]")
            // QLinearConv / QLinearMatMul run on the INT8 kernels (lowered) and on the
            // built-in integer ops (unoptimized): both requantize as ONNX Runtime does.
            // f16 outputs: one binary16 step (2^-10 relative), computed in f32 by both and rounded once.
            let tolerance = want.dtype == .f32 ? 1e-4 : want.dtype == .f16 ? 1e-3 : (name.contains("quantize") ? 1 : 0)
            #expect(err <= tolerance, "\(name): output \(key) differs from ONNX Runtime by \(err)")
        }
    }
}
