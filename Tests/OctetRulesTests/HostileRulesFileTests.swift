import Foundation
import OctetCore
@testable import OctetRules
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Rules files that are too large, nested too deep, or not regular files are refused at
/// once with the path and the reason, before any JSON is decoded.
@Suite struct HostileRulesFileTests {
    @Test func deepNestingIsRefusedBeforeDecoding() {
        for open in ["[", "{\"a\":"] {
            let text = String(repeating: open, count: 200_000)
            #expect { try RuleSetParser.parse(Data(text.utf8), source: "deep.json") } throws: { e in
                "\(e)".contains("deep.json") && "\(e)".contains("nested 33 deep") && "\(e)".contains("at most 32")
            }
        }
        // Brackets inside strings do not count; 32 levels are fine for the scanner (the schema then speaks).
        let quoted = "{\"schema_version\": 1, \"description\": \"" + String(repeating: "[", count: 100) + "\", \"fallback\": {}, \"rules\": []}"
        #expect(RuleSetParser.nestingBeyond(32, in: Data(quoted.utf8)) == nil)
        #expect(RuleSetParser.nestingBeyond(32, in: Data((String(repeating: "[", count: 32) + String(repeating: "]", count: 32)).utf8)) == nil)
    }

    @Test func oversizedTextIsRefusedBeforeDecoding() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let big = dir.appendingPathComponent("big.json")
        try Data(repeating: 0x20, count: RuleSetParser.maximumFileSize + 1).write(to: big)
        #expect { try RuleSetParser.load(contentsOf: big.path) } throws: { "\($0)".contains(big.path) && "\($0)".contains("at most \(RuleSetParser.maximumFileSize)") }
        #expect { try RuleSetParser.parse(Data(repeating: 0x20, count: RuleSetParser.maximumFileSize + 1), source: "mem.json") } throws: { "\($0)".contains("mem.json") }
        #expect { try RuleSetParser.load(contentsOf: dir.path) } throws: { "\($0)".contains("is a directory") }
        #expect { try RuleSetParser.load(contentsOf: "/dev/zero") } throws: { "\($0)".contains("character device") }
        #if canImport(Glibc)
        let fifo = dir.appendingPathComponent("rules.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect { try RuleSetParser.load(contentsOf: fifo) } throws: { "\($0)".contains("FIFO") }
        #endif
    }
}
