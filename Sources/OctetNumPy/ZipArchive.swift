import CZlib
import OctetCore

/// The parts of the zip format that `.npz` files use: stored or deflated members, with
/// ZIP64 sizes (NumPy writes every member with ZIP64 extra fields).
enum ZipArchive {
    struct Entry {
        var name: String
        var method: UInt16
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
        var crc: UInt32
    }

    /// Members larger than this are refused (matches `Tensor.maximumByteCount`).
    static let maximumMemberSize = 1 << 34

    static func entries(_ b: [UInt8], path: String) throws(NumPyError) -> [Entry] {
        // End of central directory: 22 bytes + comment (≤ 65535), searched backwards.
        guard b.count >= 22 else { throw .archive(path: path, reason: "\(b.count) bytes is too short for a zip archive") }
        var eocd = -1
        var i = b.count - 22
        let lowest = max(0, b.count - 22 - 65535)
        while i >= lowest {
            if u32(b, i) == 0x0605_4B50 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw .archive(path: path, reason: "no end-of-central-directory record (truncated or not a zip file)") }
        var count = Int(u16(b, eocd + 10))
        var cdSize = Int(u32(b, eocd + 12))
        var cdOffset = Int(u32(b, eocd + 16))
        if count == 0xFFFF || cdOffset == 0xFFFF_FFFF || cdSize == 0xFFFF_FFFF {
            // ZIP64 end-of-central-directory locator sits right before the EOCD.
            let loc = eocd - 20
            guard loc >= 0, u32(b, loc) == 0x0706_4B50 else { throw .archive(path: path, reason: "ZIP64 locator missing") }
            let z = Int(clamping: u64(b, loc + 8))
            guard z >= 0, b.count >= 56, z <= b.count - 56, u32(b, z) == 0x0606_4B50 else { throw .archive(path: path, reason: "ZIP64 end record missing") }
            count = Int(clamping: u64(b, z + 32))
            cdSize = Int(clamping: u64(b, z + 40))
            cdOffset = Int(clamping: u64(b, z + 48))
        }
        guard cdOffset >= 0, cdSize >= 0, cdOffset <= b.count, cdSize <= b.count - cdOffset else {
            throw .archive(path: path, reason: "central directory lies outside the file")
        }
        var out: [Entry] = []
        var p = cdOffset
        for _ in 0..<count {
            guard p + 46 <= b.count, u32(b, p) == 0x0201_4B50 else { throw .archive(path: path, reason: "corrupt central directory entry") }
            let flags = u16(b, p + 8)
            let method = u16(b, p + 10)
            let crc = u32(b, p + 16)
            var csize = Int(u32(b, p + 20)), size = Int(u32(b, p + 24))
            let nameLen = Int(u16(b, p + 28)), extraLen = Int(u16(b, p + 30)), commentLen = Int(u16(b, p + 32))
            var offset = Int(u32(b, p + 42))
            guard p + 46 + nameLen + extraLen + commentLen <= b.count else { throw .archive(path: path, reason: "corrupt central directory entry") }
            let name = String(decoding: b[(p + 46)..<(p + 46 + nameLen)], as: UTF8.self)
            if flags & 1 != 0 { throw .archive(path: path, reason: "member '\(name)' is encrypted") }
            // ZIP64 extra field: the 0xFFFFFFFF fields, in order size, compressed, offset.
            var e = p + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = u16(b, e), len = Int(u16(b, e + 2))
                if id == 1 {
                    var f = e + 4
                    if size == 0xFFFF_FFFF, f + 8 <= e + 4 + len { size = Int(clamping: u64(b, f)); f += 8 }
                    if csize == 0xFFFF_FFFF, f + 8 <= e + 4 + len { csize = Int(clamping: u64(b, f)); f += 8 }
                    if offset == 0xFFFF_FFFF, f + 8 <= e + 4 + len { offset = Int(clamping: u64(b, f)); f += 8 }
                }
                e += 4 + len
            }
            out.append(Entry(name: name, method: method, compressedSize: csize, size: size, localHeaderOffset: offset, crc: crc))
            p += 46 + nameLen + extraLen + commentLen
        }
        return out
    }

    /// The uncompressed bytes of one member, checked against its CRC.
    static func contents(of e: Entry, in b: [UInt8], path: String, budget: MemoryBudget) throws(NumPyError) -> [UInt8] {
        let h = e.localHeaderOffset
        guard h >= 0, b.count >= 30, h <= b.count - 30, u32(b, h) == 0x0403_4B50 else { throw .archive(path: path, reason: "member '\(e.name)': bad local header") }
        let start = h + 30 + Int(u16(b, h + 26)) + Int(u16(b, h + 28))
        guard e.compressedSize >= 0, start <= b.count, e.compressedSize <= b.count - start else {
            throw .archive(path: path, reason: "member '\(e.name)' runs past the end of the file (truncated?)")
        }
        guard e.size >= 0, e.size <= maximumMemberSize else { throw .archive(path: path, reason: "member '\(e.name)' claims \(e.size) bytes") }
        // Deflate expands at most 1032 times: a larger claim cannot be true, and is refused
        // before anything is allocated for it.
        guard e.method != 8 || e.size / 1032 <= e.compressedSize else {
            throw .archive(path: path, reason: "member '\(e.name)' claims \(e.size) bytes from \(e.compressedSize) deflated bytes (deflate expands at most 1032 times)")
        }
        do { try budget.check(e.size, for: "member '\(e.name)'") } catch { throw .archive(path: path, reason: "\(error)") }
        let data: [UInt8]
        switch e.method {
        case 0:
            guard e.compressedSize == e.size else { throw .archive(path: path, reason: "stored member '\(e.name)' has inconsistent sizes") }
            data = Array(b[start..<(start + e.size)])
        case 8:
            data = try inflate(b, start, e.compressedSize, e.size, name: e.name, path: path)
        default:
            throw .archive(path: path, reason: "member '\(e.name)' uses compression method \(e.method); only stored (0) and deflate (8) are read")
        }
        guard crc32(data) == e.crc else { throw .archive(path: path, reason: "member '\(e.name)' fails its CRC check (corrupt)") }
        return data
    }

    private static func inflate(_ b: [UInt8], _ start: Int, _ csize: Int, _ size: Int, name: String, path: String) throws(NumPyError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        var stream = z_stream()
        guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .archive(path: path, reason: "zlib failed to start")
        }
        defer { inflateEnd(&stream) }
        let status: Int32 = b.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress.map { $0 + start })
                stream.avail_in = UInt32(clamping: csize)
                stream.next_out = dst.baseAddress
                stream.avail_out = UInt32(clamping: size)
                return CZlib.inflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == size else {
            throw .archive(path: path, reason: "member '\(name)' does not inflate to its \(size) bytes (zlib status \(status))")
        }
        return out
    }

    /// A stored (uncompressed) archive with ZIP64 sizes where needed.
    static func write(_ members: [(name: String, data: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for m in members {
            let offset = out.count
            let crc = crc32(m.data)
            let name = Array(m.name.utf8)
            let big = m.data.count >= 0xFFFF_FFFF || offset >= 0xFFFF_FFFF
            var zip64: [UInt8] = []
            if big { zip64 = le16(1) + le16(16) + le64(UInt64(m.data.count)) + le64(UInt64(m.data.count)) }
            let size32 = big ? UInt32(0xFFFF_FFFF) : UInt32(m.data.count)
            out += le32(0x0403_4B50) + le16(big ? 45 : 20) + le16(0) + le16(0) + le16(0) + le16(0x21)
            out += le32(crc) + le32(size32) + le32(size32) + le16(UInt16(name.count)) + le16(UInt16(zip64.count)) + name + zip64
            out += m.data
            var cdExtra: [UInt8] = []
            if big { cdExtra = le16(1) + le16(24) + le64(UInt64(m.data.count)) + le64(UInt64(m.data.count)) + le64(UInt64(offset)) }
            central += le32(0x0201_4B50) + le16(45) + le16(big ? 45 : 20) + le16(0) + le16(0) + le16(0) + le16(0x21)
            central += le32(crc) + le32(size32) + le32(size32) + le16(UInt16(name.count)) + le16(UInt16(cdExtra.count)) + le16(0)
            central += le16(0) + le16(0) + le32(0) + le32(big ? 0xFFFF_FFFF : UInt32(offset)) + name + cdExtra
        }
        let cdOffset = out.count
        out += central
        if cdOffset >= 0xFFFF_FFFF || members.count >= 0xFFFF {
            let z = out.count
            out += le32(0x0606_4B50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0)
            out += le64(UInt64(members.count)) + le64(UInt64(members.count)) + le64(UInt64(central.count)) + le64(UInt64(cdOffset))
            out += le32(0x0706_4B50) + le32(0) + le64(UInt64(z)) + le32(1)
            out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(0xFFFF) + le16(0xFFFF) + le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) + le16(0)
        } else {
            out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(UInt16(members.count)) + le16(UInt16(members.count))
            out += le32(UInt32(central.count)) + le32(UInt32(cdOffset)) + le16(0)
        }
        return out
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        data.withUnsafeBufferPointer { p in
            var crc: uLong = CZlib.crc32(0, nil, 0)
            var offset = 0
            while offset < p.count {
                let chunk = min(p.count - offset, 1 << 30)
                crc = CZlib.crc32(crc, p.baseAddress.map { $0 + offset }, uInt(chunk))
                offset += chunk
            }
            return UInt32(truncatingIfNeeded: crc)
        }
    }

    private static func u16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    private static func u32(_ b: [UInt8], _ i: Int) -> UInt32 { UInt32(u16(b, i)) | UInt32(u16(b, i + 2)) << 16 }
    private static func u64(_ b: [UInt8], _ i: Int) -> UInt64 {
        guard i + 8 <= b.count else { return UInt64.max }
        return UInt64(u32(b, i)) | UInt64(u32(b, i + 4)) << 32
    }
    private static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    private static func le32(_ v: UInt32) -> [UInt8] { le16(UInt16(v & 0xFFFF)) + le16(UInt16(v >> 16)) }
    private static func le64(_ v: UInt64) -> [UInt8] { le32(UInt32(v & 0xFFFF_FFFF)) + le32(UInt32(v >> 32)) }
}
