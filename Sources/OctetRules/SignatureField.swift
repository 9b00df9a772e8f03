import OctetCore
import OctetCPU

/// A value a rule condition compares: an integer, a boolean or a word.
public enum FieldValue: Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case bool(Bool)
    case string(String)

    public var description: String {
        switch self {
        case let .int(i): "\(i)"
        case let .bool(b): "\(b)"
        case let .string(s): s
        }
    }
}

/// The fields of an op signature and its target that rules may test. The raw values
/// are the names used in `backends.json`.
public enum SignatureField: String, Sendable, CaseIterable, Hashable {
    case m, n, k, batch
    case groups
    case inChannels = "in_channels", outChannels = "out_channels"
    case kernelH = "kernel_h", kernelW = "kernel_w"
    case strideH = "stride_h", strideW = "stride_w"
    case dilationH = "dilation_h", dilationW = "dilation_w"
    case maxPad = "max_pad"
    case outputPadding = "output_padding"
    case depthwise
    case precision
    case inputDtype = "input_dtype", weightDtype = "weight_dtype", outputDtype = "output_dtype"
    case perChannel = "per_channel"
    case weightSymmetric = "weight_symmetric"
    case inputZeroPoint = "input_zero_point", weightZeroPoint = "weight_zero_point"
    case reduceRange = "reduce_range"
    case dynamic
    case postOp = "post_op"
    case os, arch

    /// The kind of value the field holds.
    public enum ValueKind: Sendable, Equatable, CustomStringConvertible {
        case int
        case bool
        /// A word from a closed set.
        case word([String])

        public var description: String {
            switch self {
            case .int: "an integer"
            case .bool: "a boolean"
            case let .word(allowed): "one of \(allowed.joined(separator: ", "))"
            }
        }
    }

    public var kind: ValueKind {
        switch self {
        case .m, .n, .k, .batch, .groups, .inChannels, .outChannels, .kernelH, .kernelW, .strideH, .strideW,
             .dilationH, .dilationW, .maxPad, .outputPadding, .inputZeroPoint, .weightZeroPoint:
            .int
        case .depthwise, .perChannel, .weightSymmetric, .reduceRange, .dynamic:
            .bool
        case .precision: .word(Precision.allCases.map(\.rawValue))
        case .inputDtype, .weightDtype, .outputDtype: .word(DType.allCases.map(\.rawValue))
        case .postOp: .word(["none", "relu", "clip"])
        case .os: .word(["linux", "macos", "windows", "other"])
        case .arch: .word(["x86_64", "aarch64", "other"])
        }
    }

    /// The field's value for `signature` on `cpu`; `nil` when the field does not apply
    /// to the op (e.g. `groups` of a linear layer, `input_zero_point` of an fp32 op).
    public func value(in s: OpSignature, cpu: CPUFeatures) -> FieldValue? {
        let g = s.convolution
        let q = s.quantization
        switch self {
        case .m: return s.gemm.map { .int($0.m) }
        case .n: return s.gemm.map { .int($0.n) }
        case .k: return s.gemm.map { .int($0.k) }
        case .batch: return s.gemm.map { .int($0.batch) }
        case .groups: return g.map { .int($0.groups) }
        case .inChannels: return s.inputChannels.map { .int($0) }
        case .outChannels: return s.outputChannels.map { .int($0) }
        case .kernelH: return s.kind.isConvolution && s.weight.rank == 4 ? .int(s.weight[2]) : nil
        case .kernelW: return s.kind.isConvolution && s.weight.rank == 4 ? .int(s.weight[3]) : nil
        case .strideH: return g.map { .int($0.strideH) }
        case .strideW: return g.map { .int($0.strideW) }
        case .dilationH: return g.map { .int($0.dilationH) }
        case .dilationW: return g.map { .int($0.dilationW) }
        case .maxPad: return g.map { .int(max($0.padTop, $0.padLeft, $0.padBottom, $0.padRight)) }
        case .outputPadding: return g.map { .int(max($0.outputPaddingH, $0.outputPaddingW)) }
        case .depthwise: return s.kind.isConvolution ? .bool(s.isDepthwise) : nil
        case .precision: return .string(s.precision.rawValue)
        case .inputDtype: return .string(s.inputType.rawValue)
        case .weightDtype: return .string(s.weightType.rawValue)
        case .outputDtype: return .string(s.outputType.rawValue)
        case .perChannel: return q.map { .bool($0.perChannelWeights) }
        case .weightSymmetric: return q.map { .bool($0.symmetricWeights) }
        case .inputZeroPoint: return q.map { .int(Int($0.inputZeroPoint)) }
        case .weightZeroPoint: return q.map { .int(Int($0.weightZeroPoint)) }
        case .reduceRange: return q.map { .bool($0.reduceRange) }
        case .dynamic: return .bool(q?.dynamic ?? false)
        case .postOp: return .string(s.postOps.last?.name ?? "none")
        case .os: return .string(cpu.operatingSystem)
        case .arch: return .string(cpu.architecture)
        }
    }
}
