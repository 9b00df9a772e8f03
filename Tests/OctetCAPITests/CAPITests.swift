import COctetAPI
import Foundation
import OctetC
import Testing

/// The C API's refusals, called as a C program would call them: every failure returns
/// NULL or non-zero and leaves its reason in `octet_last_error()`; nothing crashes.
@Suite struct CAPITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let digits = root.appendingPathComponent("Models/digits/digits_cnn.onnx").path

    var lastError: String { String(cString: octet_last_error()) }

    @Test func badArgumentsSayWhat() throws {
        #expect(octet_model_load(nil) == nil)
        #expect(lastError == "path is NULL")
        #expect(octet_model_load("/nonexistent/model.onnx") == nil)
        #expect(lastError.contains("/nonexistent/model.onnx"))
        #expect(octet_model_load_bytes(nil, 0) == nil)
        #expect(lastError.contains("no bytes"))
        let garbage: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        #expect(garbage.withUnsafeBytes { octet_model_load_bytes($0.baseAddress, $0.count) } == nil)
        #expect(!lastError.isEmpty)
        #expect(octet_session_create(nil, nil) == nil)
        #expect(lastError.contains("NULL octet_model"))
        #expect(octet_model_input_name(nil, 0) == nil)
    }

    @Test func aModelAnswersAndRefusesOutOfRange() throws {
        let model = try #require(octet_model_load(Self.digits))
        defer { octet_model_free(model) }
        #expect(lastError.isEmpty)
        #expect(octet_model_input_count(model) == 1 && octet_model_output_count(model) == 1)
        #expect(String(cString: try #require(octet_model_input_name(model, 0))) == "input")
        #expect(octet_model_output_name(model, 5) == nil)
        #expect(lastError.contains("output 5 out of range"))
        #expect(octet_quantize_static(model, "/nonexistent.npz", "kl") == nil)
        #expect(lastError.contains("method 'kl'"))

        var options = octet_session_options()
        options.struct_size = 3
        #expect(octet_session_create(model, &options) == nil)
        #expect(lastError.contains("struct_size is 3"))
        options.struct_size = UInt32(MemoryLayout<octet_session_options>.size)
        options.plugin_count = 1
        #expect(octet_session_create(model, &options) == nil)
        #expect(lastError.contains("plugins is NULL"))
    }

    @Test func runChecksEveryBuffer() throws {
        let model = try #require(octet_model_load(Self.digits))
        defer { octet_model_free(model) }
        let session = try #require(octet_session_create(model, nil))
        defer { octet_session_free(session) }
        var x = [Float](repeating: 0.5, count: 64)
        var y = [Float](repeating: 0, count: 10)
        func run(dims: [Int64], bytes: Int, output name: String = "logits", capacity: Int = 40) -> Int32 {
            "input".withCString { inName in
                name.withCString { outName in
                    x.withUnsafeMutableBytes { xb in
                        y.withUnsafeMutableBytes { yb in
                            var input = octet_tensor()
                            input.name = inName
                            input.dtype = Int32(OCTET_F32.rawValue)
                            input.rank = Int32(dims.count)
                            withUnsafeMutableBytes(of: &input.dims) { d in for (i, v) in dims.enumerated() { d.storeBytes(of: v, toByteOffset: 8 * i, as: Int64.self) } }
                            input.data = xb.baseAddress
                            input.capacity = xb.count
                            input.byte_count = bytes
                            var output = octet_tensor()
                            output.name = outName
                            output.data = yb.baseAddress
                            output.capacity = capacity
                            return octet_session_run(session, &input, 1, &output, 1)
                        }
                    }
                }
            }
        }
        #expect(run(dims: [1, 1, 8, 8], bytes: 256) == 0)
        #expect(y.contains { $0 != 0 })
        #expect(run(dims: [1, 1, 8, 8], bytes: 100) != 0)
        #expect(lastError.contains("byte_count 100"))
        #expect(run(dims: [1, 1, 8, 8], bytes: 256, output: "nope") != 0)
        #expect(lastError.contains("no output 'nope'"))
        #expect(run(dims: [1, 1, 8, 8], bytes: 256, capacity: 39) != 0)
        #expect(lastError.contains("needs 40 bytes"))
        #expect(run(dims: [1, 1, 8, 8], bytes: 256) == 0, "the session still runs after refusals")
    }
}
