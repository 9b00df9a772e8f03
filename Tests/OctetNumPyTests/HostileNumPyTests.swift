import Foundation
import OctetCore
import OctetNumPy
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Crafted `.npy` / `.npz` files: headers that hide a key inside a value, ZIP64 offsets near
/// 2^63, members that claim more bytes than deflate can make or than the budget allows,
/// and paths that are not regular files. Each is refused with the file and the part at
/// fault (or read correctly); none crashes, blocks or allocates what it claims.
@Suite struct HostileNumPyTests {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-npy-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    /// A version 1.0 `.npy` file with this header text and these data bytes.
    func npy(header: String, data: [UInt8]) -> [UInt8] {
        var h = Array(header.utf8)
        h += [UInt8](repeating: 0x20, count: (64 - (10 + h.count + 1) % 64) % 64) + [0x0A]
        return [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h + data
    }

    let int32Pair: [UInt8] = [1, 0, 0, 0, 2, 0, 0, 0]

    @Test func descrInsideAnotherValueIsNotTaken() throws {
        // The first "'descr'" text sits in a value; NumPy refuses the extra key, and so does Octet
        // (it used to read this int32 file as float32).
        let tricked = try write("tricked.npy", npy(header: "{'note': \"'descr': '<f4'\", 'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", data: int32Pair))
        #expect { try NumPyFiles.readArray(at: tricked) } throws: { "\($0)".contains(tricked) && "\($0)".contains("unexpected key 'note'") }
        // Double quotes, another key order and odd spacing, as NumPy accepts them: read as int32.
        let reordered = try write("reordered.npy", npy(header: "{ \"shape\" :(2 ,) ,\"fortran_order\":False, \"descr\": \"<i4\"}", data: int32Pair))
        #expect(try NumPyFiles.readArray(at: reordered).scalars(as: Int32.self) == [1, 2])
        let twice = try write("twice.npy", npy(header: "{'descr': '<f4', 'descr': '<i4', 'fortran_order': False, 'shape': (2,)}", data: int32Pair))
        #expect { try NumPyFiles.readArray(at: twice) } throws: { "\($0)".contains("'descr' appears twice") }
        let deep = try write("deep.npy", npy(header: "{'descr': " + String(repeating: "[", count: 5000) + "}", data: []))
        #expect { try NumPyFiles.readArray(at: deep) } throws: { "\($0)".contains("nested deeper") }
    }

    // Little-endian fields for hand-made zip structures.
    func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16((v >> 16) & 0xFFFF) }
    func le64(_ v: UInt64) -> [UInt8] { le32(Int(v & 0xFFFF_FFFF)) + le32(Int(v >> 32)) }

    /// A one-member archive: local header, data, central directory, end record.
    func archive(data: [UInt8], method: Int = 0, size: Int? = nil, crc: Int = 0, offset32: Int = 0, zip64Offset: UInt64? = nil) -> [UInt8] {
        let name = Array("a.npy".utf8)
        let local = le32(0x0403_4B50) + le16(20) + le16(0) + le16(method) + le16(0) + le16(0) + le32(crc) + le32(data.count) + le32(size ?? data.count)
            + le16(name.count) + le16(0) + name + data
        let extra = zip64Offset.map { le16(1) + le16(8) + le64($0) } ?? []
        let central = le32(0x0201_4B50) + le16(45) + le16(20) + le16(0) + le16(method) + le16(0) + le16(0) + le32(crc) + le32(data.count)
            + le32(size ?? data.count) + le16(name.count) + le16(extra.count) + le16(0) + le16(0) + le16(0) + le32(0)
            + le32(zip64Offset == nil ? offset32 : 0xFFFF_FFFF) + name + extra
        let end = le32(0x0605_4B50) + le16(0) + le16(0) + le16(1) + le16(1) + le32(central.count) + le32(local.count) + le16(0)
        return local + central + end
    }

    @Test func zip64OffsetsNearTheTop() throws {
        for offset in [UInt64(Int.max), UInt64(Int.max) - 20, UInt64.max] {
            let p = try write("offset.npz", archive(data: Array(repeating: 0, count: 8), zip64Offset: offset))
            #expect { try NumPyFiles.readArchive(at: p) } throws: { "\($0)".contains(p) && "\($0)".contains("member 'a.npy': bad local header") }
        }
        // A ZIP64 end-record locator pointing near 2^63.
        let eocd64 = le32(0x0706_4B50) + le32(0) + le64(UInt64(Int.max) - 30) + le32(1)
        let end = le32(0x0605_4B50) + le16(0) + le16(0) + le16(0xFFFF) + le16(0xFFFF) + le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) + le16(0)
        let p = try write("locator.npz", eocd64 + end)
        #expect { try NumPyFiles.readArchive(at: p) } throws: { "\($0)".contains("ZIP64 end record missing") }
    }

    @Test func membersClaimingMoreThanTheyCanHold() throws {
        // 229 bytes that claim a 16 GiB deflated member: refused before anything is allocated.
        let claim = try write("claim.npz", archive(data: Array(repeating: 0x03, count: 100), method: 8, size: Int(UInt32.max - 1)))
        #expect { try NumPyFiles.readArchive(at: claim) } throws: { "\($0)".contains("claims 4294967294 bytes from 100 deflated bytes") }
        // A real stored member reads; over a small budget the file is refused before it is read.
        let member = npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1024,), }", data: Array(repeating: 0, count: 4096))
        let stored = try write("stored.npz", archive(data: member, crc: Int(crc32(member))))
        #expect(try NumPyFiles.readArchive(at: stored).first?.tensor.shape.dims == [1024])
        #expect { try NumPyFiles.readArray(at: stored, budget: MemoryBudget(bytes: 100)) } throws: { "\($0)".contains("the file needs") && "\($0)".contains("memory budget of 100 bytes") }
        // NumPy's compressed 400 KB of zeros (a few hundred bytes on disk): the member is refused by size.
        let zeros = NumPyFilesTests.folder.appendingPathComponent("zeros_deflated.npz").path
        #expect(try NumPyFiles.readArchive(at: zeros).first?.tensor.shape.dims == [100_000])
        #expect { try NumPyFiles.readArchive(at: zeros, budget: MemoryBudget(bytes: 64 << 10)) } throws: { e in
            "\(e)".contains(zeros) && "\(e)".contains("member 'zeros.npy' needs 391") && "\(e)".contains("over the memory budget of 64.0 KiB")
        }
    }

    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    @Test func onlyRegularFilesAreRead() throws {
        let fifo = dir.appendingPathComponent("pipe.npy").path
        #if canImport(Glibc)
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect { try NumPyFiles.readArray(at: fifo) } throws: { "\($0)".contains(fifo) && "\($0)".contains("FIFO") }
        #endif
        #expect { try NumPyFiles.readArchive(at: dir.path) } throws: { "\($0)".contains("is a directory") }
        #expect { try NumPyFiles.readArray(at: "/dev/zero") } throws: { "\($0)".contains("/dev/zero") && "\($0)".contains("character device") }
    }
}
