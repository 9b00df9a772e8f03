import OctetCore

/// The NumPy `.npy` format (versions 1 to 3): a magic string, a Python-literal header
/// dictionary (`descr`, `fortran_order`, `shape`), then the C-order elements.
public enum NPYFormat {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
    /// Headers longer than this are refused (NumPy itself writes under 200 bytes).
    static let maximumHeaderLength = 1 << 16

    /// Decodes one array; `name` is used in errors (a path, or `archive.npz/key`).
    public static func decode(_ bytes: [UInt8], name: String) throws(NumPyError) -> Tensor {
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw .header(path: name, reason: "missing the \\x93NUMPY magic") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw .header(path: name, reason: "truncated header length") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw .header(path: name, reason: "format version \(major) is not 1, 2 or 3")
        }
        guard headerLength <= maximumHeaderLength, headerStart + headerLength <= bytes.count else {
            throw .header(path: name, reason: "header of \(headerLength) bytes does not fit the file (\(bytes.count) bytes)")
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        let parsed = try NPYHeader.parse(header, name: name)
        guard !parsed.fortranOrder else { throw .fortranOrder(path: name) }
        guard let dtype = dtype(descr: parsed.descr) else { throw .dtype(path: name, descr: parsed.descr) }
        let shape: TensorShape
        do { shape = try TensorShape(parsed.shape) } catch { throw .header(path: name, reason: "shape \(parsed.shape): \(error)") }
        let (needed, overflow) = shape.elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        let dataStart = headerStart + headerLength
        let available = bytes.count - dataStart
        guard !overflow, needed <= available else { throw .truncated(path: name, expected: overflow ? Int.max : needed, got: available) }
        do {
            var t = try Tensor(zeros: dtype, shape: shape)
            bytes.withUnsafeBytes { src in
                t.withUnsafeMutableBytes { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[dataStart..<(dataStart + needed)]))
                }
            }
            if dtype == .bool {
                // NumPy bools are 0 or 1; normalise anything else so Swift's Bool stays valid.
                t.withUnsafeMutableBytes { raw in for i in raw.indices where raw[i] > 1 { raw[i] = 1 } }
            }
            return t
        } catch {
            throw .header(path: name, reason: "\(error)")
        }
    }

    /// Encodes a tensor as a version 1.0 `.npy` file (C order, little-endian).
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        let shape = tensor.shape.dims
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr(tensor.dtype))', 'fortran_order': False, 'shape': \(shapeText), }"
        // Pad with spaces so that the data starts on a 64-byte boundary, ending in '\n'.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = magic + [1, 0]
        let n = header.utf8.count
        out += [UInt8(n & 0xFF), UInt8(n >> 8)]
        out += Array(header.utf8)
        tensor.withUnsafeBytes { out += $0 }
        return out
    }

    /// The element type of a `descr`. `.npy` has no bfloat16 code: NumPy (with
    /// `ml_dtypes`) saves bfloat16 as the 2-byte void `<V2`, so that is read and written
    /// as bf16 (no other ONNX type is 2 opaque bytes).
    static func dtype(descr: String) -> DType? {
        switch descr {
        case "<f4": .f32
        case "<f2": .f16
        case "<f8": .f64
        case "|u1", "<u1", "u1": .u8
        case "|i1", "<i1", "i1": .s8
        case "<u2": .u16
        case "<i2": .s16
        case "<u4": .u32
        case "<i4": .s32
        case "<u8": .u64
        case "<i8": .s64
        case "|b1", "<b1", "b1": .bool
        case "<V2", "|V2", "V2": .bf16
        default: nil
        }
    }

    static func descr(_ dtype: DType) -> String {
        switch dtype {
        case .f32: "<f4"
        case .f16: "<f2"
        case .f64: "<f8"
        case .u8: "|u1"
        case .s8: "|i1"
        case .u16: "<u2"
        case .s16: "<i2"
        case .u32: "<u4"
        case .s32: "<i4"
        case .u64: "<u8"
        case .s64: "<i8"
        case .bool: "|b1"
        case .bf16: "<V2"
        }
    }
}
