import COctetPackedKernels
import Octet
import OctetConformance
import OctetCore
import OctetPacked
import OctetQNNPack
import Testing

/// Per-token (per-row) dynamic quantization in the packed dynamic linear, against the
/// independent `qnnpack-ref` loops, on every ISA this machine can run and capped to scalar.
@Suite struct PackedPerTokenTests {
    /// The host capped at each packed ISA level it reaches (portable C, as `OCTET_MAX_ISA=scalar`
    /// does; AVX2; AVX-VNNI; AVX-512 VNNI).
    static var cpus: [CPUFeatures] { HostISAs.cpus }

    /// Bit for bit (tolerance 0) against the reference, per row and per tensor, 1 and 2 threads.
    @Test(arguments: [false, true])
    func equalsTheReferenceExactly(perRow: Bool) throws {
        for cpu in Self.cpus {
            for threads in [1, 2] {
                let report = Conformance.checkDynamic(PackedBackend(), cpu: cpu, perRowActivations: perRow, cases: 60, seed: 5 + UInt64(threads), threads: threads)
                for f in report.failures.prefix(5) { Issue.record("\(cpu.features.count) features: \(f)") }
                #expect(report.failures.isEmpty)
                #expect(report.tested[.linear, default: 0] == 60, "declined \(report.declined)")
            }
        }
    }

    /// u8 weights with a zero point (ONNX Runtime's QUInt8 `quantize_dynamic`), prepared as s8
    /// by subtracting 128 from weights and zero point: still bit for bit.
    @Test(arguments: [false, true])
    func unsignedWeightsEqualTheReferenceExactly(perRow: Bool) throws {
        for cpu in Self.cpus {
            let report = Conformance.checkDynamic(PackedBackend(), cpu: cpu, perRowActivations: perRow, cases: 40, seed: 41, threads: 2, unsignedWeights: true)
            for f in report.failures.prefix(5) { Issue.record("\(cpu.features.count) features: \(f)") }
            #expect(report.failures.isEmpty)
            #expect(report.tested[.linear, default: 0] == 40, "declined \(report.declined)")
        }
    }

    /// The kernel's name says per-token and the ISA it runs.
    @Test func kernelNames() throws {
        let c = try ConformanceCases.dynamicLinear(seed: 3, perRowActivations: true)
        let scalar = try PackedBackend().prepare(c.signature, constants: c.constants, context: PrepareContext(cpu: CPUFeatures.host.capped(at: .scalar)))
        #expect(scalar.implementation == "f32u8s8-dqgemm-pertoken-6x16-scalar")
        if CPUFeatures.host.hasAll([.avx2, .fma]) {
            let avx2 = try PackedBackend().prepare(c.signature, constants: c.constants, context: PrepareContext(cpu: CPUFeatures.host.capped(at: .avx2)))
            #expect(avx2.implementation == "f32u8s8-dqgemm-pertoken-6x16-avx2")
        }
        // Planned (not prepared) for VNNI CPUs: the k-quad kernels with full 8-bit codes.
        if case let .supported(kernel, _) = PackedBackend().capability(for: c.signature, on: try CPUFeatures.assumed("zen4")) {
            #expect(kernel == "f32u8s8-dqgemm-pertoken-8x32c4-avx512vnni")
        } else {
            Issue.record("declined on zen4")
        }
        if case let .supported(kernel, _) = PackedBackend().capability(for: c.signature, on: try CPUFeatures.assumed("alder-lake")) {
            #expect(kernel == "f32u8s8-dqgemm-pertoken-6x16c4-avxvnni")
        } else {
            Issue.record("declined on alder-lake")
        }
    }

    /// A zero row gets a positive scale and gives exactly the bias; PyTorch's parameters for
    /// degenerate ranges.
    @Test func constantRowsKeepAPositiveScale() throws {
        var scale: Float = 0, zp: Int32 = -1
        octet_packed_dynamic_parameters(0, 0, &scale, &zp)
        #expect(scale > 0 && zp == 0)
        octet_packed_dynamic_parameters(-4, -2, &scale, &zp)
        #expect(scale == Float(4) / 255 && zp == 255)
        octet_packed_dynamic_parameters(3, 3, &scale, &zp)
        #expect(scale == Float(3) / 255 && zp == 0)

        let (m, k, n) = (3, 20, 5)
        var s = try OpSignature.linear(m: m, k: k, n: n, types: OperandTypes(input: .f32, weight: .s8, precision: .int8), output: .f32)
        s.quantization = QuantizationScheme(dynamic: true, perRowActivations: true)
        let wq = try QuantParams(scales: [0.01], zeroPoints: [0], granularity: .perTensor, dtype: .s8)
        let w = try Tensor((0..<(n * k)).map { Int8(truncatingIfNeeded: $0 * 37) }, shape: s.weight, quantization: wq)
        let biasValues: [Float] = [0.5, -1, 2, 0, 3.25]
        let x: [Float] = [Float](repeating: 0, count: k) + (0..<k).map { Float($0) - 7 } + [Float](repeating: 0, count: k)
        for cpu in Self.cpus {
            let kernel = try PackedBackend().prepare(s, constants: OpConstants(weight: w, bias: try Tensor(biasValues, shape: TensorShape([n]))),
                                                     context: PrepareContext(cpu: cpu))
            var y = try Tensor(zeros: .f32, shape: try #require(s.outputShape))
            try kernel.run(inputs: [try Tensor(x, shape: s.input)], output: &y)
            let v = try y.scalars(as: Float.self)
            let first = Array(v[0..<n]), last = Array(v[(2 * n)...])
            #expect(first == biasValues && last == biasValues)
            let finite = v.allSatisfy { $0.isFinite }
            #expect(finite)
        }
    }

    /// NaN or an infinity in any row fails the call, per row as per tensor.
    @Test func nonFiniteRowsFail() throws {
        for perRow in [false, true] {
            let c = try ConformanceCases.dynamicLinear(seed: 11, perRowActivations: perRow)
            for cpu in Self.cpus {
                let kernel = try PackedBackend().prepare(c.signature, constants: c.constants, context: PrepareContext(cpu: cpu, threads: 2))
                var x = try c.inputs[0].scalars(as: Float.self)
                x[x.count - 1] = .infinity
                var y = try Tensor(zeros: .f32, shape: try #require(c.signature.outputShape))
                #expect(throws: PackedError.self) { try kernel.run(inputs: [try Tensor(x, shape: c.signature.input)], output: &y) }
            }
        }
    }

    /// With rows of very different magnitudes (as transformer tokens have), per-row scales are
    /// closer to the f64 product of the same weights than one scale for the tensor.
    @Test func perRowIsMoreAccurateOnUnevenRows() throws {
        let (m, k, n) = (8, 96, 24)
        var g = SeededGenerator(seed: 99)
        let wq = try QuantParams(scales: (0..<n).map { _ in Float.random(in: 0.002...0.01, using: &g) }, zeroPoints: [Int32](repeating: 0, count: n),
                                 granularity: .perChannel(axis: 0), dtype: .s8)
        let wv = (0..<(n * k)).map { _ in Int8.random(in: -127...127, using: &g) }
        let x: [Float] = (0..<m).flatMap { i in (0..<k).map { _ in Float.random(in: -1...1, using: &g) * (i == 0 ? 200 : 0.5) } }
        var want = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for kk in 0..<k { want[i * n + j] += Double(x[i * k + kk]) * Double(wv[j * k + kk]) * Double(wq.scales[j]) } } }
        var errors: [Double] = []
        for perRow in [false, true] {
            var s = try OpSignature.linear(m: m, k: k, n: n, types: OperandTypes(input: .f32, weight: .s8, precision: .int8), output: .f32)
            s.quantization = QuantizationScheme(dynamic: true, perRowActivations: perRow)
            let kernel = try PackedBackend().prepare(s, constants: OpConstants(weight: try Tensor(wv, shape: s.weight, quantization: wq)), context: PrepareContext(cpu: .host))
            var y = try Tensor(zeros: .f32, shape: try #require(s.outputShape))
            try kernel.run(inputs: [try Tensor(x, shape: s.input)], output: &y)
            let v = try y.scalars(as: Float.self)
            // Error of the small-magnitude rows (1...), relative to their size.
            var e = 0.0, size = 0.0
            for i in n..<(m * n) { e += (Double(v[i]) - want[i]) * (Double(v[i]) - want[i]); size += want[i] * want[i] }
            errors.append((e / size).squareRoot())
        }
        #expect(errors[1] < errors[0] / 10, "relative error per tensor \(errors[0]), per row \(errors[1])")
    }
}

/// 7-bit dynamic activations (`reduce_range`, planned on AVX2 without VNNI): codes [0, 127]
/// packed in k-quads for the `u7s8s32-gemm-6x16c4` kernels, bit for bit against the
/// reference computing the same 7-bit quantization with plain loops; natively and capped to
/// the portable kernels; shapes that split over several workers too.
@Suite struct PackedSevenBitDynamicTests {
    @Test(arguments: [false, true])
    func equalsTheReferenceExactly(perRow: Bool) throws {
        for cpu in PackedPerTokenTests.cpus {
            for threads in [1, 2] {
                let report = Conformance.checkDynamic(PackedBackend(), cpu: cpu, perRowActivations: perRow, cases: 40, seed: 41 + UInt64(threads),
                                                      threads: threads, sevenBit: true)
                for f in report.failures.prefix(5) { Issue.record("\(cpu.features.count) features: \(f)") }
                #expect(report.failures.isEmpty)
                #expect(report.tested[.linear, default: 0] == 40, "declined \(report.declined)")
            }
        }
    }

    /// BERT-like and odd shapes large enough for two workers (shared packing, column splits),
    /// 8-bit and 7-bit, per tensor and per token.
    @Test(arguments: [(128, 768, 200), (97, 333, 1001), (1, 1000, 2100), (300, 1500, 45)])
    func largeShapesOnTwoWorkers(shape: (Int, Int, Int)) throws {
        for cpu in PackedPerTokenTests.cpus {
            for sevenBit in [false, true] {
                for perRow in [false, true] {
                    let report = Conformance.checkDynamic(PackedBackend(), cpu: cpu, perRowActivations: perRow, cases: 1, seed: 7, threads: 2,
                                                          sevenBit: sevenBit, shape: (shape.0, shape.1, shape.2))
                    for f in report.failures.prefix(3) { Issue.record("\(shape) 7-bit \(sevenBit) per-row \(perRow): \(f)") }
                    #expect(report.failures.isEmpty && report.tested[.linear, default: 0] == 1)
                }
            }
        }
    }

    /// The kernel's name says 7 bits and k-quads; the portable form keeps the same numerics.
    @Test func kernelNames() throws {
        var c = try ConformanceCases.dynamicLinear(seed: 3, perRowActivations: true, sevenBit: true)
        let scalar = try PackedBackend().prepare(c.signature, constants: c.constants, context: PrepareContext(cpu: CPUFeatures.host.capped(at: .scalar)))
        #expect(scalar.implementation == "f32u7s8-dqgemm-pertoken-6x16c4-scalar")
        c.signature.quantization?.perRowActivations = false
        if CPUFeatures.host.hasAll([.avx2, .fma]) {
            let avx2 = try PackedBackend().prepare(c.signature, constants: c.constants, context: PrepareContext(cpu: CPUFeatures.host.capped(at: .avx2)))
            #expect(avx2.implementation == "f32u7s8-dqgemm-6x16c4-avx2")
        }
        // A 7-bit signature planned for a VNNI CPU keeps its 7-bit codes on the VNNI kernel.
        if case let .supported(kernel, _) = PackedBackend().capability(for: c.signature, on: try CPUFeatures.assumed("zen4")) {
            #expect(kernel == "f32u7s8-dqgemm-8x32c4-avx512vnni")
        } else {
            Issue.record("declined on zen4")
        }
    }
}
