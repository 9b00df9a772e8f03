import OctetCore

/// The node `QDQFusion` makes of DequantizeLinear → an elementwise op of one tensor
/// (Sigmoid, Tanh, HardSwish, Relu, Clip, LeakyRelu, …) → QuantizeLinear, all per tensor:
/// an 8-bit input has 256 codes, so the whole chain is a table of 256 output codes
/// (ONNX Runtime's QLinearSigmoid / QLinearLeakyRelu lookup tables, and PyTorch's
/// quantized hardswish/sigmoid). The table is computed by running the QDQ chain itself on
/// the 256 codes, so the node gives what the QDQ graph evaluated in f32 gives, bit for bit.
///
/// Domain `octet`, op type `QuantizedLookup`. Input: `x_q` (u8 or s8), any shape and layout.
/// Attributes: `octet.table` = 256 output codes indexed by the input code's bit pattern;
/// `octet.output_signed` = 1 for an s8 output (else u8). Output: `y_q`, the input's shape.
public enum QuantizedLookupNode {
    public static let domain = "octet"
    public static let opType = "QuantizedLookup"
    public static let tableAttribute = "octet.table"
    public static let outputSignedAttribute = "octet.output_signed"

    static func matches(_ n: Node) -> Bool { n.domain == domain && n.opType == opType }

    /// The node reading `input` and writing `output` through `table` (output codes by input bit pattern).
    static func make(name: String, input: String, output: String, table: (codes: [Int], signed: Bool)) -> Node {
        var n = Node(name: name, opType: opType, domain: domain, inputs: [input], outputs: [output])
        n.attributes[tableAttribute] = .ints(table.codes)
        n.attributes[outputSignedAttribute] = .int(table.signed ? 1 : 0)
        return n
    }

    /// The elementwise ops of one tensor operand (others are constant parameters) whose
    /// DQ → op → Q chains become tables.
    static let unaryOps: Set<String> = [
        "Sigmoid", "Swish", "Tanh", "HardSwish", "HardSigmoid", "Relu", "Clip", "LeakyRelu", "Elu", "Selu", "Celu", "Gelu",
        "Softplus", "Softsign", "Mish", "Erf", "Exp", "Abs", "Neg", "ThresholdedRelu",
    ]
}

struct QuantizedLookupOperator: GraphOperator {
    let site: OperatorSite
    let table: [UInt8]
    let outputType: DType

    init(_ node: Node) throws {
        site = OperatorSite(node)
        guard node.inputs.count == 1, node.outputs.count == 1 else {
            throw site.error("takes 1 input and 1 output, got \(node.inputs.count) and \(node.outputs.count)")
        }
        guard let t = try node.ints(QuantizedLookupNode.tableAttribute), t.count == 256, t.allSatisfy({ (-128...255).contains($0) }) else {
            throw site.error("attribute \(QuantizedLookupNode.tableAttribute) must hold 256 output codes in [-128, 255]")
        }
        table = t.map { UInt8(truncatingIfNeeded: $0) }
        outputType = try node.int(QuantizedLookupNode.outputSignedAttribute, default: 0) == 1 ? .s8 : .u8
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard x.dtype.isQuantized8Bit else { throw site.error("needs a u8 or s8 input, got \(x.dtype)") }
        return [ValueType(outputType, x.shape)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let table = table
        x.withUnsafeBytes { src in
            outputs[0].withUnsafeMutableBytes { dst in
                guard let s = src.baseAddress?.assumingMemoryBound(to: UInt8.self), let d = dst.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
                table.withUnsafeBufferPointer { t in
                    guard let lut = t.baseAddress else { return }
                    IntraOpParallelism.forEachChunk(min(src.count, dst.count), grain: 1 << 15, Lookup(s: s, d: d, table: lut))
                }
            }
        }
    }

    /// The table lookups of the elements `range`.
    private struct Lookup: RangeTask {
        let s: UnsafePointer<UInt8>, d: UnsafeMutablePointer<UInt8>, table: UnsafePointer<UInt8>
        func callAsFunction(_ r: Range<Int>) { for i in r { d[i] = table[Int(s[i])] } }
    }
}
