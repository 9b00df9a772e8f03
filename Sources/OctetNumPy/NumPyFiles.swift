import Foundation
import OctetCore

/// Reading and writing NumPy files: `.npy` (one array) and `.npz` (a zip of named
/// `.npy` arrays, stored or deflated).
///
/// ```swift
/// let image = try NumPyFiles.readArray(at: "input.npy")
/// try NumPyFiles.writeArchive([("logits", output)], to: "out.npz")
/// ```
public enum NumPyFiles {
    /// Reads one `.npy` array; the file must be a regular file within `budget`.
    public static func readArray(at path: String, budget: MemoryBudget = .machineDefault) throws(NumPyError) -> Tensor {
        try NPYFormat.decode(try bytes(at: path, budget: budget), name: path)
    }

    /// Writes one `.npy` array.
    public static func writeArray(_ tensor: Tensor, to path: String) throws(NumPyError) {
        try write(NPYFormat.encode(tensor), to: path)
    }

    /// Reads every array of an `.npz` archive, in archive order, keyed by name (without `.npy`).
    /// The file, and each member once decompressed, must fit `budget`.
    public static func readArchive(at path: String, budget: MemoryBudget = .machineDefault) throws(NumPyError) -> [(name: String, tensor: Tensor)] {
        try readArchive(bytes: try bytes(at: path, budget: budget), path: path, budget: budget)
    }

    /// Reads every array of an `.npz` archive held in memory; `path` names it in errors.
    /// Each member, once decompressed, must fit `budget`.
    public static func readArchive(bytes b: [UInt8], path: String = "<memory>", budget: MemoryBudget = .machineDefault) throws(NumPyError) -> [(name: String, tensor: Tensor)] {
        var out: [(String, Tensor)] = []
        for e in try ZipArchive.entries(b, path: path) {
            let key = e.name.hasSuffix(".npy") ? String(e.name.dropLast(4)) : e.name
            out.append((key, try NPYFormat.decode(try ZipArchive.contents(of: e, in: b, path: path, budget: budget), name: "\(path)/\(key)")))
        }
        return out
    }

    /// Writes named arrays into an uncompressed `.npz` archive (what `numpy.savez` writes).
    public static func writeArchive(_ arrays: [(name: String, tensor: Tensor)], to path: String) throws(NumPyError) {
        try write(ZipArchive.write(arrays.map { ($0.name + ".npy", NPYFormat.encode($0.tensor)) }), to: path)
    }

    /// Whether a file starts like a zip archive (an `.npz`) rather than an `.npy`.
    public static func isArchive(at path: String) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        let head = (try? h.read(upToCount: 4)) ?? Data()
        return Array(head) == [0x50, 0x4B, 0x03, 0x04] || Array(head) == [0x50, 0x4B, 0x05, 0x06]
    }

    static func bytes(at path: String, budget: MemoryBudget) throws(NumPyError) -> [UInt8] {
        do { _ = try RegularFile.size(at: path, within: budget, for: "the file") } catch { throw .unreadable(path: path, reason: error.reason) }
        do { return Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
    }

    static func write(_ bytes: [UInt8], to path: String) throws(NumPyError) {
        do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw .unwritable(path: path, reason: (error as NSError).localizedDescription)
        }
    }
}
