import OctetCore

/// ONNX `TensorProto.DataType` codes and Octet's element types.
enum ONNXDataType {
    static func dtype(_ code: Int32) -> DType? {
        switch code {
        case 1: .f32
        case 2: .u8
        case 3: .s8
        case 6: .s32
        case 7: .s64
        case 9: .bool
        case 10: .f16
        default: nil
        }
    }

    static func code(_ dtype: DType) -> Int32 {
        switch dtype {
        case .f32: 1
        case .u8: 2
        case .s8: 3
        case .s32: 6
        case .s64: 7
        case .bool: 9
        case .f16: 10
        }
    }

    static func name(_ code: Int32) -> String {
        let names: [Int32: String] = [
            0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64", 8: "STRING",
            9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16",
            17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4",
            23: "FLOAT4E2M1", 24: "FLOAT8E8M0", 25: "UINT2", 26: "INT2", 27: "FLOAT6E2M3", 28: "FLOAT6E3M2",
        ]
        return names[code] ?? "type \(code)"
    }

    static let supportedNames = "FLOAT, FLOAT16, UINT8, INT8, INT32, INT64, BOOL"
}
