/// A fixed-size, 64-byte-aligned, zero-initialised buffer of trivial elements, for packed
/// weights and kernel scratch. Visible to Octet's modules only (`package`), never to users.
package final class AlignedBuffer<Element: BitwiseCopyable>: @unchecked Sendable {
    package let pointer: UnsafeMutablePointer<Element>
    package let count: Int

    /// `count` zeroed elements aligned to 64 bytes.
    package init(count: Int) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Element>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        pointer = raw.bindMemory(to: Element.self, capacity: max(count, 1))
    }

    package var buffer: UnsafeMutableBufferPointer<Element> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}
