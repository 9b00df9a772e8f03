import OctetCore
import OctetDispatch

/// One op to run through two backends: its signature, constants and inputs.
public struct ConformanceCase: Sendable {
    public var signature: OpSignature
    public var constants: OpConstants
    public var inputs: [Tensor]
    /// The seed that regenerates this case.
    public var seed: UInt64

    public init(signature: OpSignature, constants: OpConstants, inputs: [Tensor], seed: UInt64) {
        self.signature = signature
        self.constants = constants
        self.inputs = inputs
        self.seed = seed
    }
}

/// Random INT8 cases for every op kind: full 8-bit data ranges, zero points at the range
/// ends as well as inside, odd sizes (M = 1, K = 1, primes, tails), per-channel and
/// per-tensor weights, u8 asymmetric and s8 symmetric weights, s32 / f32 / no bias,
/// fused ReLU / Clip, u8 and f32 outputs.
public enum ConformanceCases {
    /// With `sevenBitActivations`, matrix products take u8 activations in 0...127 with
    /// `reduce_range` parameters (what a backend without VNNI needs).
    public static func random(_ kind: OpKind, seed: UInt64, sevenBitActivations: Bool = false) throws -> ConformanceCase {
        var g = SeededGenerator(seed: seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(OpKind.allCases.firstIndex(of: kind) ?? 0))
        return try Builder(kind: kind, seed: seed, sevenBit: sevenBitActivations).make(&g)
    }

    /// A random dynamic linear (f32 activations quantized per call, s8 weights, f32 output),
    /// per tensor or, with `perRowActivations`, per row (token). Odd and long K (up to 4099,
    /// where Σ q·w nears the s32 margin), M and N with tails; rows drawn from several shapes:
    /// wide ranges, constant rows (all zero included: the scale must stay positive),
    /// negative-only, positive-only, and rows with one outlier hundreds of times the rest;
    /// s8 symmetric per-channel or per-tensor weights (also with a nonzero zero point);
    /// f32 bias or none; ReLU / Clip or none. `sevenBit` asks for 7-bit activation codes
    /// (`reduce_range`); `shape` replaces the drawn M, K and N.
    /// `unsignedWeights`: u8 weights with one zero point in [0, 255] (ONNX Runtime's QUInt8).
    public static func dynamicLinear(seed: UInt64, perRowActivations: Bool, sevenBit: Bool = false, shape: (m: Int, k: Int, n: Int)? = nil,
                                     unsignedWeights: Bool = false) throws -> ConformanceCase {
        var g = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ (perRowActivations ? 1 : 0))
        let picked = (g.pick([1, 2, 3, 5, 7, 13, 37]), g.pick([1, 2, 3, 7, 16, 31, 97, 128, 385, 1000, 4099]), g.pick([1, 3, 8, 15, 16, 17, 33]))
        let (m, k, n) = shape ?? picked
        let weightType: DType = unsignedWeights ? .u8 : .s8
        var sig = try OpSignature.linear(m: m, k: k, n: n, types: OperandTypes(input: .f32, weight: weightType, precision: .int8), output: .f32)
        let perChannel = !unsignedWeights && g.chance(0.6)
        let wZeroPoint: Int32 = unsignedWeights ? Int32(g.int(0...255)) : perChannel || g.chance(0.5) ? 0 : Int32(g.int(-128...127))
        let wScales = (0..<(perChannel ? n : 1)).map { _ in g.logUniform(0.002, 0.05) }
        let wQ = try QuantParams(scales: wScales, zeroPoints: [Int32](repeating: wZeroPoint, count: wScales.count),
                                 granularity: perChannel ? .perChannel(axis: 0) : .perTensor, dtype: weightType)
        sig.quantization = QuantizationScheme(perChannelWeights: perChannel, symmetricWeights: wZeroPoint == 0, weightZeroPoint: wZeroPoint,
                                              reduceRange: sevenBit, dynamic: true, perRowActivations: perRowActivations)
        sig.postOps = g.pick([[], [], [.relu], [.clip(min: -0.5, max: 0.75)]])
        var x: [Float] = []
        for _ in 0..<m {
            let spread = g.logUniform(0.01, 20)
            switch g.int(0...5) {
            case 0: x += [Float](repeating: g.pick([0, spread, -spread]), count: k)
            case 1: x += (0..<k).map { _ in -Float.random(in: 0.1...1, using: &g) * spread }
            case 2: x += (0..<k).map { _ in Float.random(in: 0.1...1, using: &g) * spread }
            case 3:
                var row = (0..<k).map { _ in Float.random(in: -1...1, using: &g) * spread }
                row[g.int(0...(k - 1))] = spread * g.pick([-300, 300])
                x += row
            default: x += (0..<k).map { _ in Float.random(in: -1...1.5, using: &g) * spread }
            }
        }
        let weight = unsignedWeights
            ? try Tensor((0..<(n * k)).map { _ in UInt8.random(in: 0...255, using: &g) }, shape: sig.weight, quantization: wQ)
            : try Tensor((0..<(n * k)).map { _ in Int8.random(in: -128...127, using: &g) }, shape: sig.weight, quantization: wQ)
        let bias = g.chance(0.6) ? try Tensor((0..<n).map { _ in Float.random(in: -2...2, using: &g) }, shape: TensorShape([n])) : nil
        return ConformanceCase(signature: sig, constants: OpConstants(weight: weight, bias: bias), inputs: [try Tensor(x, shape: sig.input)], seed: seed)
    }
}

private struct Builder {
    let kind: OpKind
    let seed: UInt64
    let sevenBit: Bool

    func activationParams(_ g: inout SeededGenerator) throws -> QuantParams {
        let zp = Int32(g.pick([0, 255, 128, g.int(0...255), g.int(0...255)]))
        return try QuantParams(scale: g.logUniform(0.002, 0.2), zeroPoint: zp, dtype: .u8)
    }

    func data(_ shape: TensorShape, _ type: DType, _ g: inout SeededGenerator, quantization: QuantParams? = nil) throws -> Tensor {
        switch type {
        case .u8: return try Tensor((0..<shape.elementCount).map { _ in UInt8.random(in: 0...255, using: &g) }, shape: shape, quantization: quantization)
        case .s8: return try Tensor((0..<shape.elementCount).map { _ in Int8.random(in: -128...127, using: &g) }, shape: shape, quantization: quantization)
        default: return try Tensor((0..<shape.elementCount).map { _ in Float.random(in: -1...1, using: &g) }, shape: shape, quantization: quantization)
        }
    }

    /// Output scale that keeps a sum of `k` products spread over the 8-bit range.
    func outputParams(inScale: Float, weightScale: Float, k: Int, _ g: inout SeededGenerator) throws -> QuantParams {
        let spread = inScale * weightScale * Float(k).squareRoot() * 128 * 74 / 3
        return try QuantParams(scale: max(spread / 40 * g.logUniform(0.5, 2), 1e-6), zeroPoint: Int32(g.pick([0, 128, g.int(0...255)])), dtype: .u8)
    }

    func postOps(_ g: inout SeededGenerator) -> [PostOp] {
        g.pick([[], [], [.relu], [.clip(min: -0.5, max: 0.75)]])
    }

    func make(_ g: inout SeededGenerator) throws -> ConformanceCase {
        switch kind {
        case .linear, .matmul, .conv2d, .convTranspose2d: return try matrixProduct(&g)
        default: return try other(&g)
        }
    }

    func matrixProduct(_ g: inout SeededGenerator) throws -> ConformanceCase {
        let inQ = sevenBit
            ? try QuantParams(scale: g.logUniform(0.002, 0.2), zeroPoint: Int32(g.pick([0, 127, g.int(0...127)])), dtype: .u8, reduceRange: true)
            : try activationParams(&g)
        var sig: OpSignature
        var outChannels: Int
        switch kind {
        case .linear:
            let (m, k, n) = (g.pick([1, 1, 2, 3, 5, 8, 13]), g.pick([1, 2, 3, 7, 16, 31, 97, 128]), g.pick([1, 3, 8, 15, 16, 17, 33]))
            sig = try .linear(m: m, k: k, n: n)
            outChannels = n
        case .matmul:
            let (b, m, k, n) = (g.int(1...3), g.int(1...6), g.pick([1, 3, 8, 17, 32]), g.int(1...19))
            sig = try .matmul(batch: b, m: m, k: k, n: n)
            if g.chance(0.3) { sig.weight = try TensorShape([k, n]) } // shared second operand
            outChannels = n
        default:
            let groups = g.pick([1, 1, 2, 3])
            let depthwise = kind == .conv2d && g.chance(0.25)
            let c = depthwise ? g.int(1...8) : groups * g.int(1...4)
            let oc = depthwise ? c : groups * g.int(1...4)
            let kh = g.pick([1, 2, 3, 5]), kw = g.pick([1, 3, 5])
            let stride = (g.int(1...2), g.int(1...3)), dil = (g.int(1...2), g.int(1...2))
            let h = g.int(kh...(kh + 6)) * dil.0, w = g.int(kw...(kw + 6)) * dil.1
            let pads = (g.int(0...(kh - 1)), g.int(0...(kw - 1)), g.int(0...(kh - 1)), g.int(0...(kw - 1)))
            let gr = depthwise ? c : groups
            let transposed = kind == .convTranspose2d
            let opad = transposed ? (g.int(0...(max(stride.0, dil.0) - 1)), g.int(0...(max(stride.1, dil.1) - 1))) : (0, 0)
            let weight = transposed ? try TensorShape([c, oc / gr, kh, kw]) : try TensorShape([oc, c / gr, kh, kw])
            sig = .convolution(input: try TensorShape([g.int(1...2), c, h, w]), weight: weight,
                               geometry: ConvolutionGeometry(stride: stride, pads: pads, dilation: dil, groups: gr, outputPadding: opad),
                               transposed: transposed)
            outChannels = oc
        }
        // Weights: s8 symmetric per channel (PyTorch x86) or u8 asymmetric per tensor (QNNPACK).
        let asymmetric = kind != .matmul && g.chance(0.3)
        let perChannel = kind != .matmul && !asymmetric && g.chance(0.7)
        let signedSecond = kind == .matmul && g.chance(0.5)
        sig.weightType = asymmetric ? .u8 : (kind == .matmul ? (signedSecond ? .s8 : .u8) : .s8)
        let wScales = (0..<(perChannel ? outChannels : 1)).map { _ in g.logUniform(0.002, 0.05) }
        let wZeroPoints: [Int32] = asymmetric ? [Int32(g.pick([0, 255, g.int(0...255)]))]
            : kind == .matmul ? [signedSecond ? Int32(g.pick([0, 0, g.int(-128...127)])) : Int32(g.int(0...255))]
            : [Int32](repeating: 0, count: wScales.count)
        let wQ = try QuantParams(scales: wScales, zeroPoints: wZeroPoints, granularity: perChannel ? .perChannel(axis: 0) : .perTensor, dtype: sig.weightType)
        sig.quantization = QuantizationScheme(perChannelWeights: perChannel, symmetricWeights: !asymmetric && kind != .matmul,
                                              inputZeroPoint: inQ.zeroPoint(), weightZeroPoint: wQ.zeroPoint(), reduceRange: sevenBit)
        sig.postOps = postOps(&g)
        let k = sig.gemm?.k ?? 1
        let toFloat = g.chance(0.2)
        sig.outputType = toFloat ? .f32 : .u8
        let outQ = toFloat ? nil : try outputParams(inScale: inQ.scale(), weightScale: wScales[0], k: k, &g)
        let bias: Tensor? = kind == .matmul ? nil : try g.pick([
            nil,
            Tensor((0..<outChannels).map { _ in Float.random(in: -2...2, using: &g) }, shape: TensorShape([outChannels])),
            Tensor((0..<outChannels).map { _ in Int32.random(in: -20000...20000, using: &g) }, shape: TensorShape([outChannels])),
        ])
        let input = sevenBit
            ? try Tensor((0..<sig.input.elementCount).map { _ in UInt8.random(in: 0...127, using: &g) }, shape: sig.input)
            : try data(sig.input, .u8, &g)
        if kind == .matmul {
            let second = try data(sig.weight, sig.weightType, &g)
            return ConformanceCase(signature: sig, constants: OpConstants(inputQuantization: inQ, outputQuantization: outQ, otherInputQuantizations: [wQ]),
                                   inputs: [input, second], seed: seed)
        }
        let weight = try data(sig.weight, sig.weightType, &g, quantization: wQ)
        return ConformanceCase(signature: sig, constants: OpConstants(weight: weight, bias: bias, inputQuantization: inQ, outputQuantization: outQ),
                               inputs: [input], seed: seed)
    }

    func other(_ g: inout SeededGenerator) throws -> ConformanceCase {
        let shape4 = try TensorShape([g.int(1...2), g.int(1...5), g.int(1...9), g.int(1...9)])
        var sig = OpSignature(kind: kind, precision: .int8, inputType: .u8, weightType: .u8, outputType: .u8,
                              input: shape4, weight: try TensorShape([]), quantization: QuantizationScheme(perChannelWeights: false))
        var inputs: [Tensor] = []
        var others: [QuantParams] = []
        var weight: Tensor?, bias: Tensor?
        let inQ = try activationParams(&g)
        var outQ = try activationParams(&g)
        switch kind {
        case .add, .mul:
            var b = shape4.dims
            for i in b.indices where g.chance(0.3) { b[i] = 1 }
            if g.chance(0.2) { b = Array(b.suffix(g.int(1...4))) }
            sig.attributes.otherInputs = [try TensorShape(b)]
            others = [try activationParams(&g)]
            sig.postOps = g.pick([[], [.relu]])
            inputs.append(try data(sig.attributes.otherInputs[0], .u8, &g))
        case .clip:
            sig.attributes.clipMin = Float.random(in: -1...0, using: &g)
            sig.attributes.clipMax = Float.random(in: 0...1, using: &g)
        case .maxPool2d, .avgPool2d:
            let kh = g.int(1...min(3, shape4[2])), kw = g.int(1...min(3, shape4[3]))
            sig.attributes.pooling = PoolingGeometry(kernel: (kh, kw), stride: (g.int(1...2), g.int(1...2)),
                                                     pads: (g.int(0...(kh - 1)), g.int(0...(kw - 1)), g.int(0...(kh - 1)), g.int(0...(kw - 1))),
                                                     countIncludePad: g.chance(0.5))
            if kind == .maxPool2d && g.chance(0.5) { outQ = inQ }
        case .concat:
            let axis = g.int(0...3)
            sig.attributes.axis = g.chance(0.5) ? axis : axis - 4
            for _ in 0..<g.int(1...2) {
                var d = shape4.dims
                d[axis] = g.int(1...4)
                let s = try TensorShape(d)
                sig.attributes.otherInputs.append(s)
                others.append(g.chance(0.3) ? inQ : try activationParams(&g))
                inputs.append(try data(s, .u8, &g))
            }
        case .softmax:
            sig.attributes.axis = g.pick([-1, 1])
            outQ = try QuantParams(scale: 1.0 / 256, zeroPoint: 0, dtype: .u8)
        case .layerNorm:
            let axis = g.int(1...3)
            sig.attributes.axis = axis
            sig.attributes.epsilon = 1e-5
            let n = shape4.dims[axis...].reduce(1, *)
            weight = try Tensor((0..<n).map { _ in Float.random(in: 0.5...1.5, using: &g) }, shape: TensorShape([n]))
            bias = try Tensor((0..<n).map { _ in Float.random(in: -0.5...0.5, using: &g) }, shape: TensorShape([n]))
            outQ = try QuantParams(scale: g.logUniform(0.01, 0.05), zeroPoint: 128, dtype: .u8)
        default:
            break
        }
        inputs.insert(try data(shape4, .u8, &g), at: 0)
        try sig.validate()
        return ConformanceCase(signature: sig, constants: OpConstants(weight: weight, bias: bias, inputQuantization: inQ,
                                                                      outputQuantization: outQ, otherInputQuantizations: others),
                               inputs: inputs, seed: seed)
    }
}
