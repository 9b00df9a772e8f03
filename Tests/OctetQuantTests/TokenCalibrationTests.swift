import Foundation
import Octet
import OctetQuant
import Testing

/// Tokenized text as calibration data: int64 `input_ids` and `attention_mask` through the
/// same loader as floats, ranges checked against ONNX Runtime on the same samples.
@Suite struct TokenCalibrationTests {
    @Test func int64TokensCalibrateToTheRangesOnnxRuntimeSees() throws {
        let graph = try TinyBert.model()
        let data = try TinyBert.calibration(graph)
        #expect(data.samples.count == 10)
        let first = try #require(data.samples.first?["input_ids"])
        #expect(first.dtype == .s64 && first.shape.dims == [2, 12])
        let quantizer = Quantizer()  // min/max
        let prepared = try quantizer.prepare(graph)
        let observers = try quantizer.calibrate(prepared, data: data, options: QuantizationWorkflowTests.options())
        let ort = try TinyBert.ortRanges()
        #expect(prepared.groups.count >= 20)
        for (group, observer) in zip(prepared.groups, observers) {
            var lo = Float.infinity, hi = -Float.infinity
            for e in group.observed {
                let r = try #require(ort[e], "no ONNX Runtime range for edge \(e)")
                lo = min(lo, r.min); hi = max(hi, r.max)
            }
            let got = try observer.range()
            let tol = 1e-5 * max(1, abs(lo), abs(hi))
            #expect(abs(got.min - lo) <= tol && abs(got.max - hi) <= tol, "\(group.observed): Octet \(got), ONNX Runtime \((lo, hi))")
        }
    }

    @Test func int32TokensAreWidenedExactly() throws {
        let graph = try TinyBert.model()
        let wide = try TinyBert.calibration(graph)
        let arrays = try NumPyFiles.readArchive(at: TinyBert.nets.appendingPathComponent("bert_tiny.calibration.npz").path)
        let narrow = try arrays.map { ($0.name, try Tensor(try $0.tensor.scalars(as: Int64.self).map { Int32($0) }, shape: $0.tensor.shape)) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-tokens-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("int32.npz").path
        try NumPyFiles.writeArchive(narrow, to: path)
        let read = try CalibrationData.load(path, for: graph.inputs)
        #expect(read.samples.count == wide.samples.count)
        for (a, b) in zip(read.samples, wide.samples) {
            for name in ["input_ids", "attention_mask"] {
                let x = try #require(a[name]), y = try #require(b[name])
                #expect(x.dtype == .s64)
                #expect(try x.scalars(as: Int64.self) == y.scalars(as: Int64.self))
            }
        }
    }

    @Test func aTokenOutsideTheVocabularyNamesItsSample() throws {
        let graph = try TinyBert.model()
        var data = try TinyBert.calibration(graph).samples
        var ids = try #require(data[3]["input_ids"]).scalars(as: Int64.self)
        ids[5] = 100_000
        data[3]["input_ids"] = try Tensor(ids, shape: TensorShape([2, 12]))
        let quantizer = Quantizer()
        let prepared = try quantizer.prepare(graph)
        #expect {
            _ = try quantizer.calibrate(prepared, data: CalibrationData(samples: data), options: QuantizationWorkflowTests.options())
        } throws: { "\($0)".contains("calibration sample 3") }
    }
}
