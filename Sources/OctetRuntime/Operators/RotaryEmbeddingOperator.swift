import OctetCore

/// ONNX RotaryEmbedding (opset 23; onnx/defs/nn/defs.cc, reference
/// onnx/reference/ops/op_rotary_embedding.py): rotates pairs of each head's first
/// `rotary_embedding_dim` features (all of them when 0) by the angles whose cosines and
/// sines the caches hold; the rest pass through.
///
/// X is `batch x heads x seq x head_size` (4-D) or `batch x seq x hidden` (3-D, `num_heads`
/// heads of `hidden / num_heads`). With `position_ids` (int64, `batch x seq`) the caches are
/// `max_position x rotary_dim/2`, indexed by position; without, `batch x seq x rotary_dim/2`.
/// Pairs are (x[i], x[i + rotary_dim/2]) or, with `interleaved` 1, (x[2i], x[2i+1]):
/// `x1' = cos·x1 - sin·x2`, `x2' = sin·x1 + cos·x2`. Output: X's shape and type (any
/// floating type; computed in Double).
struct RotaryEmbeddingOperator: GraphOperator {
    let site: OperatorSite
    let interleaved: Bool
    let numHeads: Int
    let rotaryDim: Int

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["RotaryEmbedding"] = { n, _ in try RotaryEmbeddingOperator(n) }
    }

    init(_ n: Node) throws {
        site = OperatorSite(n)
        interleaved = try n.int("interleaved", default: 0) != 0
        numHeads = try n.int("num_heads", default: 0)
        rotaryDim = try n.int("rotary_embedding_dim", default: 0)
        guard numHeads >= 0, rotaryDim >= 0, rotaryDim % 2 == 0 else {
            throw site.error("num_heads (\(numHeads)) must be ≥ 0 and rotary_embedding_dim (\(rotaryDim)) even and ≥ 0")
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard x.dtype.isFloatingPoint else { throw site.error("input 0 (X) must be floating-point, got \(x.dtype)") }
        for i in 1...2 where try site.type(inputs, i).dtype != x.dtype {
            throw site.error("input \(i) (\(i == 1 ? "cos_cache" : "sin_cache")) must be \(x.dtype) like X, got \(try site.type(inputs, i).dtype)")
        }
        if let s = x.shape, s.rank != 3, s.rank != 4 { throw site.error("X must have rank 3 or 4, got \(s)") }
        return [x]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let xt = try site.tensor(inputs, 0), cosT = try site.tensor(inputs, 1), sinT = try site.tensor(inputs, 2)
        let positions = inputs.count > 3 ? inputs[3] : nil
        let dims = xt.shape.dims
        let (batch, heads, seq, head): (Int, Int, Int, Int)
        switch dims.count {
        case 4: (batch, heads, seq, head) = (dims[0], dims[1], dims[2], dims[3])
        case 3:
            guard numHeads > 0, dims[2] % numHeads == 0 else {
                throw site.error("a 3-D X (\(xt.shape)) needs num_heads > 0 dividing its hidden size \(dims[2]), got num_heads \(numHeads)")
            }
            (batch, heads, seq, head) = (dims[0], numHeads, dims[1], dims[2] / numHeads)
        default: throw site.error("X must have rank 3 or 4, got \(xt.shape)")
        }
        let rot = rotaryDim == 0 ? head : rotaryDim
        guard rot <= head, rot % 2 == 0 else { throw site.error("rotary_embedding_dim \(rot) must be even and at most the head size \(head)") }
        let half = rot / 2
        guard cosT.shape == sinT.shape else { throw site.error("cos_cache \(cosT.shape) and sin_cache \(sinT.shape) must have the same shape") }
        let cosines = try Elementwise.doubles(cosT), sines = try Elementwise.doubles(sinT)
        // Where the cache row for (b, s) starts.
        var rowOf: (Int, Int) throws -> Int
        let width = cosT.shape.dims.last ?? 0
        guard width >= half else { throw site.error("the caches' last axis (\(width)) must hold at least rotary_dim/2 = \(half) values") }
        if let positions {
            guard positions.shape.dims == [batch, seq] else { throw site.error("position_ids must be \(batch)x\(seq) (batch x seq), got \(positions.shape)") }
            guard cosT.shape.rank == 2 else { throw site.error("with position_ids the caches must be 2-D (max_position x rotary_dim/2), got \(cosT.shape)") }
            let ids = try Elementwise.doubles(positions), rows = cosT.shape.dims[0]
            rowOf = { b, s in
                let p = ids[b * seq + s]
                guard p >= 0, p < Double(rows) else { throw site.error("position_ids[\(b), \(s)] = \(p) is outside the caches' \(rows) positions") }
                return Int(p) * width
            }
        } else {
            guard cosT.shape.dims.count == 3, cosT.shape.dims[0] == batch, cosT.shape.dims[1] == seq else {
                throw site.error("without position_ids the caches must be \(batch)x\(seq)x\(half) (batch x seq x rotary_dim/2), got \(cosT.shape)")
            }
            rowOf = { b, s in (b * seq + s) * width }
        }
        // An empty X may have huge other axes: copy it instead of looping over them.
        guard xt.shape.elementCount > 0, half > 0 else { return try Elementwise.copy(xt, into: &outputs[0]) }
        let x = try Elementwise.doubles(xt)
        var y = x
        for b in 0..<batch {
            for s in 0..<seq {
                let row = try rowOf(b, s)
                for h in 0..<heads {
                    let base = dims.count == 4 ? ((b * heads + h) * seq + s) * head : ((b * seq + s) * heads + h) * head
                    for i in 0..<half {
                        let (i1, i2) = interleaved ? (base + 2 * i, base + 2 * i + 1) : (base + i, base + i + half)
                        let c = cosines[row + i], sn = sines[row + i]
                        y[i1] = c * x[i1] - sn * x[i2]
                        y[i2] = sn * x[i1] + c * x[i2]
                    }
                }
            }
        }
        try CastOperator.convert(Tensor(y, shape: xt.shape), into: &outputs[0])
    }
}
