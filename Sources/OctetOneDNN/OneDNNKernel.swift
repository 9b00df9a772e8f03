import COctetDNNLGlue
import Synchronization
import OctetCore
import OctetDispatch

/// A prepared oneDNN primitive. Thread-safe: the primitive and the reordered weights are
/// shared; each concurrent call takes an execution context (stream, memory objects,
/// layout buffers) from the kernel's pool and returns it, so calls allocate nothing once
/// the pool holds as many contexts as there are concurrent callers.
final class OneDNNKernel: Kernel, @unchecked Sendable {
    private let handle: OpaquePointer
    /// Idle execution contexts (raw `octet_dnnl_context *` addresses).
    private let contexts = Mutex<[Int]>([])
    let implementation: String
    private let signature: OpSignature
    private let threads: Int
    /// Without VNNI: activations must be ≤ 127, checked per call.
    private let sevenBitInputs: Bool
    private let outputShape: TensorShape
    /// Relu/Clip on an f32 output, applied after oneDNN: its eltwise post-ops turn NaN into
    /// the lower bound, where ONNX keeps NaN.
    private let floatClamp: (lo: Float, hi: Float)?
    /// A fused residual sum: the operand (the second input) is copied into the output before
    /// the call, and oneDNN's sum post-op adds it in place.
    private let hasSum: Bool

    init(_ s: OpSignature, constants c: OpConstants, threads: Int, sevenBitInputs: Bool) throws {
        signature = s
        self.threads = threads
        self.sevenBitInputs = sevenBitInputs
        guard let out = s.outputShape else { throw OneDNNError.operand("cannot infer the output shape of \(s)") }
        outputShape = out
        var op = octet_dnnl_op()
        op.threads = Int32(clamping: threads)
        let int8 = s.precision == .int8
        op.src_type = int8 ? OCTET_DNNL_U8 : OCTET_DNNL_F32
        op.wei_type = int8 ? OCTET_DNNL_S8 : OCTET_DNNL_F32
        op.dst_type = s.outputType == .u8 ? OCTET_DNNL_U8 : OCTET_DNNL_F32

        // Shapes.
        var srcDims: [Int64], dstDims: [Int64], weiDims: [Int64]
        switch s.kind {
        case .conv2d:
            guard let g = s.convolution else { throw OneDNNError.operand("convolution without geometry") }
            op.kind = OCTET_DNNL_CONV
            op.channels_last = s.activationLayout == .nhwc ? 1 : 0
            srcDims = s.input.dims.map(Int64.init)
            dstDims = out.dims.map(Int64.init)
            let w = s.weight.dims.map(Int64.init)
            weiDims = g.groups == 1 ? w : [Int64(g.groups), w[0] / Int64(g.groups), w[1], w[2], w[3]]
            op.strides = (Int64(g.strideH), Int64(g.strideW))
            op.dilates = (Int64(g.dilationH - 1), Int64(g.dilationW - 1))
            op.pad_l = (Int64(g.padTop), Int64(g.padLeft))
            op.pad_r = (Int64(g.padBottom), Int64(g.padRight))
            op.wei_constant = 1
        case .linear:
            op.kind = OCTET_DNNL_MATMUL
            let (n, k) = (Int64(s.weight[0]), Int64(s.weight[1]))
            let m = Int64(s.input.elementCount) / k
            (srcDims, dstDims, weiDims) = ([m, k], [m, n], [k, n])
            op.wei_transposed = 1
            op.wei_constant = 1
        case .matmul:
            op.kind = OCTET_DNNL_MATMUL
            let b = Int64(s.input.dims.dropLast(2).reduce(1, *)), wb = Int64(s.weight.dims.dropLast(2).reduce(1, *))
            let (m, k, n) = (Int64(s.input[-2]), Int64(s.input[-1]), Int64(s.weight[-1]))
            (srcDims, dstDims, weiDims) = ([b, m, k], [b, m, n], [wb, k, n])
            op.wei_constant = 0
        default:
            throw OneDNNError.unsupported("\(s.kind) is not mapped to oneDNN")
        }
        op.ndims = Int32(srcDims.count)
        op.wei_ndims = Int32(weiDims.count)
        withUnsafeMutableBytes(of: &op.src_dims) { $0.withMemoryRebound(to: Int64.self) { for (i, d) in srcDims.enumerated() { $0[i] = d } } }
        withUnsafeMutableBytes(of: &op.dst_dims) { $0.withMemoryRebound(to: Int64.self) { for (i, d) in dstDims.enumerated() { $0[i] = d } } }
        withUnsafeMutableBytes(of: &op.wei_dims) { $0.withMemoryRebound(to: Int64.self) { for (i, d) in weiDims.enumerated() { $0[i] = d } } }

        // Scales, zero points, bias, post-ops.
        let channels = s.kind == .matmul ? 1 : Int(dstDims[1])
        var scales: [Float] = []
        var bias: [Float]?
        var outScale: Float = 1
        if int8 {
            guard let inQ = c.inputQuantization else { throw OneDNNError.operand("missing input quantization parameters") }
            let wQ: QuantParams
            if s.kind == .matmul {
                guard let q = c.otherInputQuantizations.first else { throw OneDNNError.operand("missing the second operand's quantization parameters") }
                wQ = q
                op.wei_zp = q.zeroPoint()
            } else {
                guard let q = c.weight?.quantization else { throw OneDNNError.operand("missing weight quantization parameters") }
                guard q.zeroPoints.allSatisfy({ $0 == 0 }) else { throw OneDNNError.unsupported("weights must be symmetric (zero point 0)") }
                wQ = q
            }
            op.src_zp = inQ.zeroPoint()
            if s.outputType == .u8 {
                guard let outQ = c.outputQuantization, outQ.dtype == .u8, !outQ.isPerChannel else {
                    throw OneDNNError.operand("missing per-tensor u8 output quantization parameters")
                }
                guard outQ.qmin == 0, outQ.qmax == 255 else { throw OneDNNError.unsupported("outputs with a reduced range are not mapped to oneDNN") }
                outScale = outQ.scale()
                op.dst_zp = outQ.zeroPoint()
                if let sum = PostOp.sum(in: s.postOps) {
                    // oneDNN's sum post-op (see `OneDNNBackend.sumDecline`): the convolution is
                    // scaled straight to the result's parameters, the operand added in place.
                    guard s.activationLayout == .nhwc else {
                        throw OneDNNError.unsupported("a fused residual sum runs on channels-last activations only (the sum reads the destination in place)")
                    }
                    outScale = sum.outputScale
                    op.dst_zp = sum.outputZeroPoint
                    op.has_sum = 1
                    op.sum_scale = sum.operandScale / sum.outputScale
                    op.sum_zp = sum.operandZeroPoint
                    op.sum_relu = sum.qmin > 0 ? 1 : 0
                }
            }
            let perChannel = wQ.scales.count > 1
            let count = perChannel ? channels : 1
            guard !perChannel || wQ.scales.count == channels else { throw OneDNNError.operand("\(wQ.scales.count) weight scales for \(channels) output channels") }
            // FBGEMM's arithmetic: (acc + bias / (s_in·s_w)) · (s_in·s_w / s_out).
            let inW = (0..<count).map { inQ.scale() * wQ.scale(channel: perChannel ? $0 : 0) }
            scales = inW.map { s.outputType == .u8 ? $0 / outScale : $0 }
            op.scales_mask = perChannel ? 1 << 1 : 0
            switch c.bias?.dtype {
            case .f32?: bias = try c.bias?.scalars(as: Float.self).enumerated().map { $1 / inW[perChannel ? $0 : 0] }
            case .s32?: bias = try c.bias?.scalars(as: Int32.self).map { Float($0) }
            case nil: bias = nil
            case let t?: throw OneDNNError.unsupported("bias must be f32 or s32, got \(t)")
            }
        } else {
            bias = try c.bias.map { try $0.scalars(as: Float.self) }
        }
        if let b = bias, b.count != channels { throw OneDNNError.operand("bias has \(b.count) values, expected \(channels)") }
        // A u8 output's post-ops act on the scaled value in quantized steps (oneDNN's post-op;
        // no NaN survives quantization); an f32 output is clamped after the call, keeping NaN.
        let (lo, hi) = PostOp.realRange(of: s.postOps)
        let clamps = s.postOps.filter { if case .sum = $0 { false } else { true } }
        floatClamp = clamps.isEmpty || s.outputType == .u8 ? nil : (lo, hi)
        hasSum = op.has_sum == 1
        if !clamps.isEmpty && s.outputType == .u8 {
            if lo == 0 && hi == .infinity {
                op.post = OCTET_DNNL_POST_RELU
            } else {
                op.post = OCTET_DNNL_POST_CLIP
                op.post_alpha = lo / outScale
                op.post_beta = hi / outScale
            }
        }

        // Create.
        var error = [CChar](repeating: 0, count: 512)
        var kernel: OpaquePointer?
        let weights = c.weight
        let status: Int32 = try withRawPointer(weights) { wp in
            withOptionalPointer(bias) { bp in
                scales.withUnsafeBufferPointer { sp in
                    op.weights = wp
                    op.bias = bp
                    op.bias_count = Int64(bias?.count ?? 0)
                    op.scales = sp.baseAddress
                    op.scales_count = Int64(scales.count)
                    return octet_dnnl_prepare(&op, &kernel, &error, error.count)
                }
            }
        }
        guard status == 0, let kernel else { throw OneDNNError.oneDNN(message(error)) }
        handle = kernel
        implementation = String(cString: octet_dnnl_implementation(kernel))
    }

    deinit {
        for address in contexts.withLock({ $0 }) {
            octet_dnnl_context_destroy(OpaquePointer(bitPattern: address))
        }
        octet_dnnl_destroy(handle)
    }

    private func takeContext() throws -> OpaquePointer {
        if let address = contexts.withLock({ $0.popLast() }), let context = OpaquePointer(bitPattern: address) { return context }
        var error = [CChar](repeating: 0, count: 512)
        guard let context = octet_dnnl_context_create(handle, &error, error.count) else { throw OneDNNError.oneDNN(message(error)) }
        return context
    }

    private func give(_ context: OpaquePointer) {
        contexts.withLock { $0.append(Int(bitPattern: UnsafeRawPointer(context))) }
    }

    func run(inputs: [Tensor], output: inout Tensor) throws {
        let s = signature
        let layout: TensorLayout = s.activationLayout == .nhwc ? .nhwc : .rowMajor
        guard let x = inputs.first, x.shape == s.input, x.dtype == s.inputType, (x.layout == .nhwc) == (layout == .nhwc) else {
            throw OneDNNError.operand("input must be \(s.input) \(s.inputType) \(layout), got \(inputs.first.map { "\($0.shape) \($0.dtype)" } ?? "nothing")")
        }
        guard output.shape == outputShape, output.dtype == s.outputType, (output.layout == .nhwc) == (layout == .nhwc) else {
            throw OneDNNError.operand("output must be \(outputShape) \(s.outputType), got \(output.shape) \(output.dtype)")
        }
        var second: Tensor?
        if s.kind == .matmul {
            guard inputs.count > 1, inputs[1].shape == s.weight, inputs[1].dtype == s.weightType else {
                throw OneDNNError.operand("matmul needs a second input \(s.weight) \(s.weightType)")
            }
            second = inputs[1]
        }
        if sevenBitInputs {
            let max = try x.withUnsafeBufferPointer(as: UInt8.self) { $0.max() ?? 0 }
            guard max <= 127 else {
                throw OneDNNError.operand("activation value \(max) exceeds 127: without VNNI oneDNN would saturate; quantize with reduce_range")
            }
        }
        if hasSum { try placeSumOperand(inputs, into: &output) }
        let context = try takeContext()
        defer { give(context) }
        let status: Int32 = try withRawPointer(x) { src in
            try withRawPointer(second) { wei in
                try withMutableRawPointer(&output) { dst in
                    octet_dnnl_execute(handle, context, src, wei, dst, Int32(threads))
                }
            }
        }
        guard status == 0 else { throw OneDNNError.oneDNN(String(cString: octet_dnnl_context_error(context))) }
        if let (lo, hi) = floatClamp { try output.withUnsafeMutableBufferPointer(as: Float.self) { PostOp.clamp($0, lo: lo, hi: hi) } }
    }
}

extension OneDNNKernel {
    /// Copies the residual sum's operand (the second input: the output's shape, type and
    /// layout) into `output`, where oneDNN's sum post-op reads it.
    fileprivate func placeSumOperand(_ inputs: [Tensor], into output: inout Tensor) throws {
        guard inputs.count > 1, inputs[1].shape == output.shape, inputs[1].dtype == .u8, inputs[1].layout == output.layout else {
            throw OneDNNError.operand("the residual sum needs a second input of the output's shape \(output.shape), u8, \(output.layout)")
        }
        let count = output.shape.elementCount
        try withRawPointer(inputs[1]) { from in
            try withMutableRawPointer(&output) { to in
                guard let from, let to, from != UnsafeRawPointer(to) else { return }
                to.copyMemory(from: from, byteCount: count)
            }
        }
    }
}

private func message(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The tensor's bytes, read-only, or nil.
private func withRawPointer<R>(_ t: Tensor?, _ body: (UnsafeRawPointer?) throws -> R) throws -> R {
    guard let t else { return try body(nil) }
    switch t.dtype {
    case .f32: return try t.withUnsafeBufferPointer(as: Float.self) { try body(UnsafeRawPointer($0.baseAddress)) }
    case .u8: return try t.withUnsafeBufferPointer(as: UInt8.self) { try body(UnsafeRawPointer($0.baseAddress)) }
    case .s8: return try t.withUnsafeBufferPointer(as: Int8.self) { try body(UnsafeRawPointer($0.baseAddress)) }
    case .s32: return try t.withUnsafeBufferPointer(as: Int32.self) { try body(UnsafeRawPointer($0.baseAddress)) }
    default: throw OneDNNError.unsupported("\(t.dtype) tensors")
    }
}

private func withMutableRawPointer<R>(_ t: inout Tensor, _ body: (UnsafeMutableRawPointer?) throws -> R) throws -> R {
    switch t.dtype {
    case .f32: return try t.withUnsafeMutableBufferPointer(as: Float.self) { try body(UnsafeMutableRawPointer($0.baseAddress)) }
    case .u8: return try t.withUnsafeMutableBufferPointer(as: UInt8.self) { try body(UnsafeMutableRawPointer($0.baseAddress)) }
    default: throw OneDNNError.unsupported("\(t.dtype) outputs")
    }
}
