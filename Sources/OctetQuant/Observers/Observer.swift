import OctetCore

/// Watches the values an edge carries during calibration and chooses the real range its
/// quantization should cover. Observers are values: each edge owns one, calibration feeds
/// it batch by batch.
public protocol Observer: Sendable {
    /// A short name for reports (`minmax`, `histogram`, ...).
    var method: CalibrationMethod { get }
    /// Records a batch of values. NaN values are ignored (calibration data is checked for
    /// them before it reaches an observer).
    mutating func observe(_ values: UnsafeBufferPointer<Float>)
    /// The range to quantize, once at least one finite value was observed.
    func range() throws(ObserverError) -> (min: Float, max: Float)
}

extension Observer {
    public mutating func observe(_ values: [Float]) {
        values.withUnsafeBufferPointer { observe($0) }
    }

    /// Quantization parameters for this range (PyTorch's formulas, see `QParamsSelection`).
    public func quantParams(dtype: DType = .u8, symmetric: Bool = false, reduceRange: Bool = false) throws -> QuantParams {
        let (lo, hi) = try range()
        return try QParamsSelection.choose(min: lo, max: hi, dtype: dtype, symmetric: symmetric, reduceRange: reduceRange)
    }
}

/// How activation ranges are chosen from calibration data.
public enum CalibrationMethod: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Smallest and largest value seen.
    case minMax = "minmax"
    /// Exponential moving average of each batch's min and max (PyTorch, constant 0.01).
    case movingAverage = "moving-average"
    /// The range minimizing the L2 quantization error of a 2048-bin histogram (PyTorch's HistogramObserver).
    case histogram
    /// The threshold minimizing the KL divergence between the 2048-bin distribution and its quantized form (TensorRT).
    case entropy
    /// The given percentiles of the values (99.99 by default).
    case percentile

    public var description: String { rawValue }

    /// A fresh observer of this kind.
    public func makeObserver(percentile: Double = 99.99, reduceRange: Bool = false) -> any Observer {
        switch self {
        case .minMax: MinMaxObserver()
        case .movingAverage: MovingAverageObserver()
        case .histogram: HistogramObserver(reduceRange: reduceRange)
        case .entropy: EntropyObserver()
        case .percentile: PercentileObserver(percentile: percentile)
        }
    }
}

/// An observer that has nothing to go on.
public enum ObserverError: Error, Sendable, Equatable, CustomStringConvertible {
    case noData(CalibrationMethod)

    public var description: String {
        switch self {
        case let .noData(m): "the \(m) observer saw no finite values; calibration did not reach this edge"
        }
    }
}

/// Min and max over everything seen (PyTorch's MinMaxObserver).
public struct MinMaxObserver: Observer {
    public private(set) var minimum = Float.infinity
    public private(set) var maximum = -Float.infinity
    public var method: CalibrationMethod { .minMax }

    public init() {}

    public mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        let (lo, hi) = batchRange(values)
        minimum = min(minimum, lo)
        maximum = max(maximum, hi)
    }

    public func range() throws(ObserverError) -> (min: Float, max: Float) {
        guard minimum <= maximum else { throw .noData(method) }
        return (minimum, maximum)
    }
}

/// PyTorch's MovingAverageMinMaxObserver: the first batch sets the range, each later
/// batch moves it by `averagingConstant` toward that batch's min and max.
public struct MovingAverageObserver: Observer {
    public let averagingConstant: Float
    public private(set) var minimum = Float.infinity
    public private(set) var maximum = -Float.infinity
    public var method: CalibrationMethod { .movingAverage }

    public init(averagingConstant: Float = 0.01) { self.averagingConstant = averagingConstant }

    public mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        let (lo, hi) = batchRange(values)
        guard lo <= hi else { return }
        if minimum > maximum {
            (minimum, maximum) = (lo, hi)
        } else {
            minimum += averagingConstant * (lo - minimum)
            maximum += averagingConstant * (hi - maximum)
        }
    }

    public func range() throws(ObserverError) -> (min: Float, max: Float) {
        guard minimum <= maximum else { throw .noData(method) }
        return (minimum, maximum)
    }
}

/// The finite min and max of a batch (`(+inf, -inf)` when it has none).
func batchRange(_ values: UnsafeBufferPointer<Float>) -> (Float, Float) {
    var lo = Float.infinity, hi = -Float.infinity
    for v in values where v.isFinite {
        lo = min(lo, v)
        hi = max(hi, v)
    }
    return (lo, hi)
}
