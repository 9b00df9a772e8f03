import ArgumentParser
import Foundation
import Octet

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a model on inputs from .npy/.npz files (or random ones) and write every output as .npy.",
        discussion: """
        Examples:
          octet run model.onnx --input input=image.npy --output out/
          octet run model.onnx --random-inputs --trace
        """)

    @OptionGroup var options: ModelOptions
    @Option(help: ArgumentHelp("Write DIR/<output name>.npy for every graph output.", valueName: "DIR")) var output: String?
    @Flag(help: "Print the dispatch trace: every rule tried for each matrix op, the backend chosen, and where the other nodes run.") var trace = false

    func run() throws {
        let model = try options.loadModel()
        let session = try options.session(for: model)
        let feeds = try options.feeds(for: model.graph)
        if trace { try printTrace(session, shapes: feeds.mapValues(\.shape)) }
        let outputs = try session.run(feeds)
        if let output {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        }
        for p in session.graph.outputs {
            guard let t = outputs[p.name] else { continue }
            var line = "\(p.name)  \(t.dtype)[\(t.shape)]"
            if t.dtype == .f32, let v = try? t.scalars(as: Float.self), !v.isEmpty {
                line += String(format: "  min %.6g  max %.6g  mean %.6g", v.min() ?? 0, v.max() ?? 0, v.reduce(0, +) / Float(v.count))
            }
            if let output {
                let file = (output as NSString).appendingPathComponent(p.name.replacingOccurrences(of: "/", with: "_") + ".npy")
                try NumPyFiles.writeArray(t, to: file)
                line += "  -> \(file)"
            }
            emit(line)
        }
    }
}
