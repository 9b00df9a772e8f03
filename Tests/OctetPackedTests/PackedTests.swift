import OctetCore
import Testing
import COctetPackedKernels
import Octet
import OctetConformance
import OctetPacked
import OctetQNNPack

@Suite struct PackedTests {
    let host = CPUFeatures.host
    var isas: [octet_packed_isa] { HostISAs.all }

    /// Raw accumulators against Σ a·b in Int64, bit for bit, on full-range data (0...255
    /// with -128...127, including all-extreme operands that would saturate vpmaddubsw).
    @Test(arguments: [(1, 1, 1), (1, 97, 3), (2, 2, 16), (5, 13, 17), (6, 64, 33), (7, 127, 15), (13, 300, 40), (1, 3072, 768)])
    func accumulatorsAreExact(m: Int, k: Int, n: Int) throws {
        var g = SeededGenerator(seed: UInt64(m * 7919 + k * 31 + n))
        for extreme in [false, true] {
            let a: [UInt8] = (0..<(m * k)).map { _ in extreme ? 255 : UInt8.random(in: 0...255, using: &g) }
            let b: [Int8] = (0..<(k * n)).map { _ in extreme ? -128 : Int8.random(in: -128...127, using: &g) }
            var want = [Int64](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { for kk in 0..<k { want[i * n + j] += Int64(a[i * k + kk]) * Int64(b[kk * n + j]) } } }
            let k2 = (k + 1) / 2, panels = (n + 15) / 16
            var pa = [Int32](repeating: 0, count: m * k2), rows = [Int32](repeating: 0, count: m)
            var cols = [Int32](repeating: 0, count: n)
            // Panels must be 32-byte aligned for the AVX2 loads: place them in an aligned buffer.
            let aligned = UnsafeMutablePointer<Int32>.allocate(capacity: panels * k2 * 16 + 16)
            defer { aligned.deallocate() }
            let base = aligned + (8 - (Int(bitPattern: aligned) / 4) % 8) % 8
            octet_packed_pack_a_u8(OCTET_PACKED_SCALAR, m, k, a, k, &pa, &rows)
            octet_packed_pack_b_s8(k, n, b, 1, n, base, &cols)
            #expect(rows == (0..<m).map { i in Int32((0..<k).reduce(0) { $0 + Int(a[i * k + $1]) }) })
            #expect(cols == (0..<n).map { j in Int32((0..<k).reduce(0) { $0 + Int(b[$1 * n + j]) }) })
            for isa in isas {
                var pa2 = [Int32](repeating: 0, count: m * k2), rows2 = [Int32](repeating: 0, count: m)
                octet_packed_pack_a_u8(isa, m, k, a, k, &pa2, &rows2)
                #expect(pa2 == pa && rows2 == rows, "packing with isa \(isa.rawValue)")
                var c = [Int32](repeating: 0, count: m * n)
                octet_packed_gemm_s32(isa, m, n, k, pa, base, &c, n)
                #expect(c.map(Int64.init) == want, "isa \(isa.rawValue) \(m)x\(k)x\(n) extreme=\(extreme)")
            }
        }
    }

    /// Requantized outputs equal the reference's requantization exactly (tolerance 0):
    /// the same FBGEMM arithmetic, on full-range data, for every generated case;
    /// on every packed ISA this machine can run (the host capped at each level, down to the
    /// portable path), with one and two threads, NCHW and channels-last.
    @Test(arguments: [false, true])
    func equalsTheReferenceExactly(channelsLast: Bool) throws {
        for cpu in HostISAs.cpus {
            for threads in [1, 2] {
                let report = Conformance.check(PackedBackend(), cpu: cpu, kinds: channelsLast ? [.conv2d] : [.linear, .matmul, .conv2d], casesPerKind: 60,
                                               seed: 17 + UInt64(threads), tolerance: 0, channelsLast: channelsLast, threads: threads)
                for f in report.failures.prefix(5) { Issue.record("\(f)") }
                #expect(report.failures.isEmpty)
                #expect(report.tested[.conv2d, default: 0] >= 40, "coverage \(report.tested), declined \(report.declined)")
                if !channelsLast {
                    #expect(report.tested[.linear, default: 0] >= 30 && report.tested[.matmul, default: 0] >= 20, "coverage \(report.tested), declined \(report.declined)")
                }
            }
        }
    }

    @Test func statesItsKernelAndExactness() throws {
        let c = PackedBackend().capability(for: try .linear(m: 1, k: 8, n: 8), on: try CPUFeatures.assumed("zen3"))
        guard case let .supported(kernel, notes) = c else { Issue.record("declined"); return }
        #expect(kernel == "u8s8s32-gemm-6x16-avx2")
        #expect(notes.first?.contains("exact for full-range") == true)
        #expect(PackedBackend().capability(for: try .linear(m: 1, k: 8, n: 8), on: try CPUFeatures.assumed("neoverse-n1")) ==
                .supported(kernel: "u8s8s32-gemm-6x16-scalar", notes: notes))
        let zen3 = try CPUFeatures.assumed("zen3")
        func conv(_ k: Int, _ c: Int, _ oc: Int, groups: Int, stride: Int = 1, pad: Int = 0) throws -> OpSignature {
            var s = OpSignature.convolution(input: try TensorShape([1, c, 14, 14]), weight: try TensorShape([oc, c / groups, k, k]),
                                            geometry: ConvolutionGeometry(stride: (stride, stride), pads: (pad, pad, pad, pad), groups: groups))
            s.activationLayout = .nhwc
            return s
        }
        func name(_ s: OpSignature) -> String? {
            if case let .supported(kernel, _) = PackedBackend().capability(for: s, on: zen3) { return kernel }
            return nil
        }
        #expect(name(try conv(3, 32, 32, groups: 32, pad: 1)) == "u8s8s32-dwconv-3x3-32c-avx2")
        #expect(name(try conv(5, 32, 32, groups: 32, stride: 2, pad: 2)) == "u8s8s32-dwconv-5x5-32c-avx2")
        #expect(name(try conv(7, 32, 32, groups: 32, pad: 3)) == "u8s8s32-dwconv-32c-avx2")
        #expect(name(try conv(1, 32, 64, groups: 1)) == "u8s8s32-conv-nhwc-1x1-6x16-avx2")
        #expect(name(try conv(1, 32, 64, groups: 1, stride: 2)) == "u8s8s32-conv-nhwc-indirect-6x16-avx2")
        #expect(name(try conv(3, 32, 64, groups: 2, pad: 1)) == "u8s8s32-conv-nhwc-indirect-6x16-avx2")
        // VNNI: the k-quad kernels, exact for any u8 (no 7-bit activations needed).
        for (cpu, gemm, depthwise) in [("zen4", "u8s8s32-gemm-8x32c4-avx512vnni", "u8s8s32-dwconv-3x3-64c-avx512vnni"),
                                       ("cascade-lake", "u8s8s32-gemm-8x32c4-avx512vnni", "u8s8s32-dwconv-3x3-64c-avx512vnni"),
                                       ("alder-lake", "u8s8s32-gemm-6x16c4-avxvnni", "u8s8s32-dwconv-3x3-32c-avx2")] {
            let features = try CPUFeatures.assumed(cpu)
            guard case let .supported(kernel, notes) = PackedBackend().capability(for: try .linear(m: 1, k: 8, n: 8), on: features) else {
                Issue.record("declined on \(cpu)")
                continue
            }
            #expect(kernel == gemm, "\(cpu)")
            #expect(notes.first?.contains("vpdpbusd") == true)
            if case let .supported(one, _) = PackedBackend().capability(for: try conv(1, 32, 64, groups: 1), on: features) {
                #expect(one == "u8s8s32-conv-nhwc-1x1-\(gemm.split(separator: "-").suffix(2).joined(separator: "-"))")
            }
            if case let .supported(dw, _) = PackedBackend().capability(for: try conv(3, 32, 32, groups: 32, pad: 1), on: features) {
                #expect(dw == depthwise, "\(cpu)")
            }
        }
        // AVX-512 without VNNI: vpmaddwd zmm on s16 pairs (exact for full-range u8); depthwise on the AVX2 kernels.
        let skx = try CPUFeatures.assumed("skylake-avx512")
        if case let .supported(kernel, notes) = PackedBackend().capability(for: try .linear(m: 1, k: 8, n: 8), on: skx) {
            #expect(kernel == "u8s8s32-gemm-8x32-avx512bw")
            #expect(notes.first?.contains("exact for full-range") == true)
        } else {
            Issue.record("declined on skylake-avx512")
        }
        func kernelName(_ s: OpSignature, on cpu: CPUFeatures) -> String? {
            if case let .supported(k, _) = PackedBackend().capability(for: s, on: cpu) { return k }
            return nil
        }
        #expect(kernelName(try conv(1, 32, 64, groups: 1), on: skx) == "u8s8s32-conv-nhwc-1x1-8x32-avx512bw")
        #expect(kernelName(try conv(3, 32, 32, groups: 32, pad: 1), on: skx) == "u8s8s32-dwconv-3x3-32c-avx2")
        var linearNHWC = try OpSignature.linear(m: 1, k: 8, n: 8)
        linearNHWC.activationLayout = .nhwc
        #expect(name(linearNHWC) == nil, "channels-last applies to convolutions only")
    }
}

@Suite struct PackedBlockingTests {
    /// K beyond one block (256): partial sums cross blocks; must still equal the reference exactly.
    @Test(arguments: [(7, 1000, 37), (1, 3072, 20), (13, 513, 16)])
    func longKMatchesTheReference(m: Int, k: Int, n: Int) throws {
        var g = SeededGenerator(seed: UInt64(k))
        let s = try OpSignature.linear(m: m, k: k, n: n)
        let wq = try QuantParams(scales: (0..<n).map { _ in Float.random(in: 0.001...0.01, using: &g) }, zeroPoints: [Int32](repeating: 0, count: n),
                                 granularity: .perChannel(axis: 0), dtype: .s8)
        let w = try Tensor((0..<(n * k)).map { _ in Int8.random(in: -128...127, using: &g) }, shape: s.weight, quantization: wq)
        let bias = try Tensor((0..<n).map { _ in Float.random(in: -3...3, using: &g) }, shape: TensorShape([n]))
        let c = OpConstants(weight: w, bias: bias, inputQuantization: try QuantParams(scale: 0.05, zeroPoint: 255, dtype: .u8),
                            outputQuantization: try QuantParams(scale: Float(k).squareRoot() * 0.4, zeroPoint: 100, dtype: .u8))
        let x = try Tensor((0..<(m * k)).map { _ in UInt8.random(in: 0...255, using: &g) }, shape: s.input)
        let cpu = CPUFeatures.host
        for threads in [1, 2] {
            var got = try Tensor(zeros: .u8, shape: try #require(s.outputShape)), want = got
            try PackedBackend().prepare(s, constants: c, context: PrepareContext(cpu: cpu, threads: threads)).run(inputs: [x], output: &got)
            try QNNPackReferenceBackend().prepare(s, constants: c, context: PrepareContext(cpu: cpu)).run(inputs: [x], output: &want)
            #expect(try got.scalars(as: UInt8.self) == want.scalars(as: UInt8.self), "\(m)x\(k)x\(n), \(threads) threads")
            let distinct = Set(try want.scalars(as: UInt8.self)).count
            #expect(distinct > 3, "outputs should not all saturate (\(distinct) distinct values)")
        }
    }
}

@Suite struct PackedDepthwiseTests {
    @Test(arguments: [(3, 1), (3, 2), (5, 1), (5, 2)])
    func depthwiseMatchesTheReference(kernel: Int, stride: Int) throws {
        var g = SeededGenerator(seed: UInt64(kernel * 10 + stride))
        let c = 19, pad = kernel / 2
        let s = OpSignature.convolution(input: try TensorShape([2, c, 17, 13]), weight: try TensorShape([c, 1, kernel, kernel]),
                                        geometry: ConvolutionGeometry(stride: (stride, stride), pads: (pad, pad, pad, pad), groups: c),
                                        postOps: [.relu])
        let wq = try QuantParams(scales: (0..<c).map { _ in Float.random(in: 0.005...0.02, using: &g) }, zeroPoints: [Int32](repeating: 0, count: c),
                                 granularity: .perChannel(axis: 0), dtype: .s8)
        let w = try Tensor((0..<s.weight.elementCount).map { _ in Int8.random(in: -128...127, using: &g) }, shape: s.weight, quantization: wq)
        let bias = try Tensor((0..<c).map { _ in Int32.random(in: -5000...5000, using: &g) }, shape: TensorShape([c]))
        let k = OpConstants(weight: w, bias: bias, inputQuantization: try QuantParams(scale: 0.03, zeroPoint: 7, dtype: .u8),
                            outputQuantization: try QuantParams(scale: 0.2, zeroPoint: 60, dtype: .u8))
        let x = try Tensor((0..<s.input.elementCount).map { _ in UInt8.random(in: 0...255, using: &g) }, shape: s.input)
        let cpu = CPUFeatures.host
        for threads in [1, 2] {
            let kernel = try PackedBackend().prepare(s, constants: k, context: PrepareContext(cpu: cpu, threads: threads))
            #expect(kernel.implementation == "u8s8s32-dwconv-nchw-scalar")
            var got = try Tensor(zeros: .u8, shape: try #require(s.outputShape)), want = got
            try kernel.run(inputs: [x], output: &got)
            try QNNPackReferenceBackend().prepare(s, constants: k, context: PrepareContext(cpu: cpu)).run(inputs: [x], output: &want)
            #expect(try got.scalars(as: UInt8.self) == want.scalars(as: UInt8.self))
        }
    }
}

@Suite struct PackedDynamicTests {
    @Test(arguments: [(1, 768, 64), (16, 300, 33), (5, 1, 7), (64, 256, 160), (200, 128, 96)])
    func dynamicLinearEqualsQuantizeThenReference(m: Int, k: Int, n: Int) throws {
        var g = SeededGenerator(seed: UInt64(m * 1000 + k))
        var s = try OpSignature.linear(m: m, k: k, n: n, types: OperandTypes(input: .f32, weight: .s8, precision: .int8), output: .f32)
        s.quantization = QuantizationScheme(dynamic: true)
        let wq = try QuantParams(scales: (0..<n).map { _ in Float.random(in: 0.002...0.01, using: &g) }, zeroPoints: [Int32](repeating: 0, count: n),
                                 granularity: .perChannel(axis: 0), dtype: .s8)
        let wValues = (0..<(n * k)).map { _ in Int8.random(in: -127...127, using: &g) }
        let w = try Tensor(wValues, shape: s.weight, quantization: wq)
        let biasValues = (0..<n).map { _ in Float.random(in: -1...1, using: &g) }
        let bias = try Tensor(biasValues, shape: TensorShape([n]))
        let xValues = (0..<(m * k)).map { _ in Float.random(in: -3...5, using: &g) }
        let x = try Tensor(xValues, shape: s.input)
        let cpu = CPUFeatures.host
        let kernel = try PackedBackend().prepare(s, constants: OpConstants(weight: w, bias: bias), context: PrepareContext(cpu: cpu, threads: 2))
        var got = try Tensor(zeros: .f32, shape: try #require(s.outputShape))
        try kernel.run(inputs: [x], output: &got)

        // Independently: choose parameters from the range, quantize, run the reference statically.
        let q = try QParamsSelection.choose(min: xValues.min() ?? 0, max: xValues.max() ?? 0, dtype: .u8)
        let xq = try AffineQuantization.quantize(x, with: q)
        var staticSig = try OpSignature.linear(m: m, k: k, n: n, output: .f32)
        staticSig.quantization = QuantizationScheme(inputZeroPoint: q.zeroPoint())
        var want = try Tensor(zeros: .f32, shape: try #require(staticSig.outputShape))
        try QNNPackReferenceBackend().prepare(staticSig, constants: OpConstants(weight: w, bias: bias, inputQuantization: q), context: PrepareContext(cpu: cpu))
            .run(inputs: [xq], output: &want)
        #expect(try got.scalars(as: Float.self) == want.scalars(as: Float.self))

        // And close to f32 arithmetic on the same (dequantized) weights: cosine ≥ 0.999.
        let yf = try got.scalars(as: Float.self)
        var dot = 0.0, n1 = 0.0, n2 = 0.0
        for i in 0..<m { for j in 0..<n {
            var r = Double(biasValues[j])
            for kk in 0..<k { r += Double(xValues[i * k + kk]) * Double(Float(wValues[j * k + kk]) * wq.scale(channel: j)) }
            dot += r * Double(yf[i * n + j]); n1 += r * r; n2 += Double(yf[i * n + j]) * Double(yf[i * n + j])
        } }
        #expect(dot / (n1.squareRoot() * n2.squareRoot()) >= 0.999)

        var bad = xValues
        bad[0] = .nan
        #expect(throws: PackedError.self) { try kernel.run(inputs: [try Tensor(bad, shape: s.input)], output: &got) }
    }
}
