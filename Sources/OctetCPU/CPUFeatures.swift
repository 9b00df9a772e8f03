/// What a CPU can do, detected on this machine or assumed for planning elsewhere.
///
/// Everything downstream (rule engine, planner, backends) takes a `CPUFeatures` value
/// as a parameter and never reads the hardware itself, so a plan for a Sapphire Rapids
/// server can be made and tested on a laptop.
public struct CPUFeatures: Sendable, Hashable {
    /// Where this description came from.
    public enum Origin: Sendable, Hashable, CustomStringConvertible {
        /// Read from this machine.
        case detected
        /// A named preset (`--cpu sapphire-rapids`).
        case preset(String)
        /// An explicit feature list, possibly on top of a preset.
        case assumed(String)

        public var description: String {
            switch self {
            case .detected: "detected"
            case let .preset(n): "preset \(n)"
            case let .assumed(s): "assumed \(s)"
            }
        }
    }

    /// Cache sizes in bytes; `nil` when unknown.
    public struct Caches: Sendable, Hashable {
        public var l1d: Int?, l2: Int?, l3: Int?
        public init(l1d: Int? = nil, l2: Int? = nil, l3: Int? = nil) {
            self.l1d = l1d
            self.l2 = l2
            self.l3 = l3
        }
    }

    public var vendor: String
    public var model: String
    /// `x86_64` or `aarch64`.
    public var architecture: String
    /// Operating system the plan is for (`linux`, `macos`, `windows`); the host's by default.
    public var operatingSystem: String
    /// Physical cores.
    public var cores: Int
    /// Logical CPUs.
    public var logicalCPUs: Int
    public var caches: Caches
    /// Features the CPU reports.
    public var hardware: Set<ISAFeature>
    /// Features the CPU reports, the OS enables, whose prerequisites are present, and
    /// that the ISA cap allows: what code may actually use.
    public var features: Set<ISAFeature>
    public var origin: Origin
    /// The ISA cap applied (`OCTET_MAX_ISA`), if any.
    public var cap: ISACap?
    /// Extra facts from detection (XCR0, AMX permission, libcpuid version, problems met).
    public var notes: [String]

    public init(
        vendor: String, model: String, architecture: String, operatingSystem: String = CPUFeatures.hostOperatingSystem,
        cores: Int, logicalCPUs: Int, caches: Caches, hardware: Set<ISAFeature>, features: Set<ISAFeature>? = nil,
        origin: Origin, notes: [String] = []
    ) {
        self.vendor = vendor
        self.model = model
        self.architecture = architecture
        self.operatingSystem = operatingSystem
        self.cores = cores
        self.logicalCPUs = logicalCPUs
        self.caches = caches
        self.hardware = hardware
        // Never an impossible set: an AVX-512 extension without AVX-512F is not usable.
        self.features = (features ?? hardware).enforcingPrerequisites().kept
        self.origin = origin
        self.notes = notes
    }

    /// Whether code may use `feature` (reported by the CPU, enabled by the OS, allowed by the cap).
    public func has(_ feature: ISAFeature) -> Bool { features.contains(feature) }

    /// This description with no feature that `machine` cannot use (`machine` is the
    /// real host): what may execute here.
    public func limited(to machine: CPUFeatures) -> CPUFeatures {
        guard !features.isSubset(of: machine.features) else { return self }
        var c = self
        c.features = features.intersection(machine.features)
        return c
    }

    /// Whether every feature in `required` is usable.
    public func hasAll(_ required: some Sequence<ISAFeature>) -> Bool { required.allSatisfy(has) }

    /// A short name for traces: the preset name, "this machine", or the list.
    public var displayName: String {
        switch origin {
        case .detected: "\(model) (detected\(cap?.level.map { ", capped at \($0)" } ?? ""))"
        case let .preset(n): n
        case let .assumed(s): s
        }
    }

    /// The OS this build runs on.
    public static var hostOperatingSystem: String {
        #if os(Linux)
        "linux"
        #elseif os(macOS)
        "macos"
        #elseif os(Windows)
        "windows"
        #else
        "other"
        #endif
    }

    /// The architecture this build runs on.
    public static var hostArchitecture: String {
        #if arch(x86_64)
        "x86_64"
        #elseif arch(arm64)
        "aarch64"
        #else
        "other"
        #endif
    }
}
