import OctetCore
import OctetDispatch

/// 2-D convolution (NCHW, any groups, strides, pads, dilations) through the fp16 GEMM:
/// per image and group, im2col into `[OH·OW, C/g·KH·KW]`, multiply by the packed
/// `[C/g·KH·KW, OC/g]` weights, scatter the result into NCHW.
struct ConvFP16Kernel: Kernel {
    let geometry: ConvolutionGeometry
    let input: TensorShape
    let outChannels: Int, kh: Int, kw: Int, oh: Int, ow: Int
    let panels: [PackedPanels<UInt16>]   // one per group
    /// The bias sliced per group once, at prepare.
    let groupBiases: [[Float]]?
    let clamp: (lo: Float, hi: Float)
    /// im2col columns and GEMM product, reused across calls.
    let scratch: BufferPool<Scratch>

    final class Scratch: Sendable {
        let columns: AlignedBuffer<Float>, product: AlignedBuffer<Float>
        init(columns: Int, product: Int) {
            self.columns = AlignedBuffer(count: columns)
            self.product = AlignedBuffer(count: product)
        }
    }
    let gemm: PanelGEMM
    let warnings: [String]
    var implementation: String { "im2col + " + FP16ISA.name(gemm.isa) }

    init(signature s: OpSignature, weight: Tensor, bias: [Float]?, clamp: (lo: Float, hi: Float), gemm: PanelGEMM, tensorName: String) throws {
        guard let g = s.convolution, let (oh, ow) = s.outputSpatial else { throw FP16BackendError.unsupported("invalid convolution geometry") }
        geometry = g
        input = s.input
        outChannels = s.weight[0]
        kh = s.weight[2]
        kw = s.weight[3]
        self.oh = oh
        self.ow = ow
        if let bias, bias.count != outChannels { throw FP16BackendError.biasCount(expected: outChannels, got: bias.count) }
        let ocg = outChannels / g.groups
        let kg = s.weight[1] * kh * kw
        // Weight [OC, C/g, KH, KW]: group g is the OC/g x kg matrix starting at g*ocg*kg,
        // whose element (k, j) — input (c, y, x) k of output channel j — sits at j*kg + k.
        (panels, warnings) = try packMatrices(weight, count: g.groups, k: kg, n: ocg, nStride: kg, kStride: 1, tensorName: tensorName)
        groupBiases = bias.map { b in (0..<g.groups).map { Array(b[($0 * ocg)..<(($0 + 1) * ocg)]) } }
        self.clamp = clamp
        let pixels = oh * ow
        scratch = BufferPool { Scratch(columns: pixels * kg, product: pixels * ocg) }
        self.gemm = gemm
    }

    func run(inputs: [Tensor], output: inout Tensor) throws {
        guard let x = inputs.first, x.dtype == .f32, x.shape == input else {
            throw FP16BackendError.inputShape(expected: "\(input) f32", got: describeInput(inputs))
        }
        let (batch, channels, h, w) = (input[0], input[1], input[2], input[3])
        try checkOutput(output, [batch, outChannels, oh, ow])
        let groups = geometry.groups
        let cg = channels / groups, ocg = outChannels / groups
        let kg = cg * kh * kw, pixels = oh * ow
        let g = geometry
        try scratch.with { buffers in
            let (columns, product) = (buffers.columns, buffers.product)
            try x.withUnsafeBufferPointer(as: Float.self) { src in
                try output.withUnsafeMutableBufferPointer(as: Float.self) { dst in
                    for n in 0..<batch {
                        for group in 0..<groups {
                            // im2col: row = output pixel, column = (c, ky, kx) of the group.
                            let col = columns.pointer
                            for oy in 0..<oh {
                                for ox in 0..<ow {
                                    var j = (oy * ow + ox) * kg
                                    for c in 0..<cg {
                                        let plane = ((n * channels) + group * cg + c) * h * w
                                        for ky in 0..<kh {
                                            let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                                            for kx in 0..<kw {
                                                let ix = ox * g.strideW - g.padLeft + kx * g.dilationW
                                                col[j] = iy >= 0 && iy < h && ix >= 0 && ix < w ? src[plane + iy * w + ix] : 0
                                                j += 1
                                            }
                                        }
                                    }
                                }
                            }
                            withOptionalPointer(groupBiases?[group]) { bp in
                                gemm.run(m: pixels, a: columns.pointer, lda: kg, b: panels[group], c: product.pointer, ldc: ocg,
                                         bias: bp, lo: clamp.lo, hi: clamp.hi)
                            }
                            for j in 0..<ocg {
                                let plane = (n * outChannels + group * ocg + j) * pixels
                                for p in 0..<pixels { dst[plane + p] = product.pointer[p * ocg + j] }
                            }
                        }
                    }
                }
            }
        }
    }
}
