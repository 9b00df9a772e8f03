import OctetCore
import OctetCPU

/// A set of kernels for some ops on some CPUs. A backend answers whether it can run an
/// op (and if not, why, in words), states what it needs, and prepares kernels that own
/// their packed weights.
///
/// Built-in backends register under stable names (`onednn`, `packed`, `qnnpack-ref`,
/// `fp16`, `fp32-ref`); a user's backend registers the same way.
public protocol Backend: Sendable {
    /// Stable name used in rules files and traces.
    var name: String { get }
    /// Version of the backend (or of the library behind it).
    var version: String { get }
    /// One line for `octet backends`: what the backend is.
    var summary: String { get }
    /// What the backend needs from the CPU.
    var requirements: BackendRequirements { get }

    /// Whether the backend can run `signature` on `cpu`; if it can, the kernel it would
    /// use (e.g. `avx2 exact 4x24`), and if not, why.
    func capability(for signature: OpSignature, on cpu: CPUFeatures) -> Capability

    /// Builds a kernel for `signature` with its constant operands, packing weights once.
    /// Backends must never pick code the machine running it cannot execute, whatever
    /// `context.cpu` assumes: kernel code is chosen from `context.host`
    /// (`context.mayUse`). The planner only prepares on a backend whose requirements and
    /// capability hold for `context.host`.
    func prepare(_ signature: OpSignature, constants: OpConstants, context: PrepareContext) throws -> any Kernel

    /// Whether 7-bit activations (PyTorch's `reduce_range`: u8 codes in 0...127) would let
    /// the backend run `signature`, which it supports with full-range activations, on a
    /// faster kernel on `cpu`; if so, the two kernels and why, in words. The quantizer's
    /// 7/8-bit decision asks the backend the plan chose. `nil` (the default): 8 bits run
    /// as fast, so nothing is gained by giving up a bit.
    func reducedRangeSpeedup(for signature: OpSignature, on cpu: CPUFeatures) -> String?
}

extension Backend {
    public func reducedRangeSpeedup(for signature: OpSignature, on cpu: CPUFeatures) -> String? { nil }
}

/// What a backend knows when it prepares a kernel.
public struct PrepareContext: Sendable {
    /// The CPU the plan is for (this machine, or one assumed for planning).
    public var cpu: CPUFeatures
    /// The machine the kernel will run on: never more than `CPUFeatures.host`.
    /// Kernel code is chosen from it (see `mayUse`), whatever `cpu` assumes.
    public var host: CPUFeatures
    /// Threads one call of the kernel may use (intra-op parallelism), ≥ 1.
    public var threads: Int
    /// The largest single allocation a kernel may make for its tables and scratch (the
    /// session's `SessionOptions.memoryBudget`): a kernel checks what its shapes will need
    /// (`reserve`) before it allocates, at prepare, so that a hostile geometry is refused
    /// with an error instead of exhausting memory at run time.
    public var memoryBudget: MemoryBudget

    /// `host` may lower this machine's description (`CPUFeatures.host.capped(at:)`), never
    /// raise it: features this machine lacks are removed.
    public init(cpu: CPUFeatures, host: CPUFeatures = .host, threads: Int = 1, memoryBudget: MemoryBudget = .machineDefault) {
        self.cpu = cpu
        self.host = host.limited(to: .host)
        self.threads = max(1, threads)
        self.memoryBudget = memoryBudget
    }

    /// Refuses a table or scratch buffer of `count` elements of `size` bytes each that is over
    /// `memoryBudget`; `count` is a product of factors (so that an overflowing product is
    /// refused too). `what` names the buffer, e.g. "the indirection table".
    public func reserve(_ factors: Int..., of size: Int, for what: @autoclosure () -> String) throws(MemoryBudgetExceeded) {
        try memoryBudget.check(factors: factors, of: size, for: what())
    }

    /// Whether a kernel may use every one of `features`: the plan's CPU has them (so the
    /// kernel is the one the plan names) and so does the host (so it can execute).
    public func mayUse(_ features: some Sequence<ISAFeature>) -> Bool {
        cpu.hasAll(features) && host.hasAll(features)
    }
}

/// A prepared op: packed weights plus whatever the backend needs to run it many times,
/// from many threads at once.
public protocol Kernel: Sendable {
    /// The implementation, for traces (e.g. `jit_uni_int8:avx2`, `scalar`).
    var implementation: String { get }
    /// What preparation found that a user should hear about (e.g. weights that overflowed).
    var warnings: [String] { get }
    /// Runs the op on `inputs`, writing into `output`, which has the op's output shape.
    func run(inputs: [Tensor], output: inout Tensor) throws
}

extension Kernel {
    public var warnings: [String] { [] }
}

/// The constant operands of an op, handed to `Backend.prepare`.
public struct OpConstants: Sendable {
    /// The weight tensor (quantized ones carry their `QuantParams`); `nil` for matmul.
    public var weight: Tensor?
    /// Bias, f32 or s32 (scale `s_in * s_w`).
    public var bias: Tensor?
    /// Quantization of the input activation (static quantization).
    public var inputQuantization: QuantParams?
    /// Quantization of the output (when the op requantizes).
    public var outputQuantization: QuantParams?
    /// Quantization of the other activation inputs, in order: matmul's second operand,
    /// the second addend of `add` / `mul`, the other parts of `concat`.
    public var otherInputQuantizations: [QuantParams]

    public init(weight: Tensor? = nil, bias: Tensor? = nil, inputQuantization: QuantParams? = nil,
                outputQuantization: QuantParams? = nil, otherInputQuantizations: [QuantParams] = []) {
        self.weight = weight
        self.bias = bias
        self.inputQuantization = inputQuantization
        self.outputQuantization = outputQuantization
        self.otherInputQuantizations = otherInputQuantizations
    }
}

/// A backend's answer to "can you run this op?".
public enum Capability: Sendable, Hashable {
    /// Yes, with this kernel; `notes` say anything a user should know (e.g. "exact for
    /// full-range u8", "needs 7-bit activations").
    case supported(kernel: String, notes: [String] = [])
    /// No, and why.
    case declined(reason: String)

    public var isSupported: Bool { if case .supported = self { true } else { false } }
}

/// What a backend needs from the CPU: every one of `features`, on one of `architectures`.
public struct BackendRequirements: Sendable, Hashable, CustomStringConvertible {
    /// ISA features that must all be usable.
    public var features: Set<ISAFeature>
    /// Architectures it runs on; empty means any.
    public var architectures: Set<String>
    /// Free-text notes (optional faster paths, e.g. "uses AVX-512 VNNI and AMX when present").
    public var notes: String

    public init(features: Set<ISAFeature> = [], architectures: Set<String> = [], notes: String = "") {
        self.features = features
        self.architectures = architectures
        self.notes = notes
    }

    /// Whether a CPU meets the requirements, and if not, what it lacks.
    public func check(_ cpu: CPUFeatures) -> (available: Bool, reason: String) {
        if !architectures.isEmpty && !architectures.contains(cpu.architecture) {
            return (false, "needs \(architectures.sorted().joined(separator: " or ")), \(cpu.displayName) is \(cpu.architecture)")
        }
        let missing = features.subtracting(cpu.features).sorted()
        if !missing.isEmpty {
            return (false, "needs \(missing.map(\.rawValue).joined(separator: ", ")), which \(cpu.displayName) lacks")
        }
        return (true, features.isEmpty ? "no ISA requirement" : "has \(features.sorted().map(\.rawValue).joined(separator: ", "))")
    }

    public var description: String {
        var parts: [String] = []
        if !architectures.isEmpty { parts.append(architectures.sorted().joined(separator: "|")) }
        if !features.isEmpty { parts.append(features.sorted().map(\.rawValue).joined(separator: "+")) }
        return parts.isEmpty ? "any CPU" : parts.joined(separator: " ")
    }
}
