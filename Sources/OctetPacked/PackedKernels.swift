import COctetPackedKernels
import Dispatch
import OctetCore
import OctetDispatch

/// The first element of a non-empty buffer; an empty one is an error, not a crash.
func base<T>(_ p: UnsafeBufferPointer<T>) throws -> UnsafePointer<T> {
    guard let b = p.baseAddress else { throw PackedError.shape("empty operand") }
    return b
}

func base<T>(_ p: UnsafeMutableBufferPointer<T>) throws -> UnsafeMutablePointer<T> {
    guard let b = p.baseAddress else { throw PackedError.shape("empty output") }
    return b
}

/// The caller's output buffer, raw (u8 or f32).
func withOutput<R>(_ t: inout Tensor, _ body: (UnsafeMutableRawPointer) throws -> R) throws -> R {
    switch t.dtype {
    case .u8: return try t.withUnsafeMutableBufferPointer(as: UInt8.self) { p in try body(UnsafeMutableRawPointer(try base(p))) }
    case .f32: return try t.withUnsafeMutableBufferPointer(as: Float.self) { p in try body(UnsafeMutableRawPointer(try base(p))) }
    default: throw PackedError.unsupported("\(t.dtype) output")
    }
}

func checked(_ inputs: [Tensor], _ i: Int, _ shape: TensorShape, _ type: DType) throws -> Tensor {
    guard i < inputs.count, inputs[i].shape == shape, inputs[i].dtype == type else {
        throw PackedError.shape("input \(i) must be \(shape) \(type), got \(i < inputs.count ? "\(inputs[i].shape) \(inputs[i].dtype)" : "nothing")")
    }
    return inputs[i]
}

func checkOutput(_ t: Tensor, _ shape: TensorShape, _ type: DType) throws {
    guard t.shape == shape, t.dtype == type else { throw PackedError.shape("output must be \(shape) \(type), got \(t.shape) \(t.dtype)") }
}

/// Linear: `[..., K] u8 · (N x K s8)ᵀ`, activations packed per call, weights at prepare.
struct PackedLinearKernel: Kernel {
    let weights: PackedMatrix
    let stage: OutputStage
    let runner: PackedRunner
    let pool: ScratchPool
    let input: TensorShape, output: TensorShape, outputType: DType
    var implementation: String { PackedISA.name(runner.isa) }

    init(_ s: OpSignature, _ c: OpConstants, _ w: Tensor, _ wQ: QuantParams, runner: PackedRunner) throws {
        let (n, k) = (s.weight[0], s.weight[1])
        weights = try w.withUnsafeBufferPointer(as: Int8.self) { p in PackedMatrix(k: k, n: n, source: try base(p), nStride: k, kStride: 1) }
        stage = try OutputStage(s, c, columns: n, weightParams: wQ)
        self.runner = runner
        input = s.input
        output = try s.outputShape.orThrow()
        outputType = s.outputType
        let m = s.input.elementCount / k
        pool = ScratchPool(.init(packedA: m * ((k + 1) / 2), rows: m, accumulators: runner.accumulatorWords(m: m)))
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .u8)
        try checkOutput(out, output, outputType)
        let (k, n) = (weights.k, weights.n), m = input.elementCount / k
        try pool.with { buf in
            try x.withUnsafeBufferPointer(as: UInt8.self) { a in
                octet_packed_pack_a_u8(m, k, try base(a), k, buf.packedA.pointer, buf.rowSums.pointer)
            }
            try withOutput(&out) { c in
                stage.withC(columns: 0) { o in
                    runner.gemm(m: m, a: buf.packedA.pointer, rowSums: buf.rowSums.pointer, b: weights, c: c, ldc: n, output: o,
                                accumulators: buf.accumulators.pointer)
                }
            }
        }
    }
}

/// Batched matmul of two activations, `[b, M, K] u8 · [b or 1, K, N] s8`: both packed per call.
struct PackedMatmulKernel: Kernel {
    let stage: OutputStage
    let runner: PackedRunner
    let pool: ScratchPool
    let input: TensorShape, second: TensorShape, output: TensorShape, outputType: DType
    let batches: Int, secondBatches: Int, m: Int, k: Int, n: Int
    var implementation: String { PackedISA.name(runner.isa) }

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
        pool = ScratchPool(.init(packedA: m * ((k + 1) / 2), rows: m, packedB: PackedMatrix.words(k: k, n: n), columnSums: n,
                                 accumulators: runner.accumulatorWords(m: m)))
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
                        for batch in 0..<batches {
                            octet_packed_pack_a_u8(m, k, try base(a) + batch * m * k, k, buf.packedA.pointer, buf.rowSums.pointer)
                            let rhs = PackedMatrix(k: k, n: n, source: try base(b) + (secondBatches == 1 ? 0 : batch) * k * n,
                                                   nStride: 1, kStride: n, panels: buf.packedB, sums: buf.columnSums)
                            stage.withC(columns: 0) { o in
                                runner.gemm(m: m, a: buf.packedA.pointer, rowSums: buf.rowSums.pointer, b: rhs,
                                            c: c + batch * m * n * elementSize, ldc: n, output: o, accumulators: buf.accumulators.pointer)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// 2-D convolution through the GEMM: per image and group, im2col of u8 (padding filled
/// with the input zero point, so it contributes nothing), packed, multiplied by the
/// group's packed weights, then scattered from pixel-major to NCHW.
struct PackedConvKernel: Kernel {
    let groupWeights: [PackedMatrix]
    let stage: OutputStage
    let runner: PackedRunner
    let pool: ScratchPool
    let geometry: ConvolutionGeometry
    let input: TensorShape, output: TensorShape, outputType: DType
    let kh: Int, kw: Int
    var implementation: String { "im2col + " + PackedISA.name(runner.isa) }

    init(_ s: OpSignature, _ c: OpConstants, _ w: Tensor, _ wQ: QuantParams, runner: PackedRunner) throws {
        guard let g = s.convolution, let oc = s.outputChannels else { throw PackedError.shape("invalid convolution \(s)") }
        geometry = g
        (kh, kw) = (s.weight[2], s.weight[3])
        let ocg = oc / g.groups, kg = s.weight[1] * kh * kw
        groupWeights = try w.withUnsafeBufferPointer(as: Int8.self) { p in
            let start = try base(p)
            return (0..<g.groups).map { PackedMatrix(k: kg, n: ocg, source: start + $0 * ocg * kg, nStride: kg, kStride: 1) }
        }
        stage = try OutputStage(s, c, columns: oc, weightParams: wQ)
        self.runner = runner
        input = s.input
        output = try s.outputShape.orThrow()
        outputType = s.outputType
        let pixels = output[2] * output[3]
        pool = ScratchPool(.init(packedA: pixels * ((kg + 1) / 2), rows: pixels, columns: pixels * kg, staging: pixels * ocg,
                                 accumulators: runner.accumulatorWords(m: pixels)))
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .u8)
        try checkOutput(out, output, outputType)
        let g = geometry
        let (batch, channels, h, w) = (input[0], input[1], input[2], input[3])
        let (oc, oh, ow) = (output[1], output[2], output[3])
        let cg = channels / g.groups, ocg = oc / g.groups, kg = cg * kh * kw, pixels = oh * ow
        let pad = UInt8(clamping: stage.aZeroPoint)
        let toF32 = outputType == .f32
        try pool.with { buf in
            try x.withUnsafeBufferPointer(as: UInt8.self) { src in
                try withOutput(&out) { dst in
                    for n in 0..<batch {
                        for group in 0..<g.groups {
                            let col = buf.columns.pointer
                            var j = 0
                            for oy in 0..<oh {
                                for ox in 0..<ow {
                                    for c in 0..<cg {
                                        let plane = (n * channels + group * cg + c) * h * w
                                        for ky in 0..<kh {
                                            let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                                            for kx in 0..<kw {
                                                let ix = ox * g.strideW - g.padLeft + kx * g.dilationW
                                                col[j] = iy >= 0 && iy < h && ix >= 0 && ix < w ? src[plane + iy * w + ix] : pad
                                                j += 1
                                            }
                                        }
                                    }
                                }
                            }
                            octet_packed_pack_a_u8(pixels, kg, col, kg, buf.packedA.pointer, buf.rowSums.pointer)
                            let staging = UnsafeMutableRawPointer(buf.staging.pointer)
                            stage.withC(columns: group * ocg) { o in
                                runner.gemm(m: pixels, a: buf.packedA.pointer, rowSums: buf.rowSums.pointer, b: groupWeights[group],
                                            c: staging, ldc: ocg, output: o, accumulators: buf.accumulators.pointer)
                            }
                            for ch in 0..<ocg {
                                let plane = (n * oc + group * ocg + ch) * pixels
                                if toF32 {
                                    let from = buf.staging.pointer, to = dst.assumingMemoryBound(to: Float.self)
                                    for p in 0..<pixels { to[plane + p] = from[p * ocg + ch] }
                                } else {
                                    let from = staging.assumingMemoryBound(to: UInt8.self), to = dst.assumingMemoryBound(to: UInt8.self)
                                    for p in 0..<pixels { to[plane + p] = from[p * ocg + ch] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Optional {
    func orThrow() throws -> Wrapped {
        guard let v = self else { throw PackedError.shape("cannot infer the output shape") }
        return v
    }
}

/// Depthwise convolution (groups = channels, one filter per channel) with its own direct
/// kernel: exact Σ(x − zp)(w − zp_w) per window, the same fused output pipeline, channels
/// split across threads.
struct PackedDepthwiseKernel: Kernel {
    let weights: [Int8]
    let stage: OutputStage
    let shape: octet_packed_depthwise_shape
    let threads: Int
    let input: TensorShape, output: TensorShape, outputType: DType
    var implementation: String { "depthwise direct (exact)" }

    init(_ s: OpSignature, _ c: OpConstants, _ w: Tensor, _ wQ: QuantParams, threads: Int) throws {
        guard let g = s.convolution, let (oh, ow) = s.outputSpatial else { throw PackedError.shape("invalid depthwise convolution \(s)") }
        weights = try w.scalars(as: Int8.self)
        stage = try OutputStage(s, c, columns: s.input[1], weightParams: wQ)
        shape = octet_packed_depthwise_shape(h: s.input[2], w: s.input[3], kh: s.weight[2], kw: s.weight[3], oh: oh, ow: ow,
                                             stride_h: g.strideH, stride_w: g.strideW, pad_top: g.padTop, pad_left: g.padLeft,
                                             dilation_h: g.dilationH, dilation_w: g.dilationW)
        self.threads = max(1, threads)
        input = s.input
        output = try s.outputShape.orThrow()
        outputType = s.outputType
    }

    private struct Job: @unchecked Sendable {
        var shape: octet_packed_depthwise_shape
        var x: UnsafePointer<UInt8>, w: UnsafePointer<Int8>, c: UnsafeMutableRawPointer
        var out: UnsafePointer<octet_packed_output>
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .u8)
        try checkOutput(out, output, outputType)
        let (batch, channels) = (input[0], input[1])
        let inImage = channels * shape.h * shape.w, outImage = channels * shape.oh * shape.ow * (outputType == .f32 ? 4 : 1)
        let workers = min(threads, channels)
        try x.withUnsafeBufferPointer(as: UInt8.self) { src in
            try weights.withUnsafeBufferPointer { wp in
                try withOutput(&out) { dst in
                    let (xs, ws) = (try base(src), try base(wp))
                    stage.withC(columns: 0) { o in
                        for n in 0..<batch {
                            let job = Job(shape: shape, x: xs + n * inImage, w: ws, c: dst + n * outImage, out: o)
                            let body: @Sendable (Int, Int) -> Void = { begin, end in
                                var g = job.shape
                                octet_packed_depthwise(&g, job.x, job.w, job.c, job.out, begin, end)
                            }
                            if workers <= 1 {
                                body(0, channels)
                            } else {
                                DispatchQueue.concurrentPerform(iterations: workers) { i in body(channels * i / workers, channels * (i + 1) / workers) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Dynamic quantization of a linear layer: s8 weights packed at prepare; each call takes
/// the input's own range, chooses u8 parameters as PyTorch's observers do
/// (`QParamsSelection.choose`), quantizes while packing, and dequantizes to f32 with the
/// per-call scale `s_x · s_w[n]` (plus the f32 bias, then ReLU/Clip).
struct PackedDynamicLinearKernel: Kernel {
    let weights: PackedMatrix
    let weightScales: [Float], weightZeroPoint: Int32
    let bias: [Float]?
    let lo: Float, hi: Float
    let runner: PackedRunner
    let pool: ScratchPool
    let input: TensorShape, output: TensorShape
    var implementation: String { "dynamic (per-call u8 range) + " + PackedISA.name(runner.isa) }

    init(_ s: OpSignature, _ c: OpConstants, _ w: Tensor, _ wQ: QuantParams, runner: PackedRunner) throws {
        let (n, k) = (s.weight[0], s.weight[1])
        guard wQ.scales.count == 1 || wQ.scales.count == n else { throw PackedError.shape("\(wQ.scales.count) weight scales for \(n) outputs") }
        weights = try w.withUnsafeBufferPointer(as: Int8.self) { p in PackedMatrix(k: k, n: n, source: try base(p), nStride: k, kStride: 1) }
        weightScales = (0..<n).map { wQ.scale(channel: wQ.scales.count == 1 ? 0 : $0) }
        weightZeroPoint = wQ.zeroPoint()
        bias = try c.bias.map { b in
            guard b.dtype == .f32, b.shape.elementCount == n else { throw PackedError.shape("dynamic linear needs an f32 bias of \(n) values") }
            return try b.scalars(as: Float.self)
        }
        (lo, hi) = PostOp.realRange(of: s.postOps)
        self.runner = runner
        input = s.input
        output = try s.outputShape.orThrow()
        let m = s.input.elementCount / k
        pool = ScratchPool(.init(packedA: m * ((k + 1) / 2), rows: m, columns: m * k, staging: n, accumulators: runner.accumulatorWords(m: m)))
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .f32)
        try checkOutput(out, output, .f32)
        let (k, n) = (weights.k, weights.n), m = input.elementCount / k
        let q = try x.withUnsafeBufferPointer(as: Float.self) { v -> QuantParams in
            var lo = Float.infinity, hi = -Float.infinity
            for value in v {
                guard value.isFinite else { throw PackedError.shape("dynamic quantization: the input holds \(value)") }
                lo = min(lo, value)
                hi = max(hi, value)
            }
            return try QParamsSelection.choose(min: lo, max: hi, dtype: .u8)
        }
        let (scale, zp) = (q.scale(), q.zeroPoint())
        try pool.with { buf in
            try x.withUnsafeBufferPointer(as: Float.self) { v in
                let inverse: Float = 1 / scale
                for i in 0..<(m * k) {
                    buf.columns.pointer[i] = UInt8(AffineQuantization.saturatingRound(v[i] * inverse, zeroPoint: zp, qmin: 0, qmax: 255))
                }
            }
            octet_packed_pack_a_u8(m, k, buf.columns.pointer, k, buf.packedA.pointer, buf.rowSums.pointer)
            for j in 0..<n { buf.staging.pointer[j] = scale * weightScales[j] }
            try withOutput(&out) { c in
                withBias { bp in
                    var o = octet_packed_output(a_zero_point: zp, b_zero_point: weightZeroPoint, bias_s32: nil, bias_f32: nil, multiplier: nil,
                                                out_zero_point: 0, qmin: 0, qmax: 0, dequant_scale: buf.staging.pointer, bias_real: bp,
                                                lo: lo, hi: hi, to_f32: 1)
                    runner.gemm(m: m, a: buf.packedA.pointer, rowSums: buf.rowSums.pointer, b: weights, c: c, ldc: n, output: &o,
                                accumulators: buf.accumulators.pointer)
                }
            }
        }
    }

    private func withBias<R>(_ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
        guard let bias else { return try body(nil) }
        return try bias.withUnsafeBufferPointer { try body($0.baseAddress) }
    }
}
