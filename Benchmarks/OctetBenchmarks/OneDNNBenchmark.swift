import ArgumentParser
import OctetCPU
import OctetCore
import OctetDispatch
import OctetOneDNN

/// INT8 vs FP32 through the `onednn` backend: ResNet-50's convolutions at batch 1 and
/// BERT-base's linear layers, on 1 and 2 threads.
struct OneDNNBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onednn",
        abstract: "oneDNN INT8 vs FP32: ResNet-50 convolutions (batch 1) and BERT-base linears (M = 1, 16, 128), GOP/s and ratio."
    )

    @Option(help: "Interleaved timing rounds (median reported).") var rounds = 5
    @Option(help: "Seconds each variant runs per round.") var seconds = 0.05
    @Option(help: "Comma-separated thread counts.") var threads = "1,2"
    @Flag(help: "Only the BERT linears.") var linearOnly = false

    static let resnet50: [(String, Int, Int, Int, Int, Int, Int)] = [  // name, C, OC, H(=W), kernel, stride, pad
        ("conv1 7x7/2", 3, 64, 224, 7, 2, 3),
        ("l1 1x1 64-64", 64, 64, 56, 1, 1, 0), ("l1 3x3 64-64", 64, 64, 56, 3, 1, 1),
        ("l1 1x1 64-256", 64, 256, 56, 1, 1, 0), ("l1 1x1 256-64", 256, 64, 56, 1, 1, 0),
        ("l2 1x1 256-128", 256, 128, 56, 1, 1, 0), ("l2 3x3/2 128", 128, 128, 56, 3, 2, 1),
        ("l2 1x1 128-512", 128, 512, 28, 1, 1, 0), ("l2 3x3 128", 128, 128, 28, 3, 1, 1),
        ("l3 3x3/2 256", 256, 256, 28, 3, 2, 1), ("l3 1x1 256-1024", 256, 1024, 14, 1, 1, 0),
        ("l3 1x1 1024-256", 1024, 256, 14, 1, 1, 0), ("l3 3x3 256", 256, 256, 14, 3, 1, 1),
        ("l4 3x3/2 512", 512, 512, 14, 3, 2, 1), ("l4 1x1 512-2048", 512, 2048, 7, 1, 1, 0),
        ("l4 1x1 2048-512", 2048, 512, 7, 1, 1, 0), ("l4 3x3 512", 512, 512, 7, 3, 1, 1),
    ]

    func run() throws {
        let cpu = CPUFeatures.host
        print("cpu: \(cpu.model); oneDNN \(OneDNNBackend().version); median of \(rounds) interleaved rounds")
        print([cell("op", 18), cell("T", 2), cell("MMAC", 7), cell("int8 µs", 9), cell("fp32 µs", 9), cell("int8 GOP/s", 11),
               cell("fp32 GFLOP/s", 13), cell("int8/fp32", 10), cell("int8 kernel", 28)].joined(separator: " "))
        var cases: [(String, OpSignature)] = []
        if !linearOnly {
            for (name, c, oc, hw, k, s, p) in Self.resnet50 {
                cases.append((name, .convolution(input: try TensorShape([1, c, hw, hw]), weight: try TensorShape([oc, c, k, k]),
                                                 geometry: ConvolutionGeometry(stride: (s, s), pads: (p, p, p, p)))))
            }
        }
        for m in [1, 16, 128] {
            for (k, n) in [(768, 768), (768, 3072), (3072, 768)] {
                cases.append(("bert M\(m) \(k)x\(n)", try .linear(m: m, k: k, n: n)))
            }
        }
        var ratios: [Double] = []
        // Thread counts outermost: switching OpenMP's team size back and forth within a
        // process slows oneDNN down badly (measured), and a session keeps one count.
        for t in threads.split(separator: ",").compactMap({ Int($0) }) {
            for (name, int8) in cases {
                var fp32 = int8
                fp32.precision = .fp32
                (fp32.inputType, fp32.weightType, fp32.outputType, fp32.quantization) = (.f32, .f32, .f32, nil)
                let (k8, i8, o8) = try setUp(int8, threads: t)
                let (k32, i32, o32) = try setUp(fp32, threads: t)
                var out8 = o8, out32 = o32
                let times = medianSecondsPerCall([
                    Variant(name: "int8") { try? k8.run(inputs: [i8], output: &out8) },
                    Variant(name: "fp32") { try? k32.run(inputs: [i32], output: &out32) },
                ], rounds: rounds, minimumSecondsPerRound: seconds)
                let macs = Double(int8.macs)
                ratios.append(times[1] / times[0])
                print([cell(name, 18), cell("\(t)", 2), cell(fixed(macs / 1e6, 1), 7), cell(fixed(times[0] * 1e6, 1), 9), cell(fixed(times[1] * 1e6, 1), 9),
                       cell(fixed(2 * macs / times[0] / 1e9, 1), 11), cell(fixed(2 * macs / times[1] / 1e9, 1), 13),
                       cell(fixed(times[1] / times[0], 2) + "x", 10), cell(k8.implementation, 28)].joined(separator: " "))
            }
        }
        let geomean = Foundation_exp(ratios.map { Foundation_log($0) }.reduce(0, +) / Double(max(ratios.count, 1)))
        print("\ngeometric mean int8/fp32 speedup: \(fixed(geomean, 2))x over \(ratios.count) rows")
    }

    /// A prepared kernel with random operands.
    func setUp(_ s: OpSignature, threads: Int) throws -> (any Kernel, Tensor, Tensor) {
        var seed: UInt32 = 7
        func next() -> Float {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            return Float(seed >> 8) / Float(1 << 24) - 0.5
        }
        let out = try Tensor(zeros: s.outputType, shape: try s.outputShape.orThrow())
        let cpu = CPUFeatures.host
        if s.precision == .fp32 {
            let w = try Tensor((0..<s.weight.elementCount).map { _ in next() }, shape: s.weight)
            let x = try Tensor((0..<s.input.elementCount).map { _ in next() }, shape: s.input)
            return (try OneDNNBackend().prepare(s, constants: OpConstants(weight: w), context: PrepareContext(cpu: cpu, threads: threads)), x, out)
        }
        let channels = s.outputChannels ?? s.weight[0]
        let wq = try QuantParams(scales: [Float](repeating: 0.01, count: channels), zeroPoints: [Int32](repeating: 0, count: channels),
                                 granularity: .perChannel(axis: 0), dtype: .s8)
        let w = try Tensor((0..<s.weight.elementCount).map { _ in Int8(clamping: Int(next() * 255)) }, shape: s.weight, quantization: wq)
        let x = try Tensor((0..<s.input.elementCount).map { _ in UInt8(clamping: Int((next() + 0.5) * 255)) }, shape: s.input)
        let c = OpConstants(weight: w, inputQuantization: try QuantParams(scale: 0.02, zeroPoint: 10, dtype: .u8),
                            outputQuantization: try QuantParams(scale: 0.5, zeroPoint: 128, dtype: .u8))
        return (try OneDNNBackend().prepare(s, constants: c, context: PrepareContext(cpu: cpu, threads: threads)), x, out)
    }
}

struct MissingShape: Error {}
extension Optional {
    func orThrow() throws -> Wrapped {
        guard let v = self else { throw MissingShape() }
        return v
    }
}

#if canImport(Glibc)
import Glibc
func Foundation_exp(_ x: Double) -> Double { Glibc.exp(x) }
func Foundation_log(_ x: Double) -> Double { Glibc.log(x) }
#endif
