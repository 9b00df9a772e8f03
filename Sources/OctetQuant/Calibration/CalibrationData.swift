import Foundation
import OctetCore
import OctetNumPy

/// Calibration samples for a model: each sample maps every graph input to one tensor.
///
/// Read from a `.npz` whose keys are the input names and whose arrays carry one extra
/// leading (sample) axis over the input's shape; from a folder of such files; or, for a
/// single-input model, from one `.npy` with the leading sample axis. Integer inputs
/// (tokenized text: `input_ids`, `attention_mask`, `token_type_ids`, s64 in the model)
/// are read as floats are; an s32 array for an s64 input is widened exactly (what
/// tokenizers write on some platforms), an s64 array for an s32 input narrowed when
/// every value fits.
public struct CalibrationData: Sendable {
    public private(set) var samples: [[String: Tensor]]

    public init(samples: [[String: Tensor]]) { self.samples = samples }

    /// The most samples read (from one file or a folder): calibration needs hundreds; a
    /// small file that declares millions of empty samples is refused before they are made.
    public static let maximumSamples = 1 << 16

    /// Reads and checks calibration data at `path` against the graph's inputs: names,
    /// element types and shapes must agree (symbolic dimensions take any size), and no
    /// value may be NaN or infinite.
    public static func load(_ path: String, for inputs: [Graph.Port]) throws -> CalibrationData {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CalibrationError.unreadable(path: path)
        }
        var samples: [[String: Tensor]] = []
        if isDirectory.boolValue {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".npz") }.sorted()
            guard !files.isEmpty else { throw CalibrationError.empty(path: path, reason: "the folder holds no .npz files") }
            for f in files {
                samples += try split(try NumPyFiles.readArchive(at: (path as NSString).appendingPathComponent(f)), inputs, file: f)
                guard samples.count <= maximumSamples else {
                    throw CalibrationError.layout(path: path, reason: "the folder holds more than \(maximumSamples) samples (after \(f)); calibrate on a subset")
                }
            }
        } else if NumPyFiles.isArchive(at: path) {
            samples = try split(try NumPyFiles.readArchive(at: path), inputs, file: path)
        } else {
            guard inputs.count == 1 else {
                throw CalibrationError.layout(path: path, reason: "a single .npy serves single-input models only; this model has inputs \(inputs.map(\.name).joined(separator: ", ")); use a .npz keyed by input name")
            }
            samples = try split([(inputs[0].name, try NumPyFiles.readArray(at: path))], inputs, file: path)
        }
        guard !samples.isEmpty else { throw CalibrationError.empty(path: path, reason: "no samples (the leading axis has size 0)") }
        return CalibrationData(samples: samples)
    }

    /// Splits arrays with a leading sample axis into samples, checking them.
    public static func split(_ arrays: [(name: String, tensor: Tensor)], _ inputs: [Graph.Port], file: String) throws -> [[String: Tensor]] {
        let byName = Dictionary(arrays.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        for name in byName.keys where !inputs.contains(where: { $0.name == name }) {
            throw CalibrationError.unknownInput(path: file, name: name, known: inputs.map(\.name))
        }
        var count: Int?
        var perInput: [(String, Tensor, TensorShape)] = []
        for p in inputs {
            guard var t = byName[p.name] else { throw CalibrationError.missingInput(path: file, name: p.name) }
            if let type = p.type { t = try TokenArrays.widened(t, to: type.dtype, path: file, name: p.name) }
            guard t.shape.rank >= 1 else { throw CalibrationError.shape(path: file, name: p.name, expected: "a leading sample axis over \(p.type?.shape?.description ?? "?")", got: t.shape.description) }
            let sampleShape = try TensorShape(Array(t.shape.dims.dropFirst()))
            if let type = p.type {
                guard type.dtype == t.dtype else { throw CalibrationError.dtype(path: file, name: p.name, expected: type.dtype, got: t.dtype) }
                if let s = type.shape, !s.admits(sampleShape) {
                    throw CalibrationError.shape(path: file, name: p.name, expected: "N x \(s)", got: t.shape.description)
                }
            }
            guard t.shape.dims[0] <= maximumSamples else {
                throw CalibrationError.layout(path: file, reason: "input '\(p.name)' has \(t.shape.dims[0]) samples; at most \(maximumSamples) are read (calibrate on a subset)")
            }
            if let c = count, c != t.shape.dims[0] {
                throw CalibrationError.layout(path: file, reason: "input '\(p.name)' has \(t.shape.dims[0]) samples, others have \(c)")
            }
            count = t.shape.dims[0]
            perInput.append((p.name, t, sampleShape))
        }
        var samples: [[String: Tensor]] = Array(repeating: [:], count: count ?? 0)
        for (name, t, shape) in perInput {
            let size = shape.elementCount * t.dtype.byteSize
            for i in samples.indices {
                var s = try Tensor(zeros: t.dtype, shape: shape)
                t.withUnsafeBytes { src in s.withUnsafeMutableBytes { dst in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(i * size)..<((i + 1) * size)])) } }
                if t.dtype == .f32, try s.withUnsafeBufferPointer(as: Float.self, { $0.contains { !$0.isFinite } }) {
                    throw CalibrationError.nonFinite(path: file, name: name, sample: i)
                }
                samples[i][name] = s
            }
        }
        return samples
    }
}

/// Calibration data Octet cannot use; every case names the file and the input.
public enum CalibrationError: Error, Sendable, CustomStringConvertible {
    case unreadable(path: String)
    case empty(path: String, reason: String)
    case layout(path: String, reason: String)
    case unknownInput(path: String, name: String, known: [String])
    case missingInput(path: String, name: String)
    case dtype(path: String, name: String, expected: DType, got: DType)
    case shape(path: String, name: String, expected: String, got: String)
    case nonFinite(path: String, name: String, sample: Int)

    public var description: String {
        switch self {
        case let .unreadable(path): "\(path): no such file or folder"
        case let .empty(path, reason): "\(path): \(reason)"
        case let .layout(path, reason): "\(path): \(reason)"
        case let .unknownInput(path, name, known): "\(path): '\(name)' is not an input of the model (its inputs: \(known.joined(separator: ", ")))"
        case let .missingInput(path, name): "\(path): no array for input '\(name)'"
        case let .dtype(path, name, expected, got): "\(path): input '\(name)' must be \(expected), got \(got)"
        case let .shape(path, name, expected, got): "\(path): input '\(name)' must have shape \(expected) (a leading sample axis), got \(got)"
        case let .nonFinite(path, name, sample): "\(path): input '\(name)', sample \(sample) holds NaN or infinity"
        }
    }
}
