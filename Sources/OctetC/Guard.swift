import COctetAPI

/// Runs `body`; on an error, records its text as the thread's last error and returns `failure`.
func guarded<R>(_ failure: R, _ body: () throws -> R) -> R {
    do {
        let r = try body()
        octet_api_set_last_error(nil)
        return r
    } catch {
        octet_api_set_last_error("\(error)")
        return failure
    }
}

/// A required C string argument.
func string(_ p: UnsafePointer<CChar>?, _ what: String) throws(CAPIError) -> String {
    guard let p else { throw CAPIError("\(what) is NULL") }
    return String(cString: p)
}
