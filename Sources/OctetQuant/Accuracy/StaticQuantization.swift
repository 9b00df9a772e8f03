import Foundation
import OctetCore
import OctetRuntime

/// What static quantization should do beyond prepare / calibrate / convert.
public struct AccuracyOptions: Sendable, Hashable {
    /// Which nodes stay FP32.
    public enum KeepFP32: Sendable, Hashable {
        case none
        /// The `n` nodes with the lowest cumulative SQNR (`AccuracyReport`).
        case worst(Int)
        /// The fewest nodes, by sensitivity, for the output cosine to reach the target (`AutoKeepFP32`).
        case auto(targetCosine: Double)
    }

    public var keepFP32: KeepFP32
    /// SmoothQuant's α (`SmoothQuant`), or nil for no smoothing.
    public var smoothAlpha: Float?
    /// Measure the cumulative per-node report and the per-node sensitivity.
    public var report: Bool
    /// The share of the calibration samples held out (from the end) for the report and
    /// the keep-FP32 choice; ranges are calibrated on the rest.
    public var heldOutFraction: Double

    public init(keepFP32: KeepFP32 = .none, smoothAlpha: Float? = nil, report: Bool = false, heldOutFraction: Double = 0.2) {
        self.keepFP32 = keepFP32
        self.smoothAlpha = smoothAlpha
        self.report = report
        self.heldOutFraction = heldOutFraction
    }

    var needsHeldOut: Bool { report || keepFP32 != .none }
}

/// A static quantization and the measurements made on the way.
public struct StaticQuantization: Sendable {
    public var model: QuantizedModel
    /// Samples held out (not calibrated on) and measured on.
    public var heldOut: Int
    public var smoothed: [SmoothQuant.Smoothed]
    /// Every target quantized, node by node (cumulative), when `report`.
    public var report: AccuracyReport?
    /// Each target alone, when `report` or `keepFP32 == .auto`.
    public var sensitivity: [NodeSensitivity]
    /// The nodes left in FP32 and the outputs before and after.
    public var kept: [String]
    public var before: OutputAgreement?
    public var after: OutputAgreement?
    /// MACs of the kept nodes over the MACs of all targets, on the calibration shapes.
    public var keptMACShare: Double
    /// Median latency of one held-out sample, ms: every target INT8, and with `kept` FP32
    /// (the measured speed cost of keeping them; this machine, `options.threads`).
    public var latency: (allINT8: Double, withKept: Double)?
    /// For `.auto`: whether the target was reached, and how many models were measured.
    public var reached: Bool?
    public var evaluations: Int
}

extension Quantizer {
    /// Static quantization with the accuracy tools: SmoothQuant before calibration, the
    /// cumulative report and per-node sensitivity on held-out samples, and nodes left in
    /// FP32 by count or to reach a target output cosine. Ranges are calibrated once.
    public func quantize(_ graph: Graph, data: CalibrationData, accuracy: AccuracyOptions, options: SessionOptions,
                         progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> StaticQuantization {
        let all = data.samples
        var heldOut = 0
        if accuracy.needsHeldOut {
            guard all.count >= 2 else { throw QuantizerError.unsupported("the report and --keep-fp32 need at least 2 calibration samples (some are held out); got \(all.count)") }
            heldOut = min(all.count - 1, max(1, Int((Double(all.count) * accuracy.heldOutFraction).rounded())))
        }
        let calibration = Array(all.dropLast(heldOut)), check = Array(all.suffix(heldOut))
        let original = try prepare(graph)
        var prepared = original
        var smoothed: [SmoothQuant.Smoothed] = []
        if let alpha = accuracy.smoothAlpha {
            let stats = try SensitivityAnalysis.inputStatistics(original, samples: calibration, options: options)
            let result = try SmoothQuant(alpha: alpha).apply(original.graph, targets: original.targets, absMax: stats.absMax)
            smoothed = result.smoothed
            prepared = try prepare(result.graph)
        }
        let observers = try calibrate(prepared, data: CalibrationData(samples: calibration), options: options, progress: progress)
        let full = try convert(prepared, observers: observers, options: options, sample: calibration.first)
        var out = StaticQuantization(model: full, heldOut: heldOut, smoothed: smoothed, report: nil, sensitivity: [], kept: [],
                                     before: nil, after: nil, keptMACShare: 0, latency: nil, reached: nil, evaluations: 0)
        guard accuracy.needsHeldOut else { return out }
        let sevenBit = Set(full.decisions.filter(\.reduceRange).map(\.node))
        if accuracy.report {
            out.report = try AccuracyReport.measure(fp32: prepared.graph, quantized: full, targets: prepared.targets, samples: check, options: options)
        }
        var stats = ChannelStatistics(absMax: [:], elements: [:])
        if accuracy.report || accuracy.keepFP32 != .none {
            stats = try SensitivityAnalysis.inputStatistics(prepared, samples: calibration, options: options)
        }
        // The reference is the model as given (before smoothing, which must not change it).
        let reference = try OutputAgreement.reference(original.graph, samples: check, options: options)
        var kept: [String] = []
        switch accuracy.keepFP32 {
        case .none:
            if accuracy.report {
                out.sensitivity = try SensitivityAnalysis.measure(quantizer: self, prepared: prepared, observers: observers, sevenBit: sevenBit,
                                                                  statistics: stats, samples: check, options: options)
            }
            out.before = try OutputAgreement.measure(full.graph, samples: check, reference: reference, options: options)
            return out
        case let .worst(n):
            let report = try out.report ?? AccuracyReport.measure(fp32: prepared.graph, quantized: full, targets: prepared.targets, samples: check, options: options)
            kept = report.nodes.prefix(n).map(\.node)
            if accuracy.report {
                out.sensitivity = try SensitivityAnalysis.measure(quantizer: self, prepared: prepared, observers: observers, sevenBit: sevenBit,
                                                                  statistics: stats, samples: check, options: options)
            }
            out.before = try OutputAgreement.measure(full.graph, samples: check, reference: reference, options: options)
        case let .auto(target):
            out.sensitivity = try SensitivityAnalysis.measure(quantizer: self, prepared: prepared, observers: observers, sevenBit: sevenBit,
                                                              statistics: stats, samples: check, options: options)
            let choice = try AutoKeepFP32.choose(quantizer: self, prepared: prepared, observers: observers, sevenBit: sevenBit,
                                                 sensitivity: out.sensitivity, targetCosine: target, samples: check, reference: reference, options: options)
            kept = choice.kept
            out.before = choice.before
            out.reached = choice.reached
            out.evaluations = choice.evaluations
        }
        let (rest, restObservers) = prepared.restricted(to: Set(prepared.targets.map(\.node)).subtracting(kept), observers: observers)
        out.model = try convert(rest, observers: restObservers, options: options, sample: calibration.first)
        out.kept = kept
        out.after = try OutputAgreement.measure(out.model.graph, samples: check, reference: reference, options: options)
        let macs = Dictionary(prepared.targets.map { ($0.node, SensitivityAnalysis.macs($0, prepared.graph, elements: stats.elements[$0.input])) },
                              uniquingKeysWith: { a, _ in a })
        let total = macs.values.reduce(0, +)
        out.keptMACShare = total > 0 ? Double(kept.compactMap { macs[$0] }.reduce(0, +)) / Double(total) : 0
        if !kept.isEmpty, let sample = check.first {
            out.latency = try Self.latency(full.graph, out.model.graph, sample: sample, options: options)
        }
        return out
    }

    /// Median latency (ms) of two graphs on one sample, interleaved (3 warm-up runs, 9 timed).
    static func latency(_ a: Graph, _ b: Graph, sample: [String: Tensor], options: SessionOptions) throws -> (Double, Double) {
        let sa = try Session(graph: a, options: options), sb = try Session(graph: b, options: options)
        for _ in 0..<3 { _ = try sa.run(sample); _ = try sb.run(sample) }
        var ta: [Double] = [], tb: [Double] = []
        for _ in 0..<9 {
            var t = DispatchTime.now().uptimeNanoseconds
            _ = try sa.run(sample)
            ta.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            t = DispatchTime.now().uptimeNanoseconds
            _ = try sb.run(sample)
            tb.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        }
        return (ta.sorted()[ta.count / 2], tb.sorted()[tb.count / 2])
    }
}
