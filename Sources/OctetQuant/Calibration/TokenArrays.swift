import OctetCore

/// Integer calibration arrays (token ids, attention masks) in the width the model declares.
enum TokenArrays {
    /// `t` as `dtype`: s32 → s64 exactly; s64 → s32 when every value fits (else the error
    /// names the file, the input and the first value that does not). Any other pair is
    /// returned unchanged, for the caller's dtype check to refuse.
    static func widened(_ t: Tensor, to dtype: DType, path: String, name: String) throws -> Tensor {
        switch (t.dtype, dtype) {
        case (.s32, .s64):
            return try Tensor(try t.scalars(as: Int32.self).map(Int64.init), shape: t.shape)
        case (.s64, .s32):
            let values = try t.scalars(as: Int64.self)
            var narrow: [Int32] = []
            narrow.reserveCapacity(values.count)
            for (i, v) in values.enumerated() {
                guard let n = Int32(exactly: v) else {
                    throw CalibrationError.layout(path: path, reason: "input '\(name)' is s32 in the model, but element \(i) of the s64 array is \(v), outside s32")
                }
                narrow.append(n)
            }
            return try Tensor(narrow, shape: t.shape)
        default:
            return t
        }
    }
}
