/// A `.npy` / `.npz` file Octet cannot read or write. Cases name the file (and the
/// array inside an archive) and say what was expected.
public enum NumPyError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)
    /// Not an NPY array: bad magic, version or header.
    case header(path: String, reason: String)
    /// An element type Octet does not hold (object arrays, big-endian, complex, ...).
    case dtype(path: String, descr: String)
    /// A Fortran-order array.
    case fortranOrder(path: String)
    /// Fewer bytes than the header promises.
    case truncated(path: String, expected: Int, got: Int)
    /// A zip archive that is malformed or uses a feature Octet does not read.
    case archive(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "\(path): cannot read: \(reason)"
        case let .unwritable(path, reason): "\(path): cannot write: \(reason)"
        case let .header(path, reason): "\(path): not a NumPy .npy array: \(reason)"
        case let .dtype(path, descr):
            "\(path): element type '\(descr)' is not supported; expected one of <f4 <f2 |u1 |i1 <i4 <i8 |b1 (little-endian float32, float16, uint8, int8, int32, int64, bool)"
        case let .fortranOrder(path): "\(path): Fortran-order arrays are not supported; save a C-order array (numpy.ascontiguousarray)"
        case let .truncated(path, expected, got): "\(path): the header promises \(expected) data bytes, the file holds \(got)"
        case let .archive(path, reason): "\(path): not a readable .npz archive: \(reason)"
        }
    }
}
