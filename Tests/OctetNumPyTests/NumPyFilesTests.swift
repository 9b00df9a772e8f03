import Foundation
import OctetCore
import OctetNumPy
import Testing

/// Files written by NumPy itself (scripts/make-test-models.py), read back and checked
/// against values recomputed here; Octet's own files read back by the same reader and by
/// NumPy (in scripts/cli-tests.sh).
@Suite struct NumPyFilesTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Models/numpy")
    func path(_ name: String) -> String { Self.folder.appendingPathComponent(name).path }

    /// arange(24) - 5 in the file's type, shape 2x3x4.
    func check(_ t: Tensor, _ name: String) throws {
        #expect(t.shape.dims == [2, 3, 4], "\(name)")
        let expected = (0..<24).map { $0 - 5 }
        switch name {
        case "f32": #expect(try t.scalars(as: Float.self) == expected.map(Float.init))
        case "f16": #expect(try t.scalars(as: Float16.self).map { Int(Float($0)) } == expected)
        case "u8": #expect(try t.scalars(as: UInt8.self) == expected.map { UInt8(truncatingIfNeeded: $0) })
        case "s8": #expect(try t.scalars(as: Int8.self) == expected.map { Int8($0) })
        case "s32": #expect(try t.scalars(as: Int32.self) == expected.map { Int32($0) })
        case "s64": #expect(try t.scalars(as: Int64.self) == expected.map { Int64($0) })
        case "bool": #expect(try t.scalars(as: Bool.self) == (0..<24).map { $0 % 3 == 0 })
        default: Issue.record("unexpected array \(name)")
        }
    }

    @Test(arguments: ["f32", "f16", "u8", "s8", "s32", "s64", "bool"])
    func readsNumPyArrays(_ name: String) throws {
        try check(try NumPyFiles.readArray(at: path(name + ".npy")), name)
    }

    @Test(arguments: ["all.npz", "all_compressed.npz"])
    func readsArchivesStoredAndCompressed(_ file: String) throws {
        let arrays = try NumPyFiles.readArchive(at: path(file))
        #expect(arrays.map(\.name).sorted() == ["bool", "f16", "f32", "s32", "s64", "s8", "u8"])
        for (name, t) in arrays { try check(t, name) }
    }

    @Test func readsScalars() throws {
        let t = try NumPyFiles.readArray(at: path("scalar.npy"))
        #expect(t.shape.rank == 0)
        #expect(try t.scalars(as: Float.self) == [7.5])
    }

    @Test func readsFloat64() throws {
        // np.arange(4, dtype=np.float64), saved by NumPy.
        let t = try NumPyFiles.readArray(at: path("f64.npy"))
        #expect(t.dtype == .f64)
        #expect(try t.scalars(as: Double.self) == [0, 1, 2, 3])
    }

    @Test(arguments: [("fortran.npy", "Fortran-order"), ("object.npy", "not supported"), ("big_endian.npy", "'>f4'")])
    func refusesWhatItCannotHold(_ file: String, _ message: String) {
        #expect { try NumPyFiles.readArray(at: path(file)) } throws: { "\($0)".contains(message) && "\($0)".contains(file) }
    }

    @Test func writesWhatItReads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let arrays = try NumPyFiles.readArchive(at: path("all.npz"))
        let out = dir.appendingPathComponent("copy.npz").path
        try NumPyFiles.writeArchive(arrays, to: out)
        for (name, t) in try NumPyFiles.readArchive(at: out) { try check(t, name) }
        for (name, t) in arrays {
            let p = dir.appendingPathComponent(name + ".npy").path
            try NumPyFiles.writeArray(t, to: p)
            try check(try NumPyFiles.readArray(at: p), name)
        }
    }

    @Test func truncatedAndCorruptFilesAreRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-npy-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let npy = try Data(contentsOf: URL(fileURLWithPath: path("f32.npy")))
        let short = dir.appendingPathComponent("short.npy").path
        try npy.prefix(npy.count - 8).write(to: URL(fileURLWithPath: short))
        #expect { try NumPyFiles.readArray(at: short) } throws: { "\($0)".contains("promises 96 data bytes") }
        let npz = try Data(contentsOf: URL(fileURLWithPath: path("all.npz")))
        let cut = dir.appendingPathComponent("cut.npz").path
        try npz.prefix(npz.count / 2).write(to: URL(fileURLWithPath: cut))
        #expect { try NumPyFiles.readArchive(at: cut) } throws: { "\($0)".contains("cut.npz") }
        var flipped = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("all_compressed.npz"))))
        flipped[flipped.count / 2] ^= 0xFF
        let bad = dir.appendingPathComponent("flipped.npz").path
        try Data(flipped).write(to: URL(fileURLWithPath: bad))
        #expect { try NumPyFiles.readArchive(at: bad) } throws: { "\($0)".contains("flipped.npz") }
    }
}
