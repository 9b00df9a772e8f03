import OctetBackendAPI

/// A small INT8 backend written outside Octet: quantized linear layers (u8 activations,
/// s8 weights, u8 or f32 outputs), one output row at a time in plain Swift. It answers the
/// two questions every backend answers — can you run this op, and with what — and prepares
/// kernels that own their weights.
struct RowwiseLinearBackend: Backend {
    var name: String { "rowwise-linear" }
    var version: String { "1.0" }
    var summary: String { "example: INT8 linear, one output row at a time, in Swift" }
    var requirements: BackendRequirements { BackendRequirements() }

    func capability(for s: OpSignature, on cpu: CPUFeatures) -> Capability {
        guard s.kind == .linear else { return .declined(reason: "runs linear only, not \(s.kind)") }
        guard s.precision == .int8, s.quantization?.dynamic == false else { return .declined(reason: "static INT8 only") }
        guard s.inputType == .u8, s.weightType == .s8, s.outputType == .u8 || s.outputType == .f32 else {
            return .declined(reason: "u8 activations, s8 weights, u8 or f32 outputs only")
        }
        guard !s.postOps.contains(where: { if case .sum = $0 { true } else { false } }) else {
            return .declined(reason: "no fused residual sum")
        }
        return .supported(kernel: "u8s8-linear-rowwise-swift")
    }

    func prepare(_ s: OpSignature, constants: OpConstants, context: PrepareContext) throws -> any Kernel {
        try RowwiseLinearKernel(s, constants)
    }
}

struct ExampleError: Error, CustomStringConvertible {
    var description: String
}

struct RowwiseLinearKernel: Kernel {
    let n: Int, k: Int
    let weight: [Int8]
    let weightScales: [Float], weightZeroPoints: [Int32]
    let biasS32: [Int32]?, biasF32: [Float]?
    let input: QuantParams
    let output: QuantParams?
    let lo: Float, hi: Float
    var implementation: String { "u8s8-linear-rowwise-swift" }

    init(_ s: OpSignature, _ c: OpConstants) throws {
        guard let w = c.weight, let wq = w.quantization, let input = c.inputQuantization, w.shape.rank == 2 else {
            throw ExampleError(description: "needs a quantized N x K weight and the input's parameters")
        }
        (n, k) = (w.shape[0], w.shape[1])
        weight = try w.scalars(as: Int8.self)
        weightScales = (0..<n).map { wq.scales.count == 1 ? wq.scales[0] : wq.scales[$0] }
        weightZeroPoints = (0..<n).map { wq.zeroPoints.count == 1 ? wq.zeroPoints[0] : wq.zeroPoints[$0] }
        biasS32 = c.bias?.dtype == .s32 ? try c.bias?.scalars(as: Int32.self) : nil
        biasF32 = c.bias?.dtype == .f32 ? try c.bias?.scalars(as: Float.self) : nil
        self.input = input
        output = s.outputType == .u8 ? c.outputQuantization : nil
        var (lo, hi) = (-Float.infinity, Float.infinity)
        for p in s.postOps {
            switch p {
            case .relu: lo = max(lo, 0)
            case let .clip(a, b): (lo, hi) = (max(lo, a), min(hi, b))
            case .sum: throw ExampleError(description: "a fused residual sum is not supported (capability declines it)")
            }
        }
        (self.lo, self.hi) = (lo, hi)
    }

    func run(inputs: [Tensor], output out: inout Tensor) throws {
        guard let x = try inputs.first?.scalars(as: UInt8.self) else { throw ExampleError(description: "no input") }
        let m = k == 0 ? 0 : x.count / k
        let (sx, zx) = (input.scales[0], input.zeroPoints[0])
        var real = [Float](repeating: 0, count: m * n)
        for r in 0..<m {
            for j in 0..<n {
                var acc: Int32 = 0
                for t in 0..<k { acc &+= (Int32(x[r * k + t]) - zx) * (Int32(weight[j * k + t]) - weightZeroPoints[j]) }
                if let b = biasS32 { acc &+= b[j] }
                var v = Float(acc) * (sx * weightScales[j])
                if let b = biasF32 { v += b[j] }
                real[r * n + j] = min(max(v, lo), hi)
            }
        }
        if let q = output {
            let (s, z) = (q.scales[0], Float(q.zeroPoints[0]))
            let values = real.map { UInt8(min(max(($0 / s).rounded(.toNearestOrEven) + z, Float(q.qmin)), Float(q.qmax))) }
            out = try Tensor(values, shape: out.shape, quantization: out.quantization)
        } else {
            out = try Tensor(real, shape: out.shape)
        }
    }
}
