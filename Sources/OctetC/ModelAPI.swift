import COctetAPI
import Foundation
import Octet

@_cdecl("octet_version")
public func octet_version() -> UnsafePointer<CChar>? { versionText.map { UnsafePointer($0) } }
nonisolated(unsafe) private let versionText = strdup(octetVersion)

@_cdecl("octet_model_load")
public func octet_model_load(_ path: UnsafePointer<CChar>?) -> OpaquePointer? {
    guarded(nil) { handle(ModelHandle(try ONNXModel.load(contentsOf: try string(path, "path")))) }
}

@_cdecl("octet_model_load_bytes")
public func octet_model_load_bytes(_ bytes: UnsafeRawPointer?, _ size: Int) -> OpaquePointer? {
    guarded(nil) {
        guard let bytes, size > 0 else { throw CAPIError("octet_model_load_bytes: no bytes (NULL or size 0)") }
        return handle(ModelHandle(try ONNXModel(serialized: Data(bytes: bytes, count: size))))
    }
}

@_cdecl("octet_model_free")
public func octet_model_free(_ model: OpaquePointer?) { release(model, ModelHandle.self) }

@_cdecl("octet_model_save")
public func octet_model_save(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    guarded(1) {
        try ONNXModel(graph: try object(model, ModelHandle.self).model.graph).write(to: try string(path, "path"))
        return 0
    }
}

@_cdecl("octet_model_input_count")
public func octet_model_input_count(_ model: OpaquePointer?) -> Int { guarded(0) { try object(model, ModelHandle.self).inputNames.count } }

@_cdecl("octet_model_output_count")
public func octet_model_output_count(_ model: OpaquePointer?) -> Int { guarded(0) { try object(model, ModelHandle.self).outputNames.count } }

@_cdecl("octet_model_input_name")
public func octet_model_input_name(_ model: OpaquePointer?, _ i: Int) -> UnsafePointer<CChar>? { portName(model, i, inputs: true) }

@_cdecl("octet_model_output_name")
public func octet_model_output_name(_ model: OpaquePointer?, _ i: Int) -> UnsafePointer<CChar>? { portName(model, i, inputs: false) }

private func portName(_ model: OpaquePointer?, _ i: Int, inputs: Bool) -> UnsafePointer<CChar>? {
    guarded(nil) {
        let m = try object(model, ModelHandle.self)
        let names = inputs ? m.inputNames : m.outputNames
        guard i >= 0, i < names.count else { throw CAPIError("\(inputs ? "input" : "output") \(i) out of range (the model has \(names.count))") }
        return UnsafePointer(names[i])
    }
}

@_cdecl("octet_quantize_static")
public func octet_quantize_static(_ model: OpaquePointer?, _ calibration: UnsafePointer<CChar>?, _ method: UnsafePointer<CChar>?) -> OpaquePointer? {
    guarded(nil) {
        let graph = try object(model, ModelHandle.self).model.graph
        var setting = QuantizationSetting()
        if let method {
            let name = String(cString: method)
            guard let m = CalibrationMethod(rawValue: name) else {
                throw CAPIError("method '\(name)' is not one of \(CalibrationMethod.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            setting.method = m
        }
        let data = try CalibrationData.load(try string(calibration, "calibration_npz"), for: graph.inputs)
        let options = SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn())
        let q = try Quantizer(config: QuantizationConfig(global: setting)).quantize(graph, data: data, options: options)
        return handle(ModelHandle(ONNXModel(graph: q.graph)))
    }
}

@_cdecl("octet_quantize_dynamic")
public func octet_quantize_dynamic(_ model: OpaquePointer?) -> OpaquePointer? {
    guarded(nil) { handle(ModelHandle(ONNXModel(graph: try DynamicQuantizer().quantize(try object(model, ModelHandle.self).model.graph).graph))) }
}

@_cdecl("octet_quantize_fp16")
public func octet_quantize_fp16(_ model: OpaquePointer?) -> OpaquePointer? {
    guarded(nil) { handle(ModelHandle(ONNXModel(graph: try FP16Converter().convert(try object(model, ModelHandle.self).model.graph).graph))) }
}
