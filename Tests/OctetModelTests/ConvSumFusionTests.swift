import Foundation
import Octet
import Synchronization
import Testing

/// The residual add of a static INT8 CNN fused into the convolution that produces one operand
/// (`ConvSumFusion`, a `sum` post-op) gives the unfused graph's codes bit for bit: the fused
/// graph on `packed` and on `qnnpack-ref` against the same graph with every pass but
/// ConvSumFusion (its convolution on the same backend, its `QuantizedAdd` on the built-in
/// integer add), for u8 and s8 codes, with and without the Add's Relu, per-channel weights,
/// non-zero zero points at the input, the convolution's output, the shortcut and the result.
@Suite struct ConvSumFusionTests {
    static let inputDims = [2, 8, 7, 7], outputDims = [2, 24, 7, 7]

    /// Q(x) → DQ → Conv 3x3 (per-channel s8 weights, f32 bias) → Q → DQ ─┐
    /// Q(s) → DQ ──────────────────────────────────────────────────────────┴→ Add (→ Relu) → Q → DQ → y
    /// `convSide`: which Add input is the convolution; `secondReader`: the convolution's codes
    /// are also dequantized into a second graph output.
    /// `weightZeroPoint`: one weight scale and this zero point for the whole tensor instead of per-channel symmetric ones.
    static func graph(signed: Bool, relu: Bool, convSide: Int = 0, secondReader: Bool = false, weightZeroPoint: Int8? = nil,
                      shortcutReadAgain: Bool = false) throws -> Graph {
        let oc = outputDims[1], ic = inputDims[1]
        var g = SeededGenerator(seed: 5)
        func zp(_ u: Int, _ s: Int) throws -> Tensor {
            signed ? try Tensor([Int8(s)], shape: .scalar) : try Tensor([UInt8(u)], shape: .scalar)
        }
        func scalar(_ v: Float) throws -> Tensor { try Tensor([v], shape: .scalar) }
        let weights = (0..<(oc * ic * 9)).map { _ in Int8.random(in: -127...127, using: &g) }
        var inits: [String: Tensor] = [
            "sx": try scalar(0.02), "zx": try zp(100, -10), "sc": try scalar(0.05), "zc": try zp(120, 3),
            "ss": try scalar(0.04), "zs": try zp(30, -7), "sy": try scalar(0.06), "zy": try zp(80, 10),
            "wq": try Tensor(weights, shape: try TensorShape([oc, ic, 3, 3])),
            "ws": try Tensor((0..<oc).map { _ in Float.random(in: 0.001...0.01, using: &g) }, shape: try TensorShape([oc])),
            "wz": try Tensor([Int8](repeating: 0, count: oc), shape: try TensorShape([oc])),
            "bias": try Tensor((0..<oc).map { _ in Float.random(in: -1...1, using: &g) }, shape: try TensorShape([oc])),
        ]
        if let weightZeroPoint {
            inits["ws"] = try scalar(0.004)
            inits["wz"] = try Tensor([weightZeroPoint], shape: .scalar)
        }
        var nodes = [
            Node(name: "qx", opType: "QuantizeLinear", inputs: ["x", "sx", "zx"], outputs: ["xq"]),
            Node(name: "dx", opType: "DequantizeLinear", inputs: ["xq", "sx", "zx"], outputs: ["xd"]),
            Node(name: "dw", opType: "DequantizeLinear", inputs: ["wq", "ws", "wz"], outputs: ["wd"], attributes: ["axis": .int(0)]),
            Node(name: "conv", opType: "Conv", inputs: ["xd", "wd", "bias"], outputs: ["c"],
                 attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])]),
            Node(name: "qc", opType: "QuantizeLinear", inputs: ["c", "sc", "zc"], outputs: ["cq"]),
            Node(name: "dc", opType: "DequantizeLinear", inputs: ["cq", "sc", "zc"], outputs: ["cd"]),
            Node(name: "qs", opType: "QuantizeLinear", inputs: ["s", "ss", "zs"], outputs: ["sq"]),
            Node(name: "ds", opType: "DequantizeLinear", inputs: ["sq", "ss", "zs"], outputs: ["sd"]),
            Node(name: "add", opType: "Add", inputs: convSide == 0 ? ["cd", "sd"] : ["sd", "cd"], outputs: ["r0"]),
        ]
        if relu { nodes.append(Node(name: "relu", opType: "Relu", inputs: ["r0"], outputs: ["r"])) }
        nodes += [
            Node(name: "qy", opType: "QuantizeLinear", inputs: [relu ? "r" : "r0", "sy", "zy"], outputs: ["yq"]),
            Node(name: "dy", opType: "DequantizeLinear", inputs: ["yq", "sy", "zy"], outputs: ["y"]),
        ]
        var outputs: [Graph.Port] = [.init(name: "y", type: nil)]
        if secondReader {
            nodes.append(Node(name: "dc2", opType: "DequantizeLinear", inputs: ["cq", "sc", "zc"], outputs: ["c2"]))
            outputs.append(.init(name: "c2", type: nil))
        }
        if shortcutReadAgain {
            nodes.append(Node(name: "ds2", opType: "DequantizeLinear", inputs: ["sq", "ss", "zs"], outputs: ["s2"]))
            outputs.append(.init(name: "s2", type: nil))
        }
        return Graph(name: "conv-sum", inputs: [.init(name: "x", type: ValueType(.f32, try TensorShape(inputDims))),
                                                .init(name: "s", type: ValueType(.f32, try TensorShape(outputDims)))],
                     outputs: outputs, nodes: nodes, initializers: inits, opsets: ["": 17])
    }

    static func inputs(seed: UInt64) throws -> [String: Tensor] {
        var g = SeededGenerator(seed: seed)
        func t(_ d: [Int], _ r: ClosedRange<Float>) throws -> Tensor {
            let s = try TensorShape(d)
            return try Tensor((0..<s.elementCount).map { _ in Float.random(in: r, using: &g) }, shape: s)
        }
        // Wide enough that the input, the convolution, the shortcut and the result clamp at both ends.
        return ["x": try t(inputDims, -3...3), "s": try t(outputDims, -6...6)]
    }

    /// The standard passes without `ConvSumFusion`: the residual add stays a `QuantizedAdd`.
    static func unfused(_ g: Graph) throws -> Graph { try GraphOptimizer(passes: GraphOptimizer.standard.passes.filter { !($0 is ConvSumFusion) }).run(g) }

    /// The standard passes, `ConvSumFusion` among them.
    static func fused(_ g: Graph) throws -> Graph { try GraphOptimizer.standard.run(g) }

    /// The convolution on `backend`; an unfused QuantizedAdd on the built-in integer add (the
    /// QDQ graph's f32 arithmetic; qnnpack-ref's add multiplies by the reciprocal scale instead).
    static func session(_ g: Graph, convOn backend: String, threads: Int = 1, host: CPUFeatures = .host, optimize: Bool) throws -> Session {
        try Session(graph: g, options: SessionOptions(threads: threads, cpu: .host, host: host, registry: BackendRegistry.builtIn(),
                                                      rules: try PlannerStageTests.rules([("conv2d", backend), ("add", "builtin")]), optimize: optimize))
    }

    @Test(arguments: ["packed", "qnnpack-ref"], [(false, false, 0), (true, false, 1), (false, true, 0), (true, true, 1)])
    func fusedEqualsUnfusedBitForBit(backend: String, variant: (Bool, Bool, Int)) throws {
        let (relu, signed, side) = variant
        // packed takes u8 activations only; s8 runs on the reference alone.
        if backend == "packed" && signed { return }
        let g = try Self.graph(signed: signed, relu: relu, convSide: side)
        // Two threads split the rows; a host capped to scalar code runs packed's portable store,
        // capped to AVX-512 (no VNNI) or AVX2 the vpmaddwd kernels and their stores (on a host
        // without those ISAs a cap changes nothing, and the case repeats the native one).
        let hosts: [(Int, CPUFeatures)] = [(1, .host), (2, .host), (1, CPUFeatures.host.capped(at: .avx512)), (1, CPUFeatures.host.capped(at: .avx2)),
                                           (1, CPUFeatures.host.capped(at: .scalar))]
        for (threads, host) in hosts {
            let fused = try Self.session(try Self.fused(g), convOn: backend, threads: threads, host: host, optimize: false)
            let unfused = try Self.session(try Self.unfused(g), convOn: backend, threads: threads, host: host, optimize: false)
            let (trace, nodes, _) = try fused.trace()
            #expect(!nodes.map(\.opType).contains("QuantizedAdd"), "\(nodes.map(\.opType))")
            let conv = try #require(trace.ops.first { $0.signature.kind == .conv2d })
            #expect(conv.backend == backend, "\(trace.text)")
            if backend == "packed" && host.cap?.level == .scalar { #expect(conv.kernel?.contains("scalar") == true, "\(conv.kernel ?? "-")") }
            #expect(conv.signature.postOps.last?.name == "sum")
            #expect(conv.notes.contains { $0.hasPrefix("fused QuantizedAdd 'add'") }, "\(conv.notes)")
            let (_, unfusedNodes, _) = try unfused.trace()
            #expect(unfusedNodes.map(\.opType).contains("QuantizedAdd"))
            for seed in 0..<3 as Range<UInt64> {
                let x = try Self.inputs(seed: seed)
                let a = try #require(try fused.run(x)["y"]).scalars(as: Float.self)
                let b = try #require(try unfused.run(x)["y"]).scalars(as: Float.self)
                let differing = zip(a, b).filter { $0.bitPattern != $1.bitPattern }
                #expect(a.count == b.count && differing.isEmpty,
                        "\(backend) relu \(relu) signed \(signed) threads \(threads) scalar \(host.cap != nil) seed \(seed): \(differing.count) differ, first \(differing.prefix(3))")
                if relu { #expect(a.allSatisfy { $0 >= 0 }) }
            }
        }
    }

    /// packed and the reference agree on the fused node (both requantize with FBGEMM's float arithmetic).
    @Test func packedEqualsTheReference() throws {
        let g = try Self.graph(signed: false, relu: true)
        let packed = try Self.session(try Self.fused(g), convOn: "packed", optimize: false), reference = try Self.session(try Self.fused(g), convOn: "qnnpack-ref", optimize: false)
        let x = try Self.inputs(seed: 7)
        let a = try #require(try packed.run(x)["y"]).scalars(as: Float.self)
        let b = try #require(try reference.run(x)["y"]).scalars(as: Float.self)
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
    }

    /// Per-tensor weights with a zero point: the store's row term (−b_zp · row sum) before the sum.
    @Test(arguments: ["packed", "qnnpack-ref"])
    func asymmetricPerTensorWeights(backend: String) throws {
        let g = try Self.graph(signed: false, relu: false, weightZeroPoint: 5)
        for host in [CPUFeatures.host, CPUFeatures.host.capped(at: .scalar)] {
            let fused = try Self.session(try Self.fused(g), convOn: backend, host: host, optimize: false)
            let unfused = try Self.session(try Self.unfused(g), convOn: backend, host: host, optimize: false)
            let conv = try #require(try fused.trace().trace.ops.first { $0.signature.kind == .conv2d })
            #expect(conv.backend == backend && conv.signature.quantization?.weightZeroPoint == 5, "\(conv.backend ?? "-")")
            let x = try Self.inputs(seed: 3)
            let a = try #require(try fused.run(x)["y"]).scalars(as: Float.self)
            let b = try #require(try unfused.run(x)["y"]).scalars(as: Float.self)
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(backend) scalar \(host.cap != nil)")
        }
    }

    @Test func aConvolutionReadTwiceKeepsItsAdd() throws {
        let g = try Self.graph(signed: false, relu: true, secondReader: true)
        let optimized = try Self.fused(g)
        #expect(optimized.nodes.contains { $0.opType == "QuantizedAdd" }, "\(optimized.nodes.map(\.opType))")
        #expect(!optimized.nodes.contains { $0.inputs.count == ConvSumFusion.operandIndex + 1 })
        // Fused once the second reader is gone.
        let fused = try Self.fused(try Self.graph(signed: false, relu: true))
        #expect(!fused.nodes.contains { $0.opType == "QuantizedAdd" })
    }

    /// oneDNN runs the fused node with its `sum` post-op where its INT8 is exact (VNNI): one
    /// rounding instead of the QDQ graph's two, so each result is within one output step of the
    /// unfused graph while the convolution's own code does not saturate (checked here through
    /// a second graph that dequantizes those codes). Elsewhere it declines, saying why.
    @Test(arguments: [false, true])
    func oneDNNSumIsWithinOneStep(relu: Bool) throws {
        let g = try Self.graph(signed: false, relu: relu)
        let fused = try Self.session(try Self.fused(g), convOn: "onednn", optimize: false)
        let conv = try #require(try fused.trace().trace.ops.first { $0.signature.kind == .conv2d })
        guard OneDNNBackend.hasExactInt8(on: .host) else {
            #expect(conv.backend != "onednn")
            #expect(conv.attempts.contains { $0.backend == "onednn" }, "\(conv.attempts.map(\.reason))")
            return
        }
        #expect(conv.backend == "onednn" && conv.signature.postOps.last?.name == "sum", "\(conv.backend ?? "-")")
        let unfused = try Self.session(try Self.unfused(g), convOn: "qnnpack-ref", optimize: false)
        let codes = try Self.session(try Self.unfused(try Self.graph(signed: false, relu: relu, secondReader: true)), convOn: "qnnpack-ref", optimize: false)
        let (sy, sc, zc): (Float, Float, Float) = (0.06, 0.05, 120)
        var compared = 0, equal = 0
        for seed in 0..<3 as Range<UInt64> {
            var x = try Self.inputs(seed: seed)
            // Inputs small enough that the convolution's codes stay inside u8.
            x["x"] = try Tensor(try #require(x["x"]).scalars(as: Float.self).map { $0 / 20 }, shape: try TensorShape(Self.inputDims))
            let c = try #require(try codes.run(x)["c2"]).scalars(as: Float.self)
            #expect(c.allSatisfy { $0 > (0 - zc) * sc && $0 < (255 - zc) * sc }, "the convolution's codes saturate; the bound below does not hold there")
            let a = try #require(try fused.run(x)["y"]).scalars(as: Float.self)
            let b = try #require(try unfused.run(x)["y"]).scalars(as: Float.self)
            #expect(a.count == b.count)
            for (u, v) in zip(a, b) {
                compared += 1
                if u == v { equal += 1 }
                #expect(abs(u - v) <= sy * 1.001, "relu \(relu) seed \(seed): \(u) vs \(v)")
            }
            if relu { #expect(a.allSatisfy { $0 >= 0 }) }
        }
        // One rounding instead of two moves a code only where the convolution's own rounding
        // (up to s_a / 2 = 0.42 output steps here) tips the sum over a half step: a minority.
        #expect(equal * 4 >= compared * 3, "\(equal) of \(compared) equal")
    }

    /// The planner writes the fused result over the shortcut's codes when nothing reads them
    /// later (`PostOp.sum`'s contract), and never when something does; the results are the
    /// unfused graph's either way.
    @Test(arguments: [false, true])
    func theSumWritesOverItsOperandOnlyWhenItIsDead(readAgain: Bool) throws {
        let registry = BackendRegistry.builtIn()
        let recorder = AddressRecorder()
        try registry.register(RecordingBackend(inner: try #require(registry.backend(named: "qnnpack-ref")), recorder: recorder))
        let g = try Self.graph(signed: false, relu: true, shortcutReadAgain: readAgain)
        let fused = try Session(graph: try Self.fused(g), options: SessionOptions(threads: 1, cpu: .host, registry: registry,
                                                                                  rules: try PlannerStageTests.rules([("conv2d", "recording"), ("add", "builtin")]), optimize: false))
        let unfused = try Self.session(try Self.unfused(g), convOn: "qnnpack-ref", optimize: false)
        let x = try Self.inputs(seed: 11)
        let a = try fused.run(x), b = try unfused.run(x)
        for name in ["y"] + (readAgain ? ["s2"] : []) {
            let u = try #require(a[name]).scalars(as: Float.self), v = try #require(b[name]).scalars(as: Float.self)
            #expect(u.map { $0.bitPattern } == v.map { $0.bitPattern }, "\(name)")
        }
        let calls = recorder.calls.withLock { $0 }
        #expect(calls.count == 1 && calls.allSatisfy { $0.operand != 0 && $0.output != 0 })
        #expect(calls.allSatisfy { ($0.operand == $0.output) == !readAgain }, "\(calls)")
    }

    /// Sessions fold the residual add on CPUs with AVX-512 and leave it a `QuantizedAdd` on
    /// AVX2-only ones, where packed's 256-bit sum store is the slower of the two.
    @Test(arguments: [("zen4", true), ("skylake-avx512", true), ("zen3", false), ("generic-avx2", false)])
    func residualSumsAreFusedWhereTheyPay(cpu: String, fused: Bool) throws {
        let target = try CPUFeatures.assumed(cpu)
        #expect(GraphOptimizer.planning(on: target).passes.contains { $0 is ConvSumFusion } == fused)
        let g = try Self.graph(signed: false, relu: true)
        let session = try Session(graph: g, options: SessionOptions(threads: 1, cpu: target, registry: BackendRegistry.builtIn(),
                                                                    rules: try PlannerStageTests.rules([("conv2d", "qnnpack-ref")])))
        let nodes = try session.trace().nodes.map(\.opType)
        #expect(nodes.contains("QuantizedAdd") == !fused, "\(cpu): \(nodes)")
    }
}

/// Each call's sum operand and output addresses.
final class AddressRecorder: Sendable {
    let calls = Mutex<[(operand: Int, output: Int)]>([])
}

/// `inner`'s kernels under another name, recording where each call's sum operand and output live.
struct RecordingBackend: Backend {
    let inner: any Backend
    let recorder: AddressRecorder
    var name: String { "recording" }
    var version: String { inner.version }
    var summary: String { "records the sum operand's and output's addresses, then runs \(inner.name)" }
    var requirements: BackendRequirements { inner.requirements }
    func capability(for signature: OpSignature, on cpu: CPUFeatures) -> Capability { inner.capability(for: signature, on: cpu) }
    func prepare(_ signature: OpSignature, constants: OpConstants, context: PrepareContext) throws -> any Kernel {
        RecordingKernel(inner: try inner.prepare(signature, constants: constants, context: context), recorder: recorder)
    }

    struct RecordingKernel: Kernel {
        let inner: any Kernel
        let recorder: AddressRecorder
        var implementation: String { inner.implementation }
        func run(inputs: [Tensor], output: inout Tensor) throws {
            if inputs.count > 1 {
                let operand = inputs[1].withUnsafeBytes { Int(bitPattern: $0.baseAddress) }
                let out = output.withUnsafeBytes { Int(bitPattern: $0.baseAddress) }
                recorder.calls.withLock { $0.append((operand, out)) }
            }
            try inner.run(inputs: inputs, output: &output)
        }
    }
}
