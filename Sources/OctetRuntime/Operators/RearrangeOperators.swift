import OctetCore

/// Ops that only move elements, any element type: Tile (repeats must be known before
/// running), DepthToSpace (`DCR` or `CRD`), SpaceToDepth.
enum RearrangeOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["Tile"] = { n, _ in TileOperator(site: OperatorSite(n)) }
        f["DepthToSpace"] = { n, _ in SpaceDepthOperator(site: OperatorSite(n), block: try blocksize(n), toSpace: true, crd: try crd(n)) }
        f["SpaceToDepth"] = { n, _ in SpaceDepthOperator(site: OperatorSite(n), block: try blocksize(n), toSpace: false, crd: try crd(n)) }
    }

    /// `mode`: DCR (default; the block offsets outermost in the channels) or CRD (innermost;
    /// SpaceToDepth has the attribute from opset 28).
    static func crd(_ n: Node) throws -> Bool {
        let mode = try n.string("mode", default: "DCR")
        guard mode == "DCR" || mode == "CRD" else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "mode", expected: "\"DCR\" or \"CRD\"", got: "\"\(mode)\"")
        }
        return mode == "CRD"
    }

    static func blocksize(_ n: Node) throws -> Int {
        guard let b = try n.int("blocksize"), b > 0 else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "blocksize", expected: "a positive int", got: "\(try n.int("blocksize").map(String.init) ?? "nothing")")
        }
        return b
    }
}

/// `Tile(input, repeats)`: the input repeated `repeats[i]` times along each axis.
struct TileOperator: GraphOperator {
    let site: OperatorSite

    func repeats(_ t: Tensor?, rank: Int) throws -> [Int]? {
        guard let r = try site.ints(t, "repeats") else { return nil }
        guard r.count == rank, r.allSatisfy({ $0 >= 0 }) else { throw site.error("repeats \(r) must hold \(rank) values ≥ 0") }
        return r
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard let s = x.shape else { return [x] }
        guard let r = try repeats(constants.count > 1 ? constants[1] : nil, rank: s.rank) else { return [site.runtimeShaped(x.dtype, rank: s.rank, "repeats")] }
        let dims = try zip(s.dims, r).map { d, k throws(GraphError) -> Dimension in
            guard let v = d.value else { return k == 1 ? d : .symbol("\(site.node)_tiled") }
            guard let tiled = try? v.multiplied(by: k) else { throw site.error("dimension \(v) repeated \(k) times overflows a 64-bit integer") }
            return .fixed(tiled)
        }
        return [ValueType(x.dtype, SymbolicShape(dims))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        guard let r = try repeats(inputs.count > 1 ? inputs[1] : nil, rank: x.shape.rank) else { throw site.error("repeats is missing") }
        let strides = Strided.strides(x.shape)
        // The output as (repeat, index) pairs per axis: the repeat advances nothing.
        let order = try TensorShape(zip(r, x.shape.dims).flatMap { [$0, $1] })
        Strided.gather(x, strides: strides.flatMap { [0, $0] }, offset: 0, into: &outputs[0], order: order)
    }
}

/// DepthToSpace (N x C x H x W → N x C/b² x H·b x W·b) and SpaceToDepth (the inverse, with
/// the block offsets outermost in the channels).
struct SpaceDepthOperator: GraphOperator {
    let site: OperatorSite
    let block: Int
    let toSpace: Bool
    let crd: Bool

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard let s = x.shape else { return [x] }
        guard s.rank == 4 else { throw site.error("needs N x C x H x W, got \(s)") }
        guard let c = s.dims[1].value, let h = s.dims[2].value, let w = s.dims[3].value else { return [site.runtimeShaped(x.dtype, rank: 4, "input")] }
        let b = block
        guard let area = try? b.multiplied(by: b), let hb = try? h.multiplied(by: b), let wb = try? w.multiplied(by: b) else {
            throw site.error("blocksize \(b) overflows a 64-bit integer with the input \(s)")
        }
        if toSpace {
            guard c % area == 0 else { throw site.error("the \(c) channels do not divide by blocksize² = \(area)") }
            return [ValueType(x.dtype, SymbolicShape([s.dims[0], .fixed(c / area), .fixed(hb), .fixed(wb)]))]
        }
        guard h % b == 0, w % b == 0 else { throw site.error("height \(h) and width \(w) must divide by blocksize \(b)") }
        guard let channels = try? c.multiplied(by: area) else { throw site.error("\(c) channels x blocksize² \(area) overflows a 64-bit integer") }
        return [ValueType(x.dtype, SymbolicShape([s.dims[0], .fixed(channels), .fixed(h / b), .fixed(w / b)]))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let (n, c, h, w) = (x.shape.dims[0], x.shape.dims[1], x.shape.dims[2], x.shape.dims[3]), b = block
        // The tensors bound every stride but those with b²: b² · h · w must fit too.
        guard let area = try? b.multiplied(by: b), (try? [h, w, area].checkedProduct()) != nil else {
            throw site.error("blocksize \(b) overflows a 64-bit integer with the input \(x.shape)")
        }
        let plane = h * w
        if toSpace {
            let oc = c / (b * b)
            // Output walked as n, c', h, i, w, j; channel (DCR) (i·b + j)·C' + c', (CRD) c'·b² + i·b + j.
            let order = try TensorShape([n, oc, h, b, w, b])
            let strides = crd ? [c * plane, b * b * plane, w, b * plane, 1, plane] : [c * plane, plane, w, b * oc * plane, 1, oc * plane]
            Strided.gather(x, strides: strides, offset: 0, into: &outputs[0], order: order)
        } else {
            // Output walked as n, i, j, c, h', w' (DCR) or n, c, i, j, h', w' (CRD) from (n, c, h'·b + i, w'·b + j).
            if crd {
                Strided.gather(x, strides: [c * plane, plane, w, 1, b * w, b], offset: 0, into: &outputs[0], order: try TensorShape([n, c, b, b, h / b, w / b]))
            } else {
                Strided.gather(x, strides: [c * plane, w, 1, plane, b * w, b], offset: 0, into: &outputs[0], order: try TensorShape([n, b, b, c, h / b, w / b]))
            }
        }
    }
}
