import Foundation
import Octet
import Testing

/// Resize and Pad with constant scales and pads (the suite's cases feed them as graph
/// inputs, whose values planning does not know yet), against ONNX Runtime 1.32's outputs
/// for x = 1...16 as 1x1x4x4 (computed once in Python and written here).
@Suite struct ResizeAndPadTests {
    typealias H = HostileGraph

    func run(_ node: Node, _ initializers: [String: Tensor]) throws -> Tensor {
        let g = H.graph([node], inputs: [("x", .f32, [1, 1, 4, 4])], outputs: ["y"], initializers: initializers, opset: 19)
        let session = try Session(graph: g, options: SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn()))
        let out = try session.run(["x": try Tensor((1...16).map(Float.init), shape: TensorShape([1, 1, 4, 4]))])
        return try #require(out["y"])
    }

    static let resizeCases: [([String: AttributeValue], Float, [Int], [Float])] = [
        (["mode": .string("linear")], 0.6, [1, 1, 2, 2], [2.6666665077209473, 4.3333330154418945, 9.333333015441895, 11.0]),
        (["mode": .string("cubic")], 0.6, [1, 1, 2, 2], [2.296302318572998, 4.037041664123535, 9.25926399230957, 11.0]),
        (["mode": .string("nearest"), "coordinate_transformation_mode": .string("asymmetric")], 0.6, [1, 1, 2, 2], [1.0, 3.0, 9.0, 11.0]),
        (["mode": .string("linear"), "antialias": .int(1)], 0.6, [1, 1, 2, 2], [2.875, 4.5, 9.375, 11.000000953674316]),
        (["mode": .string("linear")], 1.5, [1, 1, 6, 6], [1.0, 1.5, 2.1666665077209473, 2.8333332538604736, 3.5, 4.0, 3.0, 3.5, 4.166666507720947, 4.833333492279053, 5.5, 6.0, 5.666666507720947, 6.166666507720947, 6.8333330154418945, 7.499999523162842, 8.166666030883789, 8.666666984558105, 8.333333015441895, 8.833332061767578, 9.5, 10.166666030883789, 10.833333015441895, 11.333333015441895, 11.0, 11.5, 12.166666984558105, 12.833333969116211, 13.5, 14.0, 13.0, 13.5, 14.166666030883789, 14.833333969116211, 15.5, 16.0]),
        (["mode": .string("cubic"), "coordinate_transformation_mode": .string("align_corners")], 1.5, [1, 1, 6, 6], [1.0, 1.5039997100830078, 2.2480015754699707, 2.752000331878662, 3.495999813079834, 4.0, 3.0159995555877686, 3.519998550415039, 4.264001369476318, 4.76800012588501, 5.511997222900391, 6.015998840332031, 5.992004871368408, 6.496003150939941, 7.24000883102417, 7.744007587432861, 8.488004684448242, 8.992006301879883, 8.008001327514648, 8.511999130249023, 9.256006240844727, 9.760004997253418, 10.504000663757324, 11.008001327514648, 10.983999252319336, 11.487995147705078, 12.23200511932373, 12.736003875732422, 13.479996681213379, 13.983999252319336, 13.0, 13.503994941711426, 14.248006820678711, 14.752006530761719, 15.495996475219727, 16.0]),
        (["mode": .string("nearest")], 1.5, [1, 1, 6, 6], [1.0, 1.0, 2.0, 3.0, 3.0, 4.0, 1.0, 1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 5.0, 6.0, 7.0, 7.0, 8.0, 9.0, 9.0, 10.0, 11.0, 11.0, 12.0, 9.0, 9.0, 10.0, 11.0, 11.0, 12.0, 13.0, 13.0, 14.0, 15.0, 15.0, 16.0]),
    ]

    @Test(arguments: resizeCases.indices)
    func resizeMatchesONNXRuntime(_ i: Int) throws {
        let (attributes, scale, shape, expected) = Self.resizeCases[i]
        let y = try run(Node(name: "resize", opType: "Resize", inputs: ["x", "", "scales"], outputs: ["y"], attributes: attributes),
                        ["scales": try Tensor([1, 1, scale, scale] as [Float], shape: TensorShape([4]))])
        #expect(y.shape.dims == shape)
        let got = try y.scalars(as: Float.self)
        #expect(got.count == expected.count && zip(got, expected).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) }, "\(attributes): \(got)")
    }

    static let padCases: [(String, [Float])] = [
        ("constant", [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 5.0, 6.0, 7.0, 8.0, 0.0, 0.0, 0.0, 9.0, 10.0, 11.0, 12.0, 0.0, 0.0, 0.0, 13.0, 14.0, 15.0, 16.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        ("reflect", [7.0, 6.0, 5.0, 6.0, 7.0, 8.0, 7.0, 3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 7.0, 6.0, 5.0, 6.0, 7.0, 8.0, 7.0, 11.0, 10.0, 9.0, 10.0, 11.0, 12.0, 11.0, 15.0, 14.0, 13.0, 14.0, 15.0, 16.0, 15.0, 11.0, 10.0, 9.0, 10.0, 11.0, 12.0, 11.0, 7.0, 6.0, 5.0, 6.0, 7.0, 8.0, 7.0]),
        ("edge", [1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 4.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 4.0, 5.0, 5.0, 5.0, 6.0, 7.0, 8.0, 8.0, 9.0, 9.0, 9.0, 10.0, 11.0, 12.0, 12.0, 13.0, 13.0, 13.0, 14.0, 15.0, 16.0, 16.0, 13.0, 13.0, 13.0, 14.0, 15.0, 16.0, 16.0, 13.0, 13.0, 13.0, 14.0, 15.0, 16.0, 16.0]),
        ("wrap", [15.0, 16.0, 13.0, 14.0, 15.0, 16.0, 13.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 1.0, 7.0, 8.0, 5.0, 6.0, 7.0, 8.0, 5.0, 11.0, 12.0, 9.0, 10.0, 11.0, 12.0, 9.0, 15.0, 16.0, 13.0, 14.0, 15.0, 16.0, 13.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 1.0, 7.0, 8.0, 5.0, 6.0, 7.0, 8.0, 5.0]),
    ]

    @Test(arguments: padCases.indices)
    func padMatchesONNXRuntime(_ i: Int) throws {
        let (mode, expected) = Self.padCases[i]
        // pads: 1 row before and 2 after, 2 columns before and 1 after.
        let y = try run(Node(name: "pad", opType: "Pad", inputs: ["x", "pads"], outputs: ["y"], attributes: ["mode": .string(mode)]),
                        ["pads": try Tensor([0, 0, 1, 2, 0, 0, 2, 1] as [Int64], shape: TensorShape([8]))])
        #expect(y.shape.dims == [1, 1, 7, 7])
        #expect(try y.scalars(as: Float.self) == expected, "\(mode)")
    }
}
