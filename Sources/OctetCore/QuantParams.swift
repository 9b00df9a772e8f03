/// Affine quantization parameters: `x ≈ (q - zeroPoint) * scale`, `q ∈ qmin...qmax`.
///
/// Per-tensor parameters hold one scale and zero point; per-channel parameters hold one
/// per index of `axis`. Construction validates everything a kernel relies on, so a
/// `QuantParams` value is always usable.
public struct QuantParams: Sendable, Hashable, CustomStringConvertible {
    /// Per tensor, or per channel along an axis.
    public enum Granularity: Sendable, Hashable {
        case perTensor
        case perChannel(axis: Int)
    }

    /// The integer type the quantized values are stored in (`u8` or `s8`, `s32` for bias).
    public let dtype: DType
    /// One scale (per tensor) or one per channel. Finite, > 0, with a finite reciprocal.
    public let scales: [Float]
    /// One zero point (per tensor) or one per channel, each inside `qmin...qmax`.
    public let zeroPoints: [Int32]
    /// Per tensor or per channel.
    public let granularity: Granularity
    /// Smallest quantized value used.
    public let qmin: Int32
    /// Largest quantized value used.
    public let qmax: Int32
    /// Whether the range was cut by one bit (PyTorch's `reduce_range`): u8 0...127,
    /// s8 -64...63. Avoids int16 saturation in `vpmaddubsw` kernels on CPUs without VNNI.
    public let reduceRange: Bool

    /// Per-tensor parameters.
    public init(scale: Float, zeroPoint: Int32, dtype: DType, reduceRange: Bool = false) throws(QuantizationError) {
        try self.init(scales: [scale], zeroPoints: [zeroPoint], granularity: .perTensor, dtype: dtype, reduceRange: reduceRange)
    }

    /// General form. The range is the dtype's full range, or its reduced range.
    public init(scales: [Float], zeroPoints: [Int32], granularity: Granularity, dtype: DType, reduceRange: Bool = false) throws(QuantizationError) {
        let range = try Self.quantizedRange(dtype: dtype, reduceRange: reduceRange)
        try self.init(scales: scales, zeroPoints: zeroPoints, granularity: granularity, dtype: dtype, qmin: range.lowerBound, qmax: range.upperBound, reduceRange: reduceRange)
    }

    /// General form with an explicit quantized range (PyTorch's `quant_min` / `quant_max`).
    public init(scales: [Float], zeroPoints: [Int32], granularity: Granularity, dtype: DType, qmin: Int32, qmax: Int32, reduceRange: Bool = false) throws(QuantizationError) {
        guard let full = dtype.integerRange else { throw .notAnIntegerType(dtype) }
        guard qmin < qmax, full.contains(qmin), full.contains(qmax) else {
            throw .badRange(qmin: qmin, qmax: qmax, dtype: dtype)
        }
        guard !scales.isEmpty, scales.count == zeroPoints.count else {
            throw .countMismatch(scales: scales.count, zeroPoints: zeroPoints.count)
        }
        if case .perTensor = granularity, scales.count != 1 {
            throw .countMismatch(scales: scales.count, zeroPoints: zeroPoints.count)
        }
        if case let .perChannel(axis) = granularity, axis < 0 {
            throw .badAxis(axis)
        }
        for (i, s) in scales.enumerated() {
            guard s.isFinite, s > 0, (1 / s).isFinite else { throw .badScale(s, channel: i) }
        }
        for (i, z) in zeroPoints.enumerated() where !(qmin...qmax).contains(z) {
            throw .zeroPointOutOfRange(z, channel: i, qmin: qmin, qmax: qmax)
        }
        self.dtype = dtype
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.granularity = granularity
        self.qmin = qmin
        self.qmax = qmax
        self.reduceRange = reduceRange
    }

    /// The quantized range of `dtype`, as PyTorch's observers define it.
    public static func quantizedRange(dtype: DType, reduceRange: Bool) throws(QuantizationError) -> ClosedRange<Int32> {
        switch (dtype, reduceRange) {
        case (.u8, false): 0...255
        case (.u8, true): 0...127
        case (.s8, false): -128...127
        case (.s8, true): -64...63
        case (.s32, _): Int32.min...Int32.max
        default: throw .notAnIntegerType(dtype)
        }
    }

    /// Scale of channel `c` (or the single scale).
    public func scale(channel c: Int = 0) -> Float { scales.count == 1 ? scales[0] : scales[c] }
    /// Zero point of channel `c` (or the single zero point).
    public func zeroPoint(channel c: Int = 0) -> Int32 { zeroPoints.count == 1 ? zeroPoints[0] : zeroPoints[c] }

    /// Whether every zero point is 0 (symmetric quantization of a signed type), or at
    /// the midpoint of an unsigned range (PyTorch's symmetric u8, zero point 128).
    public var isSymmetric: Bool {
        let mid = Int32((Int64(qmin) + Int64(qmax) + 1) / 2)
        return zeroPoints.allSatisfy { $0 == 0 } || (dtype == .u8 && zeroPoints.allSatisfy { $0 == mid })
    }

    /// The quantized output range after fused ReLU / Clip (the op's own codes, before a fused
    /// `sum`): ReLU clamps at the zero point,
    /// Clip at its bounds quantized with these (per-tensor) parameters.
    public func outputRange(applying postOps: [PostOp]) -> (qmin: Int32, qmax: Int32) {
        var lo = qmin, hi = qmax
        let zp = zeroPoint(), s = scale()
        for p in postOps {
            switch p {
            case .relu: lo = max(lo, zp)
            case let .clip(a, b):
                lo = max(lo, AffineQuantization.quantize(a, scale: s, zeroPoint: zp, qmin: qmin, qmax: qmax))
                hi = min(hi, AffineQuantization.quantize(b, scale: s, zeroPoint: zp, qmin: qmin, qmax: qmax))
            case .sum: break // its own bounds, applied after these
            }
        }
        return (lo, max(lo, hi))
    }

    /// Whether there is one scale per channel.
    public var isPerChannel: Bool { if case .perChannel = granularity { true } else { false } }

    public var description: String {
        let g: String = switch granularity {
        case .perTensor: "per-tensor scale=\(scales[0]) zp=\(zeroPoints[0])"
        case let .perChannel(axis): "per-channel(axis \(axis), \(scales.count) channels)"
        }
        return "\(dtype) \(g) range=\(qmin)...\(qmax)\(reduceRange ? " reduce_range" : "")"
    }
}

/// Quantization parameters or inputs that violate the affine scheme's requirements.
public enum QuantizationError: Error, Sendable, Equatable, CustomStringConvertible {
    case notAnIntegerType(DType)
    case badRange(qmin: Int32, qmax: Int32, dtype: DType)
    case countMismatch(scales: Int, zeroPoints: Int)
    case badAxis(Int)
    case badScale(Float, channel: Int)
    case zeroPointOutOfRange(Int32, channel: Int, qmin: Int32, qmax: Int32)
    case nonFiniteRange(min: Float, max: Float)
    case invertedRange(min: Float, max: Float)

    public var description: String {
        switch self {
        case let .notAnIntegerType(t): "\(t) is not an integer type; quantized values are u8, s8 or s32"
        case let .badRange(qmin, qmax, t): "quantized range \(qmin)...\(qmax) is empty or outside \(t)"
        case let .countMismatch(s, z): "\(s) scales and \(z) zero points: expected the same count (1 for per-tensor)"
        case let .badAxis(a): "channel axis \(a) is negative"
        case let .badScale(s, c): "scale \(s) of channel \(c) must be finite and > 0 with a finite reciprocal"
        case let .zeroPointOutOfRange(z, c, lo, hi): "zero point \(z) of channel \(c) is outside \(lo)...\(hi)"
        case let .nonFiniteRange(lo, hi): "observed range [\(lo), \(hi)] is not finite"
        case let .invertedRange(lo, hi): "observed min \(lo) exceeds max \(hi)"
        }
    }
}
