import COctetFP16Kernels
import OctetCore
import OctetDispatch

/// Packs one `K x N` weight matrix (element (k, n) at `n * nStride + k * kStride` of the
/// tensor's storage) from an f32 or f16 tensor.
func packWeight(_ w: Tensor, offset: Int, k: Int, n: Int, nStride: Int, kStride: Int) throws -> (PackedPanels<UInt16>, FP16Conversion.Result?) {
    switch w.dtype {
    case .f32:
        return try w.withUnsafeBufferPointer(as: Float.self) { all in
            let slice = UnsafeBufferPointer(rebasing: all[offset...])
            let (panels, result) = PackedPanels.packFP16(k: k, n: n, source: slice, nStride: nStride, kStride: kStride)
            return (panels, result)
        }
    case .f16:
        return try w.withUnsafeBufferPointer(as: Float16.self) { all in
            all.withMemoryRebound(to: UInt16.self) { bits in
                let slice = UnsafeBufferPointer(rebasing: bits[offset...])
                return (PackedPanels.packBits(k: k, n: n, source: slice, nStride: nStride, kStride: kStride), nil)
            }
        }
    default:
        throw FP16BackendError.unsupported("weights must be f32 or f16, got \(w.dtype)")
    }
}

/// Packs `count` consecutive `K x N` matrices of `w` (matrix i starts at `i * k * n`) and
/// returns them with the warnings their conversion to binary16 raised.
func packMatrices(_ w: Tensor, count: Int, k: Int, n: Int, nStride: Int, kStride: Int, tensorName: String) throws -> ([PackedPanels<UInt16>], [String]) {
    var packed: [PackedPanels<UInt16>] = []
    var lost = FP16Conversion.Result(bits: [], overflowed: 0, flushedToZero: 0)
    for i in 0..<count {
        let (p, r) = try packWeight(w, offset: i * k * n, k: k, n: n, nStride: nStride, kStride: kStride)
        packed.append(p)
        lost.overflowed += r?.overflowed ?? 0
        lost.flushedToZero += r?.flushedToZero ?? 0
    }
    return (packed, conversionWarnings(lost, tensorName: tensorName, total: count * k * n))
}

/// The f32 activation `[..., (M,) K]` of a linear or matmul kernel.
func floatInput(_ inputs: [Tensor], k: Int, rank: Int, expected: String) throws -> Tensor {
    guard let x = inputs.first, x.dtype == .f32, x.shape.rank >= rank, x.shape[-1] == k else {
        throw FP16BackendError.inputShape(expected: expected, got: describeInput(inputs))
    }
    return x
}

/// Checks that `output` has exactly `dims`.
func checkOutput(_ output: Tensor, _ dims: [Int]) throws {
    guard output.dtype == .f32, output.shape.dims == dims else { throw FP16BackendError.outputShape(expected: dims, got: output.shape) }
}

/// Linear: `[..., K] · Wᵀ + b`, W of shape N x K.
struct LinearFP16Kernel: Kernel {
    let k: Int, n: Int
    let panels: PackedPanels<UInt16>
    let bias: [Float]?
    let clamp: (lo: Float, hi: Float)
    let gemm: PanelGEMM
    let warnings: [String]
    var implementation: String { FP16ISA.name(gemm.isa) }

    init(signature s: OpSignature, weight: Tensor, bias: [Float]?, clamp: (lo: Float, hi: Float), gemm: PanelGEMM, tensorName: String) throws {
        n = s.weight[0]
        k = s.weight[1]
        if let bias, bias.count != n { throw FP16BackendError.biasCount(expected: n, got: bias.count) }
        // W is N x K row-major: element (k, n) sits at n * K + k.
        let (p, w) = try packMatrices(weight, count: 1, k: k, n: n, nStride: k, kStride: 1, tensorName: tensorName)
        (panels, warnings) = (p[0], w)
        self.bias = bias
        self.clamp = clamp
        self.gemm = gemm
    }

    func run(inputs: [Tensor], output: inout Tensor) throws {
        let x = try floatInput(inputs, k: k, rank: 1, expected: "[..., \(k)] f32")
        let m = x.shape.elementCount / k
        try checkOutput(output, Array(x.shape.dims.dropLast()) + [n])
        try x.withUnsafeBufferPointer(as: Float.self) { a in
            try output.withUnsafeMutableBufferPointer(as: Float.self) { c in
                guard let ap = a.baseAddress, let cp = c.baseAddress else { return }
                withOptionalPointer(bias) { bp in
                    gemm.run(m: m, a: ap, lda: k, b: panels, c: cp, ldc: n, bias: bp, lo: clamp.lo, hi: clamp.hi)
                }
            }
        }
    }
}

/// Batched matmul with a constant right operand: `[b..., M, K] · [b..., K, N]` (or a
/// single `[K, N]` shared by every batch).
struct MatmulFP16Kernel: Kernel {
    let k: Int, n: Int
    let panels: [PackedPanels<UInt16>]
    let bias: [Float]?
    let clamp: (lo: Float, hi: Float)
    let gemm: PanelGEMM
    let warnings: [String]
    var implementation: String { FP16ISA.name(gemm.isa) }

    init(signature s: OpSignature, weight: Tensor, bias: [Float]?, clamp: (lo: Float, hi: Float), gemm: PanelGEMM, tensorName: String) throws {
        k = s.weight[-2]
        n = s.weight[-1]
        if let bias, bias.count != n { throw FP16BackendError.biasCount(expected: n, got: bias.count) }
        // Each batch's W is K x N row-major: element (k, n) at k*N + n.
        (panels, warnings) = try packMatrices(weight, count: s.weight.dims.dropLast(2).reduce(1, *), k: k, n: n,
                                              nStride: 1, kStride: n, tensorName: tensorName)
        self.bias = bias
        self.clamp = clamp
        self.gemm = gemm
    }

    func run(inputs: [Tensor], output: inout Tensor) throws {
        let x = try floatInput(inputs, k: k, rank: 2, expected: "[..., M, \(k)] f32")
        let m = x.shape[-2]
        let batches = x.shape.dims.dropLast(2).reduce(1, *)
        guard panels.count == 1 || panels.count == batches else {
            throw FP16BackendError.inputShape(expected: "\(panels.count) batches of [M, \(k)]", got: describeInput(inputs))
        }
        try checkOutput(output, Array(x.shape.dims.dropLast()) + [n])
        try x.withUnsafeBufferPointer(as: Float.self) { a in
            try output.withUnsafeMutableBufferPointer(as: Float.self) { c in
                guard let ap = a.baseAddress, let cp = c.baseAddress else { return }
                withOptionalPointer(bias) { bp in
                    for b in 0..<batches {
                        gemm.run(m: m, a: ap + b * m * k, lda: k, b: panels[panels.count == 1 ? 0 : b],
                                 c: cp + b * m * n, ldc: n, bias: bp, lo: clamp.lo, hi: clamp.hi)
                    }
                }
            }
        }
    }
}

