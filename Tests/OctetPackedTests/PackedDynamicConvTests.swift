import COctetPackedKernels
import Octet
import OctetConformance
import OctetCore
import OctetPacked
import OctetQNNPack
import Testing

/// The packed dynamic convolution (ONNX DynamicQuantizeLinear per call, then the u8
/// convolution) against the `qnnpack-ref` oracle's plain loops, on random geometries.
///
/// Tolerance 0: both quantize with the same parameters (`octet_packed_onnx_dynamic_parameters`
/// and `ONNXDynamicQuantization` compute the same f32 operations) by the same division, both
/// accumulate exactly in integers, and both store `Float(acc) · (s_x · s_w[m]) + bias[m]` as one
/// f32 multiply (of the same rounded scale product) and one add, with no FMA.
@Suite struct PackedDynamicConvTests {
    struct Case: CustomStringConvertible {
        var signature: OpSignature
        var constants: OpConstants
        var x: Tensor
        var description: String { "\(signature)" }
    }

    /// Weight kinds: s8 symmetric per tensor, s8 symmetric per channel, s8 with a per-tensor
    /// zero point, u8 with a per-tensor zero point (what `quantize_dynamic` writes for QUInt8).
    enum Weights: CaseIterable { case s8, s8PerChannel, s8ZeroPoint, u8 }

    /// A random dynamic convolution: 1–3 groups or depthwise, odd channel counts, 1x1 to 3x3
    /// windows, strides 1–2, asymmetric pads 0–2, dilations 1–2, batch 1–2, a fused ReLU in a
    /// third of them; the input's range
    /// straddles 0, or lies above it (zero point 0) or below it (zero point 255).
    static func randomCase(_ rng: inout SeededGenerator, weights: Weights) throws -> Case {
        func r(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
        let depthwise = r(0...3) == 0
        let groups = depthwise ? r(2...9) : r(1...3)
        let cg = depthwise ? 1 : r(1...5), ocg = depthwise ? 1 : r(1...5)
        let (kh, kw) = (r(1...3), r(1...3))
        let geometry = ConvolutionGeometry(stride: (r(1...2), r(1...2)), pads: (r(0...2), r(0...2), r(0...2), r(0...2)),
                                           dilation: (r(1...2), r(1...2)), groups: groups)
        let h = r(((kh - 1) * geometry.dilationH + 1)...9), w = r(((kw - 1) * geometry.dilationW + 1)...9)
        let (batch, channels, oc) = (r(1...2), groups * cg, groups * ocg)
        let weightShape = try TensorShape([oc, cg, kh, kw])
        let perChannel = weights == .s8PerChannel
        let scales = (0..<(perChannel ? oc : 1)).map { _ in Float.random(in: 0.001...0.05, using: &rng) }
        let zeroPoint: Int32 = weights == .s8ZeroPoint ? Int32(r(-20...20)) : weights == .u8 ? Int32(r(100...160)) : 0
        let wq = try QuantParams(scales: scales, zeroPoints: [Int32](repeating: zeroPoint, count: scales.count),
                                 granularity: perChannel ? .perChannel(axis: 0) : .perTensor, dtype: weights == .u8 ? .u8 : .s8)
        let count = weightShape.elementCount
        let weight = weights == .u8 ? try Tensor((0..<count).map { _ in UInt8(r(0...255)) }, shape: weightShape, quantization: wq)
                                    : try Tensor((0..<count).map { _ in Int8(r(-127...127)) }, shape: weightShape, quantization: wq)
        let bias = r(0...3) == 0 ? nil : try Tensor((0..<oc).map { _ in Float.random(in: -2...2, using: &rng) }, shape: TensorShape([oc]))
        let input = try TensorShape([batch, channels, h, w])
        let offset: Float = [0, 3, -3][r(0...2)]
        let x = try Tensor((0..<input.elementCount).map { _ in Float.random(in: -2...2, using: &rng) + offset }, shape: input)
        let quantization = QuantizationScheme(perChannelWeights: perChannel, symmetricWeights: zeroPoint == 0,
                                              weightZeroPoint: perChannel ? 0 : zeroPoint, dynamic: true)
        let s = OpSignature.convolution(input: input, weight: weightShape, geometry: geometry,
                                        types: OperandTypes(input: .f32, weight: weight.dtype, precision: .int8), output: .f32, quantization: quantization,
                                        postOps: r(0...2) == 0 ? [.relu] : [])
        try s.validate()
        return Case(signature: s, constants: OpConstants(weight: weight, bias: bias), x: x)
    }

    /// Runs `c` on `backend` in `layout` (the input reordered to it, the output back to NCHW).
    static func run(_ c: Case, _ backend: any Backend, cpu: CPUFeatures, threads: Int, layout: TensorLayout) throws -> [Float] {
        var s = c.signature
        s.activationLayout = layout == .nhwc ? .nhwc : .rowMajor
        let kernel = try backend.prepare(s, constants: c.constants, context: PrepareContext(cpu: cpu, threads: threads))
        let out = try #require(s.outputShape)
        var y = try Tensor(zeros: .f32, shape: out, layout: layout)
        let x = layout == .nhwc ? try LayoutReorder.reorder(c.x, to: .nhwc) : c.x
        try kernel.run(inputs: [x], output: &y)
        return try (layout == .nhwc ? LayoutReorder.reorder(y, to: .rowMajor) : y).scalars(as: Float.self)
    }

    /// Bit for bit against the oracle: every weight kind, NCHW and NHWC, 1 and 2 threads, each
    /// ISA level the host reaches (and portable C).
    @Test(arguments: Weights.allCases)
    func equalsTheOracleExactly(weights: Weights) throws {
        var rng = SeededGenerator(seed: 41 + UInt64(Weights.allCases.firstIndex(of: weights) ?? 0))
        let reference = QNNPackReferenceBackend()
        for i in 0..<40 {
            let c = try Self.randomCase(&rng, weights: weights)
            let want = try Self.run(c, reference, cpu: .host, threads: 1, layout: .rowMajor)
            for cpu in HostISAs.cpus {
                for threads in [1, 2] {
                    for layout in [TensorLayout.rowMajor, .nhwc] {
                        guard PackedBackend().capability(for: c.signature, on: cpu).isSupported else {
                            Issue.record("case \(i) declined: \(c)")
                            continue
                        }
                        let got = try Self.run(c, PackedBackend(), cpu: cpu, threads: threads, layout: layout)
                        let differing = zip(got, want).filter { $0.0 != $0.1 }.count
                        #expect(differing == 0, "case \(i) \(c) \(layout) \(threads) threads, \(cpu.features.count) features: \(differing) of \(want.count) differ")
                    }
                }
            }
        }
    }

    /// The oracle against numbers computed by hand: 1 x 1 x 2 x 2 input [−1, 0, 1, 2] (scale
    /// 3/255, zero point 85, codes 0 85 170 255), one 2x2 s8 weight [1, 2, 3, 4] (scale 0.5),
    /// pad 1 on the left: output 1 x 1 x 2 x 2 with the first column seeing only the right tap.
    @Test func oracleByHand() throws {
        let input = try TensorShape([1, 1, 2, 2]), weight = try TensorShape([1, 1, 2, 2])
        let wq = try QuantParams(scale: 0.5, zeroPoint: 0, dtype: .s8)
        let s = OpSignature.convolution(input: input, weight: weight, geometry: ConvolutionGeometry(pads: (0, 1, 1, 0)),
                                        types: OperandTypes(input: .f32, weight: .s8, precision: .int8), output: .f32,
                                        quantization: QuantizationScheme(perChannelWeights: false, dynamic: true))
        let c = Case(signature: s, constants: OpConstants(weight: try Tensor([Int8(1), 2, 3, 4], shape: weight, quantization: wq)),
                     x: try Tensor([Float(-1), 0, 1, 2], shape: input))
        let (scale, zp) = ONNXDynamicQuantization.parameters(min: -1, max: 2)
        #expect(scale == Float(3) / 255 && zp == 85)
        // Centered codes: −85, 0, 85, 170. Output (oy, ox): taps (ky, kx) at (oy + ky, ox − 1 + kx).
        let q: [Int64] = [-85, 0, 85, 170]
        func at(_ y: Int, _ x: Int) -> Int64 { y >= 0 && y < 2 && x >= 0 && x < 2 ? q[y * 2 + x] : 0 }
        var want: [Float] = []
        for oy in 0..<2 {
            for ox in 0..<2 {
                let acc = 1 * at(oy, ox - 1) + 2 * at(oy, ox) + 3 * at(oy + 1, ox - 1) + 4 * at(oy + 1, ox)
                want.append(Float(acc) * (scale * 0.5))
            }
        }
        #expect(try Self.run(c, QNNPackReferenceBackend(), cpu: .host, threads: 1, layout: .rowMajor) == want)
        for cpu in HostISAs.cpus {
            #expect(try Self.run(c, PackedBackend(), cpu: cpu, threads: 1, layout: .nhwc) == want)
        }
    }

    /// The C quantizer gives ONNX's codes (division, round half to even, saturation) on every
    /// ISA, ties included: 0.5, 1.5 and 2.5 steps round to even.
    @Test func quantizeMatchesONNX() throws {
        var rng = SeededGenerator(seed: 9)
        let scale: Float = 0.25
        var x: [Float] = [0.125, 0.375, 0.625, -0.125, 100, -100, 63.625, 0]
        x += (0..<77).map { _ in Float.random(in: -40...40, using: &rng) }
        for isa in HostISAs.all {
            for zp: Int32 in [0, 7, 128, 255] {
                var q = [UInt8](repeating: 0, count: x.count)
                octet_packed_quantize_u8(isa, x.count, x, scale, zp, &q)
                let want = x.map { UInt8(AffineQuantization.quantizeDividing($0, scale: scale, zeroPoint: zp, qmin: 0, qmax: 255)) }
                #expect(q == want, "isa \(isa.rawValue), zero point \(zp)")
            }
        }
        for (lo, hi) in [(Float(0), Float(0)), (-1, 2), (-4, -2), (3, 3), (-0.3, 7.1)] {
            var s: Float = 0, z: Int32 = -1
            octet_packed_onnx_dynamic_parameters(lo, hi, &s, &z)
            let want = ONNXDynamicQuantization.parameters(min: lo, max: hi)
            #expect(s == want.scale && z == want.zeroPoint, "[\(lo), \(hi)]")
        }
    }

    /// The kernel's name says the quantizer and the convolution it runs on; u8 per-channel
    /// weights are declined with a reason (the planner then falls back to qnnpack-ref).
    @Test func namesAndDeclines() throws {
        var rng = SeededGenerator(seed: 3)
        var c = try Self.randomCase(&rng, weights: .s8)
        c.signature.activationLayout = .nhwc
        if case let .supported(kernel, notes) = PackedBackend().capability(for: c.signature, on: try CPUFeatures.assumed("zen4")) {
            #expect(kernel.hasPrefix("f32u8-quantize-avx2 + u8s8s32-conv-nhwc-") && kernel.hasSuffix("-avx512vnni"), "\(kernel)")
            #expect(notes.contains { $0.contains("DynamicQuantizeLinear") })
        } else {
            Issue.record("declined on zen4")
        }
        var perChannelU8 = c.signature
        perChannelU8.weightType = .u8
        perChannelU8.quantization?.perChannelWeights = true
        guard case let .declined(reason) = PackedBackend().capability(for: perChannelU8, on: .host) else {
            Issue.record("per-channel u8 weights accepted")
            return
        }
        #expect(reason.contains("per-channel"))
        var sevenBit = c.signature
        sevenBit.quantization?.reduceRange = true
        #expect(!PackedBackend().capability(for: sevenBit, on: .host).isSupported)
        #expect(PackedBackend().reducedRangeSpeedup(for: c.signature, on: try CPUFeatures.assumed("zen3")) == nil)
    }

    /// NaN or an infinity in the input is an error, not a crash or garbage.
    @Test func nonFiniteInputThrows() throws {
        var rng = SeededGenerator(seed: 5)
        let c = try Self.randomCase(&rng, weights: .s8)
        var values = try c.x.scalars(as: Float.self)
        values[values.count / 2] = .nan
        var bad = c
        bad.x = try Tensor(values, shape: c.x.shape)
        #expect(throws: (any Error).self) { try Self.run(bad, PackedBackend(), cpu: .host, threads: 1, layout: .rowMajor) }
        #expect(throws: (any Error).self) { try Self.run(bad, QNNPackReferenceBackend(), cpu: .host, threads: 1, layout: .rowMajor) }
    }
}
