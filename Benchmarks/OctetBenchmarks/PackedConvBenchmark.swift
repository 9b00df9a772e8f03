import ArgumentParser
import OctetCPU
import OctetCore
import OctetDispatch
import OctetOneDNN
import OctetPacked

/// Packed convolutions and dynamic linears, per kernel: channels-last (the kernels the planner
/// now picks) against the NCHW forms packed used before (im2col + GEMM, scalar depthwise),
/// oneDNN INT8 and oneDNN FP32 on the same shapes; GMAC/s, medians of interleaved rounds.
struct PackedConvBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packed-conv",
        abstract: "Packed NHWC convolutions (ResNet-50, MobileNetV2 depthwise and 1x1) and dynamic linears (BERT): GMAC/s vs the NCHW forms, the 7-bit c4 kernel, oneDNN INT8 and FP32."
    )
    @Option(help: "Interleaved timing rounds (median reported).") var rounds = 5
    @Option(help: "Seconds each variant runs per round.") var seconds = 0.05
    @Option(help: "Comma-separated thread counts.") var threads = "1,2"
    @Flag(help: "Skip oneDNN columns.") var noOnednn = false
    @Flag(help: "Time the dynamic linears only (skip the convolutions).") var onlyDynamic = false
    @Flag(help: "Report the fastest round instead of the median (a machine shared with other work).") var best = false

    struct Conv { var name: String, c: Int, oc: Int, hw: Int, k: Int, stride: Int, groups: Int }

    func run() throws {
        let cpu = CPUFeatures.host
        let exact = OneDNNBackend.hasExactInt8(on: cpu)
        print("cpu: \(cpu.model); oneDNN INT8 \(exact ? "exact (VNNI)" : "given 7-bit activations (no VNNI)")")
        let convs: [Conv] = [
            Conv(name: "r50 l1 3x3", c: 64, oc: 64, hw: 56, k: 3, stride: 1, groups: 1),
            Conv(name: "r50 l1 1x1", c: 64, oc: 256, hw: 56, k: 1, stride: 1, groups: 1),
            Conv(name: "r50 l2 3x3", c: 128, oc: 128, hw: 28, k: 3, stride: 1, groups: 1),
            Conv(name: "r50 l3 1x1", c: 1024, oc: 256, hw: 14, k: 1, stride: 1, groups: 1),
            Conv(name: "r50 l4 3x3", c: 512, oc: 512, hw: 7, k: 3, stride: 1, groups: 1),
            Conv(name: "r18 stem 7x7", c: 3, oc: 64, hw: 224, k: 7, stride: 2, groups: 1),
            Conv(name: "mv2 dw 112 s1", c: 32, oc: 32, hw: 112, k: 3, stride: 1, groups: 32),
            Conv(name: "mv2 dw 112 s2", c: 96, oc: 96, hw: 112, k: 3, stride: 2, groups: 96),
            Conv(name: "mv2 dw 56 s1", c: 144, oc: 144, hw: 56, k: 3, stride: 1, groups: 144),
            Conv(name: "mv2 dw 14 s1", c: 384, oc: 384, hw: 14, k: 3, stride: 1, groups: 384),
            Conv(name: "mv2 dw 7 s1", c: 960, oc: 960, hw: 7, k: 3, stride: 1, groups: 960),
            Conv(name: "mv2 pw 112", c: 16, oc: 96, hw: 112, k: 1, stride: 1, groups: 1),
            Conv(name: "mv2 pw 56x", c: 24, oc: 144, hw: 56, k: 1, stride: 1, groups: 1),
            Conv(name: "mv2 pw 56", c: 144, oc: 24, hw: 56, k: 1, stride: 1, groups: 1),
            Conv(name: "mv2 pw 14", c: 64, oc: 384, hw: 14, k: 1, stride: 1, groups: 1),
        ]
        print([cell("shape", 14), cell("T", 2), cell("packed NHWC kernel", 38), cell("GMAC/s", 7), cell("NCHW before", 12), cell("7-bit c4", 9),
               cell("dnnl i8", 8), cell("dnnl f32", 9), cell("vs before", 10), cell("vs dnnl i8", 10), cell("7b vs dnnl", 10)].joined(separator: " "))
        for t in threads.split(separator: ",").compactMap({ Int($0) }) {
            for v in onlyDynamic ? [] : convs {
                let pad = v.k / 2
                var s = OpSignature.convolution(input: try TensorShape([1, v.c, v.hw, v.hw]), weight: try TensorShape([v.oc, v.c / v.groups, v.k, v.k]),
                                                geometry: ConvolutionGeometry(stride: (v.stride, v.stride), pads: (pad, pad, pad, pad), groups: v.groups),
                                                postOps: [.relu])
                let oh = try s.outputSpatial.orThrow().h
                let macs = Double(v.oc * oh * oh * (v.c / v.groups) * v.k * v.k)
                var nhwc = s
                nhwc.activationLayout = .nhwc
                var variants = [try prepare(PackedBackend(), nhwc, threads: t, sevenBit: false), try prepare(PackedBackend(), s, threads: t, sevenBit: false)]
                var sevenBit = nhwc
                sevenBit.quantization?.reduceRange = true
                variants.append(try prepare(PackedBackend(), sevenBit, threads: t, sevenBit: true))
                if !noOnednn {
                    s.quantization?.reduceRange = !exact
                    nhwc.quantization?.reduceRange = !exact
                    variants.append(try prepare(OneDNNBackend(), nhwc, threads: t, sevenBit: !exact))
                    var f = s
                    f.precision = .fp32
                    (f.inputType, f.weightType, f.outputType) = (.f32, .f32, .f32)
                    f.quantization = nil
                    variants.append(try prepare(OneDNNBackend(), f, threads: t, sevenBit: false))
                }
                let secs = medianSecondsPerCall(variants.map(\.variant), rounds: rounds, minimumSecondsPerRound: seconds, best: best)
                let g = secs.map { macs / $0 / 1e9 }
                let dnnl = g.count > 3 ? (fixed(g[3], 1), fixed(g[4], 1), fixed(g[0] / g[3], 2) + "x", fixed(g[2] / g[3], 2) + "x") : ("-", "-", "-", "-")
                print([cell(v.name, 14), cell("\(t)", 2), cell(variants[0].kernel.implementation, 38), cell(fixed(g[0], 1), 7), cell(fixed(g[1], 1), 12),
                       cell(fixed(g[2], 1), 9), cell(dnnl.0, 8), cell(dnnl.1, 9), cell(fixed(g[0] / g[1], 2) + "x", 10), cell(dnnl.2, 10), cell(dnnl.3, 10)].joined(separator: " "))
            }
            for (m, k, n) in [(1, 768, 768), (1, 768, 3072), (16, 768, 768), (128, 768, 3072), (128, 3072, 768), (1, 1024, 1024)] {
                var s = try OpSignature.linear(m: m, k: k, n: n, types: OperandTypes(input: .f32, weight: .s8, precision: .int8), output: .f32)
                s.quantization = QuantizationScheme(dynamic: true)
                var perToken = s
                perToken.quantization?.perRowActivations = true
                var variants = [try prepare(PackedBackend(), s, threads: t, sevenBit: false), try prepare(PackedBackend(), perToken, threads: t, sevenBit: false)]
                // 7-bit dynamic activations (reduce_range) on the c4 kernel, per tensor and per token.
                for var seven in [s, perToken] {
                    seven.quantization?.reduceRange = true
                    variants.append(try prepare(PackedBackend(), seven, threads: t, sevenBit: true))
                }
                if !noOnednn {
                    var f = try OpSignature.linear(m: m, k: k, n: n, types: .f32)
                    f.quantization = nil
                    variants.append(try prepare(OneDNNBackend(), f, threads: t, sevenBit: false))
                }
                let secs = medianSecondsPerCall(variants.map(\.variant), rounds: rounds, minimumSecondsPerRound: seconds, best: best)
                let g = secs.map { Double(m * k * n) / $0 / 1e9 }
                for v in 0..<2 { // per tensor, per token (interleaved in the same rounds); the 7-bit c4 form in its column
                    print([cell("dyn \(m)x\(k)x\(n)", 14), cell("\(t)", 2), cell(variants[v].kernel.implementation, 38), cell(fixed(g[v], 1), 7), cell("", 12),
                           cell(fixed(g[v + 2], 1), 9), cell("", 8), cell(g.count > 4 ? fixed(g[4], 1) : "-", 9)].joined(separator: " "))
                }
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

    func prepare(_ backend: any Backend, _ s: OpSignature, threads: Int, sevenBit: Bool) throws -> Prepared {
        var seed: UInt32 = 99
        func next() -> UInt32 { seed = seed &* 1_664_525 &+ 1_013_904_223; return seed >> 8 }
        let context = PrepareContext(cpu: CPUFeatures.host, threads: threads)
        let layout: TensorLayout = s.activationLayout == .nhwc ? .nhwc : .rowMajor
        let out = try Tensor(zeros: s.outputType, shape: try s.outputShape.orThrow(), layout: layout)
        let n = s.weight[0]
        if s.inputType == .f32 {
            let x = try Tensor((0..<s.input.elementCount).map { _ in Float(next() % 1000) / 1000 - 0.5 }, shape: s.input, layout: layout)
            if s.precision == .fp32 {
                let w = try Tensor((0..<s.weight.elementCount).map { _ in Float(next() % 1000) / 1000 - 0.5 }, shape: s.weight)
                return Prepared(try backend.prepare(s, constants: OpConstants(weight: w), context: context), x, out)
            }
            let wq = try QuantParams(scales: [Float](repeating: 0.01, count: n), zeroPoints: [Int32](repeating: 0, count: n), granularity: .perChannel(axis: 0), dtype: .s8)
            let w = try Tensor((0..<s.weight.elementCount).map { _ in Int8(truncatingIfNeeded: next()) }, shape: s.weight, quantization: wq)
            return Prepared(try backend.prepare(s, constants: OpConstants(weight: w), context: context), x, out)
        }
        let wq = try QuantParams(scales: [Float](repeating: 0.01, count: n), zeroPoints: [Int32](repeating: 0, count: n), granularity: .perChannel(axis: 0), dtype: .s8)
        let w = try Tensor((0..<s.weight.elementCount).map { _ in Int8(truncatingIfNeeded: next()) }, shape: s.weight, quantization: wq)
        let x = try Tensor((0..<s.input.elementCount).map { _ in UInt8(truncatingIfNeeded: next()) & (sevenBit ? 0x7F : 0xFF) }, shape: s.input, layout: layout)
        let c = OpConstants(weight: w, inputQuantization: try QuantParams(scale: 0.02, zeroPoint: 3, dtype: .u8, reduceRange: sevenBit),
                            outputQuantization: try QuantParams(scale: 0.5, zeroPoint: 128, dtype: .u8))
        return Prepared(try backend.prepare(s, constants: c, context: context), x, out)
    }
}
