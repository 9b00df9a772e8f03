/// A rules file that cannot be used, with where and what: the file, the rule's id (when
/// the problem is inside a rule), the JSON path of the field, and what was expected.
public struct RulesFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Path of the file, or `built-in`.
    public var file: String
    /// The `id` of the rule the problem is in, if any.
    public var ruleID: String?
    /// JSON path of the offending field, e.g. `rules[2].when[1].field`.
    public var field: String
    /// What is wrong and what was expected.
    public var message: String

    public init(file: String, ruleID: String? = nil, field: String, message: String) {
        self.file = file
        self.ruleID = ruleID
        self.field = field
        self.message = message
    }

    public var description: String {
        var where_ = file
        if let ruleID { where_ += ": rule '\(ruleID)'" }
        if !field.isEmpty { where_ += ", field \(field)" }
        return "\(where_): \(message)"
    }
}
