import OctetCore
import OctetRuntime

/// The nodes left in FP32 to reach an accuracy target, and what they cost.
public struct KeepFP32Choice: Sendable {
    /// The nodes left in FP32, most sensitive first.
    public var kept: [String]
    /// The outputs with every target quantized, and with `kept` in FP32 (held-out samples).
    public var before: OutputAgreement
    public var after: OutputAgreement
    /// Whether `after.minCosine` reached the target.
    public var reached: Bool
    /// How many quantized models were measured to choose.
    public var evaluations: Int
}

/// `--keep-fp32 auto --target-cosine C`: the fewest nodes kept in FP32, taken greedily in
/// order of measured sensitivity (`SensitivityAnalysis`, most sensitive first), such that
/// the lowest per-sample output cosine on held-out samples reaches `C`.
///
/// The prefix length is found by doubling (0, 1, 2, 4, …) and then bisection between the
/// last prefix that missed and the first that reached: O(log n) conversions instead of n,
/// exact when keeping more nodes never lowers the cosine (the usual case; the prefix
/// returned is always one that was measured to reach the target). Keeping every node is
/// the FP32 model, which always reaches it.
public enum AutoKeepFP32 {
    public static func choose(quantizer: Quantizer, prepared: Quantizer.Prepared, observers: [any Observer], sevenBit: Set<String>,
                              sensitivity: [NodeSensitivity], targetCosine: Double,
                              samples: [[String: Tensor]], reference: [[String: Tensor]], options: SessionOptions) throws -> KeepFP32Choice {
        let order = sensitivity.map(\.node)
        let all = Set(prepared.targets.map(\.node))
        var evaluations = 0
        var cache: [Int: OutputAgreement] = [:]
        func measure(_ k: Int) throws -> OutputAgreement {
            if let a = cache[k] { return a }
            let (p, o) = prepared.restricted(to: all.subtracting(order.prefix(k)), observers: observers)
            let q = try quantizer.convert(p, observers: o, sevenBit: sevenBit)
            let a = try OutputAgreement.measure(q.graph, samples: samples, reference: reference, options: options)
            evaluations += 1
            cache[k] = a
            return a
        }
        let before = try measure(0)
        if before.minCosine >= targetCosine {
            return KeepFP32Choice(kept: [], before: before, after: before, reached: true, evaluations: evaluations)
        }
        var missed = 0, hit = order.count
        var k = 1
        while k < order.count {
            if try measure(k).minCosine >= targetCosine { hit = k; break }
            missed = k
            k *= 2
        }
        while hit - missed > 1 {
            let mid = (missed + hit) / 2
            if try measure(mid).minCosine >= targetCosine { hit = mid } else { missed = mid }
        }
        let after = try measure(hit)
        return KeepFP32Choice(kept: Array(order.prefix(hit)), before: before, after: after,
                              reached: after.minCosine >= targetCosine, evaluations: evaluations)
    }
}
