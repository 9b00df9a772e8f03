import COctetPackedKernels
import Octet
import OctetConformance
import OctetCore
import OctetDispatch
import OctetPacked
import OctetQNNPack
import Testing

/// Channels-last convolutions (depthwise on the 16-channel kernel, 1x1 GEMMs, indirection
/// buffer) against `qnnpack-ref` in NCHW, exactly, on shapes the random harness does not
/// reach: channel counts around the 16-channel step, MobileNet's windows, long K.
@Suite struct PackedChannelsLastTests {
    let cpus: [CPUFeatures] = HostISAs.cpus

    struct Shape: CustomStringConvertible, Sendable {
        var batch = 1
        var channels = 1
        var outChannels = 1
        var h = 1
        var w = 1
        var k = 1
        var kw: Int? = nil
        var stride = 1
        var dilation = 1
        var pad = 0
        var groups = 1
        var description: String { "n\(batch) c\(channels)→\(outChannels) \(h)x\(w) k\(k)x\(kw ?? k) s\(stride) d\(dilation) p\(pad) g\(groups)" }
    }

    /// A case with full-range data and parameters drawn per variant: zero points at both ends,
    /// per-channel or per-tensor weights (with a weight zero point), s32/f32/no bias, u8/f32 output.
    /// With `sevenBit`, the case is planned `reduce_range` (activations 0...127: the k-quad kernel).
    static func makeCase(_ sh: Shape, variant: Int, seed: UInt64, sevenBit: Bool = false) throws -> ConformanceCase {
        var g = SeededGenerator(seed: seed)
        let kw = sh.kw ?? sh.k
        var s = OpSignature.convolution(input: try TensorShape([sh.batch, sh.channels, sh.h, sh.w]),
                                        weight: try TensorShape([sh.outChannels, sh.channels / sh.groups, sh.k, kw]),
                                        geometry: ConvolutionGeometry(stride: (sh.stride, sh.stride), pads: (sh.pad, sh.pad, sh.pad, sh.pad),
                                                                      dilation: (sh.dilation, sh.dilation), groups: sh.groups),
                                        postOps: [[], [.relu], [.clip(min: -0.5, max: 0.75)]][variant % 3])
        s.activationLayout = .nhwc
        let perChannel = variant % 2 == 0
        let inZero: Int32 = sevenBit ? [0, 127, 64, 3][variant % 4] : [0, 255, 128, 3][variant % 4]
        let weightZero: Int32 = perChannel ? 0 : [0, -7, 127, -128][variant % 4]
        let oc = sh.outChannels
        let wq = try QuantParams(scales: (0..<(perChannel ? oc : 1)).map { _ in Float.random(in: 0.002...0.03, using: &g) },
                                 zeroPoints: [Int32](repeating: weightZero, count: perChannel ? oc : 1),
                                 granularity: perChannel ? .perChannel(axis: 0) : .perTensor, dtype: .s8)
        s.quantization = QuantizationScheme(perChannelWeights: perChannel, symmetricWeights: weightZero == 0, inputZeroPoint: inZero, weightZeroPoint: weightZero)
        s.quantization?.reduceRange = sevenBit
        let toF32 = variant % 5 == 4
        s.outputType = toF32 ? .f32 : .u8
        let inQ = try QuantParams(scale: 0.02, zeroPoint: inZero, dtype: .u8, reduceRange: sevenBit)
        let k = sh.channels / sh.groups * sh.k * kw
        let outQ = toF32 ? nil : try QuantParams(scale: 0.02 * wq.scales[0] * Float(k).squareRoot() * 60, zeroPoint: [0, 255, 90][variant % 3], dtype: .u8)
        let bias: Tensor? = switch variant % 3 {
        case 0: try Tensor((0..<oc).map { _ in Int32.random(in: -20000...20000, using: &g) }, shape: TensorShape([oc]))
        case 1: try Tensor((0..<oc).map { _ in Float.random(in: -2...2, using: &g) }, shape: TensorShape([oc]))
        default: nil
        }
        let weight = try Tensor((0..<s.weight.elementCount).map { _ in Int8.random(in: -128...127, using: &g) }, shape: s.weight, quantization: wq)
        let x = try Tensor((0..<s.input.elementCount).map { _ in UInt8.random(in: 0...(sevenBit ? 127 : 255), using: &g) }, shape: s.input)
        return ConformanceCase(signature: s, constants: OpConstants(weight: weight, bias: bias, inputQuantization: inQ, outputQuantization: outQ),
                               inputs: [x], seed: seed)
    }

    func check(_ shapes: [Shape], variants: Int, sevenBit: Bool = false, expectName: ((Shape) -> String)? = nil) throws {
        for (i, sh) in shapes.enumerated() {
            for v in 0..<variants {
                let c = try Self.makeCase(sh, variant: v + i, seed: UInt64(i * 100 + v), sevenBit: sevenBit)
                for cpu in cpus {
                    for threads in [1, 2, 3] {
                        if let f = Conformance.compare(PackedBackend(), QNNPackReferenceBackend(), c, cpu: cpu, tolerance: 0, threads: threads) {
                            Issue.record("\(sh) variant \(v) threads \(threads): \(f)")
                        }
                    }
                }
                if let expectName {
                    // The names are the AVX2 kernels': planned for the host capped there.
                    let k = try PackedBackend().prepare(c.signature, constants: c.constants, context: PrepareContext(cpu: CPUFeatures.host.capped(at: .avx2)))
                    if CPUFeatures.host.hasAll([.avx2, .fma]) { #expect(k.implementation == expectName(sh)) }
                }
            }
        }
    }

    @Test func depthwiseMatchesTheReference() throws {
        let shapes: [Shape] = [
            Shape(channels: 32, outChannels: 32, h: 12, w: 12, k: 3, pad: 1, groups: 32),
            Shape(channels: 16, outChannels: 16, h: 9, w: 7, k: 3, stride: 2, pad: 1, groups: 16),
            Shape(channels: 19, outChannels: 19, h: 8, w: 11, k: 3, stride: 2, pad: 0, groups: 19),
            Shape(channels: 40, outChannels: 40, h: 10, w: 10, k: 5, pad: 2, groups: 40),
            Shape(channels: 24, outChannels: 24, h: 11, w: 9, k: 5, stride: 2, pad: 2, groups: 24),
            Shape(batch: 2, channels: 7, outChannels: 7, h: 6, w: 5, k: 3, dilation: 2, pad: 2, groups: 7),
            Shape(channels: 33, outChannels: 33, h: 9, w: 9, k: 7, kw: 3, pad: 1, groups: 33),
            Shape(channels: 48, outChannels: 48, h: 3, w: 3, k: 3, pad: 1, groups: 48),
            Shape(channels: 3, outChannels: 3, h: 5, w: 5, k: 1, pad: 0, groups: 3),
            Shape(channels: 96, outChannels: 96, h: 56, w: 50, k: 3, pad: 1, groups: 96),                 // ≥ 2M MACs: two workers
            // Row pairs (stride 1, output rows ≥ 48 wide): odd channel counts, no padding, 5x5, any window.
            Shape(channels: 19, outChannels: 19, h: 5, w: 50, k: 3, pad: 1, groups: 19),
            Shape(channels: 13, outChannels: 13, h: 4, w: 61, k: 3, pad: 0, groups: 13),
            Shape(batch: 2, channels: 40, outChannels: 40, h: 6, w: 52, k: 5, pad: 2, groups: 40),
            Shape(channels: 9, outChannels: 9, h: 9, w: 49, k: 7, kw: 3, pad: 1, groups: 9),
            Shape(channels: 32, outChannels: 32, h: 112, w: 112, k: 3, pad: 1, groups: 32),              // MobileNetV2's first: threads split rows
        ]
        try check(shapes, variants: 4) { sh in
            let kw = sh.kw ?? sh.k, ow = (sh.w + 2 * sh.pad - sh.dilation * (kw - 1) - 1) / sh.stride + 1
            let window = sh.k == kw && (sh.k == 3 || sh.k == 5) ? "\(sh.k)x\(kw)-" : ""
            let rowPairs = sh.dilation == 1 && sh.stride == 1 && ow >= 48
            return rowPairs ? "u8s8s32-dwconv-\(window)rowpairs-8c-avx2" : "u8s8s32-dwconv-\(window)32c-avx2"
        }
    }

    @Test func convolutionsMatchTheReference() throws {
        let shapes: [Shape] = [
            Shape(batch: 2, channels: 24, outChannels: 40, h: 7, w: 9, k: 1, pad: 0, groups: 1),          // 1x1 GEMM over the batch
            Shape(channels: 32, outChannels: 17, h: 9, w: 9, k: 1, stride: 2, pad: 0, groups: 1),         // 1x1 stride 2: indirect
            Shape(channels: 13, outChannels: 33, h: 10, w: 8, k: 3, pad: 1, groups: 1),
            Shape(channels: 3, outChannels: 16, h: 17, w: 15, k: 3, stride: 2, pad: 1, groups: 1),        // a stem
            Shape(channels: 12, outChannels: 18, h: 8, w: 8, k: 3, dilation: 2, pad: 2, groups: 3),       // grouped, dilated
            Shape(channels: 8, outChannels: 16, h: 6, w: 6, k: 3, pad: 1, groups: 8),                     // depthwise multiplier 2
            Shape(channels: 20, outChannels: 20, h: 5, w: 7, k: 1, pad: 0, groups: 4),                    // grouped 1x1
            Shape(channels: 5, outChannels: 7, h: 9, w: 8, k: 2, kw: 5, stride: 3, pad: 1, groups: 1),
            Shape(channels: 512, outChannels: 24, h: 4, w: 4, k: 3, pad: 1, groups: 1),                   // K = 4608: long K, s32 margins
            Shape(channels: 8, outChannels: 8, h: 60, w: 60, k: 1, pad: 0, groups: 1),                    // M = 3600
            Shape(channels: 64, outChannels: 40, h: 28, w: 27, k: 3, pad: 1, groups: 1),                  // 26M MACs: M split over two workers
            Shape(channels: 256, outChannels: 100, h: 3, w: 3, k: 3, pad: 1, groups: 1),                  // M = 9, 2M MACs: N split over two workers
        ]
        try check(shapes, variants: 4) { sh in
            sh.k == 1 && sh.kw == nil && sh.stride == 1 && sh.pad == 0 ? "u8s8s32-conv-nhwc-1x1-6x16-avx2" : "u8s8s32-conv-nhwc-indirect-6x16-avx2"
        }
    }

    /// The same convolutions planned `reduce_range` on the k-quad kernel. A 1x1 stride-1
    /// convolution over channels in whole k-quads (24, 8, 20/4 = 5 per group is not) runs on
    /// the image itself, unpacked; the others pack or gather their rows.
    @Test func sevenBitConvolutionsMatchTheReference() throws {
        let shapes: [Shape] = [
            Shape(batch: 2, channels: 24, outChannels: 40, h: 7, w: 9, k: 1, pad: 0, groups: 1),          // unpacked, over the batch
            Shape(channels: 16, outChannels: 96, h: 23, w: 21, k: 1, pad: 0, groups: 1),                  // unpacked: MobileNet's K = 16
            Shape(channels: 8, outChannels: 8, h: 60, w: 60, k: 1, pad: 0, groups: 1),                    // unpacked, M = 3600
            Shape(channels: 40, outChannels: 24, h: 9, w: 9, k: 1, pad: 0, groups: 2),                    // unpacked per group (20 channels)
            Shape(channels: 18, outChannels: 20, h: 5, w: 7, k: 1, pad: 0, groups: 1),                    // K = 18: packed
            Shape(channels: 32, outChannels: 17, h: 9, w: 9, k: 1, stride: 2, pad: 0, groups: 1),         // 1x1 stride 2: indirect
            Shape(channels: 3, outChannels: 16, h: 17, w: 15, k: 3, stride: 2, pad: 1, groups: 1),        // a stem
            Shape(channels: 64, outChannels: 40, h: 28, w: 27, k: 3, pad: 1, groups: 1),                  // M split over two workers
        ]
        try check(shapes, variants: 4, sevenBit: true) { sh in
            sh.k == 1 && sh.kw == nil && sh.stride == 1 && sh.pad == 0 ? "u7s8s32-conv-nhwc-1x1-6x16c4-avx2" : "u7s8s32-conv-nhwc-indirect-6x16c4-avx2"
        }
    }

    /// An activation above 127 reaching a 7-bit 1x1 convolution that reads the image unpacked
    /// fails the call (the packing no longer sees it).
    @Test func unpackedSevenBitConvolutionRefusesEightBitValues() throws {
        let sh = Shape(channels: 16, outChannels: 32, h: 6, w: 6, k: 1, pad: 0, groups: 1)
        let c = try Self.makeCase(sh, variant: 0, seed: 5, sevenBit: true)
        // Capped at AVX2: the VNNI kernels take any u8, so only there does a 7-bit plan exist.
        let kernel = try PackedBackend().prepare(c.signature, constants: c.constants, context: PrepareContext(cpu: CPUFeatures.host.capped(at: .avx2), threads: 2))
        guard kernel.implementation.hasPrefix("u7") else { return } // the s16-pair form (no AVX2) is exact for any u8
        // Any order of the values serves as the channels-last image here.
        var values = try c.inputs[0].scalars(as: UInt8.self)
        var out = try Tensor(zeros: c.signature.outputType, shape: try #require(c.signature.outputShape), layout: .nhwc)
        try kernel.run(inputs: [try Tensor(values, shape: c.inputs[0].shape, layout: .nhwc)], output: &out)
        values[16 * 35 + 15] = 200
        let x = try Tensor(values, shape: c.inputs[0].shape, layout: .nhwc)
        #expect(throws: PackedError.self) { try kernel.run(inputs: [x], output: &out) }
    }

    /// The VNNI tap-quad kernel (symmetric weights) against a direct Int64 computation:
    /// channel counts around its 64-channel blocks and 16-channel stores (masked tails), 1 to
    /// 49 taps (padded to quads), strides and dilations, u8 and f32 outputs, pixel ranges that
    /// start and end inside output rows. Runs where the host has AVX-512 VNNI.
    @Test func vnniDepthwiseAgreesWithDirectSums() throws {
        guard HostISAs.all.contains(OCTET_PACKED_AVX512_VNNI) else { return }
        var g = SeededGenerator(seed: 9)
        for (c, k, stride, dilation) in [(64, 3, 1, 1), (144, 3, 2, 1), (21, 3, 1, 2), (130, 5, 1, 1), (9, 4, 2, 1), (3, 1, 1, 1), (200, 7, 2, 1), (16, 2, 1, 3)] {
            let (h, w, pad) = (9, 5 + c % 11, k / 2 * dilation)
            let oh = (h + 2 * pad - dilation * (k - 1) - 1) / stride + 1, ow = (w + 2 * pad - dilation * (k - 1) - 1) / stride + 1
            let za = UInt8.random(in: 0...255, using: &g)
            let x = (0..<(h * w * c)).map { _ in UInt8.random(in: 0...255, using: &g) }
            let wt = (0..<(c * k * k)).map { i in i % 7 == 0 ? Int8.min : Int8.random(in: -128...127, using: &g) }
            let bias = (0..<c).map { _ in Int32.random(in: -1000...1000, using: &g) }
            var packed = [Int32](repeating: 0, count: octet_packed_dwconv_vnni_weight_words(c, k * k))
            octet_packed_pack_dwconv_vnni_weights(c, k * k, wt, Int32(za), bias, &packed)
            let zero = [UInt8](repeating: za, count: c)
            var want = [Int64](repeating: 0, count: oh * ow * c)
            for oy in 0..<oh { for ox in 0..<ow { for ch in 0..<c {
                var acc = Int64(bias[ch])
                for ky in 0..<k { for kx in 0..<k {
                    let iy = oy * stride - pad + ky * dilation, ix = ox * stride - pad + kx * dilation
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    acc += (Int64(x[(iy * w + ix) * c + ch]) - Int64(za)) * Int64(wt[ch * k * k + ky * k + kx])
                } }
                want[(oy * ow + ox) * c + ch] = acc
            } } }
            // f32 output with unit scales gives the raw sums; u8 output with an odd multiplier,
            // bias and zero point gives the requantization (against the scalar formula).
            let ones = [Float](repeating: 1, count: c), multiplier = (0..<c).map { Float(0.001 + 0.0003 * Double($0 % 5)) }
            let biasF = (0..<c).map { Float($0 % 3) - 0.5 }
            let pixels = oh * ow, cuts = [0, pixels / 3 + 1, 2 * pixels / 3, pixels]
            var got = [Float](repeating: .nan, count: pixels * c), codes = [UInt8](repeating: 0, count: pixels * c)
            packed.withUnsafeBufferPointer { pw in
                zero.withUnsafeBufferPointer { z in
                    ones.withUnsafeBufferPointer { sc in
                        multiplier.withUnsafeBufferPointer { mul in
                            biasF.withUnsafeBufferPointer { bf in
                                var d = octet_packed_dwconv(channels: c, h: h, w: w, kh: k, kw: k, oh: oh, ow: ow, stride_h: stride, stride_w: stride,
                                                            pad_top: pad, pad_left: pad, dilation_h: dilation, dilation_w: dilation, weights: pw.baseAddress, zero: z.baseAddress)
                                var f = octet_packed_output(a_zero_point: Int32(za), b_zero_point: 0, bias_s32: nil, bias_f32: nil, multiplier: nil,
                                                            out_zero_point: 0, qmin: 0, qmax: 0, dequant_scale: sc.baseAddress, bias_real: nil,
                                                            lo: -.infinity, hi: .infinity, to_f32: 1, row_scales: nil, row_zero_points: nil, sum: nil)
                                var q = octet_packed_output(a_zero_point: Int32(za), b_zero_point: 0, bias_s32: nil, bias_f32: bf.baseAddress, multiplier: mul.baseAddress,
                                                            out_zero_point: 100, qmin: 3, qmax: 250, dequant_scale: nil, bias_real: nil,
                                                            lo: 0, hi: 0, to_f32: 0, row_scales: nil, row_zero_points: nil, sum: nil)
                                #expect(octet_packed_dwconv_vnni_applies(OCTET_PACKED_AVX512_VNNI, &d) == 1)
                                for (begin, end) in zip(cuts, cuts.dropFirst()) {
                                    #expect(octet_packed_dwconv_vnni_nhwc(OCTET_PACKED_AVX512_VNNI, &d, x, &got, &f, begin, end) == 0)
                                    #expect(octet_packed_dwconv_vnni_nhwc(OCTET_PACKED_AVX512_VNNI, &d, x, &codes, &q, begin, end) == 0)
                                }
                            }
                        }
                    }
                }
            }
            let wrong = zip(got, want).filter { $0.0 != Float($0.1) }.count
            #expect(wrong == 0, "\(wrong) of \(want.count) sums differ: c \(c) k \(k) stride \(stride) dilation \(dilation)")
            let expected = want.enumerated().map { i, raw -> UInt8 in
                let ch = i % c
                var f = (Float(raw) + biasF[ch]) * multiplier[ch]
                f = Swift.min(Swift.max(f, Float(3 - 100)), Float(250 - 100))
                return UInt8(Int32(f.rounded(.toNearestOrEven)) + 100)
            }
            let wrongCodes = zip(codes, expected).filter { $0.0 != $0.1 }.count
            #expect(wrongCodes == 0, "\(wrongCodes) u8 codes differ: c \(c) k \(k) stride \(stride) dilation \(dilation)")
        }
    }

    /// The C kernels called with each ISA explicitly, against a direct Int64 computation:
    /// the scalar path is tested whatever the CPU.
    @Test func depthwiseKernelsAgreeWithDirectSums() throws {
        var g = SeededGenerator(seed: 5)
        let isas = HostISAs.all
        for (c, k, stride) in [(16, 3, 1), (21, 3, 2), (35, 5, 1), (9, 4, 2), (8, 5, 2), (3, 3, 1), (27, 2, 1)] {
            let (h, w, pad) = (7, 6 + c % 29, k / 2), oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1
            let za: Int32 = 255, zb: Int32 = -3
            let x = (0..<(h * w * c)).map { _ in UInt8.random(in: 0...255, using: &g) }
            let wt = (0..<(c * k * k)).map { _ in Int8.random(in: -128...127, using: &g) }
            let bias = (0..<c).map { _ in Int32.random(in: -1000...1000, using: &g) }
            var packed = [Int32](repeating: 0, count: octet_packed_dwconv_weight_words(c, k * k))
            octet_packed_pack_dwconv_weights(c, k * k, wt, zb, za, bias, &packed)
            let zero = [UInt8](repeating: UInt8(za), count: (c + 15) / 16 * 16)
            // Per-channel arrays padded as `OutputStage` pads them (the kernels read whole blocks).
            let scales = [Float](repeating: 1, count: c + 16)
            var want = [Float](repeating: 0, count: oh * ow * c)
            for oy in 0..<oh { for ox in 0..<ow { for ch in 0..<c {
                var acc = Int64(bias[ch])
                for ky in 0..<k { for kx in 0..<k {
                    let iy = oy * stride - pad + ky, ix = ox * stride - pad + kx
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    acc += (Int64(x[(iy * w + ix) * c + ch]) - Int64(za)) * (Int64(wt[ch * k * k + ky * k + kx]) - Int64(zb))
                } }
                want[(oy * ow + ox) * c + ch] = Float(acc)
            } } }
            for isa in isas {
                var got = [Float](repeating: .nan, count: oh * ow * c)
                packed.withUnsafeBufferPointer { pw in
                    zero.withUnsafeBufferPointer { z in
                        scales.withUnsafeBufferPointer { sc in
                            var d = octet_packed_dwconv(channels: c, h: h, w: w, kh: k, kw: k, oh: oh, ow: ow, stride_h: stride, stride_w: stride,
                                                        pad_top: pad, pad_left: pad, dilation_h: 1, dilation_w: 1, weights: pw.baseAddress, zero: z.baseAddress)
                            var o = octet_packed_output(a_zero_point: za, b_zero_point: zb, bias_s32: nil, bias_f32: nil, multiplier: nil,
                                                        out_zero_point: 0, qmin: 0, qmax: 0, dequant_scale: sc.baseAddress, bias_real: nil,
                                                        lo: -.infinity, hi: .infinity, to_f32: 1, row_scales: nil, row_zero_points: nil, sum: nil)
                            octet_packed_dwconv_nhwc(isa, &d, x, &got, &o, 0, oh * ow)
                        }
                    }
                }
                #expect(got == want, "c \(c) k \(k) stride \(stride) isa \(isa.rawValue)")
            }
            guard isas.contains(OCTET_PACKED_AVX2) else { continue }
            // The row-pair kernel, over pixel ranges that start and end inside output rows.
            var rows = [Int32](repeating: 0, count: octet_packed_dwconv_rows_weight_words(c, k, k))
            octet_packed_pack_dwconv_rows_weights(c, k, k, wt, zb, za, bias, &rows)
            var got = [Float](repeating: .nan, count: oh * ow * c)
            let pixels = oh * ow, cuts = [0, pixels / 3 + 1, 2 * pixels / 3 - 1, pixels]
            rows.withUnsafeBufferPointer { pw in
                scales.withUnsafeBufferPointer { sc in
                    var d = octet_packed_dwconv(channels: c, h: h, w: w, kh: k, kw: k, oh: oh, ow: ow, stride_h: stride, stride_w: stride,
                                                pad_top: pad, pad_left: pad, dilation_h: 1, dilation_w: 1, weights: pw.baseAddress, zero: nil)
                    var o = octet_packed_output(a_zero_point: za, b_zero_point: zb, bias_s32: nil, bias_f32: nil, multiplier: nil,
                                                out_zero_point: 0, qmin: 0, qmax: 0, dequant_scale: sc.baseAddress, bias_real: nil,
                                                lo: -.infinity, hi: .infinity, to_f32: 1, row_scales: nil, row_zero_points: nil, sum: nil)
                    #expect(octet_packed_dwconv_rows_applies(OCTET_PACKED_AVX2, &d) == 1)
                    var scratch = [UInt8](repeating: 0, count: octet_packed_dwconv_rows_scratch_bytes(&d))
                    for (begin, end) in zip(cuts, cuts.dropFirst()) {
                        #expect(octet_packed_dwconv_rows_nhwc(OCTET_PACKED_AVX2, &d, x, &got, &o, begin, end, &scratch) == 0)
                    }
                }
            }
            #expect(got == want, "row pairs: c \(c) k \(k) stride \(stride)")
        }
    }
}
