/// The header dictionary of an `.npy` file, read without evaluating Python: a small parser
/// for the literal NumPy writes (`{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`).
/// Keys are found as keys of the dictionary, never as text inside another value, and the
/// dictionary must hold exactly NumPy's three keys, as NumPy requires.
struct NPYHeader {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    static func parse(_ text: String, name: String) throws(NumPyError) -> NPYHeader {
        var parser = PythonLiteralParser(Array(text.utf8))
        let dictionary: [(key: String, value: PythonLiteral)]
        do {
            dictionary = try parser.dictionary()
            try parser.end()
        } catch { throw .header(path: name, reason: "\(error.reason) in the header \(text.prefix(120).debugDescription)") }
        var entries: [String: PythonLiteral] = [:]
        for (key, value) in dictionary {
            guard ["descr", "fortran_order", "shape"].contains(key) else { throw .header(path: name, reason: "unexpected key '\(key)' (expected descr, fortran_order and shape)") }
            guard entries.updateValue(value, forKey: key) == nil else { throw .header(path: name, reason: "key '\(key)' appears twice") }
        }
        guard case let .string(descr)? = entries["descr"] else {
            throw .header(path: name, reason: entries["descr"] == nil ? "the header has no 'descr' entry"
                                                                      : "'descr' is not a quoted string (object or structured arrays are not supported)")
        }
        guard case let .bool(fortran)? = entries["fortran_order"] else {
            throw .header(path: name, reason: entries["fortran_order"] == nil ? "the header has no 'fortran_order' entry" : "'fortran_order' is neither True nor False")
        }
        guard case let .tuple(items)? = entries["shape"] else {
            throw .header(path: name, reason: entries["shape"] == nil ? "the header has no 'shape' entry" : "'shape' is not a tuple")
        }
        var dims: [Int] = []
        for item in items {
            guard case let .int(v) = item, v >= 0 else { throw .header(path: name, reason: "shape entry \(item) is not a non-negative integer") }
            dims.append(v)
        }
        return NPYHeader(descr: descr, fortranOrder: fortran, shape: dims)
    }
}

/// The Python literals an `.npy` header may hold.
enum PythonLiteral: Sendable, CustomStringConvertible {
    case string(String)
    case bool(Bool)
    case int(Int)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dictionary([(key: String, value: PythonLiteral)])

    var description: String {
        switch self {
        case let .string(s): "'\(s)'"
        case let .bool(b): b ? "True" : "False"
        case let .int(v): String(v)
        case .none: "None"
        case let .tuple(items): "(" + items.map(\.description).joined(separator: ", ") + ")"
        case let .list(items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        case let .dictionary(entries): "{" + entries.map { "'\($0.key)': \($0.value)" }.joined(separator: ", ") + "}"
        }
    }
}

struct PythonLiteralError: Error {
    var reason: String
}

/// Recursive descent over bytes; nesting is limited so a hostile header cannot exhaust the stack.
struct PythonLiteralParser {
    static let maximumDepth = 16
    private let bytes: [UInt8]
    private var i = 0
    private var depth = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func dictionary() throws(PythonLiteralError) -> [(key: String, value: PythonLiteral)] {
        skipSpace()
        guard case let .dictionary(entries) = try value() else { throw PythonLiteralError(reason: "expected a dictionary") }
        return entries
    }

    /// Only whitespace may follow the dictionary.
    mutating func end() throws(PythonLiteralError) {
        skipSpace()
        guard i == bytes.count else { throw PythonLiteralError(reason: "unexpected text after the dictionary at byte \(i)") }
    }

    private mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private mutating func value() throws(PythonLiteralError) -> PythonLiteral {
        skipSpace()
        guard i < bytes.count else { throw PythonLiteralError(reason: "the header ends inside a value") }
        switch bytes[i] {
        case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "{"):
            let items = try sequence(close: UInt8(ascii: "}"), keyed: true)
            return .dictionary(items.map { ($0.key ?? "", $0.value) })
        case UInt8(ascii: "("): return .tuple(try sequence(close: UInt8(ascii: ")"), keyed: false).map(\.value))
        case UInt8(ascii: "["): return .list(try sequence(close: UInt8(ascii: "]"), keyed: false).map(\.value))
        default: return try word()
        }
    }

    /// Items up to `close`, separated by commas (a trailing comma allowed); `keyed`: `'key': value`.
    private mutating func sequence(close: UInt8, keyed: Bool) throws(PythonLiteralError) -> [(key: String?, value: PythonLiteral)] {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { throw PythonLiteralError(reason: "values nested deeper than \(Self.maximumDepth)") }
        i += 1
        var items: [(key: String?, value: PythonLiteral)] = []
        while true {
            skipSpace()
            guard i < bytes.count else { throw PythonLiteralError(reason: "the header ends before '\(Character(Unicode.Scalar(close)))'") }
            if bytes[i] == close { i += 1; return items }
            var key: String?
            if keyed {
                guard bytes[i] == UInt8(ascii: "'") || bytes[i] == UInt8(ascii: "\"") else { throw PythonLiteralError(reason: "expected a quoted key at byte \(i)") }
                key = try string()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw PythonLiteralError(reason: "expected ':' after key '\(key ?? "")'") }
                i += 1
            }
            items.append((key, try value()))
            skipSpace()
            guard i < bytes.count else { continue }
            if bytes[i] == UInt8(ascii: ",") { i += 1 } else if bytes[i] != close {
                throw PythonLiteralError(reason: "expected ',' or '\(Character(Unicode.Scalar(close)))' at byte \(i)")
            }
        }
    }

    private mutating func string() throws(PythonLiteralError) -> String {
        let quote = bytes[i]
        i += 1
        var out: [UInt8] = []
        while i < bytes.count, bytes[i] != quote {
            if bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count { i += 1 }
            out.append(bytes[i])
            i += 1
        }
        guard i < bytes.count else { throw PythonLiteralError(reason: "a string is not closed") }
        i += 1
        return String(decoding: out, as: UTF8.self)
    }

    /// `True`, `False`, `None` or an integer (Python 2's `L` suffix allowed).
    private mutating func word() throws(PythonLiteralError) -> PythonLiteral {
        let start = i
        while i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") || (bytes[i] >= 0x30 && bytes[i] <= 0x39)
            || (bytes[i] >= 0x41 && bytes[i] <= 0x5A) || (bytes[i] >= 0x61 && bytes[i] <= 0x7A) || bytes[i] == UInt8(ascii: "_") {
            i += 1
        }
        var text = String(decoding: bytes[start..<i], as: UTF8.self)
        switch text {
        case "True": return .bool(true)
        case "False": return .bool(false)
        case "None": return .none
        default:
            if text.hasSuffix("L") { text.removeLast() }
            guard let v = Int(text) else {
                throw PythonLiteralError(reason: text.isEmpty ? "unexpected character at byte \(start)" : "'\(text)' is not a number, True, False or None")
            }
            return .int(v)
        }
    }
}
