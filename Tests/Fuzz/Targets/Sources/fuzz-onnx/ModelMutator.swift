import CFuzzerHooks
import Foundation
import FuzzSupport
import Octet

/// A structure-aware mutator: three times in four, the model is decoded and one thing in
/// it changed — an integer attribute or initializer element set to an extreme (0, ±1,
/// 2^31, 2^32, 2^62, Int64.min/max, ...), an attribute added to a node, a float set to
/// NaN, ±Inf or 0, a declared input dimension or dtype changed, an op type swapped, an
/// input rewired or dropped, the opset moved — and written back; otherwise (or when the
/// bytes are no model) libFuzzer's byte mutations run. Byte mutations alone rarely get a
/// protobuf past decoding into shape inference.
@_cdecl("LLVMFuzzerCustomMutator")
public func mutateModel(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    guard let data else { return 0 }
    var rng = SplitMix(seed: UInt64(seed))
    if rng.below(4) != 0, size > 0,
       var model = try? ONNXModel(serialized: Data(bytes: data, count: size), path: "fuzz.onnx", directory: nil, budget: Fuzz.budget) {
        for _ in 0..<(1 + rng.below(3)) { ModelMutator.mutate(&model.graph, &rng) }
        if let bytes = try? model.serialized(), !bytes.isEmpty, bytes.count <= maxSize {
            bytes.copyBytes(to: data, count: bytes.count)
            return bytes.count
        }
    }
    return LLVMFuzzerMutate(data, size, maxSize)
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// In 0..<n (n > 0).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    mutating func pick<T>(_ a: [T]) -> T? { a.isEmpty ? nil : a[below(a.count)] }
}

enum ModelMutator {
    static let extremes: [Int] = [0, 1, -1, 2, -2, 3, 4, 7, 8, 16, 100, 255, 256, 1000, 65535, 65536, 10000,
                                  Int(Int32.max), Int(Int32.min), 1 << 31, 1 << 32, (1 << 32) + 1, 1 << 40,
                                  1 << 62, -(1 << 62), Int.max, Int.min, Int.max - 1, Int.min + 1]
    static let small: [Int] = [0, 1, 1, 1, 2, 2, 3, 4, 5, 8, 16, -1]
    static let floats: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 1, -1, .leastNonzeroMagnitude, 3.4e38, -3.4e38, 0.5, 1e6]
    static let attributeNames = ["axis", "axes", "pads", "strides", "dilations", "kernel_shape", "group", "perm", "keepdims",
                                 "num_outputs", "split", "output_padding", "output_shape", "ceil_mode", "transA", "transB",
                                 "to", "count_include_pad", "blocksize", "noop_with_empty_axes", "select_last_index", "batch_dims",
                                 "epsilon", "alpha", "beta", "min", "max", "auto_pad", "mode", "value", "allowzero", "storage_order"]
    static let opTypes: [String] = Octet.supportedOps.sorted()
    static let dtypes: [DType] = [.f32, .f16, .u8, .s8, .s32, .s64, .bool]

    static func int(_ rng: inout SplitMix) -> Int { rng.below(3) == 0 ? (rng.pick(small) ?? 1) : (rng.pick(extremes) ?? 0) }

    static func ints(_ rng: inout SplitMix) -> [Int] { (0..<rng.below(7)).map { _ in int(&rng) } }

    static func mutate(_ g: inout Graph, _ rng: inout SplitMix) {
        switch rng.below(10) {
        case 0, 1: mutateAttribute(&g, &rng)
        case 2: addAttribute(&g, &rng)
        case 3, 4: mutateInitializer(&g, &rng)
        case 5: mutateInput(&g, &rng)
        case 6:
            guard !g.nodes.isEmpty, let op = rng.pick(opTypes) else { return }
            g.nodes[rng.below(g.nodes.count)].opType = op
        case 7: rewire(&g, &rng)
        case 8:
            g.opsets[""] = (11...21).randomElement(using: &rng) ?? 17
        default:
            // A node copied next to itself (outputs renamed), or one removed.
            guard !g.nodes.isEmpty else { return }
            let i = rng.below(g.nodes.count)
            if rng.below(2) == 0 {
                var n = g.nodes[i]
                n.name += "_copy"
                n.outputs = n.outputs.map { $0.isEmpty ? $0 : $0 + "_copy" }
                g.nodes.insert(n, at: i + 1)
            } else if g.nodes.count > 1 {
                g.nodes.remove(at: i)
            }
        }
    }

    static func mutateAttribute(_ g: inout Graph, _ rng: inout SplitMix) {
        guard !g.nodes.isEmpty else { return }
        let i = rng.below(g.nodes.count)
        guard let key = rng.pick(g.nodes[i].attributes.keys.sorted()), let value = g.nodes[i].attributes[key] else {
            return addAttribute(&g, &rng)
        }
        switch value {
        case .int: g.nodes[i].attributes[key] = .int(int(&rng))
        case var .ints(v):
            switch rng.below(4) {
            case 0 where !v.isEmpty: v[rng.below(v.count)] = int(&rng)
            case 1: v.append(int(&rng))
            case 2 where !v.isEmpty: v.removeLast()
            default: v = ints(&rng)
            }
            g.nodes[i].attributes[key] = .ints(v)
        case .float: g.nodes[i].attributes[key] = .float(rng.pick(floats) ?? 0)
        case var .floats(v):
            if v.isEmpty { v = [rng.pick(floats) ?? 0] } else { v[rng.below(v.count)] = rng.pick(floats) ?? 0 }
            g.nodes[i].attributes[key] = .floats(v)
        case .string: g.nodes[i].attributes[key] = .string(rng.pick(["", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "constant", "reflect", "edge", "DCR", "CRD", "bogus"]) ?? "")
        case let .tensor(t): g.nodes[i].attributes[key] = .tensor(mutated(t, &rng))
        case .strings: g.nodes[i].attributes[key] = .strings([])
        case var .graph(body):
            // A subgraph (If, Loop, Scan): mutate one of its own attributes.
            mutateAttribute(&body, &rng)
            g.nodes[i].attributes[key] = .graph(body)
        }
    }

    static func addAttribute(_ g: inout Graph, _ rng: inout SplitMix) {
        guard !g.nodes.isEmpty, let name = rng.pick(attributeNames) else { return }
        let i = rng.below(g.nodes.count)
        switch rng.below(4) {
        case 0: g.nodes[i].attributes[name] = .int(int(&rng))
        case 1, 2: g.nodes[i].attributes[name] = .ints(ints(&rng))
        default: g.nodes[i].attributes[name] = .float(rng.pick(floats) ?? 0)
        }
    }

    static func mutateInitializer(_ g: inout Graph, _ rng: inout SplitMix) {
        guard let name = rng.pick(g.initializers.keys.sorted()), let t = g.initializers[name] else { return }
        g.initializers[name] = mutated(t, &rng)
    }

    /// One element changed, or (for small integer tensors) the length changed.
    static func mutated(_ t: Tensor, _ rng: inout SplitMix) -> Tensor {
        let n = t.shape.elementCount
        do {
            switch t.dtype {
            case .s64, .s32:
                var v = try t.dtype == .s64 ? t.scalars(as: Int64.self) : t.scalars(as: Int32.self).map(Int64.init)
                if n <= 8, rng.below(3) == 0 {
                    if rng.below(2) == 0 || v.isEmpty { v.append(Int64(int(&rng))) } else { v.removeLast() }
                    let shape = try TensorShape(t.shape.rank == 0 && v.count == 1 ? [] : [v.count])
                    return t.dtype == .s64 ? try Tensor(v, shape: shape) : try Tensor(v.map { Int32(truncatingIfNeeded: $0) }, shape: shape)
                }
                guard !v.isEmpty else { return t }
                v[rng.below(v.count)] = Int64(int(&rng))
                return t.dtype == .s64 ? try Tensor(v, shape: t.shape, quantization: t.quantization)
                    : try Tensor(v.map { Int32(truncatingIfNeeded: $0) }, shape: t.shape, quantization: t.quantization)
            case .f32:
                var v = try t.scalars(as: Float.self)
                guard !v.isEmpty else { return t }
                v[rng.below(v.count)] = rng.pick(floats) ?? 0
                return try Tensor(v, shape: t.shape, quantization: t.quantization)
            case .u8:
                var v = try t.scalars(as: UInt8.self)
                guard !v.isEmpty else { return t }
                v[rng.below(v.count)] = UInt8(truncatingIfNeeded: rng.next())
                return try Tensor(v, shape: t.shape, quantization: t.quantization)
            case .s8:
                var v = try t.scalars(as: Int8.self)
                guard !v.isEmpty else { return t }
                v[rng.below(v.count)] = Int8(truncatingIfNeeded: rng.next())
                return try Tensor(v, shape: t.shape, quantization: t.quantization)
            default:
                return t
            }
        } catch {
            return t
        }
    }

    static func mutateInput(_ g: inout Graph, _ rng: inout SplitMix) {
        guard !g.inputs.isEmpty else { return }
        let i = rng.below(g.inputs.count)
        guard var type = g.inputs[i].type else { return }
        var dims = type.shape?.dims ?? []
        switch rng.below(5) {
        case 0 where !dims.isEmpty: dims[rng.below(dims.count)] = .fixed(rng.below(2) == 0 ? (rng.pick(small) ?? 1) : int(&rng))
        case 1: dims.append(.fixed(rng.pick(small) ?? 1))
        case 2 where !dims.isEmpty: dims.removeLast()
        case 3 where !dims.isEmpty: dims[rng.below(dims.count)] = .symbol("n")
        default: type.dtype = rng.pick(dtypes) ?? .f32
        }
        type.shape = SymbolicShape(dims)
        g.inputs[i].type = type
    }

    /// A node input pointed at another value (or left out), or an output renamed.
    static func rewire(_ g: inout Graph, _ rng: inout SplitMix) {
        guard !g.nodes.isEmpty else { return }
        let i = rng.below(g.nodes.count)
        let values = g.inputs.map(\.name) + g.initializers.keys.sorted() + g.nodes.flatMap(\.outputs)
        switch rng.below(3) {
        case 0 where !g.nodes[i].inputs.isEmpty:
            g.nodes[i].inputs[rng.below(g.nodes[i].inputs.count)] = rng.pick(values + [""]) ?? ""
        case 1: if let v = rng.pick(values) { g.nodes[i].inputs.append(v) }
        default: if !g.nodes[i].inputs.isEmpty { g.nodes[i].inputs.removeLast() }
        }
    }
}

extension SplitMix: RandomNumberGenerator {}
