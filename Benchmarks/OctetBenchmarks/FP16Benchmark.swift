import ArgumentParser
import CDNNL
import COctetFP16Kernels
import OctetCPU
import OctetCore
import OctetFP16

/// fp16-weight linear vs fp32: the same micro-kernel on f32 panels, and oneDNN's sgemm.
struct FP16Benchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fp16",
        abstract: "Linear layers with fp16 weights vs fp32 (BERT-base and a 4096-wide MLP), batch 1 and 16, 1 and 2 threads."
    )

    @Option(help: "Interleaved timing rounds per configuration (the median is reported).") var rounds = 7
    @Option(help: "Seconds each variant runs per round.") var seconds = 0.05
    @Flag(help: "Reuse one weight matrix (cache-resident) instead of cycling through copies larger than the L3 cache.") var hot = false
    @Option(help: "Comma-separated batch sizes (M).") var batches = "1,16"
    @Option(help: "Comma-separated thread counts.") var threads = "1,2"
    @Option(help: "Kernel: best (what this machine can run) or scalar (the portable fallback).") var isa = "best"

    func run() throws {
        let cpu = CPUFeatures.host
        let l3 = cpu.caches.l3 ?? 32 << 20
        guard isa == "best" || isa == "scalar" else { throw ValidationError("--isa: expected best or scalar") }
        let isa = self.isa == "scalar" ? OCTET_FP16_SCALAR : FP16ISA_host()
        reportConversion(isa: FP16ISA_host())
        print("cpu: \(cpu.model); L3 \(l3 >> 20) MiB; fp16 kernel: \(isa == OCTET_FP16_AVX2 ? "avx2+fma+f16c" : "scalar"); weights: \(hot ? "hot (one copy)" : "cold (copies cycled, > 3x L3 in all)")")
        print("times are medians of \(rounds) interleaved rounds, µs per call; speedup = fp32 time / fp16 time\n")
        let shapes: [(String, Int, Int)] = [("bert qkv/out", 768, 768), ("bert ffn up", 3072, 768), ("bert ffn down", 768, 3072), ("mlp 4096", 4096, 4096)]
        print([cell("layer", 14), cell("M", 3), cell("N", 5), cell("K", 5), cell("T", 2), cell("w f32 MB", 9), cell("w f16 MB", 9),
               cell("fp16 µs", 9), cell("f32 µs", 9), cell("dnnl µs", 9), cell("vs f32", 7), cell("vs dnnl", 8), cell("fp16 GF/s", 10)].joined(separator: " "))
        for (name, n, k) in shapes {
            for m in batches.split(separator: ",").compactMap({ Int($0) }) {
                for t in threads.split(separator: ",").compactMap({ Int($0) }) {
                    let r = try measure(n: n, k: k, m: m, threads: t, l3: l3, isa: isa)
                    print([cell(name, 14), cell("\(m)", 3), cell("\(n)", 5), cell("\(k)", 5), cell("\(t)", 2),
                           cell(fixed(Double(n * k * 4) / 1e6, 1), 9), cell(fixed(Double(n * k * 2) / 1e6, 1), 9),
                           cell(fixed(r[0] * 1e6, 1), 9), cell(fixed(r[1] * 1e6, 1), 9), cell(fixed(r[2] * 1e6, 1), 9),
                           cell(fixed(r[1] / r[0], 2) + "x", 7), cell(fixed(r[2] / r[0], 2) + "x", 8),
                           cell(fixed(2 * Double(m * n * k) / r[0] / 1e9, 1), 10)].joined(separator: " "))
                }
            }
        }
    }

    /// Seconds per call for: fp16 panels, f32 panels (same kernel), oneDNN sgemm.
    func measure(n: Int, k: Int, m: Int, threads: Int, l3: Int, isa: octet_fp16_isa) throws -> [Double] {
        let copies = hot ? 1 : max(1, (3 * l3 + n * k * 4 - 1) / (n * k * 4))
        var seed: UInt32 = 12345
        func next() -> Float {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            return Float(seed >> 8) / Float(1 << 24) - 0.5
        }
        let a = AlignedBuffer<Float>(count: m * k)
        for i in 0..<a.count { a.pointer[i] = next() }
        let c = AlignedBuffer<Float>(count: m * n)
        var raw: [AlignedBuffer<Float>] = []
        var f16: [PackedPanels<UInt16>] = []
        var f32: [PackedPanels<Float>] = []
        for _ in 0..<copies {
            let w = AlignedBuffer<Float>(count: n * k)
            for i in 0..<w.count { w.pointer[i] = next() }
            let source = UnsafeBufferPointer(w.buffer)
            f16.append(PackedPanels.packFP16(k: k, n: n, source: source, nStride: k, kStride: 1).0)
            f32.append(PackedPanels.packF32(k: k, n: n, source: source, nStride: k, kStride: 1))
            raw.append(w)
        }
        let gemm = PanelGEMM(isa: isa, threads: threads)
        _ = octet_dnnl_set_threads(Int32(threads))
        var i16 = 0, i32 = 0, id = 0
        let variants = [
            Variant(name: "fp16") {
                gemm.run(m: m, a: a.pointer, lda: k, b: f16[i16], c: c.pointer, ldc: n, bias: nil, lo: -.infinity, hi: .infinity)
                i16 = (i16 + 1) % copies
            },
            Variant(name: "f32") {
                gemm.run(m: m, a: a.pointer, lda: k, b: f32[i32], c: c.pointer, ldc: n, bias: nil, lo: -.infinity, hi: .infinity)
                i32 = (i32 + 1) % copies
            },
            Variant(name: "dnnl") {
                // Y[M x N] = X[M x K] · Wᵀ, W row-major N x K.
                _ = dnnl_sgemm(Int8(UInt8(ascii: "N")), Int8(UInt8(ascii: "T")), Int64(m), Int64(n), Int64(k), 1,
                               a.pointer, Int64(k), raw[id].pointer, Int64(k), 0, c.pointer, Int64(n))
                id = (id + 1) % copies
            },
        ]
        return medianSecondsPerCall(variants, rounds: rounds, minimumSecondsPerRound: seconds)
    }
}

/// One-off cost of converting weights to binary16 at prepare: F16C, portable C, and
/// Swift's `Float16` one value at a time.
func reportConversion(isa: octet_fp16_isa) {
    let n = 1 << 24
    let src = AlignedBuffer<Float>(count: n)
    for i in 0..<n { src.pointer[i] = Float(i % 100_000) * 0.37 - 18_000 }
    let dst = AlignedBuffer<UInt16>(count: n)
    let clock = ContinuousClock()
    var line = "binary16 conversion of 16M weights:"
    if isa == OCTET_FP16_AVX2 {
        let t = clock.measure { octet_f32_to_f16_array(src.pointer, dst.pointer, n, OCTET_FP16_AVX2) }
        line += " F16C \(fixed(Double(n) / t.seconds / 1e9, 2)) G/s,"
    }
    let p = clock.measure { octet_f32_to_f16_array(src.pointer, dst.pointer, n, OCTET_FP16_SCALAR) }
    let s = clock.measure { for i in 0..<n { dst.pointer[i] = Float16(src.pointer[i]).bitPattern } }
    print(line + " portable C \(fixed(Double(n) / p.seconds / 1e9, 2)) G/s, Swift Float16 \(fixed(Double(n) / s.seconds / 1e9, 2)) G/s")
}
