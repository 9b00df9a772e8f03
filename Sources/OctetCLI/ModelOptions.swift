import ArgumentParser
import Foundation
import Octet

/// Options shared by the commands that load and run a model.
struct ModelOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The ONNX model.", valueName: "MODEL"))
    var model: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Threads per kernel call (intra-op), fixed for the session: 1 to \(SessionOptions.maximumThreads).", valueName: "N"))
    var threads: Int = 1

    @Option(name: .customLong("max-memory"), help: ArgumentHelp(
        "The largest allocation a file or an argument may ask for (model, inputs, tensors, the plan's arena): e.g. 8G, 512M. Default: 3/4 of the machine's memory (\(MemoryBudget.machineDefault)).",
        valueName: "SIZE"))
    var maxMemory: String?

    @Option(name: .customLong("input"), help: ArgumentHelp("An input: NAME=FILE.npy, or FILE.npz holding inputs by name. Repeatable.", valueName: "NAME=FILE"))
    var inputs: [String] = []

    @Flag(name: .customLong("random-inputs"), help: "Feed random inputs of the declared shapes (f32 uniform in [-1, 1], integers 0 or 1).")
    var randomInputs = false

    @Option(name: .customLong("shape"), help: ArgumentHelp("Size for an input with symbolic dimensions (with --random-inputs): NAME=1x128. Unset symbolic dimensions are 1.", valueName: "NAME=DIMS"))
    var shapes: [String] = []

    @Flag(name: .customLong("no-optimize"), help: "Skip the graph passes (folding, BatchNorm folding, activation fusion).")
    var noOptimize = false

    @OptionGroup var target: TargetCPUOptions
    @OptionGroup var rules: RulesOptions
    @OptionGroup var backends: BackendOptions

    func validate() throws {
        guard (1...SessionOptions.maximumThreads).contains(threads) else {
            throw ValidationError("--threads must be between 1 and \(SessionOptions.maximumThreads), got \(threads)")
        }
        _ = try budget()
    }

    /// `--max-memory`, or the machine's default.
    func budget() throws -> MemoryBudget {
        guard let maxMemory else { return .machineDefault }
        do { return try MemoryBudget(parsing: maxMemory) } catch { throw ValidationError("--max-memory: \(error)") }
    }

    func loadModel() throws -> ONNXModel { try ONNXModel.load(contentsOf: model, budget: try budget()) }

    func session(for model: ONNXModel) throws -> Session {
        let options = SessionOptions(threads: threads, cpu: try target.resolve(), registry: try backends.registry(),
                                     rules: try rules.load(), optimize: !noOptimize, memoryBudget: try budget())
        return try Session(graph: model.graph, options: options)
    }

    /// The inputs from files, or random ones; every graph input must be covered.
    func feeds(for graph: Graph) throws -> [String: Tensor] {
        var feeds: [String: Tensor] = [:]
        for spec in inputs {
            if let eq = spec.firstIndex(of: "=") {
                let name = String(spec[..<eq]), file = String(spec[spec.index(after: eq)...])
                feeds[name] = try NumPyFiles.readArray(at: file, budget: try budget())
            } else if spec.hasSuffix(".npz") {
                for (name, t) in try NumPyFiles.readArchive(at: spec, budget: try budget()) { feeds[name] = t }
            } else {
                throw ValidationError("--input: expected NAME=FILE.npy or FILE.npz, got '\(spec)'")
            }
        }
        guard randomInputs || !feeds.isEmpty || graph.inputs.isEmpty else {
            throw ValidationError("give the inputs with --input NAME=FILE.npy (the model's inputs: \(graph.inputs.map(\.description).joined(separator: ", "))), or use --random-inputs")
        }
        if randomInputs {
            var sizes: [String: TensorShape] = [:]
            for spec in shapes {
                guard let eq = spec.firstIndex(of: "=") else { throw ValidationError("--shape: expected NAME=DIMS, got '\(spec)'") }
                let name = String(spec[..<eq])
                do { sizes[name] = try TensorShape(parsing: String(spec[spec.index(after: eq)...])) } catch {
                    throw ValidationError("--shape \(name): \(error)")
                }
            }
            var generator = SeededGenerator(seed: 42)
            for p in graph.inputs where feeds[p.name] == nil {
                guard let type = p.type, let symbolic = type.shape else { throw ValidationError("input '\(p.name)' has no declared shape; give it with --input") }
                let shape = try sizes[p.name] ?? TensorShape(symbolic.dims.map { $0.value ?? 1 })
                guard symbolic.admits(shape) else { throw ValidationError("--shape \(p.name)=\(shape) does not fit the declared \(symbolic)") }
                // Checked before a single value is drawn.
                try budget().check(elements: shape.elementCount, of: type.dtype.byteSize, for: "random input '\(p.name)' (\(type.dtype) \(shape))")
                feeds[p.name] = try randomTensor(type.dtype, shape, &generator)
            }
        }
        return feeds
    }
}

func randomTensor(_ dtype: DType, _ shape: TensorShape, _ g: inout SeededGenerator) throws -> Tensor {
    let n = shape.elementCount
    switch dtype {
    case .f32: return try Tensor((0..<n).map { _ in Float.random(in: -1...1, using: &g) }, shape: shape)
    case .s64: return try Tensor((0..<n).map { _ in Int64.random(in: 0...1, using: &g) }, shape: shape)
    case .s32: return try Tensor((0..<n).map { _ in Int32.random(in: 0...1, using: &g) }, shape: shape)
    case .u8: return try Tensor((0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }, shape: shape)
    case .s8: return try Tensor((0..<n).map { _ in Int8.random(in: -128...127, using: &g) }, shape: shape)
    case .u16: return try Tensor((0..<n).map { _ in UInt16.random(in: 0...1, using: &g) }, shape: shape)
    case .s16: return try Tensor((0..<n).map { _ in Int16.random(in: 0...1, using: &g) }, shape: shape)
    case .u32: return try Tensor((0..<n).map { _ in UInt32.random(in: 0...1, using: &g) }, shape: shape)
    case .u64: return try Tensor((0..<n).map { _ in UInt64.random(in: 0...1, using: &g) }, shape: shape)
    case .f64: return try Tensor((0..<n).map { _ in Double.random(in: -1...1, using: &g) }, shape: shape)
    case .bf16: return try Tensor((0..<n).map { _ in BFloat16(Float.random(in: -1...1, using: &g)) }, shape: shape)
    case .bool: return try Tensor((0..<n).map { _ in Bool.random(using: &g) }, shape: shape)
    case .f16:
        #if arch(x86_64) || arch(arm64)
        return try Tensor((0..<n).map { _ in Float16(Float.random(in: -1...1, using: &g)) }, shape: shape)
        #else
        throw ValidationError("f16 inputs are not supported on this architecture")
        #endif
    }
}

/// Prints the dispatch trace of a session's plan: every node, where it runs and why.
func printTrace(_ session: Session, shapes: [String: TensorShape]) throws {
    let (trace, _, arena) = try session.trace(inputShapes: shapes)
    emit(trace.text)
    emit("arena: \(arena) bytes for intermediate values")
}
