import Octet
import Testing

/// Shapes that depend on values known only when running (issue 16): a Slice's starts and
/// ends, a ReduceMean's axes and an Expand's target shape fed as graph inputs, a TopK's k
/// computed inside the graph, and the nodes after a NonZero. Expected values are ONNX
/// Runtime 1.32's (computed once in Python and written here) or NumPy's definition.
@Suite struct RunTimeShapeTests {
    typealias H = HostileGraph

    func session(_ g: Graph, capacity: Int = 16) throws -> Session {
        let rules = try #require(H.rules)
        return try Session(graph: g, options: SessionOptions(threads: 1, cpu: .host, registry: H.registry, rules: rules, planCacheCapacity: capacity))
    }

    func slice() -> Graph {
        H.graph([Node(name: "slice", opType: "Slice", inputs: ["x", "starts", "ends", "axes", "steps"], outputs: ["y"])],
                inputs: [("x", .f32, [4, 5]), ("starts", .s64, [2]), ("ends", .s64, [2]), ("axes", .s64, [2]), ("steps", .s64, [2])],
                outputs: ["y"])
    }

    func sliceFeeds(_ starts: [Int], _ ends: [Int], _ steps: [Int]) throws -> [String: Tensor] {
        ["x": try H.floats((0..<20).map(Float.init), [4, 5]), "starts": try H.ints(starts), "ends": try H.ints(ends),
         "axes": try H.ints([0, 1]), "steps": try H.ints(steps)]
    }

    @Test func sliceWithStartsAndEndsFedWhenRunning() throws {
        let s = try session(slice())
        // ONNX Runtime: x = arange(20).reshape(4, 5).
        let a = try #require(try s.run(sliceFeeds([1, -1], [3, 0], [1, -2]))["y"])
        #expect(a.shape.dims == [2, 2])
        #expect(try a.scalars(as: Float.self) == [9, 7, 14, 12])
        let b = try #require(try s.run(sliceFeeds([0, 1], [4, 4], [2, 1]))["y"])
        #expect(b.shape.dims == [2, 3])
        #expect(try b.scalars(as: Float.self) == [1, 2, 3, 11, 12, 13])
    }

    @Test func reduceMeanWithAxesAsAnInput() throws {
        let x = try H.floats((0..<24).map { Float($0) * 0.5 - 3 }, [2, 3, 4])
        let drop = H.graph([Node(name: "mean", opType: "ReduceMean", inputs: ["x", "axes"], outputs: ["y"], attributes: ["keepdims": .int(0)])],
                           inputs: [("x", .f32, [2, 3, 4]), ("axes", .s64, [2])], outputs: ["y"], opset: 18)
        let y = try #require(try session(drop).run(["x": x, "axes": try H.ints([0, -1])])["y"])
        #expect(y.shape.dims == [3])
        #expect(try y.scalars(as: Float.self) == [0.75, 2.75, 4.75])
        let keep = H.graph([Node(name: "mean", opType: "ReduceMean", inputs: ["x", "axes"], outputs: ["y"], attributes: ["keepdims": .int(1)])],
                           inputs: [("x", .f32, [2, 3, 4]), ("axes", .s64, [1])], outputs: ["y"], opset: 18)
        let z = try #require(try session(keep).run(["x": x, "axes": try H.ints([1])])["y"])
        #expect(z.shape.dims == [2, 1, 4])
        #expect(try z.scalars(as: Float.self) == [-1, -0.5, 0, 0.5, 5, 5.5, 6, 6.5])
    }

    @Test func expandToAShapeFedWhenRunning() throws {
        let g = H.graph([Node(name: "expand", opType: "Expand", inputs: ["x", "shape"], outputs: ["y"])],
                        inputs: [("x", .f32, [3, 1]), ("shape", .s64, [3])], outputs: ["y"])
        let y = try #require(try session(g).run(["x": try H.floats([1, 2, 3], [3, 1]), "shape": try H.ints([2, 1, 4])])["y"])
        #expect(y.shape.dims == [2, 3, 4])
        #expect(try y.scalars(as: Float.self) == Array(repeating: [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3] as [Float], count: 2).flatMap { $0 })
    }

    @Test func sameValuesReuseThePlanOtherValuesReplan() throws {
        let s = try session(slice(), capacity: 2)
        let made = s.planCount
        _ = try s.run(sliceFeeds([1, -1], [3, 0], [1, -2]))
        let first = s.planCount
        #expect(first > made)
        _ = try s.run(sliceFeeds([1, -1], [3, 0], [1, -2]))
        #expect(s.planCount == first, "the same values reuse the plan")
        _ = try s.run(sliceFeeds([0, 1], [4, 4], [2, 1]))
        #expect(s.planCount == first + 1, "other values make one more plan")
        _ = try s.run(sliceFeeds([1, -1], [3, 0], [1, -2]))
        #expect(s.planCount == first + 1, "both fit in a cache of two")
        _ = try s.run(sliceFeeds([0, 0], [2, 2], [1, 1]))
        #expect(s.planCount == first + 2)
        // Capacity 2: the third set of values pushed out the least recently used ([0, 1]…).
        _ = try s.run(sliceFeeds([0, 1], [4, 4], [2, 1]))
        #expect(s.planCount == first + 3, "an evicted plan is made again")
        _ = try s.run(sliceFeeds([0, 0], [2, 2], [1, 1]))
        #expect(s.planCount == first + 3, "the most recently used stayed")
    }

    @Test func theTraceSaysWhichValuesThePlanWasMadeFor() throws {
        let s = try session(slice())
        let trace = try s.trace(inputs: sliceFeeds([1, -1], [3, 0], [1, -2]))
        let planned = Dictionary(uniqueKeysWithValues: trace.plannedFor.map { ($0.name, $0) })
        #expect(planned["x"]?.type == "f32[4x5]" && planned["x"]?.value == nil)
        #expect(planned["starts"]?.value == "[1, -1]")
        #expect(planned["steps"]?.value == "[1, -2]")
        #expect(trace.nodes.map(\.node) == ["slice"])
        #expect(trace.text.contains("starts: s64[2] = [1, -1]"))
        // Before running, the trace lists the node as planned when running, and why.
        let before = try s.trace().trace
        guard case let .direct(backend, _, reason)? = before.nodes.first?.placement else {
            Issue.record("expected the slice to be planned when running, got \(before.nodes)")
            return
        }
        #expect(backend == "when running" && reason.contains("'starts'"))
    }

    @Test func aShapeComputedInsideTheGraphIsPlannedWhenKnown() throws {
        // TopK's k is the largest of `kin`, computed while running.
        let nodes = [
            Node(name: "kmax", opType: "ReduceMax", inputs: ["kin"], outputs: ["k"], attributes: ["keepdims": .int(1)]),
            Node(name: "top", opType: "TopK", inputs: ["x", "k"], outputs: ["values", "indices"]),
        ]
        let g = H.graph(nodes, inputs: [("x", .f32, [5]), ("kin", .s64, [3])], outputs: ["values", "indices"])
        let s = try session(g)
        let x = try H.floats([5, 1, 4, 2, 3], [5])
        let out = try s.run(["x": x, "kin": try H.ints([1, 3, 2])])
        #expect(try #require(out["values"]).scalars(as: Float.self) == [5, 4, 3])
        #expect(try #require(out["indices"]).scalars(as: Int64.self) == [0, 2, 4])
        let two = try s.run(["x": x, "kin": try H.ints([2, 1, 0])])
        #expect(try #require(two["values"]).scalars(as: Float.self) == [5, 4])
    }

    @Test func nodesAfterNonZeroArePlannedForItsOutput() throws {
        let nodes = [
            Node(name: "nz", opType: "NonZero", inputs: ["x"], outputs: ["nz"]),
            Node(name: "t", opType: "Transpose", inputs: ["nz"], outputs: ["y"]),
        ]
        let g = H.graph(nodes, inputs: [("x", .f32, [3, 3])], outputs: ["y"], opset: 13)
        let s = try session(g)
        // ONNX Runtime; -0.0 is zero.
        let y = try #require(try s.run(["x": try H.floats([0, 1.5, 0, -2, 0, -0.0, 3, 0, 4], [3, 3])])["y"])
        #expect(y.shape.dims == [4, 2])
        #expect(try y.scalars(as: Int64.self) == [0, 1, 1, 0, 2, 0, 2, 2])
        let none = try #require(try s.run(["x": try H.floats([Float](repeating: 0, count: 9), [3, 3])])["y"])
        #expect(none.shape.dims == [0, 2])
    }

    @Test func aHugeShapeDecidingValueIsRefusedClearly() throws {
        // Axes with more than 4096 entries: the plan would be keyed on all of them.
        let g = H.graph([Node(name: "sum", opType: "ReduceSum", inputs: ["x", "axes"], outputs: ["y"])],
                        inputs: [("x", .f32, [2, 3]), ("axes", .s64, [5000])], outputs: ["y"])
        let s = try session(g)
        #expect {
            try s.run(["x": try H.floats([1, 2, 3, 4, 5, 6], [2, 3]), "axes": try Tensor([Int64](repeating: 0, count: 5000), shape: TensorShape([5000]))])
        } throws: { e in
            let text = "\(e)"
            return text.contains("'sum'") && text.contains("'axes'") && text.contains("4096")
        }
    }

    @Test func convolutionWithWeightsFedWhenRunning() throws {
        let g = H.graph([Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"])],
                        inputs: [("x", .f32, [1, 1, 3, 3]), ("w", .f32, [1, 1, 2, 2])], outputs: ["y"])
        let s = try session(g)
        let x = try H.floats((0..<9).map(Float.init), [1, 1, 3, 3])
        // Each output: the 2x2 window of x times w, summed (valid correlation).
        let y = try #require(try s.run(["x": x, "w": try H.floats([1, 2, 3, 4], [1, 1, 2, 2])])["y"])
        #expect(y.shape.dims == [1, 1, 2, 2])
        #expect(try y.scalars(as: Float.self) == [27, 37, 57, 67])
        let count = s.planCount
        let z = try #require(try s.run(["x": x, "w": try H.floats([1, 0, 0, 0], [1, 1, 2, 2])])["y"])
        #expect(try z.scalars(as: Float.self) == [0, 1, 3, 4])
        #expect(s.planCount == count + 1)
    }
}
