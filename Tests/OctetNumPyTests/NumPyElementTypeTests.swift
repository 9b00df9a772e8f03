import OctetCore
import OctetNumPy
import Testing

/// `.npy` files of the element types ONNX allows beyond the first seven: the header says
/// what NumPy itself writes (`np.dtype(...).str`; bfloat16 as `ml_dtypes` saves it, the
/// 2-byte void `<V2`), and the bytes read back unchanged.
@Suite struct NumPyElementTypeTests {
    static func t<T: TensorElement>(_ v: [T]) throws -> Tensor { try Tensor(v, shape: TensorShape([v.count])) }

    @Test func numPyRoundTripsEveryElementType() throws {
        let tensors: [Tensor] = [
            try Self.t([1, 65535] as [UInt16]), try Self.t([-32768, 7] as [Int16]), try Self.t([UInt32.max] as [UInt32]),
            try Self.t([UInt64.max] as [UInt64]), try Self.t([0.1] as [Double]), try Self.t([BFloat16(1.5)]),
        ]
        // The descr NumPy writes for each (np.dtype(...).str; bfloat16 as ml_dtypes saves it).
        let descrs = ["<u2", "<i2", "<u4", "<u8", "<f8", "<V2"]
        for (tensor, descr) in zip(tensors, descrs) {
            let bytes = NPYFormat.encode(tensor)
            #expect(String(decoding: bytes, as: UTF8.self).contains("'descr': '\(descr)'"))
            let back = try NPYFormat.decode(bytes, name: "t.npy")
            #expect(back.dtype == tensor.dtype && back.shape == tensor.shape)
            back.withUnsafeBytes { b in tensor.withUnsafeBytes { a in #expect(Array(a) == Array(b)) } }
        }
    }
}
