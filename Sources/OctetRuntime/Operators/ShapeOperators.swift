import OctetCore

/// Ops that move or select elements without arithmetic, and the ops that compute shapes.
enum ShapeOperators {
    static func register(into f: inout [String: OperatorCatalog.Factory]) {
        f["Shape"] = { n, _ in ShapeOperator(site: OperatorSite(n), start: try n.int("start", default: 0), end: try n.int("end")) }
        f["Reshape"] = { n, _ in ReshapeOperator(site: OperatorSite(n), allowZero: try n.int("allowzero", default: 0) != 0) }
        f["Flatten"] = { n, _ in FlattenOperator(site: OperatorSite(n), axis: try n.int("axis", default: 1)) }
        f["Squeeze"] = { n, opset in SqueezeOperator(site: OperatorSite(n), squeeze: true, attributeAxes: opset < 13 ? try n.ints("axes") : nil) }
        f["Unsqueeze"] = { n, opset in SqueezeOperator(site: OperatorSite(n), squeeze: false, attributeAxes: opset < 13 ? try n.ints("axes") : nil) }
        f["Transpose"] = { n, _ in TransposeOperator(site: OperatorSite(n), perm: try n.ints("perm")) }
        f["Concat"] = { n, _ in
            guard let axis = try n.int("axis") else { throw GraphError.attribute(node: n.name, opType: n.opType, name: "axis", expected: "an int", got: "nothing") }
            return ConcatOperator(site: OperatorSite(n), axis: axis)
        }
        f["Split"] = { n, opset in
            SplitOperator(site: OperatorSite(n), axis: try n.int("axis", default: 0), attributeSplit: opset < 13 ? try n.ints("split") : nil,
                          outputs: n.outputs.count, numOutputs: try n.int("num_outputs"))
        }
        f["Slice"] = { n, opset in
            // Before opset 10 starts, ends and axes were attributes (no steps).
            guard opset < 10 else { return SliceOperator(site: OperatorSite(n), attributes: nil) }
            guard let starts = try n.ints("starts") else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "starts", expected: "a list of ints (opset \(opset))", got: "nothing")
            }
            guard let ends = try n.ints("ends") else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "ends", expected: "a list of ints (opset \(opset))", got: "nothing")
            }
            return SliceOperator(site: OperatorSite(n), attributes: (starts, ends, try n.ints("axes")))
        }
        f["Gather"] = { n, _ in GatherOperator(site: OperatorSite(n), axis: try n.int("axis", default: 0)) }
        f["Expand"] = { n, _ in ExpandOperator(site: OperatorSite(n)) }
        f["ConstantOfShape"] = { n, _ in
            let value = try n.tensor("value") ?? (try Tensor([Float(0)], shape: TensorShape([1])))
            guard value.shape.elementCount == 1 else {
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "value", expected: "a one-element tensor", got: "shape \(value.shape)")
            }
            return ConstantOfShapeOperator(site: OperatorSite(n), value: value)
        }
        f["Constant"] = { n, _ in ConstantOperator(site: OperatorSite(n), value: try constantValue(n)) }
        f["Range"] = { n, _ in RangeOperator(site: OperatorSite(n)) }
    }

    static func constantValue(_ n: Node) throws -> Tensor {
        if let t = try n.tensor("value") { return t }
        if let a = n.attributes["value_float"], case let .float(v) = a { return try Tensor([v], shape: TensorShape([])) }
        if let a = n.attributes["value_floats"], case let .floats(v) = a { return try Tensor(v, shape: TensorShape([v.count])) }
        if let a = n.attributes["value_int"], case let .int(v) = a { return try Tensor([Int64(v)], shape: TensorShape([])) }
        if let a = n.attributes["value_ints"], case let .ints(v) = a { return try Tensor(v.map { Int64($0) }, shape: TensorShape([v.count])) }
        throw GraphError.attribute(node: n.name, opType: n.opType, name: "value", expected: "one of value, value_float(s), value_int(s)", got: "none of them")
    }
}

/// Builds a concrete shape, reporting overflow and negative sizes against the node.
func concreteShape(_ dims: [Int], _ site: OperatorSite) throws(GraphError) -> TensorShape {
    do { return try TensorShape(dims) } catch { throw site.error("\(error)") }
}

/// The most dimensions an output whose rank comes from a computed shape input may have
/// (NumPy's limit too); its length is checked before a dimension is made for each element.
let maximumComputedRank = 64

/// `n` unknown dimensions, for an output shaped by a computed 1-D shape input of `n` elements.
func unknownDims(_ n: Int, _ site: OperatorSite, _ what: String) throws(GraphError) -> SymbolicShape {
    guard n <= maximumComputedRank else {
        throw site.error("\(what) has \(n) elements: an output of rank \(n) (at most \(maximumComputedRank) dimensions are supported)")
    }
    return SymbolicShape((0..<n).map { .symbol("\(site.node)_d\($0)") })
}

func int64Tensor(_ values: [Int], _ site: OperatorSite) throws(GraphError) -> Tensor {
    do { return try Tensor(values.map { Int64($0) }, shape: TensorShape([values.count])) } catch { throw site.error("\(error)") }
}

struct ShapeOperator: GraphOperator {
    let site: OperatorSite
    let start: Int, end: Int?

    func range(_ rank: Int) -> Range<Int> {
        func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + rank : v, 0), rank) }
        let s = clamp(start), e = clamp(end ?? rank)
        return s..<max(s, e)
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        // An input of unknown rank (inside a subgraph, typed before running) gives a 1-D
        // output of unknown length; its value is known when the node runs.
        guard let s = try site.type(inputs, 0).shape else { return [ValueType(.s64, SymbolicShape([.symbol("\(site.node):rank")]))] }
        return [ValueType(.s64, try TensorShape([range(s.rank).count]))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        outputs[0] = try value(for: try site.tensor(inputs, 0).shape)
    }

    /// The output for an input of this shape (known while planning, before any data).
    func value(for shape: TensorShape) throws -> Tensor {
        try int64Tensor(Array(shape.dims[range(shape.rank)]), site)
    }
}

struct ReshapeOperator: GraphOperator {
    let site: OperatorSite
    let allowZero: Bool

    /// The output dims from the requested shape; `nil` entries are unknown.
    func resolve(_ request: [Int], input: SymbolicShape) throws -> SymbolicShape {
        var dims: [Dimension] = []
        var inferAt: Int?
        for (i, r) in request.enumerated() {
            if r == -1 {
                guard inferAt == nil else { throw site.error("the target shape \(request) has more than one -1") }
                inferAt = i
                dims.append(.fixed(1))
            } else if r == 0 && !allowZero {
                guard i < input.rank else { throw site.error("target shape \(request) copies dimension \(i) (0), which input \(input) lacks") }
                dims.append(input.dims[i])
            } else {
                guard r >= 0 else { throw site.error("target shape \(request) has a negative dimension") }
                dims.append(.fixed(r))
            }
        }
        if let k = inferAt {
            if let total = input.concrete?.elementCount {
                let known = dims.enumerated().filter { $0.offset != k }.map(\.element)
                if let product = try knownProduct(known, request) {
                    guard product > 0, total % product == 0 else { throw site.error("cannot reshape \(input) (\(total) elements) to \(request)") }
                    dims[k] = .fixed(total / product)
                } else {
                    dims[k] = .symbol("\(site.node)_d\(k)")
                }
            } else {
                dims[k] = .symbol("\(site.node)_d\(k)")
            }
        } else if let a = input.concrete, let b = try knownProduct(dims, request), a.elementCount != b {
            throw site.error("cannot reshape \(a) (\(a.elementCount) elements) to \(request) (\(b) elements)")
        }
        return SymbolicShape(dims)
    }

    /// The product of the dimensions when all are known; an overflow names the target shape.
    private func knownProduct(_ dims: [Dimension], _ request: [Int]) throws(GraphError) -> Int? {
        var values: [Int] = []
        for d in dims {
            guard let v = d.value else { return nil }
            values.append(v)
        }
        return try site.checked("the target shape \(request) (input 1)") { () throws(ArithmeticOverflow) in try values.checkedProduct() }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        if let request = try site.ints(constants.count > 1 ? constants[1] : nil, "the target shape"), let s = x.shape {
            return [ValueType(x.dtype, try resolve(request, input: s))]
        }
        let shapeType = try site.type(inputs, 1)
        guard let n = shapeType.shape?.concrete?.elementCount else { return [ValueType(x.dtype, nil)] }
        return [ValueType(x.dtype, try unknownDims(n, site, "the target shape (input 1)"))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        try Elementwise.copy(try site.tensor(inputs, 0), into: &outputs[0])
    }
}

struct FlattenOperator: GraphOperator {
    let site: OperatorSite
    let axis: Int

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard let s = x.shape else { return [ValueType(x.dtype, SymbolicShape([.symbol("\(site.node)_d0"), .symbol("\(site.node)_d1")]))] }
        let a = axis < 0 ? axis + s.rank : axis
        guard a >= 0, a <= s.rank else { throw site.error("axis \(axis) is out of range for rank \(s.rank)") }
        func product(_ d: ArraySlice<Dimension>, _ k: Int) throws(GraphError) -> Dimension {
            let values = d.compactMap(\.value)
            guard values.count == d.count else { return d.count == 1 ? d[d.startIndex] : .symbol("\(site.node)_d\(k)") }
            return .fixed(try site.checked("output dimension \(k) of flattening \(s) at axis \(axis)") { () throws(ArithmeticOverflow) in try values.checkedProduct() })
        }
        return [ValueType(x.dtype, SymbolicShape([try product(s.dims[..<a], 0), try product(s.dims[a...], 1)]))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        try Elementwise.copy(try site.tensor(inputs, 0), into: &outputs[0])
    }
}

/// `Squeeze` and `Unsqueeze`; axes from input 1 (opset ≥ 13) or the attribute.
struct SqueezeOperator: GraphOperator {
    let site: OperatorSite
    let squeeze: Bool
    let attributeAxes: [Int]?

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard let s = x.shape else { return [ValueType(x.dtype, nil)] }
        let axes = try attributeAxes ?? site.ints(constants.count > 1 ? constants[1] : nil, "axes")
        if squeeze {
            if axes == nil, site.isRuntimeValue(inputs, constants, 1) { return [site.runtimeShaped(x.dtype, rank: nil, "axes")] }
            guard let axes else {
                // No axes: drop every dimension known to be 1.
                return [ValueType(x.dtype, SymbolicShape(s.dims.filter { $0 != .fixed(1) }))]
            }
            var drop: Set<Int> = []
            for a in axes {
                let r = try site.axis(a, rank: s.rank)
                if let v = s.dims[r].value, v != 1 { throw site.error("cannot squeeze axis \(a) of \(s): its size is \(v)") }
                drop.insert(r)
            }
            return [ValueType(x.dtype, SymbolicShape(s.dims.enumerated().filter { !drop.contains($0.offset) }.map(\.element)))]
        }
        guard let axes else {
            if inputs.count > 1, inputs[1] != nil { return [ValueType(x.dtype, nil)] }
            throw site.error("Unsqueeze needs axes")
        }
        let rank = s.rank + axes.count
        var inserted: Set<Int> = []
        for a in axes {
            guard inserted.insert(try site.axis(a, rank: rank)).inserted else { throw site.error("axis \(a) is repeated") }
        }
        var dims: [Dimension] = []
        var rest = s.dims.makeIterator()
        for i in 0..<rank { dims.append(inserted.contains(i) ? .fixed(1) : (rest.next() ?? .fixed(1))) }
        return [ValueType(x.dtype, SymbolicShape(dims))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        try Elementwise.copy(try site.tensor(inputs, 0), into: &outputs[0])
    }
}

struct TransposeOperator: GraphOperator {
    let site: OperatorSite
    let perm: [Int]?

    func permutation(_ rank: Int) throws -> [Int] {
        let p = perm ?? Array((0..<rank).reversed())
        guard p.count == rank, Set(p) == Set(0..<rank) else { throw site.error("perm \(p) is not a permutation of 0..<\(rank)") }
        return p
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard let s = x.shape else { return [ValueType(x.dtype, nil)] }
        return [ValueType(x.dtype, SymbolicShape(try permutation(s.rank).map { s.dims[$0] }))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let p = try permutation(x.shape.rank)
        if HotPathKernels.transpose(x, perm: p, into: &outputs[0]) { return }
        let inStrides = Strided.strides(x.shape)
        Strided.gather(x, strides: p.map { inStrides[$0] }, offset: 0, into: &outputs[0])
    }
}

struct ConcatOperator: GraphOperator {
    let site: OperatorSite
    let axis: Int

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        guard !inputs.isEmpty else { throw site.error("Concat needs at least one input") }
        let first = try site.type(inputs, 0)
        var shapes: [SymbolicShape] = []
        for i in inputs.indices {
            let t = try site.type(inputs, i)
            guard t.dtype == first.dtype else { throw site.error("input \(i) is \(t.dtype), input 0 is \(first.dtype)") }
            guard let s = t.shape else { return [ValueType(first.dtype, nil)] }
            shapes.append(s)
        }
        let rank = shapes[0].rank
        guard rank >= 1 else { throw site.error("cannot concatenate scalars (input 0 is a scalar; Concat needs inputs of rank ≥ 1)") }
        let a = try site.axis(axis, rank: rank)
        var dims = shapes[0].dims
        var total: Int? = 0
        for (i, s) in shapes.enumerated() {
            guard s.rank == rank else { throw site.error("input \(i) has rank \(s.rank), input 0 has \(rank)") }
            for d in 0..<rank where d != a {
                if let x = s.dims[d].value, let y = dims[d].value, x != y {
                    throw site.error("input \(i) has shape \(s), which differs from \(shapes[0]) outside axis \(a)")
                }
                if dims[d].value == nil, s.dims[d].value != nil { dims[d] = s.dims[d] }
            }
            if let t = total, let v = s.dims[a].value {
                total = try site.checked("the output length along axis \(a)") { () throws(ArithmeticOverflow) in try t.adding(v) }
            } else {
                total = nil
            }
        }
        dims[a] = total.map(Dimension.fixed) ?? .symbol("\(site.node)_d\(a)")
        return [ValueType(first.dtype, SymbolicShape(dims))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let parts = try inputs.indices.map { i throws(GraphError) in try site.tensor(inputs, i) }
        let shape = outputs[0].shape
        // Nothing to copy; the loop below would still count the rows of [2^63 - 1, 0].
        guard shape.elementCount > 0 else { return }
        let a = try site.axis(axis, rank: shape.rank)
        let size = outputs[0].dtype.byteSize
        let outer = shape.dims[..<a].reduce(1, *)
        let inner = shape.dims[(a + 1)...].reduce(1, *) * size
        let rowBytes = shape.dims[a] * inner
        // Every part's rows, copied at once (split over threads when large). The parts'
        // storage stays alive in `parts` for the copy.
        outputs[0].withUnsafeMutableBytes { dst in
            guard let d = dst.baseAddress else { return }
            var segments: [(UnsafeMutableRawPointer, UnsafeRawPointer, Int)] = []
            var column = 0
            for p in parts {
                let chunk = p.shape.dims[a] * inner
                p.withUnsafeBytes { src in
                    guard let s = src.baseAddress, chunk > 0 else { return }
                    for o in 0..<outer { segments.append((d + o * rowBytes + column, s + o * chunk, chunk)) }
                }
                column += chunk
            }
            HotPathKernels.copy(segments)
        }
    }
}

/// `Split` into parts given by input 1 / the `split` attribute, `num_outputs`, or equally.
struct SplitOperator: GraphOperator {
    let site: OperatorSite
    let axis: Int
    let attributeSplit: [Int]?
    let outputs: Int
    let numOutputs: Int?

    /// The size of each part along the axis; refused as ONNX Runtime refuses: sizes that do
    /// not match the outputs or the length, `num_outputs` other than the number of outputs,
    /// and an uneven equal split without `num_outputs` (before opset 18 it must be even).
    func sizes(_ length: Int, _ constants: [Tensor?]) throws -> [Int] {
        if let s = try attributeSplit ?? site.ints(constants.count > 1 ? constants[1] : nil, "split") {
            guard s.count == outputs else { throw site.error("'split' gives \(s.count) sizes \(s) for \(outputs) outputs") }
            guard s.allSatisfy({ $0 >= 0 }) else { throw site.error("'split' sizes \(s) must be ≥ 0") }
            let total = try site.checked("the sum of the 'split' sizes \(s)") { () throws(ArithmeticOverflow) in try s.checkedSum() }
            guard total == length else { throw site.error("'split' sizes \(s) sum to \(total), but the axis has length \(length)") }
            return s
        }
        if let numOutputs, numOutputs != outputs {
            throw GraphError.attribute(node: site.node, opType: site.opType, name: "num_outputs", expected: "the number of outputs (\(outputs))", got: "\(numOutputs)")
        }
        let n = numOutputs ?? outputs
        guard n > 0 else { throw site.error("Split needs at least one output") }
        guard numOutputs != nil || length % n == 0 else {
            throw site.error("the axis length \(length) does not split evenly into \(n) outputs (an uneven split needs 'split' sizes, or num_outputs at opset ≥ 18)")
        }
        let chunk = length.dividedRoundingUp(by: n)
        var remaining = length
        return (0..<n).map { _ in
            let k = min(chunk, remaining)
            remaining -= k
            return k
        }
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard let s = x.shape else { return Array(repeating: ValueType(x.dtype, nil), count: outputs) }
        let a = try site.axis(axis, rank: s.rank)
        // Sizes given as an input computed while running: the parts' lengths are unknown.
        let runtimeSizes = attributeSplit == nil && inputs.count > 1 && inputs[1] != nil && (constants.count < 2 || constants[1] == nil)
        guard let length = s.dims[a].value, !runtimeSizes else {
            return (0..<outputs).map { i in
                var d = s.dims
                d[a] = .symbol("\(site.node)_out\(i)_d\(a)")
                return ValueType(x.dtype, SymbolicShape(d))
            }
        }
        return try sizes(length, constants).map { n in
            var d = s.dims
            d[a] = .fixed(n)
            return ValueType(x.dtype, SymbolicShape(d))
        }
    }

    func run(_ inputs: [Tensor?], outputs outs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let a = try site.axis(axis, rank: x.shape.rank)
        let strides = Strided.strides(x.shape)
        var start = 0
        for i in outs.indices {
            Strided.gather(x, strides: strides, offset: start * strides[a], into: &outs[i])
            start += outs[i].shape.dims[a]
        }
    }
}

/// `Slice` (opset ≥ 10): starts, ends, axes and steps from inputs.
struct SliceOperator: GraphOperator {
    let site: OperatorSite
    /// `starts`, `ends`, `axes` from the attributes (opset < 10); `nil`: from inputs 1 to 4.
    let attributes: (starts: [Int], ends: [Int], axes: [Int]?)?

    /// Per axis of the input: start, step and count.
    func plan(_ shape: [Int], _ constants: [Tensor?]) throws -> [(start: Int, step: Int, count: Int)] {
        func input(_ i: Int) throws -> [Int]? { try site.ints(i < constants.count ? constants[i] : nil, "input \(i)") }
        let starts: [Int], ends: [Int], axes: [Int], steps: [Int]
        if let attributes {
            (starts, ends) = (attributes.starts, attributes.ends)
            axes = attributes.axes ?? Array(0..<starts.count)
            steps = Array(repeating: 1, count: starts.count)
        } else {
            guard let s = try input(1), let e = try input(2) else { throw site.error("starts and ends must be constants") }
            (starts, ends) = (s, e)
            axes = try input(3) ?? Array(0..<starts.count)
            steps = try input(4) ?? Array(repeating: 1, count: starts.count)
        }
        guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
            throw site.error("starts, ends, axes and steps must have the same length")
        }
        var plan = shape.map { (start: 0, step: 1, count: $0) }
        for k in starts.indices {
            let a = try site.axis(axes[k], rank: shape.count)
            let dim = shape[a], step = steps[k]
            guard step != 0 else { throw site.error("a slice step is 0") }
            // ONNX's clamping: starts to [0, dim] going forward and [0, dim - 1] going
            // backward, ends to [0, dim] and [-1, dim - 1]; no sum or product can overflow.
            func clamp(_ v: Int, _ low: Int, _ high: Int) -> Int { min(max(v < 0 ? v + dim : v, low), high) }
            let s = step > 0 ? clamp(starts[k], 0, dim) : clamp(starts[k], 0, dim - 1)
            let e = step > 0 ? clamp(ends[k], 0, dim) : clamp(ends[k], -1, dim - 1)
            let count: Int
            if step > 0 {
                count = e > s ? (e - s - 1) / step + 1 : 0
            } else {
                count = s > e ? Int(UInt(s - e - 1) / step.magnitude) + 1 : 0
            }
            // One element or none: the step is never applied (and never multiplies a stride).
            plan[a] = (count > 0 ? s : 0, count > 1 ? step : 1, count)
        }
        return plan
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard let s = x.shape else { return [ValueType(x.dtype, nil)] }
        if attributes == nil, (1...4).contains(where: { site.isRuntimeValue(inputs, constants, $0) }) {
            return [site.runtimeShaped(x.dtype, rank: s.rank, "starts/ends")]
        }
        guard let c = s.concrete else {
            // Symbolic input: only axes that are not sliced keep their dimension.
            return [ValueType(x.dtype, SymbolicShape((0..<s.rank).map { .symbol("\(site.node)_d\($0)") }))]
        }
        return [ValueType(x.dtype, try TensorShape(try plan(c.dims, constants).map(\.count)))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        let p = try plan(x.shape.dims, inputs)
        let strides = Strided.strides(x.shape)
        let offset = zip(p, strides).reduce(0) { $0 + $1.0.start * $1.1 }
        Strided.gather(x, strides: zip(p, strides).map { $0.step * $1 }, offset: offset, into: &outputs[0])
    }
}

/// `Gather` along an axis with int64/int32 indices (negative counts from the end).
struct GatherOperator: GraphOperator {
    let site: OperatorSite
    let axis: Int

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0), i = try site.type(inputs, 1)
        guard i.dtype == .s64 || i.dtype == .s32 else { throw site.error("indices must be int64 or int32, got \(i.dtype)") }
        guard let s = x.shape, let si = i.shape else { return [ValueType(x.dtype, nil)] }
        let a = try site.axis(axis, rank: s.rank)
        return [ValueType(x.dtype, SymbolicShape(Array(s.dims[..<a]) + si.dims + Array(s.dims[(a + 1)...])))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        guard let indices = try site.ints(try site.tensor(inputs, 1), "indices") else { return }
        let a = try site.axis(axis, rank: x.shape.rank)
        let dim = x.shape.dims[a]
        for (k, idx) in indices.enumerated() where idx < -dim || idx >= dim {
            throw site.error("index \(idx) at position \(k) is out of range for axis \(a) of size \(dim)")
        }
        // Nothing to copy (and the row count of an empty [2^63 - 1, 0] would still be counted).
        guard outputs[0].shape.elementCount > 0 else { return }
        let size = x.dtype.byteSize
        let outer = x.shape.dims[..<a].reduce(1, *)
        let inner = x.shape.dims[(a + 1)...].reduce(1, *) * size
        x.withUnsafeBytes { src in
            outputs[0].withUnsafeMutableBytes { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                var o = 0
                for j in 0..<outer {
                    for idx in indices {
                        let r = idx < 0 ? idx + dim : idx
                        (d + o).copyMemory(from: s + (j * dim + r) * inner, byteCount: inner)
                        o += inner
                    }
                }
            }
        }
    }
}

/// `Expand` to a shape given by input 1 (bidirectional broadcasting).
struct ExpandOperator: GraphOperator {
    let site: OperatorSite

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let x = try site.type(inputs, 0)
        guard let s = x.shape else { return [ValueType(x.dtype, nil)] }
        guard let target = try site.ints(constants.count > 1 ? constants[1] : nil, "the shape") else {
            return [ValueType(x.dtype, nil)]
        }
        guard let out = Broadcasting.shape(s, SymbolicShape(target.map(Dimension.fixed))) else {
            throw site.error("\(s) cannot expand to \(target)")
        }
        return [ValueType(x.dtype, out)]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        Strided.gather(x, strides: Broadcasting.strides(of: x.shape, in: outputs[0].shape), offset: 0, into: &outputs[0])
    }
}

struct ConstantOfShapeOperator: GraphOperator {
    let site: OperatorSite
    let value: Tensor

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        if let dims = try site.ints(constants.first ?? nil, "the shape") {
            return [ValueType(value.dtype, try concreteShape(dims, site))]
        }
        guard let n = try site.type(inputs, 0).shape?.concrete?.elementCount else { return [ValueType(value.dtype, nil)] }
        return [ValueType(value.dtype, try unknownDims(n, site, "the shape (input 0)"))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let size = value.dtype.byteSize
        value.withUnsafeBytes { v in
            outputs[0].withUnsafeMutableBytes { d in
                guard let vb = v.baseAddress, let db = d.baseAddress else { return }
                for i in 0..<(d.count / size) { (db + i * size).copyMemory(from: vb, byteCount: size) }
            }
        }
    }
}

struct ConstantOperator: GraphOperator {
    let site: OperatorSite
    let value: Tensor

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] { [ValueType(value.dtype, value.shape)] }
    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws { outputs[0] = value }
}

/// `Range(start, limit, delta)` on scalars of any numeric type (integers exact in 64 bits,
/// floats computed in f64).
struct RangeOperator: GraphOperator {
    let site: OperatorSite

    /// The most elements a Range may make.
    static let maximumCount = 1 << 31

    /// `max(0, ⌈(limit - start) / delta⌉)`, refused when not finite or over `maximumCount`.
    func count(_ constants: [Tensor?]) throws -> Int? {
        guard constants.count == 3, let s = constants[0], let l = constants[1], let d = constants[2] else { return nil }
        let (a, b, c) = (try scalar(s, "start"), try scalar(l, "limit"), try scalar(d, "delta"))
        guard c != 0 else { throw site.error("delta is 0") }
        let n = ((b - a) / c).rounded(.up)
        guard n.isFinite else { throw site.error("the number of elements, ⌈(limit \(b) - start \(a)) / delta \(c)⌉, is not finite") }
        guard n <= Double(Self.maximumCount) else {
            throw site.error("the range from \(a) to \(b) by \(c) has \(n) elements, over the limit of \(Self.maximumCount)")
        }
        return Int(max(0, n))
    }

    /// The one value of a scalar input.
    private func scalar(_ t: Tensor, _ what: String) throws -> Double {
        guard let v = try Elementwise.doubles(t).first, t.shape.elementCount == 1 else { throw site.error("\(what) must be a scalar, got shape \(t.shape)") }
        return v
    }

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] {
        let t = try site.type(inputs, 0)
        if let n = try count(constants) { return [ValueType(t.dtype, try TensorShape([n]))] }
        return [ValueType(t.dtype, SymbolicShape([.symbol("\(site.node)_d0")]))]
    }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let n = outputs[0].shape.elementCount
        switch outputs[0].dtype {
        case .s64, .s32:
            // Integer ranges are exact: start + i * delta in 64-bit integers, checked.
            guard let start = try site.ints(try site.tensor(inputs, 0), "start")?.first, let delta = try site.ints(try site.tensor(inputs, 2), "delta")?.first else {
                throw site.error("start and delta must be scalars")
            }
            var values: [Int] = []
            values.reserveCapacity(n)
            var v = start
            for i in 0..<n {
                if i > 0 { v = try site.checked("element \(i) of the range (start \(start), delta \(delta))") { () throws(ArithmeticOverflow) in try v.adding(delta) } }
                values.append(v)
            }
            var out = outputs[0]
            if out.dtype == .s64 {
                try out.withUnsafeMutableBufferPointer(as: Int64.self) { p in for i in 0..<n { p[i] = Int64(values[i]) } }
            } else {
                try out.withUnsafeMutableBufferPointer(as: Int32.self) { p in for i in 0..<n { p[i] = Int32(truncatingIfNeeded: values[i]) } }
            }
            outputs[0] = out
        default:
            let start = try scalar(try site.tensor(inputs, 0), "start"), delta = try scalar(try site.tensor(inputs, 2), "delta")
            let values = (0..<n).map { start + Double($0) * delta }
            outputs[0] = try CastOperator.convert(try Tensor(values, shape: outputs[0].shape), to: outputs[0].dtype)
        }
    }
}
