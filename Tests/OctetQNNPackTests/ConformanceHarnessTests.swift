import Testing
import Octet
import OctetConformance
import OctetQNNPack

/// The shared harness: every registered backend against qnnpack-ref on every op it says
/// it supports; and the harness itself must catch a broken backend.
@Suite struct ConformanceHarnessTests {
    let cpu = CPUFeatures.host

    @Test func everyRegisteredBackendAgreesWithTheReference() {
        for backend in BackendRegistry.builtInBackends() where backend.name != "qnnpack-ref" {
            let report = Conformance.check(backend, cpu: cpu, casesPerKind: 20, seed: 7)
            for f in report.failures.prefix(5) { Issue.record("\(f)") }
            #expect(report.failures.isEmpty, "\(backend.name): \(report.failures.count) failures; tested \(report.tested)")
        }
    }

    @Test func fixedPointReferenceIsWithinOneStepOfFloat() {
        let report = Conformance.check(QNNPackReferenceBackend(requantization: .fixedPoint), cpu: cpu, casesPerKind: 25, seed: 3)
        for f in report.failures.prefix(5) { Issue.record("\(f)") }
        #expect(report.failures.isEmpty)
        #expect(report.tested.values.reduce(0, +) == 25 * OpKind.allCases.count, "every generated case must be runnable: declined \(report.declined)")
    }

    /// Returns the reference's result with one element pushed two steps off, for one kind.
    struct BrokenBackend: Backend {
        let broken: OpKind
        let inner = QNNPackReferenceBackend()
        var name: String { "broken" }
        var version: String { "0" }
        var summary: String { "the reference with a defect" }
        var requirements: BackendRequirements { BackendRequirements() }
        func capability(for s: OpSignature, on cpu: CPUFeatures) -> Capability { inner.capability(for: s, on: cpu) }
        func prepare(_ s: OpSignature, constants: OpConstants, context: PrepareContext) throws -> any Kernel {
            Wrapped(inner: try inner.prepare(s, constants: constants, context: context), corrupt: s.kind == broken)
        }
        struct Wrapped: Kernel {
            let inner: any Kernel
            let corrupt: Bool
            var implementation: String { "broken" }
            func run(inputs: [Tensor], output: inout Tensor) throws {
                try inner.run(inputs: inputs, output: &output)
                guard corrupt else { return }
                if output.dtype == .u8 {
                    try output.withUnsafeMutableBufferPointer(as: UInt8.self) { $0[$0.count - 1] = $0[$0.count - 1] < 128 ? $0[$0.count - 1] + 2 : $0[$0.count - 1] - 2 }
                } else {
                    try output.withUnsafeMutableBufferPointer(as: Float.self) { $0[$0.count - 1] += 1 }
                }
            }
        }
    }

    @Test func theHarnessCatchesABrokenBackend() throws {
        let report = Conformance.check(BrokenBackend(broken: .conv2d), cpu: cpu, kinds: [.conv2d, .linear], casesPerKind: 10, seed: 5)
        #expect(report.tested[.conv2d] == 10 && report.tested[.linear] == 10)
        #expect(report.failures.count == 10, "every conv case must fail, no linear case may")
        let f = try #require(report.failures.first)
        #expect(f.signature?.kind == .conv2d)
        #expect(f.position == (f.signature?.outputShape?.elementCount ?? 0) - 1)
        #expect(f.expected != f.got)
        #expect(f.description.contains("differs from qnnpack-ref") && f.description.contains("conv2d int8"))
    }
}
