import Foundation
import OctetCore

/// Turns `TensorProto`s into tensors: raw bytes, typed fields, or external files beside
/// the model. Sizes are checked against the bytes actually present before anything is
/// allocated, so a hostile header cannot ask for gigabytes.
struct ONNXTensorDecoder {
    /// The model file (for messages) and its folder (for external data).
    let modelPath: String
    let modelDirectory: URL?
    /// External data is read only when it fits.
    let budget: MemoryBudget

    func decode(_ proto: Onnx_TensorProto, name overrideName: String? = nil) throws(ONNXError) -> Tensor {
        let name = overrideName ?? proto.name
        guard let dtype = ONNXDataType.dtype(proto.dataType) else {
            throw .tensor(path: modelPath, name: name, reason: "element type \(ONNXDataType.name(proto.dataType)) is not supported (supported: \(ONNXDataType.supportedNames))")
        }
        if proto.hasSegment { throw .tensor(path: modelPath, name: name, reason: "segmented tensors are not supported") }
        var dims: [Int] = []
        for (axis, d) in proto.dims.enumerated() {
            guard d >= 0 else { throw .tensor(path: modelPath, name: name, reason: "dimension \(axis) is \(d); dimensions must be ≥ 0") }
            dims.append(Int(d))
        }
        let shape: TensorShape
        do { shape = try TensorShape(dims) } catch { throw .tensor(path: modelPath, name: name, reason: "\(error)") }
        let (byteCount, overflow) = shape.elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, byteCount <= Tensor.maximumByteCount else {
            throw .tensor(path: modelPath, name: name, reason: "shape \(shape) of \(dtype) exceeds the \(Tensor.maximumByteCount >> 30) GiB limit")
        }

        if proto.dataLocation == .external {
            do { try budget.check(byteCount, for: "external data of \(dtype) \(shape)") } catch {
                throw .externalData(path: modelPath, tensor: name, reason: "\(error)")
            }
            let bytes = try externalBytes(proto, name: name, expected: byteCount)
            return try make(dtype, shape, name) { dst in bytes.withUnsafeBytes { dst.copyMemory(from: $0) } }
        }
        if proto.hasRawData {
            let raw = proto.rawData
            guard raw.count == byteCount else {
                throw .tensor(path: modelPath, name: name, reason: "raw_data holds \(raw.count) bytes, but \(dtype) \(shape) needs \(byteCount)")
            }
            return try make(dtype, shape, name) { dst in raw.withUnsafeBytes { dst.copyMemory(from: $0) } }
        }
        return try decodeTypedFields(proto, dtype: dtype, shape: shape, name: name)
    }

    private func decodeTypedFields(_ p: Onnx_TensorProto, dtype: DType, shape: TensorShape, name: String) throws(ONNXError) -> Tensor {
        let n = shape.elementCount
        func check(_ count: Int, _ field: String) throws(ONNXError) {
            guard count == n else {
                throw .tensor(path: modelPath, name: name, reason: "\(field) holds \(count) values, but shape \(shape) needs \(n)")
            }
        }
        // The typed field each element type is stored in (onnx.proto3's TensorProto):
        // 8/16-bit integers, bool, f16 and bf16 as int32_data (f16/bf16 as their bits),
        // u32 and u64 as uint64_data.
        switch dtype {
        case .f32:
            try check(p.floatData.count, "float_data")
            return try make(dtype, shape, name) { dst in p.floatData.withUnsafeBytes { dst.copyMemory(from: $0) } }
        case .f64:
            try check(p.doubleData.count, "double_data")
            return try make(dtype, shape, name) { dst in p.doubleData.withUnsafeBytes { dst.copyMemory(from: $0) } }
        case .s64:
            try check(p.int64Data.count, "int64_data")
            return try make(dtype, shape, name) { dst in p.int64Data.withUnsafeBytes { dst.copyMemory(from: $0) } }
        case .u64:
            try check(p.uint64Data.count, "uint64_data")
            return try make(dtype, shape, name) { dst in p.uint64Data.withUnsafeBytes { dst.copyMemory(from: $0) } }
        case .u32:
            try check(p.uint64Data.count, "uint64_data")
            let words = p.uint64Data.map { UInt32(truncatingIfNeeded: $0) }
            return try make(dtype, shape, name) { dst in words.withUnsafeBytes { dst.copyMemory(from: $0) } }
        case .s32:
            try check(p.int32Data.count, "int32_data")
            return try make(dtype, shape, name) { dst in p.int32Data.withUnsafeBytes { dst.copyMemory(from: $0) } }
        case .u8, .s8, .bool:
            try check(p.int32Data.count, "int32_data")
            let bytes = p.int32Data.map { UInt8(truncatingIfNeeded: $0) }
            return try make(dtype, shape, name) { dst in bytes.withUnsafeBytes { dst.copyMemory(from: $0) } }
        case .f16, .bf16, .u16, .s16:
            try check(p.int32Data.count, "int32_data")
            let bits = p.int32Data.map { UInt16(truncatingIfNeeded: $0) }
            return try make(dtype, shape, name) { dst in bits.withUnsafeBytes { dst.copyMemory(from: $0) } }
        }
    }

    private func make(_ dtype: DType, _ shape: TensorShape, _ name: String, _ fill: (UnsafeMutableRawBufferPointer) -> Void) throws(ONNXError) -> Tensor {
        do {
            var t = try Tensor(zeros: dtype, shape: shape)
            t.withUnsafeMutableBytes { fill($0) }
            return t
        } catch {
            throw .tensor(path: modelPath, name: name, reason: "\(error)")
        }
    }

    /// Reads `location` (relative to the model's folder, never outside it), `offset`, `length`.
    private func externalBytes(_ p: Onnx_TensorProto, name: String, expected: Int) throws(ONNXError) -> Data {
        var location: String?, offset = 0, length: Int?
        for entry in p.externalData {
            switch entry.key {
            case "location": location = entry.value
            case "offset":
                guard let v = Int(entry.value), v >= 0 else { throw .externalData(path: modelPath, tensor: name, reason: "offset '\(entry.value)' is not a non-negative integer") }
                offset = v
            case "length":
                guard let v = Int(entry.value), v >= 0 else { throw .externalData(path: modelPath, tensor: name, reason: "length '\(entry.value)' is not a non-negative integer") }
                length = v
            default: break
            }
        }
        guard let location, !location.isEmpty else { throw .externalData(path: modelPath, tensor: name, reason: "no 'location' entry") }
        guard let directory = modelDirectory else { throw .externalData(path: modelPath, tensor: name, reason: "the model was not loaded from a file, so '\(location)' cannot be resolved") }
        if let length, length != expected {
            throw .externalData(path: modelPath, tensor: name, reason: "length \(length) does not match the \(expected) bytes its shape needs")
        }
        guard !location.hasPrefix("/") else {
            throw .externalData(path: modelPath, tensor: name, reason: "location '\(location)' is absolute; it must be a path inside the model's folder")
        }
        let root = directory.standardizedFileURL.resolvingSymlinksInPath()
        let file = root.appendingPathComponent(location).standardizedFileURL.resolvingSymlinksInPath()
        let rootPath = root.path.hasSuffix("/") ? root.path : root.path + "/"
        guard file.path.hasPrefix(rootPath) else {
            throw .externalData(path: modelPath, tensor: name, reason: "location '\(location)' escapes the model's folder \(root.path)")
        }
        // Only a regular file: a FIFO would block the open, a device would never end.
        do { _ = try RegularFile.size(at: file.path) } catch {
            throw .externalData(path: modelPath, tensor: name, reason: "cannot open '\(location)': \(file.path) \(error.reason)")
        }
        guard let handle = try? FileHandle(forReadingFrom: file) else {
            throw .externalData(path: modelPath, tensor: name, reason: "cannot open '\(file.path)'")
        }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()).map(Int.init) ?? 0
        guard offset <= size, expected <= size - offset else {
            throw .externalData(path: modelPath, tensor: name, reason: "'\(location)' has \(size) bytes; \(expected) bytes from offset \(offset) were expected")
        }
        do {
            try handle.seek(toOffset: UInt64(offset))
            let data = try handle.read(upToCount: expected) ?? Data()
            guard data.count == expected else { throw ONNXError.externalData(path: modelPath, tensor: name, reason: "short read from '\(location)'") }
            return data
        } catch let e as ONNXError {
            throw e
        } catch {
            throw .externalData(path: modelPath, tensor: name, reason: "reading '\(location)': \(error)")
        }
    }
}
