import Testing
import OctetCore
import OctetCPU
import OctetDispatch
@testable import OctetQNNPack

/// Small cases whose expected values are worked out by hand from the definitions (the
/// arithmetic is written out in the comments), not taken from the code.
@Suite struct ReferenceHandCases {
    let cpu = CPUFeatures(vendor: "t", model: "t", architecture: "aarch64", cores: 1, logicalCPUs: 1, caches: .init(), hardware: [.neon], origin: .assumed("neon"))

    func run(_ s: OpSignature, _ c: OpConstants, _ inputs: [Tensor], style: RequantizationStyle = .float) throws -> [Int32] {
        var out = try Tensor(zeros: s.outputType, shape: try #require(s.outputShape))
        try QNNPackReferenceBackend(requantization: style).prepare(s, constants: c, context: PrepareContext(cpu: cpu)).run(inputs: inputs, output: &out)
        return out.dtype == .u8 ? try out.scalars(as: UInt8.self).map(Int32.init) : try out.scalars(as: Int8.self).map(Int32.init)
    }

    func u8(_ v: [UInt8], _ dims: [Int]) throws -> Tensor { try Tensor(v, shape: TensorShape(dims)) }
    func q(_ s: Float, _ z: Int32) throws -> QuantParams { try QuantParams(scale: s, zeroPoint: z, dtype: .u8) }

    @Test func linearWithAndWithoutFloatBias() throws {
        // x = [3, 10], zp 2 → [1, 8]; w = [[1, -2], [4, 0]] (s8, scale 0.25); s_in·s_w = 0.125; s_out 0.1, zp 128.
        // acc = [1·1 + 8·(-2), 1·4 + 8·0] = [-15, 4]; ·1.25 = [-18.75, 5] → [-19, 5] + 128 = [109, 133].
        let s = try OpSignature.linear(m: 1, k: 2, n: 2)
        let w = try Tensor([1, -2, 4, 0] as [Int8], shape: TensorShape([2, 2]), quantization: QuantParams(scale: 0.25, zeroPoint: 0, dtype: .s8))
        let x = try u8([3, 10], [1, 2])
        #expect(try run(s, OpConstants(weight: w, inputQuantization: q(0.5, 2), outputQuantization: q(0.1, 128)), [x]) == [109, 133])
        // Float bias [0.3, -0.2] (FBGEMM: acc + b / 0.125): [-12.6, 2.4] · 1.25 = [-15.75, 3] → [-16, 3] + 128.
        let b = try Tensor([0.3, -0.2] as [Float], shape: TensorShape([2]))
        #expect(try run(s, OpConstants(weight: w, bias: b, inputQuantization: q(0.5, 2), outputQuantization: q(0.1, 128)), [x]) == [112, 131])
        // ReLU fused: qmin becomes the zero point 128.
        var relu = s
        relu.postOps = [.relu]
        #expect(try run(relu, OpConstants(weight: w, inputQuantization: q(0.5, 2), outputQuantization: q(0.1, 128)), [x]) == [128, 133])
    }

    @Test func convolutionWithPaddingThroughTheIndirectionBuffer() throws {
        // x = 1..9 (3x3), zp 1, so X = x - 1 = [[0,1,2],[3,4,5],[6,7,8]]; kernel [[1, 0], [0, -1]];
        // pad 1 all round → 4x4: out(y, x) = X(y-1, x-1) - X(y, x), with X = 0 outside. zp_out 100.
        let s = OpSignature.convolution(input: try TensorShape([1, 1, 3, 3]), weight: try TensorShape([1, 1, 2, 2]),
                                        geometry: ConvolutionGeometry(pads: (1, 1, 1, 1)))
        let w = try Tensor([1, 0, 0, -1] as [Int8], shape: s.weight, quantization: QuantParams(scale: 1, zeroPoint: 0, dtype: .s8))
        let got = try run(s, OpConstants(weight: w, inputQuantization: q(1, 1), outputQuantization: q(1, 100)), [try u8(Array(1...9), [1, 1, 3, 3])])
        #expect(got == [100, 99, 98, 100,
                        97, 96, 96, 102,
                        94, 96, 96, 105,
                        100, 106, 107, 108])
    }

    @Test func depthwiseConvolution() throws {
        // Two channels, 1x1 kernels [2] and [-1]: ch0 [1,2,3,4]·2 = [2,4,6,8], ch1 [5..8]·(-1); zp_out 50.
        let s = OpSignature.convolution(input: try TensorShape([1, 2, 2, 2]), weight: try TensorShape([2, 1, 1, 1]),
                                        geometry: ConvolutionGeometry(groups: 2))
        let w = try Tensor([2, -1] as [Int8], shape: s.weight, quantization: QuantParams(scales: [1, 1], zeroPoints: [0, 0], granularity: .perChannel(axis: 0), dtype: .s8))
        let got = try run(s, OpConstants(weight: w, inputQuantization: q(1, 0), outputQuantization: q(1, 50)), [try u8(Array(1...8), [1, 2, 2, 2])])
        #expect(got == [52, 54, 56, 58, 45, 44, 43, 42])
    }

    @Test func transposedConvolutionSpreadsEachPixel() throws {
        // Stride 2, 2x2 kernel of ones: each input pixel fills a 2x2 block. zp_out 10.
        let s = OpSignature.convolution(input: try TensorShape([1, 1, 2, 2]), weight: try TensorShape([1, 1, 2, 2]),
                                        geometry: ConvolutionGeometry(stride: (2, 2)), transposed: true)
        let w = try Tensor([1, 1, 1, 1] as [Int8], shape: s.weight, quantization: QuantParams(scale: 1, zeroPoint: 0, dtype: .s8))
        let got = try run(s, OpConstants(weight: w, inputQuantization: q(1, 0), outputQuantization: q(1, 10)), [try u8([1, 2, 3, 4], [1, 1, 2, 2])])
        #expect(got == [11, 11, 12, 12, 11, 11, 12, 12, 13, 13, 14, 14, 13, 13, 14, 14])
    }

    @Test func asymmetricU8WeightsAndMatmul() throws {
        // QNNPACK style: u8 weights with zp 128. x = [130] (zp 128 → 2), w = [[100], [200]] → [-28, 72].
        // acc = [-56, 144]; s_in·s_w = 1·0.5; s_out 1, zp 100 → [-28, 72] + 100 = [72, 172].
        let s = OpSignature(kind: .linear, precision: .int8, inputType: .u8, weightType: .u8, outputType: .u8,
                            input: try TensorShape([1, 1]), weight: try TensorShape([2, 1]), quantization: QuantizationScheme(symmetricWeights: false, weightZeroPoint: 128))
        let w = try Tensor([100, 200] as [UInt8], shape: s.weight, quantization: q(0.5, 128))
        #expect(try run(s, OpConstants(weight: w, inputQuantization: q(1, 128), outputQuantization: q(1, 100)), [try u8([130], [1, 1])]) == [72, 172])
        // matmul [1,2]·[2,1]: (3-1)(5-2) + (4-1)(6-2) = 6 + 12 = 18; scales 1 → 18 + 7.
        let m = try OpSignature.matmul(batch: 1, m: 1, k: 2, n: 1)
        let got = try run(m, OpConstants(inputQuantization: q(1, 1), outputQuantization: q(1, 7), otherInputQuantizations: [q(1, 2)]),
                          [try u8([3, 4], [1, 1, 2]), try u8([5, 6], [1, 2, 1])])
        #expect(got == [25])
    }

    @Test func addAndMulWithDifferentScales() throws {
        // add: 0.5·10 + 2·(3 − 1) = 9 and 0.5·20 + 4 = 14; s_out 0.25 → 36, 56. b broadcasts.
        var add = OpSignature(kind: .add, precision: .int8, inputType: .u8, weightType: .u8, outputType: .u8,
                              input: try TensorShape([2]), weight: try TensorShape([]), attributes: OpAttributes(otherInputs: [try TensorShape([1])]))
        let c = OpConstants(inputQuantization: try q(0.5, 0), outputQuantization: try q(0.25, 0), otherInputQuantizations: [try q(2, 1)])
        #expect(try run(add, c, [try u8([10, 20], [2]), try u8([3], [1])]) == [36, 56])
        // mul: (0.5·4)·(0.25·(6 − 2)) = 2 → s_out 0.5 → 4, and (0.5·20)·1 = 10 → 20.
        add.kind = .mul
        let cm = OpConstants(inputQuantization: try q(0.5, 0), outputQuantization: try q(0.5, 0), otherInputQuantizations: [try q(0.25, 2)])
        #expect(try run(add, cm, [try u8([4, 20], [2]), try u8([6], [1])]) == [4, 20])
    }

    @Test func lookupTablesPoolingConcatSoftmaxLayerNorm() throws {
        func sig(_ k: OpKind, _ dims: [Int], _ a: OpAttributes = OpAttributes()) throws -> OpSignature {
            OpSignature(kind: k, precision: .int8, inputType: .u8, weightType: .u8, outputType: .u8, input: try TensorShape(dims), weight: try TensorShape([]), attributes: a)
        }
        // sigmoid(0) = 0.5 → with s_out 1/256 → 128; sigmoid(large) → 1 → 256 → clamps at 255.
        #expect(try run(try sig(.sigmoid, [2]), OpConstants(inputQuantization: q(0.1, 50), outputQuantization: q(1.0 / 256, 0)), [try u8([50, 255], [2])]) == [128, 255])
        // relu: codes below zp 100 → 100.
        #expect(try run(try sig(.relu, [3]), OpConstants(inputQuantization: q(1, 100), outputQuantization: q(1, 100)), [try u8([90, 100, 110], [3])]) == [100, 100, 110])
        // max pool 2x2 of [[1, 5], [3, 2]] → 5; average → (1+5+3+2)/4 = 2.75 → 3.
        let pool = OpAttributes(pooling: PoolingGeometry(kernel: (2, 2)))
        let img = try u8([1, 5, 3, 2], [1, 1, 2, 2])
        #expect(try run(try sig(.maxPool2d, [1, 1, 2, 2], pool), OpConstants(inputQuantization: q(1, 0), outputQuantization: q(1, 0)), [img]) == [5])
        #expect(try run(try sig(.avgPool2d, [1, 1, 2, 2], pool), OpConstants(inputQuantization: q(1, 0), outputQuantization: q(1, 0)), [img]) == [3])
        #expect(try run(try sig(.globalAvgPool, [1, 1, 2, 2]), OpConstants(inputQuantization: q(1, 0), outputQuantization: q(0.25, 0)), [img]) == [11])
        // Average with padding: 2x2 window, pad 1 top/left, at (0,0) covers only x(0,0) = 1:
        // excluded → 1/1 = 1; included → 1/4 = 0.25 → with s_out 0.25 → 1 vs 4.
        let padded = PoolingGeometry(kernel: (2, 2), pads: (1, 1, 0, 0), countIncludePad: true)
        let p1 = try run(try sig(.avgPool2d, [1, 1, 2, 2], OpAttributes(pooling: padded)), OpConstants(inputQuantization: q(1, 0), outputQuantization: q(0.25, 0)), [img])
        #expect(p1.first == 1)
        // concat [1, 2] (scale 1) with [4] (scale 2) into scale 1 → [1, 2, 8].
        let cat = try sig(.concat, [2], OpAttributes(otherInputs: [try TensorShape([1])], axis: 0))
        #expect(try run(cat, OpConstants(inputQuantization: q(1, 0), outputQuantization: q(1, 0), otherInputQuantizations: [q(2, 0)]),
                        [try u8([1, 2], [2]), try u8([4], [1])]) == [1, 2, 8])
        // softmax of two equal values → 0.5 each → 128 with s_out 1/256.
        #expect(try run(try sig(.softmax, [2], OpAttributes(axis: -1)), OpConstants(inputQuantization: q(0.1, 0), outputQuantization: q(1.0 / 256, 0)),
                        [try u8([7, 7], [2])]) == [128, 128])
        // layer norm of [1, 3]: mean 2, variance 1 → [-1, 1]/sqrt(1 + 1e-5) ≈ ±0.999995 → s_out 1/64, zp 128 → [64, 192].
        #expect(try run(try sig(.layerNorm, [2], OpAttributes(axis: 0, epsilon: 1e-5)), OpConstants(inputQuantization: q(1, 0), outputQuantization: q(1.0 / 64, 128)),
                        [try u8([1, 3], [2])]) == [64, 192])
    }

    @Test func declinesWithReasons() throws {
        let b = QNNPackReferenceBackend()
        #expect(b.capability(for: try .linear(m: 1, k: 2, n: 2, types: .f32), on: cpu) == .declined(reason: "runs int8 ops only; this op is fp32"))
        var dynamic = try OpSignature.linear(m: 1, k: 2, n: 2)
        dynamic.quantization?.dynamic = true
        #expect(!b.capability(for: dynamic, on: cpu).isSupported)
        var broken = try OpSignature.linear(m: 1, k: 2, n: 2)
        broken.weight = try TensorShape([2, 3])
        guard case let .declined(reason) = b.capability(for: broken, on: cpu) else { Issue.record("accepted an invalid signature"); return }
        #expect(reason.hasPrefix("invalid signature"))
        #expect(throws: QNNPackError.self) {
            try b.prepare(try .linear(m: 1, k: 2, n: 2), constants: OpConstants(), context: PrepareContext(cpu: cpu))
        }
    }
}
