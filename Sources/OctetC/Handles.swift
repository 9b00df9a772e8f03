import Foundation
import Octet

/// What an `octet_model *` points at: the model and its port names as C strings.
final class ModelHandle {
    let model: ONNXModel
    let inputNames: [UnsafeMutablePointer<CChar>]
    let outputNames: [UnsafeMutablePointer<CChar>]

    init(_ model: ONNXModel) {
        self.model = model
        inputNames = model.graph.inputs.map { strdup($0.name) }
        outputNames = model.graph.outputs.map { strdup($0.name) }
    }

    deinit {
        for p in inputNames + outputNames { free(p) }
    }
}

/// What an `octet_session *` points at.
final class SessionHandle {
    let session: Session
    init(_ session: Session) { self.session = session }
}

/// A retained opaque handle for C, released by `release`.
func handle(_ object: AnyObject) -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(object).toOpaque()) }

func object<T: AnyObject>(_ handle: OpaquePointer?, _ type: T.Type) throws(CAPIError) -> T {
    guard let handle else { throw CAPIError("a NULL \(type == ModelHandle.self ? "octet_model" : "octet_session") handle") }
    return Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

func release<T: AnyObject>(_ handle: OpaquePointer?, _ type: T.Type) {
    guard let handle else { return }
    Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).release()
}

/// An error of the C API's own (bad arguments), as opposed to one from the library.
struct CAPIError: Error, CustomStringConvertible {
    var description: String
    init(_ text: String) { description = text }
}
