import Testing
@testable import OctetCore

@Suite struct TensorTests {
    @Test func shapesParseAndRefuseNonsense() throws {
        #expect(try TensorShape(parsing: "1x64x56x56").dims == [1, 64, 56, 56])
        #expect(try TensorShape(parsing: "3,4").elementCount == 12)
        #expect(throws: ShapeError.self) { try TensorShape(parsing: "1x-2") }
        #expect(throws: ShapeError.self) { try TensorShape(parsing: "axb") }
        #expect(throws: ShapeError.self) { try TensorShape(parsing: "1xx2") }
        #expect(throws: ShapeError.tooLarge([1 << 40, 1 << 40])) { try TensorShape([1 << 40, 1 << 40]) }
    }

    /// An empty shape still has outer and inner counts around each axis: the product of
    /// its non-zero dimensions must fit, or `dims[..<a].reduce(1, *)` traps (fuzz-onnx).
    @Test func emptyShapesKeepEveryPartialProductInRange() throws {
        #expect(throws: ShapeError.tooLarge([0, 1 << 40, 1 << 40])) { try TensorShape([0, 1 << 40, 1 << 40]) }
        #expect(throws: ShapeError.tooLarge([1 << 40, 0, 1 << 40])) { try TensorShape([1 << 40, 0, 1 << 40]) }
        let empty = try TensorShape([Int.max, 0])
        #expect(empty.elementCount == 0)
        #expect(try TensorShape([0, 1 << 30, 1 << 30]).elementCount == 0)
    }

    @Test func refusesHugeAllocations() throws {
        let shape = try TensorShape([1 << 20, 1 << 20])
        #expect(throws: TensorError.self) { try Tensor(zeros: .f32, shape: shape) }
    }

    @Test func valuesAndCopyOnWrite() throws {
        let a = try Tensor([1, 2, 3, 4] as [Float], shape: TensorShape([2, 2]))
        var b = a
        try b.withUnsafeMutableBufferPointer(as: Float.self) { $0[0] = 9 }
        #expect(try a.scalars(as: Float.self) == [1, 2, 3, 4])
        #expect(try b.scalars(as: Float.self) == [9, 2, 3, 4])
        #expect(throws: TensorError.self) { try a.scalars(as: UInt8.self) }
        #expect(throws: TensorError.self) { try Tensor([1, 2, 3] as [Float], shape: TensorShape([2, 2])) }
        #expect(throws: TensorError.self) { try Tensor(zeros: .u8, shape: TensorShape([2, 2]), layout: .nchw) }
    }

    @Test func perChannelQuantizationUsesEachChannelsScale() throws {
        // Rows are channels (axis 0): row 0 scale 0.5, row 1 scale 2; zero points 0.
        let x = try Tensor([1, -1, 3, 4, -4, 6] as [Float], shape: TensorShape([2, 3]))
        let p = try QuantParams(scales: [0.5, 2], zeroPoints: [0, 0], granularity: .perChannel(axis: 0), dtype: .s8)
        let q = try AffineQuantization.quantize(x, with: p)
        #expect(try q.scalars(as: Int8.self) == [2, -2, 6, 2, -2, 3])
        let back = try AffineQuantization.dequantize(q)
        #expect(try back.scalars(as: Float.self) == [1, -1, 3, 4, -4, 6])
    }

    @Test func perTensorRoundTripIsWithinHalfAStep() throws {
        let values: [Float] = (0..<200).map { Float($0) * 0.037 - 3.1 }
        let p = try QParamsSelection.choose(min: values.min()!, max: values.max()!, dtype: .u8)
        let q = try AffineQuantization.quantize(try Tensor(values, shape: TensorShape([200])), with: p)
        let back = try AffineQuantization.dequantize(q).scalars(as: Float.self)
        for (x, y) in zip(values, back) {
            #expect(abs(x - y) <= p.scale() / 2 * 1.0001, "x = \(x)")
        }
    }

    @Test func convolutionGeometryAndGemmView() throws {
        let s = OpSignature.convolution(input: try TensorShape([1, 64, 56, 56]), weight: try TensorShape([64, 64, 3, 3]),
                                        geometry: ConvolutionGeometry(pads: (1, 1, 1, 1)))
        try s.validate()
        #expect(s.gemm == GemmShape(batch: 1, m: 56 * 56, n: 64, k: 64 * 9))
        let dw = OpSignature.convolution(input: try TensorShape([1, 32, 112, 112]), weight: try TensorShape([32, 1, 3, 3]),
                                         geometry: ConvolutionGeometry(stride: (2, 2), pads: (1, 1, 1, 1), groups: 32))
        try dw.validate()
        #expect(dw.isDepthwise)
        #expect(dw.outputSpatial! == (56, 56))
        let bad = OpSignature.convolution(input: try TensorShape([1, 64, 5, 5]), weight: try TensorShape([64, 64, 7, 7]))
        #expect(throws: SignatureError.self) { try bad.validate() }
        let mismatch = try OpSignature.linear(m: 4, k: 8, n: 3)
        try mismatch.validate()
        var broken = mismatch
        broken.weight = try TensorShape([3, 9])
        #expect(throws: SignatureError.self) { try broken.validate() }
    }
}
