import Foundation
import Octet

/// What the fuzz targets share: a small memory budget, the built-in backends and rules,
/// and "plan a graph, then run it on zeros".
///
/// Errors are the expected outcome of hostile bytes and are ignored; a finding is a trap
/// (overflow, out-of-bounds index, force unwrap), an AddressSanitizer report, an
/// allocation over libFuzzer's `-malloc_limit_mb` (one the budget should have refused
/// first), or a timeout.
public enum Fuzz {
    /// Every allocation a file drives is checked against this before it is made; the fuzz
    /// runs cap single allocations at a few times this (`-malloc_limit_mb`), so a size
    /// that escaped the check shows up as a crash.
    public static let budget = MemoryBudget(bytes: 64 << 20)
    /// Graph inputs above this many elements (in total) are planned but not run.
    public static let maximumRunElements = 1 << 20
    /// A Loop may run this many iterations (a trip count of 2^31 is legal ONNX, and would
    /// only time the run out).
    public static let maximumLoopIterations = 1 << 10

    public static let registry = BackendRegistry.builtIn()
    public static let builtInRules: RuleSet? = try? RuleSet.builtIn()

    /// The bytes libFuzzer hands over (`data` may be nil when `size` is 0).
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Zero tensors for every graph input of the declared shape, symbolic dimensions set
    /// to 1 (as `octet run --random-inputs` does); nil when an input has no declared
    /// shape or the inputs are too large to be worth running.
    public static func zeroFeeds(for graph: Graph) throws -> [String: Tensor]? {
        var feeds: [String: Tensor] = [:]
        var total = 0
        for p in graph.inputs {
            guard let type = p.type, let symbolic = type.shape else { return nil }
            let shape = try TensorShape(symbolic.dims.map { $0.value ?? 1 })
            let (sum, overflow) = total.addingReportingOverflow(shape.elementCount)
            guard !overflow, sum <= maximumRunElements else { return nil }
            total = sum
            try budget.check(elements: shape.elementCount, of: type.dtype.byteSize, for: "input '\(p.name)'")
            feeds[p.name] = try Tensor(zeros: type.dtype, shape: shape)
        }
        return feeds
    }

    /// Plans `graph` for this machine under `rules` (a trace of the declared shapes, then
    /// the plan), and runs it on zeros when its inputs are small. Throws what Octet throws.
    public static func planAndRun(_ graph: Graph, rules: RuleSet, optimize: Bool = true) throws {
        var options = SessionOptions(threads: 1, cpu: .host, registry: registry, rules: rules, optimize: optimize, memoryBudget: budget)
        options.maximumLoopIterations = maximumLoopIterations
        let session = try Session(graph: graph, options: options)
        guard let feeds = try zeroFeeds(for: graph) else { return }
        _ = try session.trace(inputShapes: feeds.mapValues(\.shape))
        _ = try session.run(feeds)
    }
}
