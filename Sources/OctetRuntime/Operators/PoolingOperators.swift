import COctetGraphKernels
import OctetCore

/// MaxPool, AveragePool and GlobalAveragePool: 2-D pools of f32 and 8-bit tensors in C
/// kernels, every other spatial rank and element type (and MaxPool's Indices) in
/// `SpatialMaxPoolKernel` / `SpatialAveragePoolKernel`.
enum PoolingOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["MaxPool"] = { n, _ in try PoolOperator(n, max: true) }
        f["AveragePool"] = { n, _ in try PoolOperator(n, max: false) }
        f["GlobalAveragePool"] = { n, _ in try GlobalAveragePoolOperator(n) }
    }
}

/// The 8-bit form of AveragePool and GlobalAveragePool that `QDQFusion` makes of
/// DequantizeLinear → pool → QuantizeLinear (ONNX Runtime's QLinearAveragePool and
/// QLinearGlobalAveragePool): the node keeps its op type and reads the u8 or s8 codes,
/// with the parameters of its input and output as attributes `octet.scales` = [s_x, s_y]
/// and `octet.zero_points` = [z_x, z_y]. Each output is
/// `saturate(round_half_even(Σ(q − z_x) · s_x / count / s_y) + z_y)` over the window
/// (`octet_q8_avg_pool2d`), what the QDQ graph computes in f32 up to the order of the sum.
public struct PoolRequantization: Sendable, Equatable {
    public static let scalesAttribute = "octet.scales"
    public static let zeroPointsAttribute = "octet.zero_points"
    public var inputScale: Float, inputZeroPoint: Int32, outputScale: Float, outputZeroPoint: Int32
    /// The largest output code (`OutputCodeLimit`: 127 for a 7-bit output), `nil` for the type's maximum.
    public var outputMax: Int32?

    public init(inputScale: Float, inputZeroPoint: Int32, outputScale: Float, outputZeroPoint: Int32, outputMax: Int32? = nil) {
        (self.inputScale, self.inputZeroPoint, self.outputScale, self.outputZeroPoint) = (inputScale, inputZeroPoint, outputScale, outputZeroPoint)
        self.outputMax = outputMax
    }

    /// The parameters written on `n`, or `nil` when it has none (an f32 pool).
    /// - Throws: `GraphError` when the attributes are malformed.
    init?(_ n: Node) throws {
        let site = OperatorSite(n)
        guard let s = try n.floats(Self.scalesAttribute) else { return nil }
        guard s.count == 2, s.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw site.error("attribute \(Self.scalesAttribute) must hold 2 finite scales > 0 (input, output), got \(s)")
        }
        guard let z = try n.ints(Self.zeroPointsAttribute), z.count == 2, z.allSatisfy({ (-128...255).contains($0) }) else {
            throw site.error("attribute \(Self.zeroPointsAttribute) must hold 2 zero points in [-128, 255] (input, output)")
        }
        self.init(inputScale: s[0], inputZeroPoint: Int32(z[0]), outputScale: s[1], outputZeroPoint: Int32(z[1]), outputMax: try OutputCodeLimit.read(n))
    }

    /// Writes the parameters into a node's attributes.
    func annotate(_ attributes: inout [String: AttributeValue]) {
        attributes[Self.scalesAttribute] = .floats([inputScale, outputScale])
        attributes[Self.zeroPointsAttribute] = .ints([Int(inputZeroPoint), Int(outputZeroPoint)])
        if let outputMax { attributes[OutputCodeLimit.attribute] = .int(Int(outputMax)) }
    }

    /// Pools 8-bit `x` (N x C x H x W, NCHW or NHWC) into `y` with the given window.
    static func run(_ q: PoolRequantization, _ x: Tensor, into y: inout Tensor, output: (h: Int, w: Int), kernel: (Int, Int),
                    strides: (Int, Int), pads: (Int, Int, Int, Int), countIncludePad: Bool) {
        let (nb, c, h, w) = (x.shape.dims[0], x.shape.dims[1], x.shape.dims[2], x.shape.dims[3])
        let nhwc = x.layout == .nhwc, rows = nb * (nhwc ? 1 : c) * output.h
        x.withUnsafeBytes { src in
            y.withUnsafeMutableBytes { dst in
                guard let s = src.baseAddress?.assumingMemoryBound(to: UInt8.self), let d = dst.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
                let work = max(1, (nhwc ? c : 1) * output.w * kernel.0 * kernel.1)
                let g = PoolGeometry(h: h, w: w, oh: output.h, ow: output.w, kernel: kernel, strides: strides, pads: pads, dilations: (1, 1))
                let task = AveragePool(q: q, signed: x.dtype == .s8, nhwc: nhwc, s: s, d: d, nb: nb, c: c, g: g, countIncludePad: countIncludePad)
                IntraOpParallelism.forEachChunk(rows, grain: max(1, 65536 / work), task)
            }
        }
    }

    /// `run`'s output rows `range`.
    private struct AveragePool: RangeTask {
        let q: PoolRequantization, signed: Bool, nhwc: Bool
        let s: UnsafePointer<UInt8>, d: UnsafeMutablePointer<UInt8>, nb: Int, c: Int, g: PoolGeometry, countIncludePad: Bool

        func callAsFunction(_ r: Range<Int>) {
            octet_q8_avg_pool2d(signed ? 1 : 0, nhwc ? 1 : 0, s, d, nb, c, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.top, g.left,
                                g.bottom, g.right, countIncludePad ? 1 : 0, q.inputScale, q.inputZeroPoint,
                                q.outputScale, q.outputZeroPoint, q.outputMax ?? 255, r.lowerBound, r.upperBound)
        }
    }
}

/// The 2-D window of a pooling kernel call, in the C kernels' 32-bit integers (the caller
/// checked that every value fits).
struct PoolGeometry {
    let h: Int32, w: Int32, oh: Int32, ow: Int32, kh: Int32, kw: Int32, sh: Int32, sw: Int32
    let top: Int32, left: Int32, bottom: Int32, right: Int32, dh: Int32, dw: Int32

    init(h: Int, w: Int, oh: Int, ow: Int, kernel: (Int, Int), strides: (Int, Int), pads: (Int, Int, Int, Int), dilations: (Int, Int)) {
        (self.h, self.w, self.oh, self.ow) = (Int32(h), Int32(w), Int32(oh), Int32(ow))
        (kh, kw, sh, sw) = (Int32(kernel.0), Int32(kernel.1), Int32(strides.0), Int32(strides.1))
        (top, left, bottom, right) = (Int32(pads.0), Int32(pads.1), Int32(pads.2), Int32(pads.3))
        (dh, dw) = (Int32(dilations.0), Int32(dilations.1))
    }
}

/// The auto_pad / pads / ceil_mode arithmetic shared by pooling and convolution.
struct WindowGeometry: Sendable {
    var kernel: [Int]
    var strides: [Int]
    var dilations: [Int]
    /// Begin pads then end pads, as ONNX orders them.
    var pads: [Int]
    var autoPad: String
    var ceilMode: Bool
    let site: OperatorSite

    init(_ n: Node, kernel: [Int]) throws(GraphError) {
        let r = kernel.count
        site = OperatorSite(n)
        self.kernel = kernel
        strides = try n.ints("strides") ?? Array(repeating: 1, count: r)
        dilations = try n.ints("dilations") ?? Array(repeating: 1, count: r)
        pads = try n.ints("pads") ?? Array(repeating: 0, count: 2 * r)
        autoPad = try n.string("auto_pad", default: "NOTSET")
        ceilMode = try n.int("ceil_mode", default: 0) != 0
        guard strides.count == r, dilations.count == r, pads.count == 2 * r else {
            throw .node(node: n.name, opType: n.opType, detail: "strides, dilations and pads must match the \(r) spatial dimensions of the kernel")
        }
        guard strides.allSatisfy({ $0 >= 1 }), dilations.allSatisfy({ $0 >= 1 }), pads.allSatisfy({ $0 >= 0 }), kernel.allSatisfy({ $0 >= 1 }) else {
            throw .node(node: n.name, opType: n.opType, detail: "kernel, strides and dilations must be ≥ 1 and pads ≥ 0")
        }
        guard ["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"].contains(autoPad) else {
            throw .attribute(node: n.name, opType: n.opType, name: "auto_pad", expected: "NOTSET, VALID, SAME_UPPER or SAME_LOWER", got: autoPad)
        }
    }

    /// Pooling windows must overlap the input: every pad smaller than the kernel along its
    /// axis, as ONNX Runtime requires ("Pad should be smaller than kernel"); larger pads
    /// give windows of padding only (-inf for MaxPool, 0 or NaN for AveragePool).
    func requirePadsSmallerThanKernel() throws(GraphError) {
        let r = kernel.count
        guard autoPad == "NOTSET" else { return }
        for i in 0..<r where pads[i] >= kernel[i] || pads[i + r] >= kernel[i] {
            throw .attribute(node: site.node, opType: site.opType, name: "pads",
                             expected: "smaller than kernel_shape \(kernel) along each axis", got: "\(pads)")
        }
    }

    /// Pads (begin..., end...) and output sizes for a spatial input size. Every sum and
    /// product is checked: huge pads, strides or dilations are an error naming them.
    func resolve(_ input: [Int]) throws(GraphError) -> (pads: [Int], output: [Int]) {
        let r = kernel.count
        guard input.count == r else {
            throw .attribute(node: site.node, opType: site.opType, name: "kernel_shape", expected: "\(input.count) values, one per spatial axis of the input", got: "\(kernel)")
        }
        var p = pads
        var out = [Int](repeating: 0, count: r)
        for i in 0..<r {
            (p[i], p[i + r], out[i]) = try resolve(axis: i, size: input[i])
        }
        return (p, out)
    }

    /// `resolve` for a 2-D window (kernel of two axes), without arrays: begin pads, end
    /// pads and output sizes, as `(h, w)` pairs.
    func resolve2D(height: Int, width: Int) throws(GraphError) -> (begin: (Int, Int), end: (Int, Int), output: (h: Int, w: Int)) {
        guard kernel.count == 2 else {
            throw .attribute(node: site.node, opType: site.opType, name: "kernel_shape", expected: "2 values, one per spatial axis of the input", got: "\(kernel)")
        }
        let y = try resolve(axis: 0, size: height), x = try resolve(axis: 1, size: width)
        return ((y.begin, x.begin), (y.end, x.end), (y.output, x.output))
    }

    /// Spatial axis `i`'s begin and end pads and output size for an input of `size`.
    private func resolve(axis i: Int, size: Int) throws(GraphError) -> (begin: Int, end: Int, output: Int) {
        let r = kernel.count
        return try site.checked("the output size along spatial axis \(i) (input \(size), kernel_shape \(kernel), strides \(strides), dilations \(dilations), pads \(pads))") {
            () throws(ArithmeticOverflow) in
            let eff = try dilations[i].multiplied(by: kernel[i] - 1).adding(1)
            switch autoPad {
            case "VALID":
                return (0, 0, max(0, try size.subtracting(eff) / strides[i] + 1))
            case "SAME_UPPER", "SAME_LOWER":
                let out = size.dividedRoundingUp(by: strides[i])
                let total = max(0, try (out - 1).multiplied(by: strides[i]).adding(eff).subtracting(size))
                let small = total / 2
                let begin = autoPad == "SAME_UPPER" ? small : total - small
                return (begin, total - begin, out)
            default:
                let (begin, end) = (pads[i], pads[i + r])
                let span = try size.adding(begin).adding(end).subtracting(eff)
                if span < 0 { return (begin, end, 0) }
                guard ceilMode else { return (begin, end, span / strides[i] + 1) }
                var o = span.dividedRoundingUp(by: strides[i]) + 1
                // The last window must start inside the input or the begin padding.
                if try (o - 1).multiplied(by: strides[i]) >= size.adding(begin) { o -= 1 }
                return (begin, end, o)
            }
        }
    }
}

/// MaxPool and AveragePool (ONNX operator spec, opsets 1–22) over an N x C x D1 x … x Dk
/// input, k ≥ 1. 2-D f32 and 8-bit pools without Indices run in the C kernels
/// (`octet_f32_pool2d`, `octet_i8_max_pool2d`, `octet_q8_avg_pool2d`); the rest in the
/// N-D kernels of `SpatialPoolKernels.swift`. MaxPool's optional second output (opset 8) is
/// the int64 flat index of each chosen input, ordered by `storage_order`.
struct PoolOperator: GraphOperator {
    let site: OperatorSite
    let max: Bool
    let window: WindowGeometry
    let countIncludePad: Bool
    /// MaxPool's Indices output is wanted; `columnMajor` is its storage_order = 1.
    let indices: Bool
    let columnMajor: Bool
    /// The 8-bit average pool's parameters (`PoolRequantization`).
    let requantization: PoolRequantization?

    init(_ n: Node, max: Bool) throws {
        site = OperatorSite(n)
        self.max = max
        requantization = max ? nil : try PoolRequantization(n)
        guard let k = try n.ints("kernel_shape") else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "kernel_shape", expected: "a list of ints", got: "nothing")
        }
        guard !k.isEmpty else { throw GraphError.attribute(node: n.name, opType: n.opType, name: "kernel_shape", expected: "one size per spatial axis", got: "[]") }
        window = try WindowGeometry(n, kernel: k)
        try window.requirePadsSmallerThanKernel()
        countIncludePad = try n.int("count_include_pad", default: 0) != 0
        indices = max && n.outputs.count > 1 && !n.outputs[1].isEmpty
        let order = try n.int("storage_order", default: 0)
        guard order == 0 || order == 1 else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "storage_order", expected: "0 (row major) or 1 (column major)", got: "\(order)")
        }
        columnMajor = order == 1
    }

    /// Whether a pool of `dtype` runs in the 2-D C kernels.
    private func runsIn2DKernels(_ dtype: DType) -> Bool {
        window.kernel.count == 2 && !indices && (dtype == .f32 || dtype.isQuantized8Bit)
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        // MaxPool also takes 8-bit integers (opset 12), which QDQ fusion hands it; AveragePool
        // takes them with the parameters QDQ fusion writes on it (`PoolRequantization`).
        let eightBit = max || requantization != nil
        guard t.dtype.isFloatingPoint || (eightBit && t.dtype.isQuantized8Bit) else {
            throw site.error("needs a floating-point\(eightBit ? ", u8 or s8" : "") input, got \(t.dtype)")
        }
        let r = window.kernel.count
        let y: ValueType
        if let s = t.shape {
            guard s.rank == r + 2 else { throw site.error("needs an N x C x spatial input of rank \(r + 2) (kernel_shape \(window.kernel)), got \(s)") }
            let spatial = s.dims[2...].compactMap(\.value)
            if spatial.count == r {
                y = ValueType(t.dtype, SymbolicShape([s.dims[0], s.dims[1]] + (try window.resolve(spatial).output).map { .fixed($0) }))
            } else {
                y = ValueType(t.dtype, SymbolicShape([s.dims[0], s.dims[1]] + (0..<r).map { .symbol("\(site.node)_d\($0)") }))
            }
        } else {
            y = ValueType(t.dtype, nil)
        }
        return indices ? [y, ValueType(.s64, y.shape)] : [y]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        guard x.shape.rank == window.kernel.count + 2 else {
            throw site.error("needs an N x C x spatial input of rank \(window.kernel.count + 2) (kernel_shape \(window.kernel)), got \(x.shape)")
        }
        guard runsIn2DKernels(x.dtype) else { return try runSpatial(x, outputs: &outputs) }
        let (nb, c, h, w) = (x.shape.dims[0], x.shape.dims[1], x.shape.dims[2], x.shape.dims[3])
        // Tuples, not arrays: a warm run allocates nothing.
        let (begin, end, (oh, ow)) = try window.resolve2D(height: h, width: w)
        let p = (begin.0, begin.1, end.0, end.1)
        // A stride along an axis with one window is never applied (ONNX Runtime takes any).
        let (sh, sw) = (oh <= 1 ? 1 : window.strides[0], ow <= 1 ? 1 : window.strides[1])
        let (kh, kw, dh, dw) = (window.kernel[0], window.kernel[1], window.dilations[0], window.dilations[1])
        let sizes = Swift.max(Swift.max(h, w), Swift.max(oh, ow)), window2 = Swift.max(Swift.max(kh, kw), Swift.max(sh, sw))
        let spread = Swift.max(Swift.max(dh, dw), Swift.max(Swift.max(p.0, p.1), Swift.max(p.2, p.3)))
        guard Swift.max(sizes, Swift.max(window2, spread)) <= Int(Int32.max) else {
            throw site.error("input \(h)x\(w) with kernel_shape \(window.kernel), strides \(window.strides), dilations \(window.dilations), pads \([p.0, p.1, p.2, p.3]) exceeds the 32-bit range of the pooling kernel")
        }
        // Each below 2^31: neither product overflows.
        try PoolWindows.requireWalkable(oh * ow, windowsOf: kh * kw, window)
        let geometry = PoolGeometry(h: h, w: w, oh: oh, ow: ow, kernel: (kh, kw), strides: (sh, sw), pads: p, dilations: (dh, dw))
        if x.dtype != .f32, let q = requantization {
            guard dh == 1, dw == 1 else { throw site.error("an 8-bit average pool takes no dilations, got \(window.dilations)") }
            PoolRequantization.run(q, x, into: &outputs[0], output: (oh, ow), kernel: (kh, kw), strides: (sh, sw), pads: p, countIncludePad: countIncludePad)
            return
        }
        if x.dtype != .f32 {
            x.withUnsafeBytes { src in
                outputs[0].withUnsafeMutableBytes { dst in
                    guard let s = src.baseAddress?.assumingMemoryBound(to: UInt8.self), let d = dst.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
                    let nhwc = x.layout == .nhwc, rows = nb * (nhwc ? 1 : c) * oh
                    // Split when each thread gets tens of thousands of byte compares (a wake-up costs microseconds).
                    let task = IntegerMaxPool(signed: x.dtype == .s8, nhwc: nhwc, s: s, d: d, nb: nb, c: c, g: geometry)
                    IntraOpParallelism.forEachChunk(rows, grain: Swift.max(1, 65536 / Swift.max(1, (nhwc ? c : 1) * ow * kh * kw)), task)
                }
            }
            return
        }
        try x.withUnsafeBufferPointer(as: Float.self) { src in
            try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                if x.layout == .nhwc {
                    octet_f32_pool2d_nhwc(max ? 1 : 0, s, d, nb, c, Int32(h), Int32(w), Int32(oh), Int32(ow), Int32(kh), Int32(kw), Int32(sh), Int32(sw),
                                          Int32(p.0), Int32(p.1), Int32(p.2), Int32(p.3), Int32(dh), Int32(dw), countIncludePad ? 1 : 0)
                    return
                }
                if max, dh == 1, dw == 1 {
                    // Separable max pooling, split over planes (the same values as the general kernel).
                    IntraOpParallelism.forEachChunk(nb * c, grain: Swift.max(1, 65536 / Swift.max(1, oh * ow * (kh + kw))), MaxPoolPlanes(s: s, d: d, g: geometry))
                    return
                }
                octet_f32_pool2d(max ? 1 : 0, s, d, nb * c, Int32(h), Int32(w), Int32(oh), Int32(ow), Int32(kh), Int32(kw), Int32(sh), Int32(sw),
                                 Int32(p.0), Int32(p.1), Int32(p.2), Int32(p.3), Int32(dh), Int32(dw), countIncludePad ? 1 : 0)
            }
        }
    }
}

extension PoolOperator {
    /// 8-bit max pooling of output rows `range`.
    private struct IntegerMaxPool: RangeTask {
        let signed: Bool, nhwc: Bool, s: UnsafePointer<UInt8>, d: UnsafeMutablePointer<UInt8>, nb: Int, c: Int, g: PoolGeometry

        func callAsFunction(_ r: Range<Int>) {
            octet_i8_max_pool2d(signed ? 1 : 0, nhwc ? 1 : 0, s, d, nb, c, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.top, g.left, g.dh, g.dw,
                                r.lowerBound, r.upperBound)
        }
    }

    /// Separable f32 max pooling (no dilations) of NCHW planes `range`.
    private struct MaxPoolPlanes: RangeTask {
        let s: UnsafePointer<Float>, d: UnsafeMutablePointer<Float>, g: PoolGeometry

        func callAsFunction(_ r: Range<Int>) {
            octet_f32_max_pool2d_planes(s, d, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.top, g.left, g.bottom, g.right, r.lowerBound, r.upperBound)
        }
    }
}

extension PoolOperator {
    /// Any spatial rank and element type, and MaxPool's Indices: the N-D kernels.
    private func runSpatial(_ x: Tensor, outputs: inout [Tensor]) throws {
        guard x.layout != .nhwc else { throw site.error("an N-D pool needs an NCHW (row-major) input, got \(x.layout)") }
        let input = Array(x.shape.dims[2...])
        let (pads, output) = try window.resolve(input)
        let windows = try PoolWindows(input: input, output: output, window: window, pads: pads)
        if max {
            let kernel = SpatialMaxPoolKernel(x: x, windows: windows, indices: indices, columnMajor: columnMajor)
            guard let chosen = try x.dtype.visitNumeric(kernel, into: &outputs[0]) else { throw site.error("needs a numeric input, got \(x.dtype)") }
            if indices { outputs[1] = try Tensor(chosen, shape: outputs[0].shape) }
            return
        }
        guard requantization == nil else { throw site.error("an 8-bit average pool must be 2-D, kernel_shape is \(window.kernel)") }
        let kernel = SpatialAveragePoolKernel(x: x, windows: windows, countIncludePad: countIncludePad)
        guard try x.dtype.visitFloat(kernel, into: &outputs[0]) != nil else { throw site.error("needs a floating-point input, got \(x.dtype)") }
    }
}

struct GlobalAveragePoolOperator: GraphOperator {
    let site: OperatorSite
    /// The 8-bit form's parameters (`PoolRequantization`).
    let requantization: PoolRequantization?

    init(_ n: Node) throws {
        site = OperatorSite(n)
        requantization = try PoolRequantization(n)
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        if requantization != nil {
            guard t.dtype.isQuantized8Bit else { throw site.error("with \(PoolRequantization.scalesAttribute) needs u8 or s8 input, got \(t.dtype)") }
            if let s = t.shape, s.rank != 4 { throw site.error("an 8-bit global average pool needs N x C x H x W, got \(s)") }
        } else {
            guard t.dtype == .f32 else { throw site.error("needs f32 input, got \(t.dtype)") }
        }
        guard let s = t.shape else { return [t] }
        guard s.rank >= 3 else { throw site.error("needs N x C x spatial..., got \(s)") }
        return [ValueType(t.dtype, SymbolicShape(Array(s.dims[..<2]) + Array(repeating: .fixed(1), count: s.rank - 2)))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        if let q = requantization {
            guard x.shape.rank == 4, x.dtype.isQuantized8Bit else { throw site.error("an 8-bit global average pool needs u8 or s8 N x C x H x W, got \(x.dtype) \(x.shape)") }
            let (h, w) = (x.shape.dims[2], x.shape.dims[3])
            guard h <= Int(Int32.max), w <= Int(Int32.max), h.multipliedReportingOverflow(by: w).partialValue < (1 << 23) else {
                throw site.error("a \(h) x \(w) image exceeds the 2^23 positions an 8-bit global average sums exactly")
            }
            PoolRequantization.run(q, x, into: &outputs[0], output: (1, 1), kernel: (h, w), strides: (1, 1), pads: (0, 0, 0, 0), countIncludePad: false)
            return
        }
        let planes = x.shape.dims[0] * x.shape.dims[1]
        let inner = x.shape.elementCount / max(planes, 1)
        try x.withUnsafeBufferPointer(as: Float.self) { src in
            try outputs[0].withUnsafeMutableBufferPointer(as: Float.self) { dst in
                if x.layout == .nhwc, let s = src.baseAddress, let d = dst.baseAddress {
                    // N x C x 1 x 1 is the same in either layout.
                    octet_f32_global_avg_pool_nhwc(s, d, x.shape.dims[0], inner, x.shape.dims[1])
                    return
                }
                for p in 0..<planes {
                    var s: Float = 0
                    for i in 0..<inner { s += src[p * inner + i] }
                    dst[p] = s / Float(max(inner, 1))
                }
            }
        }
    }
}
