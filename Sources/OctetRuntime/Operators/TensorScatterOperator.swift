import OctetCore

/// ONNX TensorScatter (opset 24; onnx/defs/tensor/defs.cc): a KV-cache update.
/// `present_cache` is `past_cache` (`batch x … x max_sequence x …`) with, for each batch
/// item `b`, `update` (`batch x … x sequence x …`, the sequence on the same `axis`,
/// default -2, never 0) written along `axis` from `write_indices[b]` (int64 `[batch]`,
/// default 0) on; `mode` "linear" (the rows must fit) or "circular" (positions wrap
/// modulo max_sequence). Any element type.
struct TensorScatterOperator: GraphOperator {
    let site: OperatorSite
    let axis: Int
    let circular: Bool

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["TensorScatter"] = { n, _ in try TensorScatterOperator(n) }
    }

    init(_ n: Node) throws {
        site = OperatorSite(n)
        axis = try n.int("axis", default: -2)
        let mode = try n.string("mode", default: "linear")
        guard mode == "linear" || mode == "circular" else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "mode", expected: "linear or circular", got: mode)
        }
        circular = mode == "circular"
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let past = try site.type(inputs, 0), update = try site.type(inputs, 1, "update")
        guard update.dtype == past.dtype else { throw site.error("update must be \(past.dtype) like past_cache, got \(update.dtype)") }
        if let s = past.shape {
            let a = try site.axis(axis, rank: s.rank)
            guard a > 0 else { throw site.error("axis \(axis) names the batch axis; the sequence axis must come after it") }
        }
        return [past]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let past = try site.tensor(inputs, 0), update = try site.tensor(inputs, 1)
        let dims = past.shape.dims, a = try site.axis(axis, rank: dims.count)
        guard a > 0 else { throw site.error("axis \(axis) names the batch axis; the sequence axis must come after it") }
        var expected = dims
        expected[a] = update.shape.rank == dims.count ? update.shape.dims[a] : -1
        guard update.shape.dims == expected else {
            throw site.error("update \(update.shape) must match past_cache \(past.shape) on every axis but \(a)")
        }
        let batch = dims[0], maxSeq = dims[a], seq = update.shape.dims[a]
        let starts: [Int]
        if inputs.count > 2, let w = inputs[2] {
            starts = try site.indices(w, "write_indices")
            guard starts.count == batch else { throw site.error("write_indices has \(starts.count) entries, the batch \(batch)") }
        } else {
            starts = Array(repeating: 0, count: batch)
        }
        if circular, maxSeq == 0, seq > 0 {
            throw site.error("mode circular writes \(seq) rows into a past_cache \(past.shape) whose axis \(a) is empty; expected max_sequence ≥ 1")
        }
        // `s > maxSeq - seq`, not `s + seq > maxSeq`: an index near Int.max must not overflow.
        for (b, s) in starts.enumerated() where s < 0 || (!circular && s > maxSeq - seq) || (circular && s >= maxSeq && maxSeq > 0) {
            throw site.error("write_indices[\(b)] = \(s) writes \(seq) rows outside the \(maxSeq) of axis \(a) (mode \(circular ? "circular" : "linear"))")
        }
        try Elementwise.copy(past, into: &outputs[0])
        // Per batch item: `middle` blocks of the axes between batch and `axis`, each holding rows of `inner` bytes.
        let middle = dims[1..<a].reduce(1, *), inner = dims[(a + 1)...].reduce(1, *) * past.dtype.byteSize
        // Nothing to write (an empty update may still have huge other axes: no loop over them).
        guard update.shape.elementCount > 0 else { return }
        update.withUnsafeBytes { src in
            outputs[0].withUnsafeMutableBytes { dst in
                for b in 0..<batch {
                    for m in 0..<middle {
                        for s in 0..<seq {
                            let row = circular ? (starts[b] + s) % maxSeq : starts[b] + s
                            let r = ((b * middle + m) * seq + s) * inner, w = ((b * middle + m) * maxSeq + row) * inner
                            AxisSlicing.copy(inner, from: src, at: r, to: dst, at: w)
                        }
                    }
                }
            }
        }
    }
}
