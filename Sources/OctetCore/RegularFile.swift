#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks made before a model, data or rules file is read: the path must name a regular
/// file (a FIFO would block forever, a device never ends, a directory is no data), and its
/// size must fit the memory budget. `stat` opens nothing, so nothing blocks.
public enum RegularFile {
    /// The size of the regular file at `path`; an error says what the path is instead.
    public static func size(at path: String) throws(RegularFileError) -> Int {
        #if canImport(Glibc) || canImport(Darwin)
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw RegularFileError(path: path, reason: String(cString: strerror(errno)))
        }
        let kind = info.st_mode & S_IFMT
        guard kind == S_IFREG else { throw RegularFileError(path: path, reason: "is \(describe(kind)), not a regular file") }
        return Int(info.st_size)
        #else
        return 0
        #endif
    }

    /// The size of the regular file at `path`, checked against `budget` (`what` names the file's role).
    public static func size(at path: String, within budget: MemoryBudget, for what: String) throws(RegularFileError) -> Int {
        let n = try size(at: path)
        do { try budget.check(n, for: what) } catch { throw RegularFileError(path: path, reason: "\(error)") }
        return n
    }

    #if canImport(Glibc) || canImport(Darwin)
    private static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "a special file"
        }
    }
    #endif
}

/// A path that is not a readable regular file, or one too large for the budget.
public struct RegularFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path) \(reason.hasPrefix("is ") ? reason : "cannot be read: " + reason)" }
}
