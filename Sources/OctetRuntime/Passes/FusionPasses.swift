import OctetCore

/// Folds a constant bias added after a MatMul with constant 2-D weights (how PyTorch exports
/// `nn.Linear` on 3-D inputs) into the MatMul, so the backend adds it in its output stage.
/// The MatMul then carries the bias as a third input and `octet.bias = 1`.
public struct MatMulBiasFusion: GraphPass {
    public var name: String { "matmul-bias-fusion" }
    public init() {}

    /// The attribute marking a MatMul whose third input is a bias.
    public static let attribute = "octet.bias"

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        var removed: Set<Int> = []
        let producers = g.producers(), readers = g.readers()
        for (ai, add) in g.nodes.enumerated() where add.opType == "Add" && add.domain.isEmpty && add.inputs.count == 2 {
            for side in 0..<2 {
                let x = add.inputs[side], c = add.inputs[1 - side]
                guard let pi = producers[x], !removed.contains(pi), g.onlyFeeds(x, ai, readers: readers) else { continue }
                let mm = g.nodes[pi]
                guard mm.opType == "MatMul", mm.domain.isEmpty, mm.inputs.count == 2, let w = g.initializers[mm.inputs[1]], w.shape.rank == 2,
                      let bias = g.initializers[c], bias.dtype == .f32, bias.shape.elementCount == w.shape.dims[1],
                      bias.shape.dims.dropLast().allSatisfy({ $0 == 1 }) else { continue }
                g.nodes[pi].inputs.append(c)
                g.nodes[pi].attributes[Self.attribute] = .int(1)
                g.nodes[pi].outputs = [add.outputs[0]]
                removed.insert(ai)
                break
            }
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return g
    }
}

/// Replaces the exact GELU that exporters spell out, `x · 0.5 · (1 + erf(x / √2))` (in
/// either order of the multiplications), by one `Gelu` node.
public struct GeluFusion: GraphPass {
    public var name: String { "gelu-fusion" }
    public init() {}

    public func run(_ graph: Graph) throws -> Graph {
        var g = graph
        var removed: Set<Int> = []
        let producers = g.producers(), readers = g.readers()
        func scalar(_ v: String) -> Float? {
            guard let t = g.initializers[v], t.dtype == .f32, t.shape.elementCount == 1 else { return nil }
            return try? t.scalars(as: Float.self)[0]
        }
        func near(_ a: Float?, _ b: Float) -> Bool { a.map { abs($0 - b) <= 1e-4 * abs(b) } ?? false }
        /// The other input of a binary node, given one.
        func other(_ n: Node, _ v: String) -> String? { n.inputs.count == 2 ? (n.inputs[0] == v ? n.inputs[1] : n.inputs[1] == v ? n.inputs[0] : nil) : nil }

        for (ei, erf) in g.nodes.enumerated() where erf.opType == "Erf" && erf.domain.isEmpty {
            // x / √2 (or x · 1/√2) → Erf → + 1 → · x → · 0.5   (or · 0.5 applied to x first)
            guard let scaledValue = erf.input(0), let si = producers[scaledValue], g.onlyFeeds(scaledValue, ei, readers: readers) else { continue }
            let scaled = g.nodes[si]
            guard let x = scaled.input(0) else { continue }
            let isDiv = scaled.opType == "Div" && near(scalar(scaled.inputs[1]), 1.4142135)
            let isMul = scaled.opType == "Mul" && near(other(scaled, x).flatMap(scalar), 0.70710678)
            guard isDiv || isMul, let erfOut = erf.outputs.first, let addIndex = readers[erfOut]?.first, g.onlyFeeds(erfOut, addIndex, readers: readers) else { continue }
            let add = g.nodes[addIndex]
            guard add.opType == "Add", near(other(add, erfOut).flatMap(scalar), 1), let sum = add.outputs.first,
                  let m1 = readers[sum]?.first, g.onlyFeeds(sum, m1, readers: readers) else { continue }
            let mul1 = g.nodes[m1]
            guard mul1.opType == "Mul", let f = other(mul1, sum), let product = mul1.outputs.first else { continue }
            var chain: [Int] = [si, ei, addIndex, m1]
            var output: String
            if f == x {
                // (x · (1 + erf)) · 0.5
                guard let m2 = readers[product]?.first, g.onlyFeeds(product, m2, readers: readers), g.nodes[m2].opType == "Mul",
                      near(other(g.nodes[m2], product).flatMap(scalar), 0.5) else { continue }
                chain.append(m2)
                output = g.nodes[m2].outputs[0]
            } else if let hi = producers[f], g.nodes[hi].opType == "Mul", near(other(g.nodes[hi], x).flatMap(scalar), 0.5),
                      g.onlyFeeds(f, m1, readers: readers) {
                // (0.5 · x) · (1 + erf)
                chain.append(hi)
                output = product
            } else {
                continue
            }
            guard chain.allSatisfy({ !removed.contains($0) }) else { continue }
            removed.formUnion(chain.filter { $0 != si })
            g.nodes[si] = Node(name: erf.name + "_gelu", opType: "Gelu", inputs: [x], outputs: [output])
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return g
    }
}
