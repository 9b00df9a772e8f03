/// Renders the Swift source that embeds a validated rules file as a raw string literal.
package enum EmbeddedRulesSource {
    /// A Swift file defining `BuiltInRules.json` and `BuiltInRules.ruleCount`.
    public static func render(json: String, ruleCount: Int) -> String {
        // Choose a raw-string delimiter longer than any run of '#' after a quote.
        var longest = 0, run = 0, afterQuote = false
        for ch in json {
            if ch == "\"" { afterQuote = true; run = 0 }
            else if ch == "#" && afterQuote { run += 1; longest = max(longest, run) }
            else { afterQuote = false; run = 0 }
        }
        let hashes = String(repeating: "#", count: longest + 1)
        return """
        // Generated at build time from backends.json by OctetRulesTool. Do not edit.

        /// The rules file compiled into this build (validated when it was built).
        enum BuiltInRules {
            /// Number of rules, as counted when the file was validated.
            static let ruleCount = \(ruleCount)
            /// The file's text.
            static let json = \(hashes)\"\"\"
        \(json.hasSuffix("\n") ? String(json.dropLast()) : json)
        \"\"\"\(hashes)
        }

        """
    }
}
