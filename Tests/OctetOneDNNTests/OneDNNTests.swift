import OctetCore
import Testing
import COctetDNNLGlue
import Octet
import OctetConformance
import OctetOneDNN
import OctetQNNPack

/// scripts/test runs this suite twice: as the machine is, and with DNNL_MAX_CPU_ISA=AVX2,
/// which makes oneDNN use its saturating vpmaddubsw kernels even on a VNNI CPU.
@Suite struct OneDNNTests {
    let host = CPUFeatures.host
    var exact: Bool { OneDNNBackend.hasExactInt8(on: host) }

    /// INT8 conv, linear and matmul against qnnpack-ref, with coverage asserted (the
    /// backend must run most cases, not decline them). Without VNNI, on 7-bit activations.
    @Test func int8AgreesWithTheReference() {
        let report = Conformance.check(OneDNNBackend(), cpu: host, kinds: [.conv2d, .linear, .matmul], casesPerKind: 40, seed: 11,
                                       sevenBitActivations: !exact)
        for f in report.failures.prefix(5) { Issue.record("\(f)") }
        #expect(report.failures.isEmpty)
        #expect(report.tested[.conv2d, default: 0] >= 20, "conv cases run: \(report.tested), declined: \(report.declined)")
        #expect(report.tested[.linear, default: 0] >= 20, "linear cases run: \(report.tested)")
        #expect(report.tested[.matmul, default: 0] >= 10, "matmul cases run: \(report.tested)")
    }

    /// Full-range activations where oneDNN would saturate: declined when planning, refused
    /// at prepare, and a 7-bit kernel fed a value above 127 throws instead of answering.
    @Test func neverReturnsSaturatedResults() throws {
        let backend = OneDNNBackend()
        let conv = OpSignature.convolution(input: try TensorShape([1, 8, 6, 6]), weight: try TensorShape([8, 8, 3, 3]),
                                           geometry: ConvolutionGeometry(pads: (1, 1, 1, 1)))
        for name in ["zen3", "skylake-avx512", "generic-avx2"] {
            let cpu = try CPUFeatures.assumed(name)
            guard case let .declined(reason) = backend.capability(for: conv, on: cpu) else {
                Issue.record("accepted full-range u8 on \(name)")
                continue
            }
            #expect(reason.contains("vpmaddubsw") && reason.contains("reduce_range"))
            var reduced = conv
            reduced.quantization?.reduceRange = true
            #expect(backend.capability(for: reduced, on: cpu).isSupported, "\(name) with reduce_range")
        }
        #expect(backend.capability(for: conv, on: try CPUFeatures.assumed("cascade-lake")).isSupported)
        #expect(backend.capability(for: conv, on: try CPUFeatures.assumed("alder-lake")).isSupported) // AVX-VNNI is enough for oneDNN

        guard !exact else { return }
        // This process's oneDNN saturates: full range is refused, and the 7-bit promise is checked.
        let c = try ConformanceCases.random(.conv2d, seed: 3, sevenBitActivations: true)
        var full = c.signature
        full.quantization?.reduceRange = false
        #expect(throws: OneDNNError.self) { try backend.prepare(full, constants: c.constants, context: PrepareContext(cpu: host)) }
        let kernel = try backend.prepare(c.signature, constants: c.constants, context: PrepareContext(cpu: host))
        var input = c.inputs[0]
        try input.withUnsafeMutableBufferPointer(as: UInt8.self) { $0[0] = 200 }
        var out = try Tensor(zeros: c.signature.outputType, shape: try #require(c.signature.outputShape))
        #expect(throws: OneDNNError.self) { try kernel.run(inputs: [input], output: &out) }
    }

    /// One prepared kernel, many threads at once, each with its own input: every result
    /// must equal the reference's for that input.
    @Test func oneKernelRunsFromManyThreadsAtOnce() async throws {
        // The first generated conv with a u8 output that oneDNN runs.
        var found: ConformanceCase?
        for seed in 21..<200 as Range<UInt64> {
            let c = try ConformanceCases.random(.conv2d, seed: seed, sevenBitActivations: !exact)
            if c.signature.outputType == .u8, OneDNNBackend().capability(for: c.signature, on: host).isSupported { found = c; break }
        }
        let base = try #require(found)
        let s = base.signature
        let kernel = try OneDNNBackend().prepare(s, constants: base.constants, context: PrepareContext(cpu: host))
        let reference = try QNNPackReferenceBackend().prepare(s, constants: base.constants, context: PrepareContext(cpu: host))
        let shape = try #require(s.outputShape)
        let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
            for t in 0..<8 {
                group.addTask {
                    var g = SeededGenerator(seed: UInt64(t))
                    let limit: UInt8 = OneDNNBackend.hasExactInt8(on: CPUFeatures.host) ? 255 : 127
                    let x = try Tensor((0..<s.input.elementCount).map { _ in UInt8.random(in: 0...limit, using: &g) }, shape: s.input)
                    var mine = try Tensor(zeros: s.outputType, shape: shape), want = mine
                    var bad = 0
                    for _ in 0..<5 {
                        try kernel.run(inputs: [x], output: &mine)
                        try reference.run(inputs: [x], output: &want)
                        bad += try zip(mine.scalars(as: UInt8.self), want.scalars(as: UInt8.self)).filter { abs(Int($0) - Int($1)) > 1 }.count
                    }
                    return bad
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    @Test func fp32MatchesADirectComputation() throws {
        var g = SeededGenerator(seed: 5)
        let s = OpSignature.convolution(input: try TensorShape([2, 6, 9, 7]), weight: try TensorShape([10, 3, 3, 2]),
                                        geometry: ConvolutionGeometry(stride: (2, 1), pads: (1, 0, 1, 1), dilation: (1, 2), groups: 2),
                                        types: .f32, postOps: [.clip(min: -1, max: 1.5)])
        try s.validate()
        let x = (0..<s.input.elementCount).map { _ in Float.random(in: -1...1, using: &g) }
        let w = (0..<s.weight.elementCount).map { _ in Float.random(in: -1...1, using: &g) }
        let b = (0..<10).map { _ in Float.random(in: -1...1, using: &g) }
        let kernel = try OneDNNBackend().prepare(s, constants: OpConstants(weight: try Tensor(w, shape: s.weight), bias: try Tensor(b, shape: TensorShape([10]))),
                                                 context: PrepareContext(cpu: host, threads: 2))
        let shape = try #require(s.outputShape)
        var out = try Tensor(zeros: .f32, shape: shape)
        try kernel.run(inputs: [try Tensor(x, shape: s.input)], output: &out)
        let got = try out.scalars(as: Float.self)
        let (oh, ow) = (shape[2], shape[3])
        for n in 0..<2 { for o in 0..<10 { for y in 0..<oh { for xx in 0..<ow {
            var sum = Double(b[o]), mag = abs(Double(b[o]))
            for c in 0..<3 { for ky in 0..<3 { for kx in 0..<2 {
                let iy = y * 2 - 1 + ky, ix = xx - 0 + kx * 2
                guard iy >= 0, iy < 9, ix >= 0, ix < 7 else { continue }
                let p = Double(x[((n * 6 + (o / 5) * 3 + c) * 9 + iy) * 7 + ix]) * Double(w[((o * 3 + c) * 3 + ky) * 2 + kx])
                sum += p
                mag += abs(p)
            } } }
            let want = min(max(sum, -1), 1.5), i = ((n * 10 + o) * oh + y) * ow + xx
            #expect(abs(Double(got[i]) - want) <= 1e-4 * max(mag, 1), "element \(i): \(got[i]) vs \(want)")
        } } } }
        #expect(kernel.implementation != "")
    }
}
