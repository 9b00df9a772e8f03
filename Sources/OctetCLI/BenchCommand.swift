import ArgumentParser
import Foundation
import Octet

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time a model as given: warm-up, then median and p90 latency over many runs.")

    @OptionGroup var options: ModelOptions
    @Option(parsing: .unconditional, help: "Timed runs.") var iterations: Int = 20
    @Option(parsing: .unconditional, help: "Untimed runs first (planning happens before these).") var warmup: Int = 3
    @Flag(help: "Keep the output tensors between runs and have each run write into them (`Session.run(_:into:)`, which allocates nothing once warm).")
    var keepOutputs = false
    @Flag(help: "Print JSON (keys median_ms, p90_ms, ...).") var json = false
    @Flag(help: "Also print the time per op type and backend (median over the timed runs).") var profile = false
    @Flag(help: "With --profile: print the dispatch trace of every node with its time.") var trace = false

    func validate() throws {
        guard iterations >= 1 else { throw ValidationError("--iterations must be ≥ 1, got \(iterations)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be ≥ 0, got \(warmup)") }
    }

    func run() throws {
        var opts = options
        if opts.inputs.isEmpty { opts.randomInputs = true }
        let model = try opts.loadModel()
        let session = try opts.session(for: model)
        let feeds = try opts.feeds(for: model.graph)
        var outputs: [String: Tensor] = [:]
        func runOnce() throws {
            if keepOutputs { try session.run(feeds, into: &outputs) } else { _ = try session.run(feeds) }
        }
        for _ in 0..<warmup { try runOnce() }
        var times: [Double] = []
        times.reserveCapacity(iterations)
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            try runOnce()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        if profile {
            let timings = try session.profile(feeds, runs: min(iterations, 10))
            var totals: [String: (UInt64, Int)] = [:]
            for t in timings { let key = "\(t.opType) on \(t.runsOn)"; totals[key] = ((totals[key]?.0 ?? 0) + t.nanoseconds, (totals[key]?.1 ?? 0) + 1) }
            let all = max(1, timings.reduce(0) { $0 + $1.nanoseconds })
            for (key, (ns, count)) in totals.sorted(by: { $0.value.0 > $1.value.0 }) {
                FileHandle.standardError.write(Data(String(format: "%8.3f ms %5.1f%%  %@ (%d nodes)\n", Double(ns) / 1e6, 100 * Double(ns) / Double(all), key, count).utf8))
            }
            if trace { emit(try session.profiledTrace(feeds, runs: min(iterations, 10)).text) }
        }
        let sorted = times.sorted()
        func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int((p * Double(sorted.count - 1)).rounded()))] }
        let median = percentile(0.5), p90 = percentile(0.9)
        if json {
            let object: [String: Any] = ["model": opts.model, "threads": opts.threads, "iterations": iterations, "warmup": warmup,
                                         "median_ms": median, "p90_ms": p90, "min_ms": sorted[0], "mean_ms": times.reduce(0, +) / Double(times.count)]
            emit(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
        } else {
            emit(String(format: "%@: %d runs, %d threads: median %.3f ms, p90 %.3f ms, min %.3f ms", opts.model, iterations, opts.threads, median, p90, sorted[0]))
        }
    }
}
