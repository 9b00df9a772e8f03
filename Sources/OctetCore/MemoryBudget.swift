#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many bytes one allocation asked for by a file or an argument may take: a tensor,
/// the arena of a plan, random inputs, a `.npy`/`.npz` member or its decompression,
/// external data. Checked before the allocation is made, so that a hostile header gets an
/// error naming what asked and how much, never an abort of the process.
///
/// The default is three quarters of the machine's physical memory (or of the address-space
/// limit, when `ulimit -v` sets a smaller one); `SessionOptions.memoryBudget` and the CLI's
/// `--max-memory` set another.
public struct MemoryBudget: Sendable, Hashable, CustomStringConvertible {
    /// The largest allocation allowed, in bytes.
    public var bytes: Int

    public init(bytes: Int) { self.bytes = max(0, bytes) }

    /// Three quarters of the physical memory or of the address-space limit, whichever is
    /// smaller (at least 64 MiB).
    public static let machineDefault = MemoryBudget(bytes: max(64 << 20, machineMemory() / 4 * 3))

    /// No limit beyond what an `Int` counts (for tests of other limits).
    public static let unlimited = MemoryBudget(bytes: Int.max)

    /// Refuses `requested` bytes when over the budget; `what` names who asked.
    public func check(_ requested: Int, for what: @autoclosure () -> String) throws(MemoryBudgetExceeded) {
        guard requested >= 0, requested <= bytes else { throw MemoryBudgetExceeded(what: what(), requested: requested, budget: bytes) }
    }

    /// Refuses `count` elements of `elementSize` bytes (an overflowing product is refused too).
    public func check(elements count: Int, of elementSize: Int, for what: @autoclosure () -> String) throws(MemoryBudgetExceeded) {
        try check(factors: [count], of: elementSize, for: what())
    }

    /// Refuses `∏factors` elements of `elementSize` bytes (an overflowing product is refused too).
    public func check(factors: [Int], of elementSize: Int, for what: @autoclosure () -> String) throws(MemoryBudgetExceeded) {
        var count = elementSize
        for f in factors {
            let (product, overflow) = count.multipliedReportingOverflow(by: f)
            guard !overflow, f >= 0 else { return try check(Int.max, for: what()) }
            count = product
        }
        try check(count, for: what())
    }

    public var description: String { Self.format(bytes) }

    /// `1.5 GiB`, `640 MiB`, `12 KiB`, `100 bytes`.
    public static func format(_ bytes: Int) -> String {
        if bytes == Int.max { return "more than can be counted" }
        let units: [(Int, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, name) in units where bytes >= size {
            let v = Double(bytes) / Double(size)
            return v >= 100 ? "\(Int(v.rounded())) \(name)" : "\((v * 10).rounded() / 10) \(name)"
        }
        return "\(bytes) bytes"
    }

    /// Parses `8G`, `512M`, `64k`, `1.5GiB` or a byte count.
    public init(parsing text: String) throws(MemoryBudgetParseError) {
        var t = Substring(text).trimmingCharactersInWhitespace()
        var scale = 1
        let suffixes: [(String, Int)] = [("TIB", 1 << 40), ("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10),
                                         ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1)]
        for (s, f) in suffixes where t.uppercased().hasSuffix(s) {
            t = t.dropLast(s.count)
            scale = f
            break
        }
        guard let v = Double(t.trimmingCharactersInWhitespace()), v.isFinite, v > 0, v * Double(scale) < 0x1p63 else { throw MemoryBudgetParseError(text: text) }
        self.init(bytes: Int(v * Double(scale)))
    }

    private static func machineMemory() -> Int {
        #if canImport(Glibc) || canImport(Darwin)
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        var physical = pages > 0 && size > 0 ? pages.multipliedReportingOverflow(by: size).partialValue : 8 << 30
        var limit = rlimit()
        // RLIM_INFINITY is all ones; any smaller limit below the physical memory wins.
        if getrlimit(RLIMIT_AS_VALUE, &limit) == 0, limit.rlim_cur < UInt64(physical) {
            physical = Int(limit.rlim_cur)
        }
        return physical
        #else
        return 8 << 30
        #endif
    }
}

#if canImport(Glibc)
private let RLIMIT_AS_VALUE = __rlimit_resource_t(RLIMIT_AS.rawValue)
#elseif canImport(Darwin)
private let RLIMIT_AS_VALUE = RLIMIT_AS
#endif

/// An allocation over the memory budget: what asked, how much, and the budget.
public struct MemoryBudgetExceeded: Error, Sendable, Equatable, CustomStringConvertible {
    public var what: String
    public var requested: Int
    public var budget: Int

    public var description: String {
        "\(what) needs \(MemoryBudget.format(requested)), over the memory budget of \(MemoryBudget.format(budget)) (raise it with SessionOptions.memoryBudget or --max-memory)"
    }
}

/// A memory size that cannot be read.
public struct MemoryBudgetParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var text: String
    public var description: String { "cannot read '\(text)' as a memory size; expected a positive number of bytes with an optional unit, e.g. 8G, 512M, 1.5GiB" }
}
