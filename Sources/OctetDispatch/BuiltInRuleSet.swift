import Foundation
import OctetRules

extension RuleSet {
    /// The rules compiled into this build from the package's `backends.json` (validated
    /// by the build; see `Plugins/EmbedDefaultRules`). The library works with no file on
    /// disk; a user points at their own file to change the rules.
    public static func builtIn() throws(RulesFileError) -> RuleSet {
        try builtInResult.get()
    }

    private static let builtInResult: Result<RuleSet, RulesFileError> = Result { () throws(RulesFileError) in
        try RuleSetParser.parse(Data(BuiltInRules.json.utf8), source: "built-in backends.json")
    }

    /// The text of the built-in rules file.
    public static var builtInJSON: String { BuiltInRules.json }
}
