import Foundation
import OctetCore
import OctetCPU

/// Reads `backends.json` (schema version 1), refusing anything it does not understand.
///
/// ```json
/// {
///   "schema_version": 1,
///   "description": "…",
///   "fallback": { "int8": ["packed", "onednn", "qnnpack-ref"], "fp32": […], "fp16": […] },
///   "rules": [
///     { "id": "x86-conv-onednn", "ops": ["conv2d"], "precision": ["int8"],
///       "when": [ { "cpu_has": "avx512_vnni" },
///                 { "field": "groups", "op": "<=", "value": 100 } ],
///       "backend": "onednn", "why": "…" }
///   ]
/// }
/// ```
/// Condition operators: `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `not_in` (a list) and
/// `between` (an inclusive `[low, high]`). Ordering operators need an integer field.
public enum RuleSetParser {
    /// The largest rules file read (the built-in one is a few KiB).
    public static let maximumFileSize = 4 << 20
    /// The deepest nesting of arrays and objects accepted (the schema needs 5).
    public static let maximumDepth = 32

    /// Parses rules from a file on disk, which must be a regular file of at most `maximumFileSize` bytes.
    public static func load(contentsOf path: String) throws(RulesFileError) -> RuleSet {
        let size: Int
        do { size = try RegularFile.size(at: path) } catch {
            throw RulesFileError(file: path, field: "", message: "cannot read the file: \(error.reason)")
        }
        guard size <= maximumFileSize else {
            throw RulesFileError(file: path, field: "", message: "the file has \(size) bytes; a rules file may have at most \(maximumFileSize)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw RulesFileError(file: path, field: "", message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(data, source: path)
    }

    /// Parses rules from JSON bytes; `source` names them in errors.
    public static func parse(_ data: Data, source: String) throws(RulesFileError) -> RuleSet {
        guard data.count <= maximumFileSize else {
            throw RulesFileError(file: source, field: "", message: "the text has \(data.count) bytes; rules may have at most \(maximumFileSize)")
        }
        if let (depth, offset) = nestingBeyond(maximumDepth, in: data) {
            throw RulesFileError(file: source, field: "", message: "arrays and objects are nested \(depth) deep at byte \(offset); at most \(maximumDepth) levels are read")
        }
        let root: JSONValue
        do {
            root = try JSONValue.parse(data)
        } catch {
            throw RulesFileError(file: source, field: "", message: "not valid JSON: \(describe(error, in: data))")
        }
        var reader = Reader(file: source)
        return try reader.ruleSet(root)
    }

    /// The first place where `[`/`{` nesting (outside strings) passes `limit`, in one linear scan,
    /// so that the recursive decoder never sees a document deep enough to exhaust the stack.
    static func nestingBeyond(_ limit: Int, in data: Data) -> (depth: Int, offset: Int)? {
        var depth = 0, inString = false, escaped = false
        for (offset, byte) in data.enumerated() {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return (depth, offset) }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return nil
    }

    /// The decoder's message, with the line and column JSONSerialization can locate.
    private static func describe(_ error: any Error, in data: Data) -> String {
        var message = "\(error)"
        if case let DecodingError.dataCorrupted(context) = error { message = context.debugDescription }
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? ""
            if let range = detail.range(of: "character "), let offset = Int(detail[range.upperBound...].prefix { $0.isNumber }) {
                let prefix = data.prefix(offset)
                let line = prefix.filter { $0 == UInt8(ascii: "\n") }.count + 1
                let column = offset - (prefix.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
                return "\(detail.hasSuffix(".") ? String(detail.dropLast()) : detail) (line \(line), column \(column))"
            }
            if !detail.isEmpty { return detail }
        }
        return message
    }
}

private struct Reader {
    let file: String
    var ruleID: String?

    func fail(_ path: String, _ message: String) -> RulesFileError {
        RulesFileError(file: file, ruleID: ruleID, field: path, message: message)
    }

    func object(_ v: JSONValue, _ path: String, allowed: Set<String>, required: [String]) throws(RulesFileError) -> [String: JSONValue] {
        guard case let .object(o) = v else { throw fail(path, "expected an object, found \(v.kindName)") }
        for key in o.keys.sorted() where !allowed.contains(key) {
            throw fail(join(path, key), "unknown field '\(key)'; expected one of: \(allowed.sorted().joined(separator: ", "))")
        }
        for key in required where o[key] == nil {
            throw fail(join(path, key), "missing required field '\(key)'")
        }
        return o
    }

    func string(_ v: JSONValue?, _ path: String) throws(RulesFileError) -> String {
        guard case let .string(s)? = v else { throw fail(path, "expected a string, found \(v?.kindName ?? "nothing")") }
        return s
    }

    func nonEmptyString(_ v: JSONValue?, _ path: String) throws(RulesFileError) -> String {
        let s = try string(v, path)
        guard !s.trimmingCharacters(in: .whitespaces).isEmpty else { throw fail(path, "must not be empty") }
        return s
    }

    func stringList(_ v: JSONValue?, _ path: String) throws(RulesFileError) -> [String] {
        guard case let .array(items)? = v else { throw fail(path, "expected an array of strings, found \(v?.kindName ?? "nothing")") }
        guard !items.isEmpty else { throw fail(path, "must not be empty") }
        var out: [String] = []
        for (i, item) in items.enumerated() { out.append(try nonEmptyString(item, "\(path)[\(i)]")) }
        return out
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func ruleSet(_ root: JSONValue) throws(RulesFileError) -> RuleSet {
        let o = try object(root, "", allowed: ["schema_version", "description", "fallback", "rules"], required: ["schema_version", "fallback", "rules"])
        guard case let .int(version)? = o["schema_version"] else {
            throw fail("schema_version", "expected an integer, found \(o["schema_version"]?.kindName ?? "nothing")")
        }
        guard version == RuleSet.supportedSchemaVersion else {
            throw fail("schema_version", "unknown schema version \(version); this build reads version \(RuleSet.supportedSchemaVersion)")
        }
        let description = try o["description"].map { v throws(RulesFileError) in try string(v, "description") } ?? ""

        let fallbackObject = try object(o["fallback"] ?? .null, "fallback", allowed: Set(Precision.allCases.map(\.rawValue)), required: [])
        var fallbacks: [Precision: [String]] = [:]
        for p in Precision.allCases {
            if let list = fallbackObject[p.rawValue] { fallbacks[p] = try stringList(list, "fallback.\(p.rawValue)") }
        }

        guard case let .array(ruleValues)? = o["rules"] else { throw fail("rules", "expected an array of rules, found \(o["rules"]?.kindName ?? "nothing")") }
        var rules: [Rule] = []
        var ids: Set<String> = []
        for (i, value) in ruleValues.enumerated() {
            ruleID = nil
            let rule = try self.rule(value, "rules[\(i)]")
            guard ids.insert(rule.id).inserted else {
                ruleID = rule.id
                throw fail("rules[\(i)].id", "duplicate rule id '\(rule.id)'; ids must be unique")
            }
            rules.append(rule)
        }
        ruleID = nil
        return RuleSet(schemaVersion: version, description: description, fallbacks: fallbacks, rules: rules, source: file)
    }

    mutating func rule(_ v: JSONValue, _ path: String) throws(RulesFileError) -> Rule {
        // Read the id first so every later error can name the rule.
        if case let .object(o) = v, case let .string(id)? = o["id"] { ruleID = id }
        let o = try object(v, path, allowed: ["id", "ops", "precision", "when", "backend", "why"], required: ["id", "ops", "backend", "why"])
        let id = try nonEmptyString(o["id"], "\(path).id")
        ruleID = id
        var ops: Set<OpKind> = []
        for (i, name) in try stringList(o["ops"], "\(path).ops").enumerated() {
            guard let op = OpKind(rawValue: name) else {
                throw fail("\(path).ops[\(i)]", "unknown op '\(name)'; expected one of: \(OpKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            ops.insert(op)
        }
        var precisions: Set<Precision>?
        if let pv = o["precision"] {
            var set: Set<Precision> = []
            for (i, name) in try stringList(pv, "\(path).precision").enumerated() {
                guard let p = Precision(rawValue: name) else {
                    throw fail("\(path).precision[\(i)]", "unknown precision '\(name)'; expected one of: \(Precision.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                set.insert(p)
            }
            precisions = set
        }
        var conditions: [Condition] = []
        if let when = o["when"] {
            guard case let .array(items) = when else { throw fail("\(path).when", "expected an array of conditions, found \(when.kindName)") }
            for (i, item) in items.enumerated() { conditions.append(try condition(item, "\(path).when[\(i)]")) }
        }
        let backend = try nonEmptyString(o["backend"], "\(path).backend")
        let why = try nonEmptyString(o["why"], "\(path).why")
        return Rule(id: id, ops: ops, precisions: precisions, conditions: conditions, backend: backend, why: why)
    }

    func condition(_ v: JSONValue, _ path: String) throws(RulesFileError) -> Condition {
        guard case let .object(o) = v else { throw fail(path, "expected a condition object, found \(v.kindName)") }
        if o["cpu_has"] != nil || o["cpu_lacks"] != nil {
            let key = o["cpu_has"] != nil ? "cpu_has" : "cpu_lacks"
            _ = try object(v, path, allowed: [key], required: [key])
            let name = try string(o[key], "\(path).\(key)")
            guard let feature = ISAFeature(rawValue: name) else {
                throw fail("\(path).\(key)", "unknown CPU feature '\(name)'; expected one of: \(ISAFeature.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return key == "cpu_has" ? .cpuHas(feature) : .cpuLacks(feature)
        }
        guard o["field"] != nil else {
            throw fail(path, "a condition needs 'field' with 'op' and 'value', or 'cpu_has', or 'cpu_lacks'")
        }
        _ = try object(v, path, allowed: ["field", "op", "value"], required: ["field", "op", "value"])
        let fieldName = try string(o["field"], "\(path).field")
        guard let field = SignatureField(rawValue: fieldName) else {
            throw fail("\(path).field", "unknown field '\(fieldName)'; expected one of: \(SignatureField.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let opName = try string(o["op"], "\(path).op")
        guard let op = ComparisonOperator(rawValue: opName) else {
            throw fail("\(path).op", "unknown operator '\(opName)'; expected one of: \(ComparisonOperator.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if op.isOrdering && field.kind != .int {
            throw fail("\(path).op", "operator '\(opName)' orders integers, but '\(fieldName)' is \(field.kind)")
        }
        let valuePath = "\(path).value"
        let raw = o["value"] ?? .null
        let values: [FieldValue]
        switch op {
        case .isIn, .notIn, .between:
            guard case let .array(items) = raw, !items.isEmpty else {
                throw fail(valuePath, "operator '\(opName)' needs a non-empty array, found \(raw.kindName)")
            }
            values = try items.enumerated().map { (i, item) throws(RulesFileError) in try fieldValue(item, field, "\(valuePath)[\(i)]") }
            if op == .between {
                guard values.count == 2, case let .int(lo) = values[0], case let .int(hi) = values[1], lo <= hi else {
                    throw fail(valuePath, "'between' needs [low, high] with low ≤ high")
                }
            }
        default:
            values = [try fieldValue(raw, field, valuePath)]
        }
        return .field(field, op, values)
    }

    func fieldValue(_ v: JSONValue, _ field: SignatureField, _ path: String) throws(RulesFileError) -> FieldValue {
        switch (field.kind, v) {
        case (.int, .int(let i)): return .int(i)
        case (.bool, .bool(let b)): return .bool(b)
        case let (.word(allowed), .string(s)):
            guard allowed.contains(s) else { throw fail(path, "'\(s)' is not a value of '\(field.rawValue)'; expected \(field.kind)") }
            return .string(s)
        default:
            throw fail(path, "'\(field.rawValue)' is \(field.kind), found \(v.kindName)")
        }
    }
}
