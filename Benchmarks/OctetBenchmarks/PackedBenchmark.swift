import ArgumentParser
import CPeak
import OctetCPU
import OctetCore
import OctetDispatch
import OctetOneDNN
import OctetPacked
import COctetPackedKernels

/// The packed INT8 GEMM against this machine's peaks, oneDNN's INT8 and oneDNN's FP32.
struct PackedBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packed",
        abstract: "Packed INT8 GEMM: single-core peaks, then GOP/s on squares, BERT linears and ResNet-50 convolutions as GEMMs, vs oneDNN INT8 and FP32."
    )
    @Option(help: "Interleaved timing rounds (median reported).") var rounds = 5
    @Option(help: "Seconds each variant runs per round.") var seconds = 0.05
    @Option(help: "Comma-separated thread counts.") var threads = "1,2"

    func run() throws {
        let cpu = CPUFeatures.host
        print("cpu: \(cpu.model)")
        let clock = ContinuousClock()
        func peak(_ name: String, _ f: (UInt64) -> UInt64) -> Double {
            var best = 0.0
            for _ in 0..<5 {
                var macs: UInt64 = 0
                let t = clock.measure { macs = f(20_000_000) }
                best = max(best, Double(macs) / t.seconds / 1e9)
            }
            print("peak 1 core, \(name): \(fixed(best, 1)) GMAC/s (\(fixed(2 * best, 1)) GOP/s)")
            return best
        }
        let wd = peak("vpmaddwd s16 pairs (exact u8·s8)", octet_peak_maddwd)
        _ = peak("vpmaddubsw+vpmaddwd (saturating u8·s8; exact on 7-bit u8)", octet_peak_maddubsw)
        let zmm = cpu.hasAll([.avx512f, .avx512bw, .avx512vl, .avx512_vnni]) ? peak("vpdpbusd zmm (AVX-512 VNNI, exact u8·s8)", octet_peak_dpbusd_zmm) : 0
        let wdZmm = cpu.hasAll([.avx512f, .avx512bw]) ? peak("vpmaddwd zmm s16 pairs (AVX-512BW, exact u8·s8)", octet_peak_maddwd_zmm) : 0
        let ymm = cpu.has(.avx_vnni) ? peak("vpdpbusd ymm (AVX-VNNI, exact u8·s8)", octet_peak_dpbusd_ymm) : 0
        let fmaPeak = peak("fp32 vfmadd231ps", octet_peak_fma)
        // The instruction the packed GEMM runs on here (as `PackedISA.select` picks it).
        let (kernelPeak, peakName) = zmm > 0 ? (zmm, "dpbusd zmm") : ymm > 0 ? (ymm, "dpbusd ymm") : wdZmm > 0 ? (wdZmm, "maddwd zmm") : (wd, "maddwd")
        let exact = OneDNNBackend.hasExactInt8(on: cpu)
        print("oneDNN INT8 here: \(exact ? "VNNI (exact on full range)" : "no VNNI: given 7-bit activations (reduce_range), as PyTorch would")")
        print("INT8 \(peakName) peak / FP32 peak = \(fixed(kernelPeak / fmaPeak, 2))x")
        // The bare micro-kernels on pre-packed operands, each measured next to its instruction's
        // peak: the exact s16-pair kernel, the 7-bit k-quad kernel (vpmaddubsw + vpmaddwd), and
        // the VNNI k-quad kernels where the CPU has them.
        typealias RawGEMM = (octet_packed_isa, Int, Int, Int, UnsafePointer<Int32>?, UnsafePointer<Int32>?, UnsafeMutablePointer<Int32>?, Int) -> Void
        var bare: [(name: String, isa: octet_packed_isa, depth: Int, activationMask: Int32, gemm: RawGEMM, peakName: String, peak: (UInt64) -> UInt64)] = [
            ("u8s8s32-gemm-6x16-avx2", OCTET_PACKED_AVX2, 2, 0x00FF_00FF, octet_packed_gemm_s32, "vpmaddwd (again)", octet_peak_maddwd),
            ("u7s8s32-gemm-6x16c4-avx2", OCTET_PACKED_AVX2, 4, 0x7F7F_7F7F, octet_packed_gemm_c4_s32, "vpmaddubsw+vpmaddwd (again)", octet_peak_maddubsw),
        ]
        if wdZmm > 0 { bare.append(("u8s8s32-gemm-8x32-avx512bw", OCTET_PACKED_AVX512BW, 2, 0x00FF_00FF, octet_packed_gemm_s32, "vpmaddwd zmm (again)", octet_peak_maddwd_zmm)) }
        if ymm > 0 { bare.append(("u8s8s32-gemm-6x16c4-avxvnni", OCTET_PACKED_AVX_VNNI, 4, -1, octet_packed_gemm_c4_s32, "vpdpbusd ymm (again)", octet_peak_dpbusd_ymm)) }
        if zmm > 0 { bare.append(("u8s8s32-gemm-8x32c4-avx512vnni", OCTET_PACKED_AVX512_VNNI, 4, -1, octet_packed_gemm_c4_s32, "vpdpbusd zmm (again)", octet_peak_dpbusd_zmm)) }
        for kernel in bare {
            for size in [256, 512, 1024] {
                let words = size * ((size + kernel.depth - 1) / kernel.depth)
                let a = AlignedBuffer<Int32>(count: words), b = AlignedBuffer<Int32>(count: words), c = AlignedBuffer<Int32>(count: size * size)
                for i in 0..<words { a.pointer[i] = Int32(truncatingIfNeeded: i &* 2_654_435_761) & kernel.activationMask; b.pointer[i] = Int32(truncatingIfNeeded: i &* 40503) }
                var best = 0.0
                for _ in 0..<3 {
                    let t = clock.measure { kernel.gemm(kernel.isa, size, size, size, a.pointer, b.pointer, c.pointer, size) }
                    best = max(best, Double(size * size * size) / t.seconds / 1e9)
                }
                let now = peak(kernel.peakName, kernel.peak)
                print("bare \(kernel.name) \(size)^3: \(fixed(best, 1)) GMAC/s = \(fixed(100 * best / now, 0))% of the peak measured right after")
            }
        }
        print("")

        var shapes: [(String, Int, Int, Int)] = [("square", 256, 256, 256), ("square", 512, 512, 512), ("square", 1024, 1024, 1024), ("square", 2048, 2048, 2048)]
        for m in [1, 16, 128] { for (k, n) in [(768, 768), (768, 3072), (3072, 768)] { shapes.append(("bert", m, k, n)) } }
        shapes += [("r50 l1 3x3", 3136, 576, 64), ("r50 l2 3x3", 784, 1152, 128), ("r50 l3 1x1", 196, 1024, 256), ("r50 l4 3x3", 49, 4608, 512)]
        print([cell("shape", 11), cell("M", 5), cell("K", 5), cell("N", 5), cell("T", 2), cell("packed GOP/s", 13), cell("%" + peakName, 16),
               cell("dnnl i8 GOP/s", 14), cell("dnnl f32 GF/s", 14), cell("vs dnnl i8", 11), cell("vs f32", 7)].joined(separator: " "))
        for t in threads.split(separator: ",").compactMap({ Int($0) }) {
            for (name, m, k, n) in shapes {
                var s = try OpSignature.linear(m: m, k: k, n: n)
                let packed = try setUp(PackedBackend(), s, threads: t, sevenBit: false)
                s.quantization?.reduceRange = !exact
                let dnnl8 = try setUp(OneDNNBackend(), s, threads: t, sevenBit: !exact)
                var f = try OpSignature.linear(m: m, k: k, n: n, types: .f32)
                f.quantization = nil
                let dnnl32 = try setUp(OneDNNBackend(), f, threads: t, sevenBit: false)
                let secondsPerCall = medianSecondsPerCall([packed.variant, dnnl8.variant, dnnl32.variant], rounds: rounds, minimumSecondsPerRound: seconds)
                let gop = secondsPerCall.map { 2 * Double(m * n * k) / $0 / 1e9 }
                print([cell(name, 11), cell("\(m)", 5), cell("\(k)", 5), cell("\(n)", 5), cell("\(t)", 2), cell(fixed(gop[0], 1), 13),
                       cell(fixed(100 * gop[0] / (2 * kernelPeak * Double(t)), 0) + "%", 16), cell(fixed(gop[1], 1), 14), cell(fixed(gop[2], 1), 14),
                       cell(fixed(gop[0] / gop[1], 2) + "x", 11), cell(fixed(gop[0] / gop[2], 2) + "x", 7)].joined(separator: " "))
            }
        }
    }

    final class Prepared {
        let kernel: any Kernel
        let input: Tensor
        var output: Tensor
        init(_ k: any Kernel, _ i: Tensor, _ o: Tensor) { (kernel, input, output) = (k, i, o) }
        var variant: Variant { Variant(name: kernel.implementation) { [self] in try? self.kernel.run(inputs: [self.input], output: &self.output) } }
    }

    func setUp(_ backend: any Backend, _ s: OpSignature, threads: Int, sevenBit: Bool) throws -> Prepared {
        var seed: UInt32 = 99
        func next() -> UInt32 { seed = seed &* 1_664_525 &+ 1_013_904_223; return seed >> 8 }
        let context = PrepareContext(cpu: CPUFeatures.host, threads: threads)
        let out = try Tensor(zeros: s.outputType, shape: try s.outputShape.orThrow())
        if s.precision == .fp32 {
            let w = try Tensor((0..<s.weight.elementCount).map { _ in Float(next() % 1000) / 1000 - 0.5 }, shape: s.weight)
            let x = try Tensor((0..<s.input.elementCount).map { _ in Float(next() % 1000) / 1000 - 0.5 }, shape: s.input)
            return Prepared(try backend.prepare(s, constants: OpConstants(weight: w), context: context), x, out)
        }
        let n = s.weight[0]
        let wq = try QuantParams(scales: [Float](repeating: 0.01, count: n), zeroPoints: [Int32](repeating: 0, count: n), granularity: .perChannel(axis: 0), dtype: .s8)
        let w = try Tensor((0..<s.weight.elementCount).map { _ in Int8(truncatingIfNeeded: next()) }, shape: s.weight, quantization: wq)
        let x = try Tensor((0..<s.input.elementCount).map { _ in UInt8(truncatingIfNeeded: next()) & (sevenBit ? 0x7F : 0xFF) }, shape: s.input)
        let c = OpConstants(weight: w, inputQuantization: try QuantParams(scale: 0.02, zeroPoint: 3, dtype: .u8, reduceRange: sevenBit),
                            outputQuantization: try QuantParams(scale: 0.5, zeroPoint: 128, dtype: .u8))
        return Prepared(try backend.prepare(s, constants: c, context: context), x, out)
    }
}
