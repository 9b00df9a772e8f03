import OctetCore

extension QDQFusion {
    /// DQ(x) → unary op (→ 7-bit Clip) → Q, per tensor, the op's other inputs constant: one
    /// `QuantizedLookupNode` whose table is the chain itself run on the 256 codes of x's type.
    func fuseLookup(_ node: Node, _ g: Graph, dequantizer: (String) -> (index: Int, node: Node, params: QDQParameters)?,
                    quantizer: (String) -> Quantizer?) -> (node: Node, consumed: [Int])? {
        guard node.outputs.count == 1, let x = node.input(0), let d = dequantizer(x), d.params.scales.count == 1,
              let xq = d.node.input(0), g.initializers[xq] == nil,
              node.inputs.dropFirst().allSatisfy({ $0.isEmpty || g.initializers[$0] != nil }),
              let q = quantizer(node.outputs[0]), q.params.scales.count == 1,
              let codeType = d.params.zeroPointType ?? .u8 as DType?, codeType.isQuantized8Bit,
              let table = try? Self.table(chain: [d.node, node] + q.tail(in: g), input: xq,
                                          codeType: codeType, graph: g) else { return nil }
        return (QuantizedLookupNode.make(name: node.name, input: xq, output: q.node.outputs[0], table: table), q.consumed)
    }

    /// Runs `chain` (DQ, op, Q) on the 256 codes of `codeType`, as the unoptimized graph would.
    static func table(chain: [Node], input: String, codeType: DType, graph g: Graph) throws -> (codes: [Int], signed: Bool) {
        let codes = codeType == .s8
            ? try Tensor((0..<256).map { Int8(truncatingIfNeeded: $0) }, shape: TensorShape([256]))
            : try Tensor((0..<256).map { UInt8(truncatingIfNeeded: $0) }, shape: TensorShape([256]))
        var values: [String: Tensor] = [input: codes]
        for n in chain {
            let op = try OperatorCatalog.makeOperator(for: n, opset: g.opset)
            let inputs: [Tensor?] = n.inputs.map { $0.isEmpty ? nil : (values[$0] ?? g.initializers[$0]) }
            let types = try op.outputTypes(inputs.map { $0.map { ValueType($0.dtype, SymbolicShape($0.shape)) } }, constants: inputs)
            var outputs = try types.map { t -> Tensor in
                guard let s = t.shape?.concrete else { throw GraphError.node(node: n.name, opType: n.opType, detail: "no concrete shape for a table") }
                return try Tensor(zeros: t.dtype, shape: s)
            }
            try op.run(inputs, outputs: &outputs)
            for (name, t) in zip(n.outputs, outputs) { values[name] = t }
        }
        guard let out = chain.last?.outputs.first, let y = values[out], y.dtype.isQuantized8Bit, y.shape.elementCount == 256 else {
            throw GraphError.node(node: chain.last?.name ?? input, opType: chain.last?.opType ?? "", detail: "the table's chain gave no 256 8-bit codes")
        }
        let signed = y.dtype == .s8
        let result: [Int] = signed ? try y.scalars(as: Int8.self).map(Int.init) : try y.scalars(as: UInt8.self).map(Int.init)
        return (result, signed)
    }
}
