import Foundation
import Octet
import Testing

/// Replays the committed fuzz corpus (Tests/Fuzz/corpus, written by
/// scripts/make-fuzz-corpus.py: every hostile file that once crashed, hung or computed
/// nonsense) through the loader of its kind, and for models through planning and a run,
/// then the same files with seeded byte mutations. Each is read or refused with an error
/// naming the file (or, past loading, the node); none crashes or blocks.
@Suite struct FuzzCorpusTests {
    static let corpus = ModelSuite.root.appendingPathComponent("Tests/Fuzz/corpus")
    static let kinds = ["onnx", "npy", "npz", "rules"]

    static func files(_ kind: String) -> [String] {
        let folder = corpus.appendingPathComponent(kind)
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted().map { folder.appendingPathComponent($0).path }
    }

    /// The outcome of feeding `path` to the reader of `kind`: nil when read (and run), else the error text.
    static func replay(_ kind: String, _ path: String) -> String? {
        do {
            switch kind {
            case "onnx":
                let model = try ONNXModel.load(contentsOf: path, budget: HostileGraph.budget)
                if case let .failure(e) = HostileGraph.run(model.graph) { return "\(e)" }
            case "npy": _ = try NumPyFiles.readArray(at: path, budget: HostileGraph.budget)
            case "npz": _ = try NumPyFiles.readArchive(at: path, budget: HostileGraph.budget)
            default: _ = try RuleSet.load(from: path)
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// The backend the built-in rules give the first convolution of the model at `path` on this host.
    static func convolutionBackend(_ path: String) throws -> String? {
        let graph = try ONNXModel.load(contentsOf: path, budget: HostileGraph.budget).graph
        let rules = try RuleSet.builtIn()
        let trace = try Session.planTrace(graph: graph, options: SessionOptions(threads: 1, cpu: .host, registry: HostileGraph.registry, rules: rules))
        return trace.ops.first { $0.signature.kind == .conv2d }?.backend
    }

    @Test(arguments: kinds) func corpusReplaysWithoutACrash(_ kind: String) throws {
        let files = Self.files(kind)
        #expect(files.count >= 6, "Tests/Fuzz/corpus/\(kind) holds \(files.count) files; run scripts/make-fuzz-corpus.py")
        for path in files {
            guard let error = Self.replay(kind, path) else { continue }
            // A refusal names the file, or (once the model is loaded) the node or value at fault.
            let named = error.contains(path) || error.contains("node '") || error.contains("value '")
            #expect(named, "\(path): \(error)")
        }
    }

    /// The hostile models the corpus holds are refused except those ONNX Runtime also runs
    /// (`scripts/make-fuzz-corpus.py --ort`): huge strides, slices with extreme steps, a
    /// Range of two elements. Refused here though ONNX Runtime runs them: NaN or negative
    /// QDQ scales (issue 19), a duplicated initializer (ONNX Runtime warns and takes the
    /// last), Conv with pads 10000, whose 1.5 GiB output is over the test's 64 MiB budget, and
    /// QLinearConv with pads 2000, whose 16 MB output is within it but whose indirection
    /// table (551 MiB) is not.
    @Test func hostileModelsAreRefusedWhereONNXRuntimeRefusesThem() throws {
        let runs: Set = ["maxpool_ceil_stride_2p62.onnx", "maxpool_ceil_stride_max.onnx", "slice_step_min.onnx", "slice_step_2p62.onnx", "slice_step_max.onnx",
                         "slice_start_min.onnx", "slice_start_2p62.onnx", "slice_start_max.onnx", "range_delta_min.onnx",
                         // Found by fuzz-onnx (libFuzzer): Concat of an empty [2^63 - 1, 0] input, whose
                         // empty output Octet returns without computing it (numpy cannot make the input).
                         "libfuzzer_concat_empty_2p63.onnx",
                         // DeformConv offsets NaN, ±infinity and 3e38: those taps sample zero (ONNX Runtime
                         // gives 8 for every output on ones, as Octet does).
                         "deformconv-nonfinite-offset.onnx",
                         // Found by fuzz-onnx (a timeout): RoiAlign whose samples stay within the budget
                         // (2^28 over all rois) — slow, not refused; ONNX Runtime runs it too.
                         "roialign-sample-budget.onnx",
                         // Found by auditing the operators (each trapped or hung before its fix); ONNX
                         // Runtime runs these too: Loop with only scan outputs, NonMaxSuppression
                         // keeping up to 2^63 - 1 boxes, OneHot of NaN, ±inf and -1e30 indices (no class).
                         "loop-no-carried.onnx", "nms-max-boxes-max.onnx", "onehot-nonfinite-index.onnx",
                         // Empty outputs, returned without computing them (numpy cannot make the inputs of
                         // the last three; ONNX Runtime refuses Attention's 2^40 empty keys and DeformConv's
                         // oC of 0): nothing to sample, score or select, however large the declared axes.
                         "attention-empty-keys.onnx", "deformconv-empty-columns.onnx", "compress-empty-outer.onnx", "nms-empty-classes.onnx",
                         // Empty outputs of 2^40 rows, which ONNX Runtime returns too (its shape inference
                         // refuses the Scan body's declared slice shape, which Octet does not check).
                         "gathernd-empty-batches.onnx", "onehot-empty-outer.onnx", "scan-empty-outer.onnx",
                         // Empty outputs with a huge other axis (no index maps or tap tables built for it),
                         // EyeLike with k = 2^63 - 1 (all zeros), a Resize whose separable passes once held
                         // 2^29 doubles (shrinking axes now go first), and a NaN extrapolation_value on u8
                         // codes never used outside a crop: ONNX Runtime runs each too.
                         "pad-empty-axis-2p40.onnx", "resize-empty-axis-2p36.onnx", "eyelike-k-max.onnx",
                         "resize-intermediate-2p29.onnx", "resize-extrapolation-nan-u8.onnx",
                         // Found by CI's fuzz-onnx: RMSNormalization of an empty 2^40 x 0 X built its 2^40
                         // statistics (8 TiB); the output is empty and returned as such (ONNX Runtime
                         // refuses an empty normalized axis instead).
                         "rmsnormalization-empty-statistics.onnx",
                         // Found by CI's fuzz-onnx (out of memory): Resize of a 1 x 8192 input to
                         // 16318464 x 1 tabulated the taps of all 2^24 output rows, one array each
                         // (2 GiB); taps are now computed per coordinate into one reused buffer.
                         "resize-sizes-2p24-rows.onnx",
                         // Found by fuzz-onnx (a timeout): Unique along the last, empty axis of a
                         // 2^40 x 0 X walked its 2^40 empty rows; an empty X copies nothing.
                         "unique-empty-rows-last-axis.onnx",
                         // Found by CI's fuzz-onnx (a timeout): 3-D Attention with q_num_heads = 2^63 - 1 over
                         // an empty hidden axis counted through every empty head; its empty Y is returned.
                         "attention-empty-heads-loop.onnx"]
        // Refused for the indirection table `packed` would build (551 MiB against the 64 MiB
        // budget; its output is 16 MB): it runs where the rules give the convolution to oneDNN,
        // which builds none (AVX-512 VNNI CPUs).
        let tableBound = "qlinearconv-indirection-over-budget.onnx"
        for path in Self.files("onnx") {
            let name = URL(fileURLWithPath: path).lastPathComponent
            let refused = Self.replay("onnx", path) != nil
            var runsHere = runs.contains(name)
            if name == tableBound { runsHere = try Self.convolutionBackend(path) == "onednn" }
            #expect(refused != runsHere, "\(name): \(refused ? "refused" : "ran")")
        }
    }

    /// Seeded byte mutations of every corpus file (flips, truncations, splices of extreme bytes).
    @Test func mutatedCorpusNeverCrashes() throws {
        var rng = SeededGenerator(seed: 19)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var cases = 0
        for kind in Self.kinds {
            for path in Self.files(kind) {
                let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
                guard !original.isEmpty, original.count < 64 << 10 else { continue }
                for round in 0..<12 {
                    var bytes = original
                    switch round % 3 {
                    case 0: for _ in 0..<(1 + Int(rng.next() % 4)) { bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 << (rng.next() % 8)) }
                    case 1: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
                    default:
                        let at = Int(rng.next() % UInt64(bytes.count))
                        let fill: [UInt8] = [0x00, 0xFF, 0x7F, 0x80]
                        for k in 0..<min(8, bytes.count - at) { bytes[at + k] = fill[Int(rng.next() % 4)] }
                    }
                    let mutated = dir.appendingPathComponent("m\(cases)." + (kind == "rules" ? "json" : kind)).path
                    try Data(bytes).write(to: URL(fileURLWithPath: mutated))
                    _ = Self.replay(kind, mutated)
                    cases += 1
                }
            }
        }
        #expect(cases >= 500, "\(cases) mutated files")
    }
}
