import OctetCore

/// One node's computation, read from its attributes once, then used to infer types and
/// to run. Implementations are plain Swift; conv, gemm and matmul are planned through the
/// backends instead (see `MatrixOperator`).
protocol GraphOperator: Sendable {
    /// Output types from input types (shapes may be symbolic) and the inputs whose values
    /// are known before running (initializers, folded constants).
    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType]
    /// Computes the outputs. `outputs` arrive allocated with the inferred concrete types.
    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws
}

/// The node an operator was built from, for error messages.
struct OperatorSite: Sendable {
    var node: String
    var opType: String

    init(_ node: Node) {
        self.node = node.name
        opType = node.opType
    }

    func error(_ detail: String) -> GraphError { .input(node: node, opType: opType, detail: detail) }

    /// Size arithmetic on the node's attributes or input shapes; an overflow becomes an
    /// error naming `what` (the quantity and the attributes it comes from).
    func checked<T>(_ what: @autoclosure () -> String, _ body: () throws(ArithmeticOverflow) -> T) throws(GraphError) -> T {
        do { return try body() } catch { throw self.error("\(what()): \(error)") }
    }

    /// Input `i`'s type, which must be known.
    func type(_ inputs: [ValueType?], _ i: Int, _ what: String = "input") throws(GraphError) -> ValueType {
        guard i < inputs.count, let t = inputs[i] else { throw error("\(what) \(i) is missing") }
        return t
    }

    /// Input `i`'s shape, whose rank must be known.
    func shape(_ inputs: [ValueType?], _ i: Int) throws(GraphError) -> SymbolicShape {
        guard let s = try type(inputs, i).shape else { throw error("the rank of input \(i) is unknown") }
        return s
    }

    /// A runtime input that must be present.
    func tensor(_ inputs: [Tensor?], _ i: Int) throws(GraphError) -> Tensor {
        guard i < inputs.count, let t = inputs[i] else { throw error("input \(i) is missing") }
        return t
    }

    /// Integer values of a constant input (s64 or s32), e.g. axes or a target shape.
    func ints(_ t: Tensor?, _ what: String) throws(GraphError) -> [Int]? {
        guard let t else { return nil }
        switch t.dtype {
        case .s64: return ((try? t.scalars(as: Int64.self)) ?? []).map { Int($0) }
        case .s32: return ((try? t.scalars(as: Int32.self)) ?? []).map { Int($0) }
        default: throw error("\(what) must be int64, got \(t.dtype)")
        }
    }

    /// The type of an output whose shape depends on the values of `what` (an input computed
    /// while running, such as axes or pads): dimensions named for it, or an unknown rank.
    /// Planning, which folds what it can first, says the shape is known only when running.
    func runtimeShaped(_ dtype: DType, rank: Int?, _ what: String) -> ValueType {
        guard let rank else { return ValueType(dtype, nil) }
        return ValueType(dtype, SymbolicShape((0..<rank).map { .symbol("\(node):\(what)[\($0)]") }))
    }

    /// Whether optional input `i` is given but its value is not known before running.
    func isRuntimeValue(_ inputs: [ValueType?], _ constants: [Tensor?], _ i: Int) -> Bool {
        i < inputs.count && inputs[i] != nil && (i >= constants.count || constants[i] == nil)
    }

    /// Normalizes a possibly negative axis for a tensor of `rank`: in [-rank, rank - 1],
    /// so a scalar has no axis (callers index the dimensions with it).
    func axis(_ a: Int, rank: Int, _ what: String = "axis") throws(GraphError) -> Int {
        guard rank > 0 else { throw error("\(what) \(a) names an axis of a scalar (rank 0), which has none") }
        let r = a < 0 ? a + rank : a
        guard r >= 0, r < rank else { throw error("\(what) \(a) is out of range for rank \(rank)") }
        return r
    }
}

/// The ops Octet runs, by ONNX op type, and how to build each from a node.
enum OperatorCatalog {
    typealias Factory = @Sendable (Node, Int) throws -> any GraphOperator

    static let factories: [String: Factory] = {
        var f: [String: Factory] = [:]
        ElementwiseOperators.register(into: &f)
        ShapeOperators.register(into: &f)
        NormalizationOperators.register(into: &f)
        PoolingOperators.register(into: &f)
        QuantizedOperators.register(into: &f)
        MathOperators.register(into: &f)
        ComparisonOperators.register(into: &f)
        VariadicOperators.register(into: &f)
        ReductionOperators.register(into: &f)
        UtilityOperators.register(into: &f)
        SoftmaxVariants.register(into: &f)
        IndexingOperators.register(into: &f)
        PadOperator.register(into: &f)
        NormalizationVariants.register(into: &f)
        LossOperators.register(into: &f)
        AttentionOperator.register(into: &f)
        ResizeOperator.register(into: &f)
        RearrangeOperators.register(into: &f)
        TopKAndCumSumOperators.register(into: &f)
        DataShapedOperators.register(into: &f)
        ControlFlowOperators.register(into: &f)
        LpPoolOperator.register(into: &f)
        CenterCropPadOperator.register(into: &f)
        GridSampleOperator.register(into: &f)
        RecurrentOperator.register(into: &f)
        RotaryEmbeddingOperator.register(into: &f)
        EinsumOperator.register(into: &f)
        SignalOperators.register(into: &f)
        DeterminantOperator.register(into: &f)
        ReverseSequenceOperator.register(into: &f)
        TensorScatterOperator.register(into: &f)
        AffineGridOperator.register(into: &f)
        LinearAttentionOperator.register(into: &f)
        CausalConvWithStateOperator.register(into: &f)
        return f
    }()

    /// Matrix products, planned through the backends.
    static let matrixOps: Set<String> = ["Conv", "ConvTranspose", "Gemm", "MatMul"]

    /// Every supported op type, sorted.
    static var supported: [String] { (Array(factories.keys) + matrixOps).sorted() }

    /// Whether `node` is planned through the backends (a matrix product, FP32 or quantized).
    static func isMatrix(_ node: Node) -> Bool {
        (matrixOps.contains(node.opType) && (node.domain.isEmpty || node.domain == "ai.onnx")) || QuantizedMatrixNode.matches(node)
    }

    /// The operator for any node: matrix products included.
    static func makeOperator(for node: Node, opset: Int) throws -> any GraphOperator {
        if QuantizedMatrixNode.matches(node) { return try QuantizedMatrixOperator(node) }
        if QuantizedBinaryNode.matches(node) { return try QuantizedBinaryOperator(node) }
        if QuantizedLookupNode.matches(node) { return try QuantizedLookupOperator(node) }
        if isMatrix(node) { return try MatrixOperator(node) }
        return try make(node, opset: opset)
    }

    static func make(_ node: Node, opset: Int) throws -> any GraphOperator {
        guard node.domain.isEmpty || node.domain == "ai.onnx", let factory = factories[node.opType] else {
            throw GraphError.unsupportedOp(node: node.name, opType: node.opType, domain: node.domain, opset: opset, supported: supported)
        }
        return try factory(node, opset)
    }
}

/// The ONNX op types the runtime runs (default domain).
public var supportedOps: Set<String> { Set(OperatorCatalog.supported) }
