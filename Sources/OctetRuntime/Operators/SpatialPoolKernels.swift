import OctetCore

/// MaxPool over an N x C x D1 x … x Dk input of any spatial rank k and numeric element type
/// (ONNX operator spec, MaxPool, opsets 1–22): each output is the largest input in its window
/// (`PoolWindows`), padding never chosen; the first largest wins a tie. The result is the flat
/// index of each chosen input (MaxPool's optional Indices output) as an int64 over the whole
/// N x C x D1 x … x Dk tensor, the spatial offset row-major, or column-major (first spatial
/// axis fastest) with `storage_order` = 1; empty unless `indices` is set.
struct SpatialMaxPoolKernel: NumericVisitor {
    let x: Tensor
    let windows: PoolWindows
    let indices: Bool
    let columnMajor: Bool

    func visit<T: NumericElement>(_: T.Type, into out: inout Tensor) throws -> [Int64] {
        var chosen = [Int64](repeating: 0, count: indices ? out.shape.elementCount : 0)
        try windows.pool(x, into: &out, as: T.self) { k, src, base, offsets, _ in
            var best = T.lowest, at = offsets.first ?? 0
            for offset in offsets where offset == at || src[base + offset] > best { best = src[base + offset]; at = offset }
            if indices { chosen[k] = Int64(base + (columnMajor ? windows.columnMajor(at) : at)) }
            return best
        }
        return chosen
    }
}

/// AveragePool over an N x C x D1 x … x Dk input of any spatial rank k and floating element
/// type (ONNX operator spec, AveragePool, opsets 1–22): each output is the sum of its window's
/// inputs (`PoolWindows`), accumulated in Double, divided by the number of them, or with
/// `count_include_pad` by the number of the window's positions inside the padded input.
struct SpatialAveragePoolKernel: FloatVisitor {
    let x: Tensor
    let windows: PoolWindows
    let countIncludePad: Bool

    func visit<T: FloatElement>(_: T.Type, into out: inout Tensor) throws {
        let countIncludePad = countIncludePad
        try windows.pool(x, into: &out, as: T.self) { _, src, base, offsets, padded in
            var sum = 0.0
            for offset in offsets { sum += src[base + offset].asDouble }
            return T(converting: sum / Double(countIncludePad ? padded : offsets.count))
        }
    }
}
