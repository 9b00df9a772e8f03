import COctetGraphKernels
import OctetCore

/// A `QuantizedBinaryNode` (made by `QDQFusion`): the sum or product of two 8-bit tensors of
/// one type and one shape, requantized to the output's parameters (and clamped at its zero point when a
/// Relu was fused, at 127 when a 7-bit Clip was, `OutputCodeLimit`), in any memory layout
/// since it is elementwise.
struct QuantizedBinaryOperator: GraphOperator {
    let site: OperatorSite
    let multiplies: Bool
    let scales: [Float]
    let zeroPoints: [Int32]
    let relu: Bool
    /// The largest output code (`OutputCodeLimit`), `nil` for the type's maximum.
    let qmax: Int32?

    init(_ node: Node) throws {
        site = OperatorSite(node)
        multiplies = QuantizedBinaryNode.multiplies(node)
        guard node.inputs.count == 2, node.outputs.count == 1 else {
            throw site.error("takes 2 inputs and 1 output, got \(node.inputs.count) and \(node.outputs.count)")
        }
        guard let s = try node.floats(QuantizedBinaryNode.scalesAttribute), s.count == 3, s.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw site.error("attribute \(QuantizedBinaryNode.scalesAttribute) must hold 3 finite scales > 0 (a, b, y)")
        }
        guard let z = try node.ints(QuantizedBinaryNode.zeroPointsAttribute), z.count == 3, z.allSatisfy({ (-128...255).contains($0) }) else {
            throw site.error("attribute \(QuantizedBinaryNode.zeroPointsAttribute) must hold 3 zero points in [-128, 255] (a, b, y)")
        }
        scales = s
        zeroPoints = z.map { Int32($0) }
        relu = try node.int(QuantizedBinaryNode.reluAttribute, default: 0) == 1
        qmax = try OutputCodeLimit.read(node)
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let a = try site.type(inputs, 0), b = try site.type(inputs, 1)
        guard a.dtype == .u8 || a.dtype == .s8, b.dtype == a.dtype else {
            throw site.error("needs two u8 or two s8 inputs, got \(a.dtype) and \(b.dtype)")
        }
        if let sa = a.shape, let sb = b.shape, sa != sb {
            throw site.error("needs inputs of one shape (no broadcasting), got \(sa) and \(sb)")
        }
        return [a]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let a = try site.tensor(inputs, 0), b = try site.tensor(inputs, 1)
        guard a.shape == b.shape, a.layout == b.layout else {
            throw site.error("needs inputs of one shape and layout, got \(a.shape) and \(b.shape)")
        }
        let n = a.shape.elementCount
        let signed: Int32 = a.dtype == .s8 ? 1 : 0
        let (s, z) = (scales, zeroPoints)
        let qmin = relu ? z[2] : (signed == 1 ? -128 : 0), qmax = qmax ?? (signed == 1 ? 127 : 255)
        a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in
                outputs[0].withUnsafeMutableBytes { py in
                    guard let x = pa.baseAddress?.assumingMemoryBound(to: UInt8.self), let y = pb.baseAddress?.assumingMemoryBound(to: UInt8.self),
                          let o = py.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
                    let task = Chunks(multiplies: multiplies, signed: signed, x: x, y: y, o: o, scales: s, zeroPoints: z, qmin: qmin, qmax: qmax)
                    IntraOpParallelism.forEachChunk(n, grain: 1 << 14, task)
                }
            }
        }
    }

    /// The elements `range`.
    private struct Chunks: RangeTask {
        let multiplies: Bool, signed: Int32, x: UnsafePointer<UInt8>, y: UnsafePointer<UInt8>, o: UnsafeMutablePointer<UInt8>
        let scales: [Float], zeroPoints: [Int32], qmin: Int32, qmax: Int32

        func callAsFunction(_ r: Range<Int>) {
            let (s, z) = (scales, zeroPoints)
            let kernel = multiplies ? octet_q8_mul : octet_q8_add
            kernel(signed, x + r.lowerBound, y + r.lowerBound, o + r.lowerBound, r.count, s[0], z[0], s[1], z[1], s[2], z[2], qmin, qmax)
        }
    }
}
