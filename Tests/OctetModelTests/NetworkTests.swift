import Foundation
import Octet
import Testing

/// Whole models exported from PyTorch (ResNet-style and BERT-style), against ONNX Runtime.
@Suite struct NetworkTests {
    @Test(arguments: ModelSuite.cases(in: ModelSuite.nets))
    func matchesONNXRuntime(_ name: String) throws {
        let c = try ModelSuite.load(name, in: ModelSuite.nets)
        for optimize in [true, false] {
            let outputs = try ModelSuite.session(c, optimize: optimize, threads: 2).run(c.inputs)
            for (key, want) in c.expected {
                let got = try #require(outputs[key])
                let err = try #require(ModelSuite.error(got, want), "\(name): \(key) has shape \(got.shape), expected \(want.shape)")
                #expect(err <= 1e-4, "\(name) (passes \(optimize)): \(key) differs from ONNX Runtime by \(err)")
            }
        }
    }

    @Test func theNetworksArePresent() {
        let names = ModelSuite.cases(in: ModelSuite.nets)
        #expect(names.contains("resnet_tiny") && names.contains("bert_tiny"), "found \(names)")
    }

    /// ResNet-50 and BERT-base (12 layers), built on demand by
    /// `scripts/make-test-models.py --large`; absent files are reported, not passed over.
    @Test(arguments: ["resnet50", "bert_base"])
    func largeModelMatchesONNXRuntime(_ name: String) throws {
        let path = ModelSuite.large.appendingPathComponent(name + ".onnx").path
        guard FileManager.default.fileExists(atPath: path) else {
            print("NOTE: \(path) is absent; build it with scripts/make-test-models.py --large to run this check")
            return
        }
        let c = try ModelSuite.load(name, in: ModelSuite.large)
        let outputs = try ModelSuite.session(c, threads: 2).run(c.inputs)
        for (key, want) in c.expected {
            let got = try #require(outputs[key])
            let err = try #require(ModelSuite.error(got, want))
            #expect(err <= 1e-4, "\(name): \(key) differs from ONNX Runtime by \(err)")
        }
    }
}
