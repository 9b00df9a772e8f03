import OctetCore
import OctetDispatch
import OctetRuntime

/// 7 or 8 bits for one node's input activations, and why.
public struct SaturationDecision: Sendable, Hashable, CustomStringConvertible {
    public var node: String
    /// Whether the node's activations are quantized to 0...127.
    public var reduceRange: Bool
    /// The backend the plan gives the node, when known.
    public var backend: String?
    public var reason: String

    public var description: String { "\(node): \(reduceRange ? "7-bit" : "8-bit") activations — \(reason)" }
}

/// PyTorch's `reduce_range`, decided per node by the backend that will run it: a first
/// full-range (8-bit) conversion is planned for the target CPU. A node gets 7 bits when
/// its backend runs it on a faster kernel with 7-bit codes (`Backend.reducedRangeSpeedup`:
/// packed's `vpmaddubsw` kernel on AVX2 without VNNI, as PyTorch's x86 qconfig uses
/// `reduce_range` there) or when its preferred backend declines full-range activations
/// (oneDNN without VNNI adds u8·s8 pairs in saturating int16) but accepts 7-bit ones.
/// Otherwise it keeps 8 bits (oneDNN with VNNI, packed's pair kernel where no faster
/// one exists). A node's configured `reduce_range` (`on` / `off`) wins.
enum SaturationPolicy {
    static func decide(_ graph: Graph, targets: [QuantizationTarget], options: SessionOptions, sample: [String: Tensor]?) throws -> [SaturationDecision] {
        // The select stage alone: no kernel is prepared, no weight packed.
        let trace = try Session.planTrace(graph: graph, options: options, inputShapes: sample?.mapValues(\.shape))
        let selector = BackendSelector(rules: options.rules, registry: options.registry)
        var decisions: [SaturationDecision] = []
        for t in targets {
            let d = trace.ops.last { $0.signature.label == t.node }
            switch t.setting.reduceRange {
            case .on:
                decisions.append(SaturationDecision(node: t.node, reduceRange: true, backend: d?.backend, reason: "configured (reduce_range on)"))
                continue
            case .off:
                decisions.append(SaturationDecision(node: t.node, reduceRange: false, backend: d?.backend, reason: "configured (reduce_range off)"))
                continue
            case .auto:
                break
            }
            guard let d, d.signature.precision == .int8, let chosen = d.attempts.first(where: \.chosen) else {
                decisions.append(SaturationDecision(node: t.node, reduceRange: false, backend: d?.backend, reason: "not planned as an INT8 kernel"))
                continue
            }
            var seven = d.signature
            seven.quantization?.reduceRange = true
            let c7 = selector.select(seven, cpu: options.cpu).attempts.first(where: \.chosen)
            let how: String
            switch chosen.source {
            case let .rule(id): how = "rule \(id)"
            case .fallback: how = "fallback"
            }
            if c7?.backend == chosen.backend,
               let faster = options.registry.backend(named: chosen.backend)?.reducedRangeSpeedup(for: d.signature, on: options.cpu) {
                decisions.append(SaturationDecision(node: t.node, reduceRange: true, backend: chosen.backend,
                                                    reason: "\(chosen.backend) (\(how)) is faster with 7-bit activations on \(options.cpu.displayName): \(faster)"))
                continue
            }
            if case .rule = chosen.source {
                decisions.append(SaturationDecision(node: t.node, reduceRange: false, backend: chosen.backend,
                                                    reason: "\(chosen.backend) (\(how)) runs full-range u8 exactly and no faster with 7 bits on \(options.cpu.displayName)"))
                continue
            }
            if let c7, case let .rule(id) = c7.source {
                let declined = d.attempts.first { $0.backend == c7.backend }?.reason ?? "declined full-range activations"
                decisions.append(SaturationDecision(node: t.node, reduceRange: true, backend: c7.backend,
                                                    reason: "\(c7.backend) (rule \(id)) needs 7-bit activations: \(declined)"))
            } else {
                decisions.append(SaturationDecision(node: t.node, reduceRange: false, backend: chosen.backend,
                                                    reason: "\(chosen.backend) (fallback) runs full-range u8; no rule-chosen backend needs 7 bits"))
            }
        }
        return decisions
    }
}
