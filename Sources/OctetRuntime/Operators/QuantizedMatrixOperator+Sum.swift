import OctetCore

extension QuantizedMatrixOperator {
    /// Whether the node carries a residual sum (`ConvSumFusion`): a tenth input.
    var hasSum: Bool { node.inputs.count == ConvSumFusion.operandIndex + 1 }

    /// The `sum` post-op of a node fused by `ConvSumFusion`, for an output of type `dtype`.
    /// - Throws: `GraphError` naming the node when the attributes are missing or out of range.
    func sumPostOp(outputType dtype: DType) throws -> PostOp {
        guard let s = try node.floats(ConvSumFusion.scalesAttribute), s.count == 3, s.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw site.error("attribute \(ConvSumFusion.scalesAttribute) must hold 3 finite scales > 0 (convolution, sum operand, result)")
        }
        guard let z = try node.ints(ConvSumFusion.zeroPointsAttribute), z.count == 3, let range = dtype.integerRange,
              z.allSatisfy({ range.contains(Int32(clamping: $0)) }) else {
            throw site.error("attribute \(ConvSumFusion.zeroPointsAttribute) must hold 3 zero points in the \(dtype) range (convolution, sum operand, result)")
        }
        let relu = try node.int(ConvSumFusion.reluAttribute, default: 0) == 1
        let limit = try OutputCodeLimit.read(node, ConvSumFusion.qmaxAttribute)
        let zy = Int32(z[2])
        return .sum(QuantizedSum(opScale: s[0], opZeroPoint: Int32(z[0]), operandScale: s[1], operandZeroPoint: Int32(z[1]),
                                 outputScale: s[2], outputZeroPoint: zy, qmin: relu ? max(zy, range.lowerBound) : range.lowerBound,
                                 qmax: min(limit ?? range.upperBound, range.upperBound)))
    }

    /// Checks the sum operand's type against the output's.
    func checkSumOperand(_ inputs: [ValueType?], output: ValueType) throws {
        let b = try site.type(inputs, ConvSumFusion.operandIndex)
        guard b.dtype == output.dtype else { throw site.error("the sum operand (input 9) must be \(output.dtype) like the output, got \(b.dtype)") }
        if let sb = b.shape, let so = output.shape, sb != so {
            throw site.error("the sum operand (input 9) must have the output's shape \(so), got \(sb)")
        }
    }
}
