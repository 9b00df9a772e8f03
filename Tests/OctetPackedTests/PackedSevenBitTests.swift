import COctetPackedKernels
import Octet
import OctetConformance
import OctetCore
import OctetDispatch
import OctetPacked
import OctetQNNPack
import Testing

/// The 7-bit kernel (`u7s8s32-gemm-6x16c4-avx2`, vpmaddubsw): chosen only for `reduce_range`
/// signatures on AVX2, exact against the reference there, and refusing activations above 127.
@Suite struct PackedSevenBitTests {
    @Test(arguments: [false, true])
    func equalsTheReferenceOnSevenBitCases(channelsLast: Bool) throws {
        for cpu in HostISAs.cpus {
            for threads in [1, 2] {
                let report = Conformance.check(PackedBackend(), cpu: cpu, kinds: channelsLast ? [.conv2d] : [.linear, .matmul, .conv2d], casesPerKind: 50,
                                               seed: 71 + UInt64(threads), tolerance: 0, sevenBitActivations: true, channelsLast: channelsLast, threads: threads)
                for f in report.failures.prefix(5) { Issue.record("\(f)") }
                #expect(report.failures.isEmpty)
                #expect(report.tested[.conv2d, default: 0] >= 30, "coverage \(report.tested), declined \(report.declined)")
            }
        }
    }

    @Test func namesTheSevenBitKernel() throws {
        var s = try OpSignature.linear(m: 4, k: 64, n: 32)
        s.quantization?.reduceRange = true
        guard case let .supported(kernel, notes) = PackedBackend().capability(for: s, on: try CPUFeatures.assumed("zen3")) else {
            Issue.record("declined")
            return
        }
        #expect(kernel == "u7s8s32-gemm-6x16c4-avx2")
        #expect(notes.first?.contains("7-bit") == true)
        #expect(PackedBackend().capability(for: s, on: try CPUFeatures.assumed("neoverse-n1")).isSupported)
        if case let .supported(scalar, _) = PackedBackend().capability(for: s, on: try CPUFeatures.assumed("neoverse-n1")) {
            #expect(scalar == "u8s8s32-gemm-6x16-scalar", "the portable path keeps the exact s16-pair form")
        }
    }

    /// Raw accumulators of every ISA the host runs against Int64 sums, including all-extreme 7-bit operands
    /// (127 · −128, the largest pair magnitude) and long K.
    @Test(arguments: [(1, 1, 1), (3, 5, 17), (6, 64, 16), (7, 131, 33), (13, 4608, 20)])
    func sevenBitAccumulatorsAreExact(m: Int, k: Int, n: Int) throws {
        try Self.checkQuadAccumulators(m: m, k: k, n: n, activationMax: 127, isas: HostISAs.all, seed: UInt64(m * 31 + k))
    }

    /// The VNNI k-quad kernels (`vpdpbusd`) on the same layouts with full-range activations,
    /// all-extreme operands (255 · −128 in every product) and K up to 4608, against Int64 sums;
    /// the portable form too (it is exact for any u8). Tiles of 1 to 8 rows and 1 or 2 panels.
    @Test(arguments: [(1, 1, 1), (3, 5, 17), (8, 64, 32), (9, 131, 48), (13, 4608, 20), (17, 300, 70)])
    func fullRangeQuadAccumulatorsAreExact(m: Int, k: Int, n: Int) throws {
        // The AVX2 k-quad kernel (AVX-512BW's too) is the 7-bit one.
        let exact = HostISAs.all.filter { $0 != OCTET_PACKED_AVX2 && $0 != OCTET_PACKED_AVX512BW }
        try Self.checkQuadAccumulators(m: m, k: k, n: n, activationMax: 255, isas: exact, seed: UInt64(m * 17 + k))
    }

    /// Packs random (then all-extreme: `activationMax` · −128) operands in k-quads and checks the
    /// raw accumulators of every ISA in `isas` against Int64 sums, and the packing's row sums
    /// and 7-bit report.
    static func checkQuadAccumulators(m: Int, k: Int, n: Int, activationMax: UInt8, isas: [octet_packed_isa], seed: UInt64) throws {
        var g = SeededGenerator(seed: seed)
        for extreme in [false, true] {
            let a: [UInt8] = (0..<(m * k)).map { _ in extreme ? activationMax : UInt8.random(in: 0...activationMax, using: &g) }
            let b: [Int8] = (0..<(k * n)).map { _ in extreme ? -128 : Int8.random(in: -128...127, using: &g) }
            var want = [Int64](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { for kk in 0..<k { want[i * n + j] += Int64(a[i * k + kk]) * Int64(b[kk * n + j]) } } }
            let k4 = (k + 3) / 4, panels = (n + 15) / 16
            var pa = [Int32](repeating: 0, count: m * k4), rows = [Int32](repeating: 0, count: m), cols = [Int32](repeating: 0, count: n)
            // 64-byte aligned panels (the AVX-512 kernel loads whole zmm).
            let aligned = UnsafeMutablePointer<Int32>.allocate(capacity: panels * k4 * 16 + 16)
            defer { aligned.deallocate() }
            let panelBase = aligned + (16 - (Int(bitPattern: aligned) / 4) % 16) % 16
            let high = a.withUnsafeBufferPointer { ap in
                var source = octet_packed_a_source(x: ap.baseAddress, xf: nil, lda: k, offsets: nil, taps: 0, channels: 0, zero: nil, inv_scale: 0, zero_point: 0, row_scales: nil, row_zero_points: nil)
                return octet_packed_pack_a_c4(&source, 0, m, k, &pa, &rows, nil)
            }
            #expect((high != 0) == a.contains { $0 > 127 }, "the packing reports values above 127")
            octet_packed_pack_b_s8_c4(k, n, b, 1, n, panelBase, &cols)
            #expect(rows == (0..<m).map { i in Int32((0..<k).reduce(0) { $0 + Int(a[i * k + $1]) }) })
            for isa in isas {
                var c = [Int32](repeating: 0, count: m * n)
                octet_packed_gemm_c4_s32(isa, m, n, k, pa, panelBase, &c, n)
                #expect(c.map(Int64.init) == want, "isa \(isa.rawValue) \(m)x\(k)x\(n) extreme=\(extreme)")
            }
        }
    }

    @Test func refusesActivationsAboveSevenBits() throws {
        var s = try OpSignature.linear(m: 3, k: 40, n: 24)
        s.quantization?.reduceRange = true
        let wq = try QuantParams(scale: 0.01, zeroPoint: 0, dtype: .s8)
        let w = try Tensor([Int8](repeating: 3, count: 24 * 40), shape: s.weight, quantization: wq)
        let c = OpConstants(weight: w, inputQuantization: try QuantParams(scale: 0.02, zeroPoint: 10, dtype: .u8, reduceRange: true),
                            outputQuantization: try QuantParams(scale: 0.5, zeroPoint: 128, dtype: .u8))
        for cpu in HostISAs.cpus {
            let kernel = try PackedBackend().prepare(s, constants: c, context: PrepareContext(cpu: cpu, threads: 2))
            var out = try Tensor(zeros: .u8, shape: try #require(s.outputShape))
            var values = [UInt8](repeating: 100, count: 3 * 40)
            try kernel.run(inputs: [try Tensor(values, shape: s.input)], output: &out)
            values[77] = 200
            if kernel.implementation.hasPrefix("u7") {
                #expect(throws: PackedError.self) { try kernel.run(inputs: [try Tensor(values, shape: s.input)], output: &out) }
            } else {
                // The s16-pair form and the VNNI k-quad kernels are exact for any u8.
                try kernel.run(inputs: [try Tensor(values, shape: s.input)], output: &out)
            }
        }
    }
}
