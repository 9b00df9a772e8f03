import Foundation

/// A configuration file that cannot be used, with the field at fault.
public struct QuantizationConfigError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var field: String
    public var detail: String

    public var description: String { "\(file): \(field): \(detail)" }
}

extension QuantizationConfig {
    /// Reads a configuration file:
    ///
    /// ```json
    /// { "global":   { "method": "entropy", "per_channel": true, "reduce_range": "auto" },
    ///   "op_types": { "Gemm": { "method": "minmax" } },
    ///   "nodes":    { "/classifier/classifier.3/Gemm": { "per_channel": false } },
    ///   "skip":     ["/features/features.0/Conv"] }
    /// ```
    ///
    /// Every key is checked: an unknown key or a value of the wrong kind is an error that
    /// names the file and the field.
    public static func load(contentsOf path: String) throws -> QuantizationConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw QuantizationConfigError(file: path, field: "(file)", detail: "cannot be read")
        }
        return try parse(data, file: path)
    }

    public static func parse(_ data: Data, file: String = "<config>") throws -> QuantizationConfig {
        func fail(_ field: String, _ detail: String) -> QuantizationConfigError { QuantizationConfigError(file: file, field: field, detail: detail) }
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: data) } catch {
            throw fail("(file)", "is not valid JSON: \(error.localizedDescription)")
        }
        guard let top = root as? [String: Any] else { throw fail("(top level)", "expected an object") }
        var config = QuantizationConfig()
        for key in top.keys where !["global", "op_types", "nodes", "skip"].contains(key) {
            throw fail(key, "unknown key; expected global, op_types, nodes or skip")
        }
        if let g = top["global"] { config.global = try setting(g, "global", fail) }
        for (section, path) in [("op_types", \QuantizationConfig.opTypes), ("nodes", \QuantizationConfig.nodes)] {
            guard let value = top[section] else { continue }
            guard let entries = value as? [String: Any] else { throw fail(section, "expected an object keyed by \(section == "nodes" ? "node name" : "op type")") }
            for (name, s) in entries { config[keyPath: path][name] = try setting(s, "\(section).\(name)", fail) }
        }
        if let skip = top["skip"] {
            guard let names = skip as? [String] else { throw fail("skip", "expected a list of node names") }
            config.skip = Set(names)
        }
        return config
    }

    private static func setting(_ value: Any, _ field: String, _ fail: (String, String) -> QuantizationConfigError) throws -> QuantizationSetting {
        guard let object = value as? [String: Any] else { throw fail(field, "expected an object") }
        var s = QuantizationSetting()
        for (key, v) in object {
            let f = "\(field).\(key)"
            switch key {
            case "method":
                guard let name = v as? String, let m = CalibrationMethod(rawValue: name) else {
                    throw fail(f, "expected one of \(CalibrationMethod.allCases.map(\.rawValue).joined(separator: ", ")), got \(v)")
                }
                s.method = m
            case "percentile":
                guard let p = (v as? NSNumber)?.doubleValue, p > 50, p <= 100 else { throw fail(f, "expected a number in (50, 100], got \(v)") }
                s.percentile = p
            case "per_channel":
                guard let b = v as? Bool else { throw fail(f, "expected true or false, got \(v)") }
                s.perChannelWeights = b
            case "reduce_range":
                if let b = v as? Bool { s.reduceRange = b ? .on : .off; continue }
                guard let name = v as? String, let p = ReduceRangePolicy(rawValue: name) else { throw fail(f, "expected auto, on, off, true or false, got \(v)") }
                s.reduceRange = p
            default:
                throw fail(f, "unknown key; expected method, percentile, per_channel or reduce_range")
            }
        }
        return s
    }
}
