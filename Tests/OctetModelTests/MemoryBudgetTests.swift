import Foundation
import Octet
@testable import OctetONNX
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Allocations a file or an argument asks for are checked against the memory budget before
/// they are made, and the refusal names what asked and how much; only regular files are read.
@Suite struct MemoryBudgetTests {
    typealias H = HostileGraph
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-budget-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    @Test func planOutputsFoldedConstantsAndTheArenaAreChecked() throws {
        // Conv with pads 10000 on an 8x8 image: 1.5 GiB asked by one output.
        let conv = H.graph([Node(name: "cv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"], attributes: ["pads": .ints([10000, 10000, 10000, 10000])])],
                           inputs: [("x", .f32, [1, 1, 8, 8])], outputs: ["y"], initializers: ["w": try H.floats(Array(repeating: 1, count: 9), [1, 1, 3, 3])])
        let convError = try #require(H.error(conv))
        #expect(convError.contains("node 'cv' (Conv): output 'y' (f32 1x1x20006x20006) needs 1.5 GiB, over the memory budget of 64.0 MiB"), "\(convError)")
        // ConstantOfShape of 2^20 x 2^20: 4 TiB, never allocated.
        let fill = H.graph([Node(name: "cs", opType: "ConstantOfShape", inputs: ["s"], outputs: ["y"])], outputs: ["y"], initializers: ["s": try H.ints([1 << 20, 1 << 20])])
        let fillError = try #require(H.error(fill))
        #expect(fillError.contains("node 'cs' (ConstantOfShape)") && fillError.contains("4.0 TiB"), "\(fillError)")
        // Three 40 MB values live two at a time: each output fits, the arena (80 MB) does not.
        let chain = H.graph([Node(name: "r1", opType: "Relu", inputs: ["x"], outputs: ["a"]), Node(name: "r2", opType: "Relu", inputs: ["a"], outputs: ["b"]),
                             Node(name: "r3", opType: "Relu", inputs: ["b"], outputs: ["y"])], inputs: [("x", .f32, [10_000_000])], outputs: ["y"])
        let chainError = try #require(H.error(chain))
        #expect(chainError.contains("the arena of intermediate values") && chainError.contains("over the memory budget of 64.0 MiB"), "\(chainError)")
    }

    @Test func budgetsParseFromText() throws {
        #expect(try MemoryBudget(parsing: "8G").bytes == 8 << 30)
        #expect(try MemoryBudget(parsing: "512M").bytes == 512 << 20)
        #expect(try MemoryBudget(parsing: "1.5GiB").bytes == 3 << 29)
        #expect(try MemoryBudget(parsing: "4096").bytes == 4096)
        for bad in ["", "-1G", "0", "lots", "1e30", "nanG", "8Q"] {
            #expect { try MemoryBudget(parsing: bad) } throws: { "\($0)".contains("'\(bad)'") }
        }
        #expect(MemoryBudget.machineDefault.bytes >= 64 << 20)
    }

    func model(external location: String, dims: [Int64] = [2]) throws -> String {
        let path = dir.appendingPathComponent("ext.onnx").path
        try HostileGraph.externalDataModel([("location", location)], dims: dims).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func onlyRegularFilesAreReadAsModelsAndExternalData() throws {
        #expect { try ONNXModel.load(contentsOf: dir.path) } throws: { "\($0)".contains(dir.path) && "\($0)".contains("is a directory") }
        #expect { try ONNXModel.load(contentsOf: "/dev/zero") } throws: { "\($0)".contains("character device") }
        #if canImport(Glibc)
        let fifo = dir.appendingPathComponent("model.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect { try ONNXModel.load(contentsOf: fifo) } throws: { "\($0)".contains("FIFO") }
        // External data whose location is a FIFO: refused, never opened (opening would block).
        #expect(mkfifo(dir.appendingPathComponent("weights.fifo").path, 0o600) == 0)
        let path = try model(external: "weights.fifo")
        #expect { try ONNXModel.load(contentsOf: path) } throws: { "\($0)".contains("'w'") && "\($0)".contains("FIFO") }
        #endif
    }

    @Test func modelFilesAndExternalDataAreChecked() throws {
        let small = MemoryBudget(bytes: 1 << 20)
        // 2^20 x 64 floats (256 MiB) of external data: refused before the file is even opened.
        let path = try model(external: "missing.bin", dims: [1 << 20, 64])
        #expect { try ONNXModel.load(contentsOf: path, budget: small) } throws: { e in
            "\(e)".contains("'w'") && "\(e)".contains("external data of f32 1048576x64 needs 256 MiB, over the memory budget of 1.0 MiB")
        }
        #expect { try ONNXModel.load(contentsOf: path, budget: MemoryBudget(bytes: 10)) } throws: { "\($0)".contains("the model file needs") }
    }
}
