import OctetCore

/// ONNX ReverseSequence (opset 10; onnx/defs/tensor/defs.cc): for each batch item `b`,
/// the first `sequence_lens[b]` elements along `time_axis` in reverse order, the rest as
/// they are. X has rank ≥ 2; `batch_axis` and `time_axis` are 0 and 1 (either way round,
/// default time 0, batch 1); `sequence_lens` is int64 `[batch]`. Any element type.
struct ReverseSequenceOperator: GraphOperator {
    let site: OperatorSite
    let batchAxis: Int
    let timeAxis: Int

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["ReverseSequence"] = { n, _ in try ReverseSequenceOperator(n) }
    }

    /// - Throws: `GraphError` naming the node unless the axes are 0 and 1, different.
    init(_ n: Node) throws {
        site = OperatorSite(n)
        batchAxis = try n.int("batch_axis", default: 1)
        timeAxis = try n.int("time_axis", default: 0)
        guard Set([batchAxis, timeAxis]) == [0, 1] else {
            throw site.error("batch_axis (\(batchAxis)) and time_axis (\(timeAxis)) must be 0 and 1, one each")
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), l = try site.type(inputs, 1, "sequence_lens")
        guard l.dtype == .s64 || l.dtype == .s32 else { throw site.error("sequence_lens must be int64, got \(l.dtype)") }
        if let s = x.shape, s.rank < 2 { throw site.error("input must have rank ≥ 2, got \(s)") }
        return [x]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0), lens = try site.indices(try site.tensor(inputs, 1), "sequence_lens")
        let dims = x.shape.dims
        guard dims.count >= 2 else { throw site.error("input must have rank ≥ 2, got \(x.shape)") }
        let (batch, time) = (dims[batchAxis], dims[timeAxis])
        guard lens.count == batch else { throw site.error("sequence_lens has \(lens.count) entries, the batch axis \(batch)") }
        for (b, l) in lens.enumerated() where l < 0 || l > time {
            throw site.error("sequence_lens[\(b)] is \(l), outside [0, \(time)]")
        }
        // Nothing to copy; the other axes of an empty tensor may be huge (their product overflows, the loops never end).
        guard x.shape.elementCount > 0 else { return }
        let inner = dims[2...].reduce(1, *) * x.dtype.byteSize
        x.withUnsafeBytes { src in
            outputs[0].withUnsafeMutableBytes { dst in
                for b in 0..<batch {
                    for t in 0..<time {
                        let from = t < lens[b] ? lens[b] - 1 - t : t
                        let (r, w) = timeAxis == 0 ? (from * batch + b, t * batch + b) : (b * time + from, b * time + t)
                        AxisSlicing.copy(inner, from: src, at: r * inner, to: dst, at: w * inner)
                    }
                }
            }
        }
    }
}
