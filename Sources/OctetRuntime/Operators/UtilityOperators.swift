import OctetCore

/// Size (element count as an int64 scalar), CastLike (Cast to the element type of input 1),
/// BitCast (the same bytes as another type of the same width) and Dropout at inference
/// (the input unchanged, the optional mask all true).
enum UtilityOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["Size"] = { n, _ in SizeOperator(site: OperatorSite(n)) }
        f["CastLike"] = { n, _ in CastLikeOperator(site: OperatorSite(n)) }
        f["BitCast"] = { n, _ in
            let to = try n.int("to", default: -1)
            guard let dtype = DType(onnxCode: to) else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "to", expected: DType.onnxNames, got: "type code \(to)")
            }
            return BitCastOperator(site: OperatorSite(n), to: dtype)
        }
        f["Dropout"] = { n, opset in
            // Before opset 12 ratio was an attribute, and is_test (opset < 7) chose inference.
            DropoutOperator(site: OperatorSite(n), attributeRatio: opset < 12 ? try n.float("ratio", default: 0.5) : nil,
                            mask: n.outputs.count > 1 && !n.outputs[1].isEmpty)
        }
    }
}

/// `Size(data)`: the number of elements, an int64 scalar.
struct SizeOperator: GraphOperator {
    let site: OperatorSite

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        _ = try site.type(inputs, 0)
        return [ValueType(.s64, TensorShape.scalar)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        outputs[0] = try Tensor([Int64(x.shape.elementCount)], shape: .scalar)
    }
}

/// `BitCast(input)` (opset 26): the input's bytes (little endian, as Octet stores them) as
/// element type `to`, which must have the same width; the shape is unchanged. A byte
/// other than 0 or 1 becomes `true` when the target is bool (a bool holds only those).
struct BitCastOperator: GraphOperator {
    let site: OperatorSite
    let to: DType

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard x.dtype.byteSize == to.byteSize else {
            throw site.error("\(x.dtype) (\(x.dtype.byteSize * 8) bits) cannot be reinterpreted as \(to) (\(to.byteSize * 8) bits); the widths must match")
        }
        return [ValueType(to, x.shape)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        try Elementwise.copy(x, into: &outputs[0])
        if to == .bool, x.dtype != .bool {
            outputs[0].withUnsafeMutableBytes { b in for i in 0..<b.count where b[i] > 1 { b[i] = 1 } }
        }
    }
}

/// `CastLike(input, target_type)`: `input` cast to `target_type`'s element type.
struct CastLikeOperator: GraphOperator {
    let site: OperatorSite

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), target = try site.type(inputs, 1, "target_type")
        return [ValueType(target.dtype, x.shape)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        try CastOperator.convert(x, into: &outputs[0])
    }
}

/// Dropout at inference: `output = data`; `mask` (bool, data's shape) all true. Training
/// mode (input 2 true) with a non-zero ratio draws random masks, which Octet does not do:
/// it is refused naming the node.
struct DropoutOperator: GraphOperator {
    let site: OperatorSite
    let attributeRatio: Float?
    let mask: Bool

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        if let training = constants.count > 2 ? constants[2] : nil, try training.scalars(as: Bool.self).first == true, try ratio(constants) != 0 {
            throw site.error("training_mode = true with a non-zero ratio (random dropout) is not supported; inference only")
        }
        return mask ? [x, ValueType(.bool, x.shape)] : [x]
    }

    func ratio(_ inputs: [Tensor?]) throws -> Float {
        if let attributeRatio { return attributeRatio }
        guard inputs.count > 1, let r = inputs[1] else { return 0.5 }
        return try Elementwise.doubles(r).first.map { Float($0) } ?? 0.5
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        if inputs.count > 2, let training = inputs[2], try training.scalars(as: Bool.self).first == true, try ratio(inputs) != 0 {
            throw site.error("training_mode = true with a non-zero ratio (random dropout) is not supported; inference only")
        }
        try Elementwise.copy(x, into: &outputs[0])
        if outputs.count > 1 {
            try outputs[1].withUnsafeMutableBufferPointer(as: Bool.self) { d in for i in 0..<d.count { d[i] = true } }
        }
    }
}
