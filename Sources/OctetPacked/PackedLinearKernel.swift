import COctetPackedKernels
import OctetCore
import OctetDispatch

/// Linear: `[..., K] u8 · (N x K s8)ᵀ → [..., N]` (u8 or f32), weights packed at prepare,
/// activations packed block by block inside the GEMM.
struct PackedLinearKernel: Kernel {
    let weights: PackedMatrix
    let stage: OutputStage
    let runner: PackedRunner
    let pool: ScratchPool
    let input: TensorShape, output: TensorShape, outputType: DType
    var implementation: String { PackedISA.gemm(runner.isa, runner.format) }

    init(_ s: OpSignature, _ c: OpConstants, _ w: Tensor, _ wQ: QuantParams, runner: PackedRunner) throws {
        let (n, k) = (s.weight[0], s.weight[1])
        weights = try w.withUnsafeBufferPointer(as: Int8.self) { p in PackedMatrix(k: k, n: n, source: try base(p), nStride: k, kStride: 1, format: runner.format) }
        stage = try OutputStage(s, c, columns: n, weightParams: wQ)
        self.runner = runner
        input = s.input
        output = try s.outputShape.orThrow()
        outputType = s.outputType
        pool = try ScratchPool(runner.scratch(m: s.input.elementCount / max(k, 1), k: k, n: n).sizes, budget: runner.budget)
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .u8)
        try checkOutput(out, output, outputType)
        let (k, n) = (weights.k, weights.n), m = input.elementCount / max(k, 1)
        try pool.with { buf in
            try x.withUnsafeBufferPointer(as: UInt8.self) { a in
                let source = directSource(try base(a), lda: k)
                try withOutput(&out) { c in
                    try stage.withC(columns: 0) { o in
                        guard runner.gemm(m: m, source: source, b: weights, c: c, ldc: n, elementSize: outputType == .f32 ? 4 : 1, output: o, buffers: buf) else { throw PackedRunner.sevenBitViolation }
                    }
                }
            }
        }
    }
}

/// Batched matmul of two activations, `[b, M, K] u8 · [b or 1, K, N] s8`: the second packed per call.
struct PackedMatmulKernel: Kernel {
    let stage: OutputStage
    let runner: PackedRunner
    let pool: ScratchPool
    let input: TensorShape, second: TensorShape, output: TensorShape, outputType: DType
    let batches: Int, secondBatches: Int, m: Int, k: Int, n: Int
    var implementation: String { PackedISA.gemm(runner.isa, runner.format) }

    init(_ s: OpSignature, _ c: OpConstants, _ bQ: QuantParams, runner: PackedRunner) throws {
        (m, k, n) = (s.input[-2], s.input[-1], s.weight[-1])
        batches = s.input.dims.dropLast(2).reduce(1, *)
        secondBatches = s.weight.dims.dropLast(2).reduce(1, *)
        guard secondBatches == 1 || secondBatches == batches else { throw PackedError.shape("matmul batches \(s.input) · \(s.weight) do not match") }
        stage = try OutputStage(s, c, columns: n, weightParams: bQ)
        self.runner = runner
        input = s.input
        second = s.weight
        output = try s.outputShape.orThrow()
        outputType = s.outputType
        var sizes = runner.scratch(m: m, k: k, n: n).sizes
        sizes.packedB = PackedMatrix.words(k: k, n: n)
        sizes.columnSums = PackedMatrix.columnSumWords(n: n)
        pool = try ScratchPool(sizes, budget: runner.budget)
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .u8)
        let y = try checked(inputs, 1, second, .s8)
        try checkOutput(out, output, outputType)
        let elementSize = outputType == .f32 ? 4 : 1
        try pool.with { buf in
            try x.withUnsafeBufferPointer(as: UInt8.self) { a in
                try y.withUnsafeBufferPointer(as: Int8.self) { b in
                    try withOutput(&out) { c in
                        var rhs: PackedMatrix?
                        for batch in 0..<batches {
                            // A shared second operand is packed once per call.
                            if rhs == nil || secondBatches > 1 {
                                rhs = PackedMatrix(k: k, n: n, source: try base(b) + (secondBatches == 1 ? 0 : batch) * k * n,
                                                   nStride: 1, kStride: n, panels: buf.packedB, sums: buf.columnSums, format: runner.format)
                            }
                            guard let rhs else { continue }
                            let source = directSource(try base(a) + batch * m * k, lda: k)
                            try stage.withC(columns: 0) { o in
                                guard runner.gemm(m: m, source: source, b: rhs, c: c + batch * m * n * elementSize, ldc: n, elementSize: elementSize,
                                            output: o, buffers: buf) else { throw PackedRunner.sevenBitViolation }
                            }
                        }
                    }
                }
            }
        }
    }
}
