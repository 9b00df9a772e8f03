import Testing
import OctetCore
import OctetCPU
import OctetDispatch
import OctetConformance
@testable import OctetFP16

/// Every kernel against a Double computation on weights rounded to fp16 by Swift's
/// `Float16`; the allowed error is f32 accumulation rounding, (K + 2)·2^-23·Σ|a·w|.
@Suite struct FP16KernelTests {
    /// The AVX2 kernel where this machine has it, and the portable one everywhere.
    static let cpus: [CPUFeatures] = {
        var list = [(try? CPUFeatures.assumed("sse4_2"))].compactMap { $0 }
        if CPUFeatures.host.hasAll([.avx2, .fma, .f16c]), let avx2 = try? CPUFeatures.assumed("generic-avx2") { list.append(avx2) }
        return list
    }()

    func random(_ n: Int, _ rng: inout SeededGenerator, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in (Float(rng.next() % 2_000_001) / 1_000_000 - 1) * scale }
    }

    func rounded(_ w: [Float]) -> [Double] { w.map { Double(Float(Float16($0))) } }

    func expectClose(_ got: [Float], _ want: [Double], _ magnitude: [Double], k: Int, _ what: String) {
        #expect(got.count == want.count)
        for i in want.indices {
            let tol = Double(k + 2) * 0x1p-23 * magnitude[i] + 1e-30
            if abs(Double(got[i]) - want[i]) > tol {
                Issue.record("\(what): element \(i): got \(got[i]), want \(want[i]) (tolerance \(tol))")
                return
            }
        }
    }

    func prepare(_ s: OpSignature, weight: Tensor, bias: Tensor? = nil, cpu: CPUFeatures, threads: Int = 1) throws -> any Kernel {
        try FP16Backend().prepare(s, constants: OpConstants(weight: weight, bias: bias), context: PrepareContext(cpu: cpu, threads: threads))
    }

    @Test(arguments: [(1, 1, 1), (1, 7, 17), (2, 31, 15), (5, 97, 16), (6, 3, 33), (7, 300, 40), (13, 513, 3), (64, 64, 64)])
    func linearOddShapes(m: Int, k: Int, n: Int) throws {
        var rng = SeededGenerator(seed: UInt64(m * 1_000_003 + k * 1009 + n))
        let a = random(m * k, &rng), w = random(n * k, &rng), bias = random(n, &rng)
        let w16 = rounded(w)
        var want = [Double](repeating: 0, count: m * n), mag = want
        for i in 0..<m {
            for j in 0..<n {
                var s = Double(bias[j]), t = abs(Double(bias[j]))
                for kk in 0..<k {
                    s += Double(a[i * k + kk]) * w16[j * k + kk]
                    t += abs(Double(a[i * k + kk]) * w16[j * k + kk])
                }
                want[i * n + j] = s
                mag[i * n + j] = t
            }
        }
        let s = try OpSignature.linear(m: m, k: k, n: n, types: .f16)
        for cpu in Self.cpus {
            for threads in [1, 2] {
                let kernel = try prepare(s, weight: try Tensor(w, shape: TensorShape([n, k])), bias: try Tensor(bias, shape: TensorShape([n])), cpu: cpu, threads: threads)
                var out = try Tensor(zeros: .f32, shape: TensorShape([m, n]))
                try kernel.run(inputs: [try Tensor(a, shape: TensorShape([m, k]))], output: &out)
                expectClose(try out.scalars(), want, mag, k: k, "\(kernel.implementation) \(threads)T \(m)x\(k)x\(n)")
            }
        }
    }

    @Test func reluAndClipAreFused() throws {
        var rng = SeededGenerator(seed: 7)
        let (m, k, n) = (3, 20, 19)
        let a = random(m * k, &rng), w = random(n * k, &rng)
        let w16 = rounded(w)
        for (post, lo, hi) in [([PostOp.relu], 0.0, Double.infinity), ([.clip(min: -0.5, max: 0.25)], -0.5, 0.25)] {
            let s = try OpSignature.linear(m: m, k: k, n: n, types: .f16, postOps: post)
            for cpu in Self.cpus {
                let kernel = try prepare(s, weight: try Tensor(w, shape: TensorShape([n, k])), cpu: cpu)
                var out = try Tensor(zeros: .f32, shape: TensorShape([m, n]))
                try kernel.run(inputs: [try Tensor(a, shape: TensorShape([m, k]))], output: &out)
                var want: [Double] = [], mag: [Double] = []
                for i in 0..<m {
                    for j in 0..<n {
                        let dot = (0..<k).reduce(0.0) { $0 + Double(a[i * k + $1]) * w16[j * k + $1] }
                        want.append(min(max(dot, lo), hi))
                        mag.append((0..<k).reduce(0.0) { $0 + abs(Double(a[i * k + $1]) * w16[j * k + $1]) })
                    }
                }
                expectClose(try out.scalars(), want, mag, k: k, "\(post) \(kernel.implementation)")
            }
        }
    }

    @Test func batchedMatmulWithPerBatchAndSharedWeights() throws {
        var rng = SeededGenerator(seed: 11)
        let (batch, m, k, n) = (3, 5, 37, 21)
        let a = random(batch * m * k, &rng)
        for shared in [false, true] {
            let wb = shared ? 1 : batch
            let w = random(wb * k * n, &rng)
            let w16 = rounded(w)
            let wShape = try TensorShape(shared ? [k, n] : [batch, k, n])
            let s = OpSignature(kind: .matmul, precision: .fp16, inputType: .f32, weightType: .f16, outputType: .f32,
                                input: try TensorShape([batch, m, k]), weight: wShape)
            for cpu in Self.cpus {
                let kernel = try prepare(s, weight: try Tensor(w, shape: wShape), cpu: cpu, threads: 2)
                var out = try Tensor(zeros: .f32, shape: TensorShape([batch, m, n]))
                try kernel.run(inputs: [try Tensor(a, shape: TensorShape([batch, m, k]))], output: &out)
                var want: [Double] = [], mag: [Double] = []
                for b in 0..<batch {
                    let wo = shared ? 0 : b * k * n
                    for i in 0..<m {
                        for j in 0..<n {
                            var s = 0.0, t = 0.0
                            for kk in 0..<k {
                                let p = Double(a[(b * m + i) * k + kk]) * w16[wo + kk * n + j]
                                s += p
                                t += abs(p)
                            }
                            want.append(s)
                            mag.append(t)
                        }
                    }
                }
                expectClose(try out.scalars(), want, mag, k: k, "matmul shared=\(shared) \(kernel.implementation)")
            }
        }
    }

    struct ConvCase: Sendable, CustomTestStringConvertible {
        var n = 1, c = 3, h = 9, w = 7, oc = 4, kh = 3, kw = 3
        var stride = (1, 1), pads = (1, 1, 1, 1), dilation = (1, 1), groups = 1
        var testDescription: String { "\(n)x\(c)x\(h)x\(w) oc\(oc) k\(kh)x\(kw) s\(stride) p\(pads) d\(dilation) g\(groups)" }
    }

    @Test(arguments: [
        ConvCase(),
        ConvCase(n: 2, c: 8, h: 10, w: 10, oc: 6, kh: 1, kw: 1, pads: (0, 0, 0, 0)),
        ConvCase(c: 16, h: 11, w: 8, oc: 16, stride: (2, 2), groups: 16),            // depthwise, stride 2
        ConvCase(c: 6, h: 12, w: 12, oc: 9, kh: 5, kw: 3, stride: (2, 1), pads: (2, 1, 0, 1), dilation: (1, 2), groups: 3),
        ConvCase(c: 17, h: 5, w: 6, oc: 33, kh: 3, kw: 3, pads: (0, 0, 0, 0)),
    ])
    func convolutionMatchesADirectComputation(_ t: ConvCase) throws {
        var rng = SeededGenerator(seed: UInt64(t.c * 131 + t.oc * 7 + t.groups))
        let geometry = ConvolutionGeometry(stride: t.stride, pads: t.pads, dilation: t.dilation, groups: t.groups)
        let s = OpSignature.convolution(input: try TensorShape([t.n, t.c, t.h, t.w]), weight: try TensorShape([t.oc, t.c / t.groups, t.kh, t.kw]),
                                        geometry: geometry, types: .f16, postOps: [.relu])
        try s.validate()
        let (oh, ow) = try #require(s.outputSpatial)
        let x = random(t.n * t.c * t.h * t.w, &rng), w = random(s.weight.elementCount, &rng), bias = random(t.oc, &rng)
        let w16 = rounded(w)
        let cg = t.c / t.groups, ocg = t.oc / t.groups
        var want: [Double] = [], mag: [Double] = []
        for n in 0..<t.n {
            for o in 0..<t.oc {
                let g = o / ocg
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var sum = Double(bias[o]), m = abs(Double(bias[o]))
                        for c in 0..<cg {
                            for ky in 0..<t.kh {
                                for kx in 0..<t.kw {
                                    let iy = oy * t.stride.0 - t.pads.0 + ky * t.dilation.0
                                    let ix = ox * t.stride.1 - t.pads.1 + kx * t.dilation.1
                                    guard iy >= 0, iy < t.h, ix >= 0, ix < t.w else { continue }
                                    let p = Double(x[((n * t.c + g * cg + c) * t.h + iy) * t.w + ix]) * w16[((o * cg + c) * t.kh + ky) * t.kw + kx]
                                    sum += p
                                    m += abs(p)
                                }
                            }
                        }
                        want.append(max(sum, 0))
                        mag.append(m)
                    }
                }
            }
        }
        for cpu in Self.cpus {
            let kernel = try prepare(s, weight: try Tensor(w, shape: s.weight), bias: try Tensor(bias, shape: TensorShape([t.oc])), cpu: cpu, threads: 2)
            var out = try Tensor(zeros: .f32, shape: TensorShape([t.n, t.oc, oh, ow]))
            try kernel.run(inputs: [try Tensor(x, shape: s.input)], output: &out)
            expectClose(try out.scalars(), want, mag, k: cg * t.kh * t.kw + 1, "\(t.testDescription) \(kernel.implementation)")
        }
    }

    @Test func weightsGivenAsF16AreUsedBitForBit() throws {
        var rng = SeededGenerator(seed: 3)
        let (m, k, n) = (2, 9, 5)
        let a = random(m * k, &rng), w = random(n * k, &rng)
        let halves = w.map { Float16($0) }
        let s = try OpSignature.linear(m: m, k: k, n: n, types: .f16)
        let fromF32 = try prepare(s, weight: try Tensor(w, shape: TensorShape([n, k])), cpu: Self.cpus[0])
        let fromF16 = try prepare(s, weight: try Tensor(halves, shape: TensorShape([n, k])), cpu: Self.cpus[0])
        var o1 = try Tensor(zeros: .f32, shape: TensorShape([m, n])), o2 = o1
        let input = try Tensor(a, shape: TensorShape([m, k]))
        try fromF32.run(inputs: [input], output: &o1)
        try fromF16.run(inputs: [input], output: &o2)
        #expect(try o1.scalars(as: Float.self) == o2.scalars(as: Float.self))
    }

    @Test func overflowingWeightsAreReportedByNameAndCount() throws {
        let w: [Float] = [1, 70000, -2, -1e6, 0.5, 1e-9]
        let s = try OpSignature.linear(m: 1, k: 3, n: 2, types: .f16, label: "fc1")
        let kernel = try prepare(s, weight: try Tensor(w, shape: TensorShape([2, 3])), cpu: Self.cpus[0])
        #expect(kernel.warnings.contains("weight 'fc1': 2 of 6 values are beyond fp16's range (±65504) and became ±Inf"))
        #expect(kernel.warnings.contains { $0.contains("1 of 6 non-zero values") })
    }

    @Test func refusesWhatItCannotRun() throws {
        let backend = FP16Backend()
        let cpu = try CPUFeatures.assumed("zen3")
        #expect(!backend.capability(for: try .linear(m: 1, k: 4, n: 4), on: cpu).isSupported)          // int8
        #expect(!backend.capability(for: try .linear(m: 1, k: 4, n: 4, types: .f32), on: cpu).isSupported) // fp32
        let transposed = OpSignature.convolution(input: try TensorShape([1, 4, 4, 4]), weight: try TensorShape([4, 4, 3, 3]), transposed: true, types: .f16)
        #expect(backend.capability(for: transposed, on: cpu) == .declined(reason: "no fp16 kernel for conv_transpose2d"))
        #expect(backend.capability(for: try .linear(m: 1, k: 4, n: 4, types: .f16), on: cpu) == .supported(kernel: "avx2+fma+f16c 6x16", notes: ["weights in binary16 (round to nearest even), f32 accumulation"]))
        #expect(backend.capability(for: try .linear(m: 1, k: 4, n: 4, types: .f16), on: try CPUFeatures.assumed("neoverse-n1")) == .supported(kernel: "scalar 6x16", notes: ["weights in binary16 (round to nearest even), f32 accumulation"]))

        let kernel = try prepare(try .linear(m: 2, k: 4, n: 3, types: .f16), weight: try Tensor([Float](repeating: 1, count: 12), shape: TensorShape([3, 4])), cpu: cpu)
        var out = try Tensor(zeros: .f32, shape: TensorShape([2, 3]))
        #expect(throws: FP16BackendError.self) { try kernel.run(inputs: [try Tensor([Float](repeating: 1, count: 10), shape: TensorShape([2, 5]))], output: &out) }
        var wrongOut = try Tensor(zeros: .f32, shape: TensorShape([2, 4]))
        #expect(throws: FP16BackendError.self) { try kernel.run(inputs: [try Tensor([Float](repeating: 1, count: 8), shape: TensorShape([2, 4]))], output: &wrongOut) }
        #expect(throws: FP16BackendError.self) { try kernel.run(inputs: [], output: &out) }
        #expect(throws: FP16BackendError.self) {
            try prepare(try .linear(m: 2, k: 4, n: 3, types: .f16), weight: try Tensor([Float](repeating: 1, count: 12), shape: TensorShape([4, 3])), cpu: cpu)
        }
    }

    @Test func aPlanForAnAVX2CPUNeverRunsAVX2OnAMachineWithout() throws {
        let kernel = try prepare(try .linear(m: 1, k: 4, n: 4, types: .f16), weight: try Tensor([Float](repeating: 1, count: 16), shape: TensorShape([4, 4])),
                                 cpu: try CPUFeatures.assumed("sapphire-rapids"))
        let hostHasAVX2 = CPUFeatures.host.hasAll([.avx2, .fma, .f16c])
        #expect(kernel.implementation == (hostHasAVX2 ? "avx2+fma+f16c 6x16" : "scalar 6x16"))
    }
}
