import COctetAPI
import Foundation
import Octet

/// Caller-owned `octet_tensor`s to and from `Tensor`.
enum CTensors {
    static let dtypes: [DType] = [.f32, .f16, .u8, .s8, .s32, .s64, .bool, .u16, .s16, .u32, .u64, .f64, .bf16]

    static func dtype(_ code: Int32, _ what: String) throws(CAPIError) -> DType {
        guard code >= 0, Int(code) < dtypes.count else { throw CAPIError("\(what): dtype \(code) is not an octet_dtype") }
        return dtypes[Int(code)]
    }

    static func read(_ inputs: UnsafePointer<octet_tensor>?, _ count: Int) throws -> [String: Tensor] {
        guard count == 0 || inputs != nil else { throw CAPIError("input_count is \(count) but inputs is NULL") }
        var out: [String: Tensor] = [:]
        for i in 0..<count {
            guard let p = inputs?.advanced(by: i) else { continue }
            let c = p.pointee
            let what = "inputs[\(i)]"
            let name = try string(c.name, "\(what).name")
            guard c.rank >= 0, c.rank <= OCTET_MAX_RANK else { throw CAPIError("\(what) '\(name)': rank \(c.rank) outside 0...\(OCTET_MAX_RANK)") }
            let dims = withUnsafeBytes(of: c.dims) { Array($0.bindMemory(to: Int64.self).prefix(Int(c.rank))) }
            guard dims.allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }) else { throw CAPIError("\(what) '\(name)': dims \(dims) must be in 0...2^31-1") }
            var t = try Tensor(zeros: try dtype(c.dtype, what), shape: try TensorShape(dims.map(Int.init)))
            guard c.byte_count == t.byteCount, c.capacity >= c.byte_count else {
                throw CAPIError("\(what) '\(name)': byte_count \(c.byte_count) (capacity \(c.capacity)), but \(t.dtype)\(dims) needs \(t.byteCount) bytes")
            }
            guard let data = c.data else { throw CAPIError("\(what) '\(name)': data is NULL") }
            t.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: data, count: c.byte_count)) }
            out[name] = t
        }
        return out
    }

    static func write(_ t: Tensor, into out: UnsafeMutablePointer<octet_tensor>, index i: Int) throws {
        let name = out.pointee.name.map { String(cString: $0) } ?? "?"
        guard t.shape.rank <= Int(OCTET_MAX_RANK) else { throw CAPIError("outputs[\(i)] '\(name)': rank \(t.shape.rank) exceeds \(OCTET_MAX_RANK)") }
        guard out.pointee.capacity >= t.byteCount else {
            throw CAPIError("outputs[\(i)] '\(name)': needs \(t.byteCount) bytes (\(t.dtype)\(t.shape.dims)), capacity is \(out.pointee.capacity)")
        }
        guard let data = out.pointee.data else { throw CAPIError("outputs[\(i)] '\(name)': data is NULL") }
        t.withUnsafeBytes { src in if let base = src.baseAddress { data.copyMemory(from: base, byteCount: t.byteCount) } }
        out.pointee.dtype = Int32(dtypes.firstIndex(of: t.dtype) ?? 0)
        out.pointee.rank = Int32(t.shape.rank)
        withUnsafeMutableBytes(of: &out.pointee.dims) { raw in
            for (k, d) in t.shape.dims.enumerated() { raw.storeBytes(of: Int64(d), toByteOffset: k * 8, as: Int64.self) }
        }
        out.pointee.byte_count = t.byteCount
    }
}
