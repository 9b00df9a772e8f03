import Foundation
import Octet
import OctetQuant
import Testing

/// The BERT-style test encoder with tokenized (int64) calibration data, and the hand
/// computations the transformer-accuracy tests check Octet against.
enum TinyBert {
    static let nets = QuantizationWorkflowTests.nets

    static func model() throws -> Graph { try ONNXModel.load(contentsOf: nets.appendingPathComponent("bert_tiny.onnx").path).graph }

    static func calibration(_ graph: Graph) throws -> CalibrationData {
        try CalibrationData.load(nets.appendingPathComponent("bert_tiny.calibration.npz").path, for: graph.inputs)
    }

    /// ONNX Runtime's min and max of every float edge over all calibration samples
    /// (scripts/make-token-calibration.py).
    static func ortRanges() throws -> [String: (min: Float, max: Float)] {
        let data = try Data(contentsOf: nets.appendingPathComponent("bert_tiny.calibration_ranges.json"))
        let raw = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [Double]])
        return raw.compactMapValues { $0.count == 2 ? (Float($0[0]), Float($0[1])) : nil }
    }

    /// Outputs of `graph` over `samples`, through an FP32 session.
    static func run(_ graph: Graph, _ samples: [[String: Tensor]]) throws -> [[String: Tensor]] {
        let s = try Session(graph: graph, options: QuantizationWorkflowTests.options())
        return try samples.map { try s.run($0) }
    }

    /// Min per-sample cosine and overall SQNR (dB) of every graph output, computed here.
    static func agreement(_ ref: [[String: Tensor]], _ got: [[String: Tensor]], outputs: [String]) throws -> (minCosine: Double, sqnr: Double) {
        var signal = 0.0, noise = 0.0, minCos = 1.0
        for (r, q) in zip(ref, got) {
            for o in outputs {
                let a = try #require(r[o]).scalars(as: Float.self), b = try #require(q[o]).scalars(as: Float.self)
                var dot = 0.0, na = 0.0, nb = 0.0
                for i in a.indices {
                    let x = Double(a[i]), y = Double(b[i])
                    dot += x * y; na += x * x; nb += y * y
                    signal += x * x; noise += (x - y) * (x - y)
                }
                minCos = min(minCos, dot / (na.squareRoot() * nb.squareRoot()))
            }
        }
        return (minCos, 10 * log10(signal / noise))
    }

    /// PyTorch's affine u8 parameters for a range (the formula written out, not Octet's code).
    static func affineU8(min lo: Float, max hi: Float) -> (scale: Float, zeroPoint: UInt8) {
        let a = Swift.min(lo, 0), b = Swift.max(hi, 0)
        let scale = Swift.max((b - a) / 255, Float.ulpOfOne)
        let zp = Swift.min(Swift.max((-a / scale).rounded(.toNearestOrEven), 0), 255)
        return (scale, UInt8(zp))
    }
}
