import OctetCore

/// Fuses the residual add of a static INT8 CNN into the convolution that produces one of its
/// operands, as a `sum` post-op (`QuantizedSum`): a `QuantizedAdd(c, s)` (made by `QDQFusion`,
/// with or without its Relu) where `c` is the 8-bit output of a `QuantizedMatrixNode` of source
/// `Conv`, read by nothing else and not a graph output, becomes that convolution with `s` as a
/// tenth input and the Add's parameters as attributes; it writes the Add's output. The
/// convolution's own code is computed first and the Add's formula applied to it in the output
/// stage, so the result equals the unfused graph's bit for bit, with no pass over the tensor
/// between the two.
///
/// The fused node takes the Add's place in the graph (both operands are computed by then).
/// When both operands qualify, the convolution placed later takes the sum (the other's output
/// is then ready). Left alone: `QuantizedMul`, a convolution with a second reader or already
/// fused, `Add(c, c)`, a float-output convolution.
public struct ConvSumFusion: GraphPass {
    public var name: String { "conv-sum-fusion" }
    public init() {}

    /// `floats` [s_a, s_b, s_y]: the Add's scales (a: the convolution's codes, b: the sum operand).
    public static let scalesAttribute = "octet.sum_scales"
    /// `ints` [z_a, z_b, z_y].
    public static let zeroPointsAttribute = "octet.sum_zero_points"
    /// `int` 1: the Add's Relu was fused (the result's lowest code is z_y).
    public static let reluAttribute = "octet.sum_relu"
    /// `int`: the result's highest code when the Add had a 7-bit Clip (`OutputCodeLimit`).
    public static let qmaxAttribute = "octet.sum_qmax"
    /// The index of the sum operand among a fused node's inputs.
    public static let operandIndex = 9

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        let readers = g.readers(), producers = g.producers()
        var removed: Set<Int> = []
        for (ai, add) in g.nodes.enumerated() where add.domain == QuantizedBinaryNode.domain && add.opType == QuantizedBinaryNode.opTypes["Add"] {
            guard add.inputs.count == 2, add.outputs.count == 1, add.inputs[0] != add.inputs[1] else { continue }
            let candidates = (0..<2).compactMap { side -> (side: Int, index: Int)? in
                guard let ci = producers[add.inputs[side]], !removed.contains(ci), ci < ai, Self.fusible(g.nodes[ci]),
                      g.onlyFeeds(add.inputs[side], ai, readers: readers) else { return nil }
                return (side, ci)
            }
            guard let chosen = candidates.max(by: { $0.index < $1.index }) else { continue }
            guard let fused = try Self.fuse(g.nodes[chosen.index], add, convSide: chosen.side) else { continue }
            g.nodes[ai] = fused
            removed.insert(chosen.index)
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return g
    }

    /// A static INT8 convolution with an 8-bit output and no sum yet.
    static func fusible(_ n: Node) -> Bool {
        QuantizedMatrixNode.matches(n) && n.inputs.count == 9 && n.outputs.count == 1
            && (try? n.string(QuantizedMatrixNode.sourceAttribute, default: "")) == "Conv"
            && (try? n.int(QuantizedMatrixNode.dynamicAttribute, default: 0)) == 0
    }

    /// `conv` taking `add`'s other operand as its sum, or `nil` when the Add's attributes are
    /// not the ones `QDQFusion` writes.
    static func fuse(_ conv: Node, _ add: Node, convSide: Int) throws -> Node? {
        guard let s = try add.floats(QuantizedBinaryNode.scalesAttribute), s.count == 3,
              let z = try add.ints(QuantizedBinaryNode.zeroPointsAttribute), z.count == 3 else { return nil }
        // Operand a of the sum formula is the convolution's code, b the other input.
        let (a, b) = convSide == 0 ? (0, 1) : (1, 0)
        var fused = conv
        fused.inputs.append(add.inputs[1 - convSide])
        fused.outputs = add.outputs
        fused.attributes[scalesAttribute] = .floats([s[a], s[b], s[2]])
        fused.attributes[zeroPointsAttribute] = .ints([z[a], z[b], z[2]])
        fused.attributes[reluAttribute] = .int(try add.int(QuantizedBinaryNode.reluAttribute, default: 0))
        if let limit = try OutputCodeLimit.read(add) { fused.attributes[qmaxAttribute] = .int(Int(limit)) }
        QuantizedMatrixNode.recordFused(add, as: "the residual add, summed with '\(add.inputs[1 - convSide])' in the output stage (sum post-op)", in: &fused)
        return fused
    }
}
