import COctetPackedKernels
import OctetCore
import OctetDispatch

/// Dynamic quantization of a 2-D convolution, `N x C x H x W f32 ⊛ (M x C/g x KH x KW) →
/// N x M x OH x OW f32`, in NCHW or NHWC (`activationLayout`), any strides, pads, dilations
/// and groups: what ONNX Runtime's `quantize_dynamic` writes for a CNN (`DynamicQuantizeLinear`
/// → `ConvInteger` → `Cast` → `Mul` → `Add` bias), on the static INT8 convolution.
///
/// Per call: one vector pass finds the input's range (refusing NaN and infinities,
/// `octet_packed_f32_range`), ONNX's parameters follow (`octet_packed_onnx_dynamic_parameters`:
/// scale = (max − min) / 255 over the range widened to hold 0, zero point = rne(−min / scale)),
/// a second pass quantizes the whole input into a u8 scratch image by division
/// (`octet_packed_quantize_u8`), and the u8 convolution runs on it
/// (`PackedChannelsLastConvKernel`, or `PackedConvKernel` for NCHW; depthwise convolutions too,
/// as a grouped GEMM) with the call's zero point as the padding code and in the column term
/// (−zp·Σw, K·zp·zp_w), and `s_x · s_w[m]` as the f32 store's per-channel scale, then the f32 bias.
/// The accumulators are exact integers (`Σ (q − zp_x)(w − zp_w)`), so the result is ONNX
/// Runtime's up to the f32 rescale. u8 weights are prepared as s8 by subtracting 128 from the
/// weights and their zero point (the differences, and so every product, are unchanged).
struct PackedDynamicConvKernel: Kernel {
    enum Convolution: Sendable {
        case planes(PackedConvKernel)
        case channelsLast(PackedChannelsLastConvKernel)
    }
    let convolution: Convolution
    let isa: octet_packed_isa
    let weightScales: [Float]
    let input: TensorShape, output: TensorShape
    let channelsLast: Bool
    let pool: BufferPool<Scratch>
    var implementation: String {
        let conv: String
        switch convolution {
        case let .planes(k): conv = k.implementation
        case let .channelsLast(k): conv = k.implementation
        }
        return PackedISA.dynamicQuantize(isa) + " + " + conv
    }

    /// Per-call buffers: the u8 image, the per-channel scales (padded), the padding row.
    final class Scratch: Sendable {
        let codes: AlignedBuffer<UInt8>, scales: AlignedBuffer<Float>, zeroRow: AlignedBuffer<UInt8>
        init(codes: Int, channels: Int, rowBytes: Int) {
            self.codes = AlignedBuffer(count: codes)
            scales = AlignedBuffer(count: channels + 16)
            zeroRow = AlignedBuffer(count: rowBytes)
        }
    }

    /// `s` is the dynamic signature; `w` the s8 weight with its parameters `wQ` (converted
    /// from u8 by the caller); `runner` made for the static u8 form of `s` (`staticForm`).
    init(_ s: OpSignature, _ c: OpConstants, _ w: Tensor, _ wQ: QuantParams, runner: PackedRunner) throws {
        guard let oc = s.outputChannels, s.input.rank == 4 else { throw PackedError.shape("invalid convolution \(s)") }
        guard wQ.scales.count == 1 || wQ.scales.count == oc else { throw PackedError.shape("\(wQ.scales.count) weight scales for \(oc) output channels") }
        if let b = c.bias, b.dtype != .f32 || b.shape.elementCount != oc { throw PackedError.shape("dynamic conv needs an f32 bias of \(oc) values") }
        let st = Self.staticForm(s)
        // The planned activation parameters are placeholders: every call passes its own.
        let constants = OpConstants(weight: w, bias: c.bias, inputQuantization: try QuantParams(scale: 1, zeroPoint: 0, dtype: .u8))
        channelsLast = s.activationLayout == .nhwc
        convolution = channelsLast ? .channelsLast(try PackedChannelsLastConvKernel(st, constants, w, wQ, runner: runner))
                                   : .planes(try PackedConvKernel(st, constants, w, wQ, runner: runner))
        isa = runner.isa
        weightScales = (0..<oc).map { wQ.scale(channel: wQ.scales.count == 1 ? 0 : $0) }
        input = s.input
        output = try s.outputShape.orThrow()
        try runner.budget.check(elements: s.input.elementCount, of: 1, for: "the dynamic convolution's u8 image (\(s.input))")
        let (codes, rowBytes) = (s.input.elementCount, max(s.input[1], 1))
        pool = BufferPool { Scratch(codes: codes, channels: oc, rowBytes: rowBytes) }
    }

    /// The static u8 convolution `s` runs on once its activation is quantized.
    static func staticForm(_ s: OpSignature) -> OpSignature {
        var st = s
        st.inputType = .u8
        st.quantization?.dynamic = false
        st.quantization?.inputZeroPoint = 0
        return st
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        let x = try checked(inputs, 0, input, .f32, channelsLast: channelsLast)
        try checkOutput(out, output, .f32, channelsLast: channelsLast)
        try pool.with { buf in
            try x.withUnsafeBufferPointer(as: Float.self) { v in
                let xs = try base(v)
                var lo: Float = 0, hi: Float = 0
                guard octet_packed_f32_range(isa, v.count, xs, &lo, &hi) == 0 else { throw PackedDynamicLinearKernel.nonFinite }
                var scale: Float = 1, zp: Int32 = 0
                octet_packed_onnx_dynamic_parameters(lo, hi, &scale, &zp)
                octet_packed_quantize_u8(isa, v.count, xs, scale, zp, buf.codes.pointer)
                // The scale product as ONNX Runtime's Mul(x_scale, w_scale) rounds it: one f32 multiply.
                for m in weightScales.indices { buf.scales.pointer[m] = scale * weightScales[m] }
                let activation = OutputStage.CallActivation(zeroPoint: zp, dequantScale: UnsafePointer(buf.scales.pointer))
                let codes = UnsafePointer(buf.codes.pointer)
                switch convolution {
                case let .planes(k):
                    try k.convolve(codes, activation: activation, sum: nil, output: &out)
                case let .channelsLast(k):
                    buf.zeroRow.buffer.update(repeating: UInt8(clamping: zp))
                    try k.convolve(codes, activation: activation, zeroRow: UnsafePointer(buf.zeroRow.pointer), sum: nil, output: &out)
                }
            }
        }
    }
}
