import COctetPlugin
import OctetCore
import OctetDispatch

/// `OpSignature` as the ABI's `octet_plugin_signature`.
enum PluginSignature {
    static func withC<R>(_ s: OpSignature, _ body: (UnsafePointer<octet_plugin_signature>) throws -> R) rethrows -> R {
        var c = octet_plugin_signature()
        c.input_dtype = PluginTensors.code(s.inputType)
        c.weight_dtype = PluginTensors.code(s.weightType)
        c.output_dtype = PluginTensors.code(s.outputType)
        (c.input_rank, c.input_dims) = PluginTensors.dims(s.input)
        if s.weight.rank > 0 { (c.weight_rank, c.weight_dims) = PluginTensors.dims(s.weight) }
        if let out = s.outputShape { (c.output_rank, c.output_dims) = PluginTensors.dims(out) }
        c.channels_last = s.activationLayout == .nhwc ? 1 : 0
        if let g = s.gemm { (c.m, c.n, c.k) = (Int64(g.m), Int64(g.n), Int64(g.k)) }
        if let g = s.convolution {
            c.stride = (Int64(g.strideH), Int64(g.strideW))
            c.pads = (Int64(g.padTop), Int64(g.padLeft), Int64(g.padBottom), Int64(g.padRight))
            c.dilation = (Int64(g.dilationH), Int64(g.dilationW))
            c.groups = Int64(g.groups)
        }
        var lo = -Float.infinity, hi = Float.infinity
        for p in s.postOps {
            switch p {
            case .relu:
                lo = max(lo, 0)
                if c.post_op == 0 { c.post_op = Int32(OCTET_PLUGIN_POST_RELU.rawValue) }
            case let .clip(a, b):
                lo = max(lo, a)
                hi = min(hi, b)
                c.post_op = Int32(OCTET_PLUGIN_POST_CLIP.rawValue)
            case .sum: break // declined before the plugin is asked (`PluginBackend.capability`)
            }
        }
        if c.post_op == Int32(OCTET_PLUGIN_POST_CLIP.rawValue) { (c.clip_min, c.clip_max) = (lo, hi) }
        if let q = s.quantization {
            c.per_channel_weights = q.perChannelWeights ? 1 : 0
            c.symmetric_weights = q.symmetricWeights ? 1 : 0
            c.reduce_range = q.reduceRange ? 1 : 0
            c.dynamic = q.dynamic ? 1 : 0
            c.input_zero_point = q.inputZeroPoint
            c.weight_zero_point = q.weightZeroPoint
        }
        return try s.kind.rawValue.withCString { kind in
            try s.precision.rawValue.withCString { precision in
                try s.description.withCString { text in
                    c.kind = kind
                    c.precision = precision
                    c.text = text
                    return try body(&c)
                }
            }
        }
    }
}

/// Tensors and constants as the ABI's structs, valid for one call.
enum PluginTensors {
    static func code(_ d: DType) -> Int32 {
        let c: octet_plugin_dtype = switch d {
        case .f32: OCTET_PLUGIN_F32
        case .f16: OCTET_PLUGIN_F16
        case .u8: OCTET_PLUGIN_U8
        case .s8: OCTET_PLUGIN_S8
        case .s32: OCTET_PLUGIN_S32
        case .s64: OCTET_PLUGIN_S64
        case .bool: OCTET_PLUGIN_BOOL
        case .u16: OCTET_PLUGIN_U16
        case .s16: OCTET_PLUGIN_S16
        case .u32: OCTET_PLUGIN_U32
        case .u64: OCTET_PLUGIN_U64
        case .f64: OCTET_PLUGIN_F64
        case .bf16: OCTET_PLUGIN_BF16
        }
        return Int32(c.rawValue)
    }

    typealias Dims = (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64)

    /// Rank and dims, at most `OCTET_PLUGIN_MAX_RANK` of them (signatures are ≤ 4-D).
    static func dims(_ s: TensorShape) -> (Int32, Dims) {
        var d: Dims = (0, 0, 0, 0, 0, 0, 0, 0)
        let n = min(s.rank, Int(OCTET_PLUGIN_MAX_RANK))
        withUnsafeMutableBytes(of: &d) { raw in
            for i in 0..<n { raw.storeBytes(of: Int64(s.dims[i]), toByteOffset: i * 8, as: Int64.self) }
        }
        return (Int32(n), d)
    }

    static func withQuantization<R>(_ q: QuantParams?, _ body: (octet_plugin_quantization) throws -> R) rethrows -> R {
        guard let q else { return try body(octet_plugin_quantization()) }
        return try q.scales.withUnsafeBufferPointer { s in
            try q.zeroPoints.withUnsafeBufferPointer { z in
                let axis: Int32 = if case let .perChannel(a) = q.granularity { Int32(a) } else { 0 }
                return try body(octet_plugin_quantization(count: s.count, scales: s.baseAddress, zero_points: z.baseAddress, axis: axis))
            }
        }
    }

    static func describe(_ t: Tensor, data: UnsafeMutableRawPointer?, _ q: octet_plugin_quantization) -> octet_plugin_tensor {
        var c = octet_plugin_tensor()
        c.dtype = code(t.dtype)
        (c.rank, c.dims) = dims(t.shape)
        c.channels_last = t.layout == .nhwc ? 1 : 0
        c.data = data
        c.byte_count = t.byteCount
        c.quantization = q
        return c
    }

    /// The tensors of `inputs`, in order, for the duration of `body`.
    static func withC<R>(_ inputs: [Tensor], _ body: ([octet_plugin_tensor]) throws -> R) rethrows -> R {
        func go(_ i: Int, _ done: [octet_plugin_tensor]) throws -> R {
            guard i < inputs.count else { return try body(done) }
            return try inputs[i].withUnsafeBytes { raw in
                try withQuantization(inputs[i].quantization) { q in
                    try go(i + 1, done + [describe(inputs[i], data: raw.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }, q)])
                }
            }
        }
        return try go(0, [])
    }

    static func withMutableC<R>(_ t: inout Tensor, _ body: (UnsafeMutablePointer<octet_plugin_tensor>) throws -> R) rethrows -> R {
        let copy = t
        return try t.withUnsafeMutableBytes { raw in
            try withQuantization(copy.quantization) { q in
                var c = describe(copy, data: raw.baseAddress, q)
                return try body(&c)
            }
        }
    }

    static func withConstants<R>(_ k: OpConstants, _ body: (UnsafePointer<octet_plugin_constants>) throws -> R) rethrows -> R {
        let present = [k.weight, k.bias].compactMap { $0 }
        return try withC(present) { tensors in
            try withQuantization(k.inputQuantization) { qin in
                try withQuantization(k.outputQuantization) { qout in
                    var weight = k.weight == nil ? nil : tensors.first
                    var bias = k.bias == nil ? nil : tensors.last
                    return try withOptionalPointer(&weight) { w in
                        try withOptionalPointer(&bias) { b in
                            var c = octet_plugin_constants(weight: w, bias: b, input_quantization: qin, output_quantization: qout)
                            return try body(&c)
                        }
                    }
                }
            }
        }
    }

    private static func withOptionalPointer<T, R>(_ value: inout T?, _ body: (UnsafePointer<T>?) throws -> R) rethrows -> R {
        guard value != nil else { return try body(nil) }
        return try withUnsafePointer(to: &value!) { try body($0) }
    }
}
