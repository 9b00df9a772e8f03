/// How a tensor's dimensions map to memory. All layouts are dense and row-major over
/// their own dimension order.
public enum TensorLayout: String, Sendable, Hashable, Codable, CustomStringConvertible {
    /// Row-major over `dims` as given (any rank).
    case rowMajor
    /// 4-D image tensor stored batch, channel, height, width.
    case nchw
    /// 4-D image tensor stored batch, height, width, channel.
    case nhwc

    public var description: String { rawValue }
}
