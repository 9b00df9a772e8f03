import Foundation
import OctetCore

/// The signal-processing generators (opset 17): HannWindow, HammingWindow,
/// BlackmanWindow and MelWeightMatrix. Their output shapes come from their input values
/// (a window's `size`), so a plan is made for those values (see `ValueBinding`).
enum SignalOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["HannWindow"] = { n, _ in try WindowOperator(n, .hann) }
        f["HammingWindow"] = { n, _ in try WindowOperator(n, .hamming) }
        f["BlackmanWindow"] = { n, _ in try WindowOperator(n, .blackman) }
        f["MelWeightMatrix"] = { n, _ in try MelWeightMatrixOperator(n) }
    }

    /// The `output_datatype` attribute (an ONNX TensorProto data type, default float).
    static func outputType(_ n: Node) throws -> DType {
        let code = try n.int("output_datatype", default: 1)
        guard let t = DType(onnxCode: code), t.isNumeric else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "output_datatype", expected: "a numeric ONNX data type", got: "\(code)")
        }
        return t
    }

    /// The single integer held by scalar input `i` (a constant or a run-time value).
    static func integer(_ t: Tensor, _ site: OperatorSite, _ what: String) throws -> Int {
        guard !t.dtype.isFloatingPoint, t.dtype != .bool, t.shape.elementCount == 1, let v = try Elementwise.doubles(t).first else {
            throw site.error("\(what) must be one integer, got \(t.dtype)[\(t.shape)]")
        }
        // A uint64 or int64 near the top of its range does not fit an Int.
        guard let i = Int(exactly: v) else { throw site.error("\(what) is \(v), beyond the largest size (\(Int.max))") }
        return i
    }
}

/// ONNX HannWindow, HammingWindow, BlackmanWindow (opset 17; onnx/defs/math/defs.cc):
/// a 1-D window of `size` (a scalar int32 or int64) values over n = 0 … size-1, with
/// N = size when `periodic` is 1 (the default) and size - 1 otherwise:
/// Hann `sin²(πn/N)`; Hamming `α - β·cos(2πn/N)`, α = 25/46, β = 1 - α;
/// Blackman `0.42 - 0.5·cos(2πn/N) + 0.08·cos(4πn/N)`. Type `output_datatype` (float).
struct WindowOperator: GraphOperator {
    enum Kind: Sendable { case hann, hamming, blackman }

    let site: OperatorSite
    let kind: Kind
    let periodic: Bool
    let dtype: DType

    init(_ n: Node, _ kind: Kind) throws {
        site = OperatorSite(n)
        self.kind = kind
        periodic = try n.int("periodic", default: 1) != 0
        dtype = try SignalOperators.outputType(n)
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        _ = try site.type(inputs, 0, "size")
        guard let c = constants.first ?? nil else { return [site.runtimeShaped(dtype, rank: 1, "size")] }
        let size = try SignalOperators.integer(c, site, "size")
        guard size >= 0 else { throw site.error("size must be ≥ 0, got \(size)") }
        return [ValueType(dtype, try TensorShape([size]))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let size = try SignalOperators.integer(try site.tensor(inputs, 0), site, "size")
        guard outputs[0].shape.dims == [size] else { throw site.error("the output holds \(outputs[0].shape) values, size is \(size)") }
        let n = Double(periodic ? size : size - 1)
        let values = (0..<size).map { i -> Double in
            let t = 2 * Double.pi * Double(i) / n
            switch kind {
            case .hann: return 0.5 - 0.5 * cos(t)
            case .hamming: return 25.0 / 46 - (1 - 25.0 / 46) * cos(t)
            case .blackman: return 0.42 - 0.5 * cos(t) + 0.08 * cos(2 * t)
            }
        }
        try CastOperator.convert(Tensor(values, shape: outputs[0].shape), into: &outputs[0])
    }
}

/// ONNX MelWeightMatrix (opset 17; onnx/defs/math/defs.cc, reference
/// onnx/reference/ops/op_mel_weight_matrix.py): the `(dft_length/2 + 1) x num_mel_bins`
/// matrix of triangular filters that maps a linear-frequency magnitude spectrum to mel
/// bands. Inputs: num_mel_bins, dft_length, sample_rate (integer scalars),
/// lower_edge_hertz, upper_edge_hertz (float scalars). Band edges are
/// `num_mel_bins + 2` points evenly spaced in mel (`2595·log10(1 + f/700)`), converted
/// back to hertz and to the spectrum bin `floor((dft_length + 1)·f / sample_rate)`.
/// Type `output_datatype` (float).
struct MelWeightMatrixOperator: GraphOperator {
    let site: OperatorSite
    let dtype: DType

    init(_ n: Node) throws {
        site = OperatorSite(n)
        dtype = try SignalOperators.outputType(n)
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        for i in 0..<5 { _ = try site.type(inputs, i) }
        guard constants.count >= 2, let bins = constants[0], let dft = constants[1] else { return [site.runtimeShaped(dtype, rank: 2, "num_mel_bins/dft_length")] }
        let (m, d) = (try SignalOperators.integer(bins, site, "num_mel_bins"), try SignalOperators.integer(dft, site, "dft_length"))
        guard m > 0, d > 0 else { throw site.error("num_mel_bins (\(m)) and dft_length (\(d)) must be positive") }
        return [ValueType(dtype, try TensorShape([d / 2 + 1, m]))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let t = try (0..<5).map { try site.tensor(inputs, $0) }
        let m = try SignalOperators.integer(t[0], site, "num_mel_bins"), dft = try SignalOperators.integer(t[1], site, "dft_length")
        let rate = try SignalOperators.integer(t[2], site, "sample_rate")
        guard rate > 0 else { throw site.error("sample_rate must be positive, got \(rate)") }
        guard let lower = try Elementwise.doubles(t[3]).first, let upper = try Elementwise.doubles(t[4]).first, t[3].shape.elementCount == 1, t[4].shape.elementCount == 1 else {
            throw site.error("lower_edge_hertz and upper_edge_hertz must be scalars")
        }
        let rows = dft / 2 + 1
        guard outputs[0].shape.dims == [rows, m] else { throw site.error("the output is \(outputs[0].shape), expected \(rows)x\(m)") }
        // The reference computes the mel edges in f32 (its inputs' type), the rest in double.
        func mel(_ hz: Double) -> Double { Double(Float(2595) * log1p(Float(hz) / 700)) / log(10.0) }
        let low = mel(lower), step = (mel(upper) - low) / Double(m + 2)
        let bins = (0..<(m + 2)).map { i -> Double in
            let hz = 700 * expm1((Double(i) * step + low) / 2595 * log(10.0))
            return (Double(dft + 1) * hz / Double(rate)).rounded(.down)
        }
        // NaN or infinite edges come from edge frequencies at or below -700 Hz, NaN or infinite.
        let edges = bins.compactMap { Int(exactly: $0) }
        guard edges.count == bins.count else {
            throw site.error("lower_edge_hertz (\(lower)) and upper_edge_hertz (\(upper)) must be finite and above -700 Hz; they give the filter edges \(bins)")
        }
        func outside(_ i: Int) -> GraphError {
            site.error("the filter edges \(edges) fall outside the spectrum's \(rows) bins (filter \(i) spans bins \(edges[i]) to \(edges[i + 2]); expected edges in [0, \(rows)])")
        }
        var w = [Double](repeating: 0, count: rows * m)
        // As the reference: a rising ramp from left to center, a falling one from center to
        // right, each only when its edges are in order (edges in descending order give zeros).
        for i in 0..<m {
            let (left, center, right) = (edges[i], edges[i + 1], edges[i + 2])
            if center == left {
                guard center >= 0, center < rows else { throw outside(i) }
                w[center * m + i] = 1
            } else if center > left {
                guard left >= 0, center < rows else { throw outside(i) }
                for j in left...center { w[j * m + i] = Double(j - left) / Double(center - left) }
            }
            if right > center {
                guard center >= 0, right <= rows else { throw outside(i) }
                for j in center..<right { w[j * m + i] = Double(right - j) / Double(right - center) }
            }
        }
        try CastOperator.convert(Tensor(w, shape: outputs[0].shape), into: &outputs[0])
    }
}
