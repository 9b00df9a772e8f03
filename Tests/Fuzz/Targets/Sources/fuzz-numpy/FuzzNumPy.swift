import FuzzSupport
import Octet

/// .npy and .npz bytes → the readers `octet run --input` and calibration use. A file that
/// starts like a zip archive is read as an .npz (zip directory, ZIP64, deflate, CRC, each
/// member an .npy), anything else as one .npy (header dictionary, dtype, shape, data).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNumPy(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Fuzz.bytes(data, size)
    do {
        if bytes.starts(with: [0x50, 0x4B]) {
            _ = try NumPyFiles.readArchive(bytes: bytes, path: "fuzz.npz", budget: Fuzz.budget)
        } else {
            _ = try NPYFormat.decode(bytes, name: "fuzz.npy")
        }
    } catch {
        // Refused: expected.
    }
    return 0
}
