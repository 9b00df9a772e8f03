import OctetCore

/// ONNX Einsum (opset 12; onnx/defs/math/defs.cc, NumPy `einsum` semantics): the sum over
/// every label missing from the output of the product of the inputs' elements named by
/// the `equation` (`"ij,jk->ik"`; spaces ignored). A label repeated within one term takes
/// that term's diagonal; `...` stands for the same leading axes in every term, broadcast
/// NumPy-style (size-1 axes stretch). Without `->` the output is the ellipsis axes, then the
/// labels that appear once, in alphabetical order.
///
/// Any numeric type: floats accumulate in Double, integers in their own type with
/// wrap-around (as NumPy). Computed as a general contraction (one loop over the output's
/// indices, one over the summed labels' indices).
struct EinsumOperator: GraphOperator {
    let site: OperatorSite
    /// Each input term: letters (as their scalar values) with -1 for the ellipsis.
    let terms: [[Int]]
    /// The output term when explicit (`->`), in the same form.
    let output: [Int]?

    static let ellipsis = -1
    /// The most products one run may sum (output elements times summed combinations).
    static let maximumProducts = 1 << 32

    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["Einsum"] = { n, _ in try EinsumOperator(n) }
    }

    /// - Throws: `GraphError.attribute` naming the node when `equation` is missing or holds
    ///   anything but letters, commas, one `->` and `...`.
    init(_ n: Node) throws {
        site = OperatorSite(n)
        let equation = try n.string("equation", default: "")
        guard !equation.isEmpty else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "equation", expected: "an einsum equation such as \"ij,jk->ik\"", got: "none")
        }
        let text = equation.filter { !$0.isWhitespace }
        let sides = text.components(separatedBy: "->")
        func bad(_ why: String) -> GraphError {
            .attribute(node: n.name, opType: n.opType, name: "equation", expected: "letters, commas, one '->' and '...' (\(why))", got: equation)
        }
        guard sides.count <= 2 else { throw bad("more than one '->'") }
        func term(_ s: Substring) throws -> [Int] {
            var labels: [Int] = [], rest = s
            while let c = rest.first {
                if rest.hasPrefix("...") {
                    guard !labels.contains(Self.ellipsis) else { throw bad("two ellipses in one term") }
                    labels.append(Self.ellipsis)
                    rest = rest.dropFirst(3)
                } else {
                    guard c.isASCII, c.isLetter, let v = c.unicodeScalars.first?.value else { throw bad("'\(c)'") }
                    labels.append(Int(v))
                    rest = rest.dropFirst()
                }
            }
            return labels
        }
        terms = try sides[0].split(separator: ",", omittingEmptySubsequences: false).map(term)
        output = try sides.count == 2 ? term(Substring(sides[1])) : nil
    }

    /// The contraction for inputs of these ranks: every input axis's label id (ellipsis
    /// axes get ids from 1000 on, right-aligned), the output's label ids.
    struct Plan {
        var inputs: [[Int]]
        var output: [Int]
    }

    func plan(ranks: [Int]) throws -> Plan {
        guard ranks.count == terms.count else { throw site.error("the equation has \(terms.count) input terms, the node \(ranks.count) inputs") }
        var ellipsisRank = 0
        for (j, t) in terms.enumerated() {
            let letters = t.filter { $0 != Self.ellipsis }.count
            if t.contains(Self.ellipsis) {
                guard ranks[j] >= letters else { throw site.error("input \(j) has rank \(ranks[j]), fewer than the \(letters) labels of its term") }
                ellipsisRank = max(ellipsisRank, ranks[j] - letters)
            } else if ranks[j] != letters {
                throw site.error("input \(j) has rank \(ranks[j]), its term names \(letters) axes")
            }
        }
        let inputs = terms.enumerated().map { j, t in
            t.flatMap { l -> [Int] in
                guard l == Self.ellipsis else { return [l] }
                let e = ranks[j] - (t.count - 1)
                return (0..<e).map { 1000 + ellipsisRank - e + $0 }
            }
        }
        let broadcast = (0..<ellipsisRank).map { 1000 + $0 }
        var out: [Int]
        if let output {
            out = output.flatMap { $0 == Self.ellipsis ? broadcast : [$0] }
            let all = Set(inputs.joined())
            for l in out where !all.contains(l) {
                throw site.error("output label '\(l >= 1000 ? "..." : String(UnicodeScalar(UInt8(l))))' appears in no input term")
            }
            guard Set(out).count == out.count else { throw site.error("the output term names a label twice") }
        } else {
            let letters = terms.joined().filter { $0 != Self.ellipsis }
            out = broadcast + Set(letters).filter { l in letters.filter { $0 == l }.count == 1 }.sorted()
        }
        return Plan(inputs: inputs, output: out)
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let types = try (0..<inputs.count).map { try site.type(inputs, $0) }
        guard let first = types.first else { throw site.error("needs at least one input") }
        for (j, t) in types.enumerated() where t.dtype != first.dtype || !t.dtype.isNumeric {
            throw site.error("input \(j) is \(t.dtype); every input must have the same numeric type (input 0 is \(first.dtype))")
        }
        let shapes = types.compactMap(\.shape)
        guard shapes.count == types.count else { return [ValueType(first.dtype, nil)] }
        let p = try plan(ranks: shapes.map(\.rank))
        var size: [Int: OctetCore.Dimension] = [:]
        for (j, labels) in p.inputs.enumerated() {
            for (a, l) in labels.enumerated() {
                let d = shapes[j].dims[a]
                if let known = size[l], known != .fixed(1) || d == .fixed(1) { continue }
                size[l] = d
            }
        }
        return [ValueType(first.dtype, SymbolicShape(p.output.map { size[$0] ?? .fixed(1) }))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let xs = try (0..<inputs.count).map { try site.tensor(inputs, $0) }
        let p = try plan(ranks: xs.map(\.shape.rank))
        // Each label's size (size-1 axes broadcast), then each input's stride per label
        // (0 where broadcast; summed over a repeated label: the diagonal).
        var size: [Int: Int] = [:]
        for (j, labels) in p.inputs.enumerated() {
            for (a, l) in labels.enumerated() {
                let d = xs[j].shape.dims[a]
                if let known = size[l], known != d, known != 1, d != 1 {
                    throw site.error("label '\(l >= 1000 ? "..." : String(UnicodeScalar(UInt8(l))))' has size \(known) in one place and \(d) in input \(j) (\(xs[j].shape))")
                }
                if size[l] == nil || size[l] == 1 { size[l] = d }
            }
        }
        let summed = Set(p.inputs.joined()).subtracting(p.output).sorted()
        let order = p.output + summed
        let strides: [[Int]] = xs.enumerated().map { j, x in
            var s = [Int](repeating: 0, count: order.count), step = 1
            for a in stride(from: x.shape.rank - 1, through: 0, by: -1) {
                let l = p.inputs[j][a]
                if let k = order.firstIndex(of: l), x.shape.dims[a] != 1 || size[l] == 1 { s[k] += step }
                step *= x.shape.dims[a]
            }
            return s
        }
        let sizes = order.map { size[$0] ?? 1 }
        // The loop runs over every combination of label values: refuse a count past Int.max
        // (an empty label makes it 0, whatever the others).
        if !sizes.contains(0) {
            var count = 1
            for s in sizes {
                let (c, overflow) = count.multipliedReportingOverflow(by: s)
                guard !overflow else {
                    throw site.error("the labels' sizes \(sizes) multiply past \(Int.max) products to sum; expected a contraction of countable size")
                }
                count = c
            }
            // Each product is computed one by one: a contraction of 2^40 (i,j-> over two 4 MiB
            // vectors) would run for hours.
            guard count <= Self.maximumProducts else {
                throw site.error("the labels' sizes \(sizes) make \(count) products to sum; at most \(Self.maximumProducts)")
            }
        }
        let kernel = Kernel(inputs: xs, sizes: sizes, outputAxes: p.output.count, strides: strides)
        guard try xs[0].dtype.visitNumeric(kernel, into: &outputs[0]) != nil else { throw site.error("inputs must be numeric, got \(xs[0].dtype)") }
    }

    struct Kernel: NumericVisitor {
        let inputs: [Tensor]
        /// Sizes of the output's labels, then the summed ones.
        let sizes: [Int]
        let outputAxes: Int
        let strides: [[Int]]

        func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws {
            let values = try inputs.map { try $0.scalars(as: T.self) }
            // `run` checked the product when no label is empty; with an empty summed label
            // every output is 0 (the output's own size is within the memory budget).
            let outCount = sizes[..<outputAxes].contains(0) ? 0 : sizes[..<outputAxes].reduce(1, *)
            let sumCount = sizes.contains(0) ? 0 : sizes[outputAxes...].reduce(1, *)
            let n = sizes.count, m = values.count
            var index = [Int](repeating: 0, count: n), offsets = [Int](repeating: 0, count: m)
            /// Advances `index` over axes `range` (last fastest), keeping `offsets` in step.
            func advance(_ range: Range<Int>) {
                for a in range.reversed() {
                    index[a] += 1
                    for j in 0..<m { offsets[j] += strides[j][a] }
                    if index[a] < sizes[a] { return }
                    for j in 0..<m { offsets[j] -= strides[j][a] * sizes[a] }
                    index[a] = 0
                }
            }
            try out.withUnsafeMutableBufferPointer(as: T.self) { dst in
                for o in 0..<outCount {
                    if T.isFloatingPoint {
                        var sum = 0.0
                        for _ in 0..<sumCount {
                            var product = 1.0
                            for j in 0..<m { product *= values[j][offsets[j]].asDouble }
                            sum += product
                            advance(outputAxes..<n)
                        }
                        dst[o] = T(converting: sum)
                    } else {
                        var sum = T.zero
                        for _ in 0..<sumCount {
                            var product = T.one
                            for j in 0..<m { product = product.wrappingMultiplying(values[j][offsets[j]]) }
                            sum = sum.wrappingAdding(product)
                            advance(outputAxes..<n)
                        }
                        dst[o] = sum
                    }
                    advance(0..<outputAxes)
                }
            }
        }
    }
}
