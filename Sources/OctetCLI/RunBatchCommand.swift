import ArgumentParser
import Foundation
import Octet

/// `octet run-batch` (hidden): runs many models in one process, for test harnesses such as
/// `scripts/onnx-conformance.py`, so that each case does not pay the CLI's start-up.
///
/// Reads JSON lines from standard input, one case each:
/// `{"case": NAME, "model": PATH, "inputs": {INPUT: FILE.npy, …}, "output_dir": DIR}`.
/// For every case it writes `{"case": NAME, "event": "start"}` before loading the model (so a
/// harness can tell which case a crash hit), then one result line:
/// `{"case": NAME, "event": "ran", "outputs": {OUTPUT: FILE.npy, …}}` or
/// `{"case": NAME, "event": "refused", "stage": "load|session|inputs|run", "error": TEXT}`.
struct RunBatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-batch",
        abstract: "Run many models from JSON lines on standard input (for test harnesses).",
        shouldDisplay: false)

    @Option(parsing: .unconditional, help: ArgumentHelp("Threads per kernel call.", valueName: "N"))
    var threads: Int = 1

    struct Case: Decodable {
        var `case`: String
        var model: String
        var inputs: [String: String]
        var output_dir: String
    }

    func run() throws {
        guard (1...SessionOptions.maximumThreads).contains(threads) else {
            throw ValidationError("--threads must be between 1 and \(SessionOptions.maximumThreads), got \(threads)")
        }
        let registry = BackendRegistry.builtIn()
        let rules = try RuleSet.load(from: nil)
        let options = SessionOptions(threads: threads, cpu: CPUFeatures.host, registry: registry, rules: rules)
        let decoder = JSONDecoder()
        while let line = readLine(strippingNewline: true) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let item: Case
            do { item = try decoder.decode(Case.self, from: Data(line.utf8)) } catch {
                report(["event": "bad-request", "error": "\(error)", "line": line])
                continue
            }
            report(["case": item.case, "event": "start"])
            report(runCase(item, options))
        }
    }

    private func runCase(_ item: Case, _ options: SessionOptions) -> [String: Any] {
        var stage = "load"
        do {
            let model = try ONNXModel.load(contentsOf: item.model)
            stage = "session"
            let session = try Session(graph: model.graph, options: options)
            stage = "inputs"
            var feeds: [String: Tensor] = [:]
            for (name, file) in item.inputs { feeds[name] = try NumPyFiles.readArray(at: file) }
            stage = "run"
            let outputs = try session.run(feeds)
            stage = "outputs"
            try FileManager.default.createDirectory(atPath: item.output_dir, withIntermediateDirectories: true)
            var written: [String: String] = [:]
            for (i, p) in session.graph.outputs.enumerated() {
                guard let t = outputs[p.name] else { continue }
                let file = (item.output_dir as NSString).appendingPathComponent("output_\(i).npy")
                try NumPyFiles.writeArray(t, to: file)
                written[p.name] = file
            }
            return ["case": item.case, "event": "ran", "outputs": written]
        } catch {
            return ["case": item.case, "event": "refused", "stage": stage, "error": "\(error)"]
        }
    }

    private func report(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}
