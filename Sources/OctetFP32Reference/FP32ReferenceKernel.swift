import OctetCore
import OctetDispatch

/// One prepared FP32 op: weights laid out as `K x N` panels per group, bias, post-ops.
struct FP32ReferenceKernel: Kernel {
    let signature: OpSignature
    /// Per group: the `K x N` weight matrix, row-major (linear, conv); empty for matmul.
    let weights: [[Float]]
    let bias: [Float]?
    let clamp: (lo: Float, hi: Float)

    var implementation: String { "swift" }

    init(_ s: OpSignature, constants: OpConstants) throws {
        signature = s
        clamp = PostOp.realRange(of: s.postOps)
        if let b = constants.bias {
            guard b.dtype == .f32 else { throw FP32ReferenceError.operand("bias must be f32, got \(b.dtype)") }
            bias = try b.scalars(as: Float.self)
        } else {
            bias = nil
        }
        guard s.kind != .matmul else {
            weights = []
            return
        }
        guard let w = constants.weight, w.dtype == .f32, w.shape == s.weight else {
            throw FP32ReferenceError.operand("weight must be f32 \(s.weight)")
        }
        let wv = try w.scalars(as: Float.self)
        switch s.kind {
        case .linear:
            // N x K -> K x N.
            let n = s.weight[0], k = s.weight[1]
            var t = [Float](repeating: 0, count: k * n)
            for j in 0..<n { for p in 0..<k { t[p * n + j] = wv[j * k + p] } }
            weights = [t]
        case .conv2d:
            // Per group: (IC/g * KH * KW) x (OC/g).
            let g = s.convolution?.groups ?? 1, oc = s.weight[0], k = s.weight[1] * s.weight[2] * s.weight[3], ocg = oc / g
            weights = (0..<g).map { gi in
                var t = [Float](repeating: 0, count: k * ocg)
                for j in 0..<ocg { for p in 0..<k { t[p * ocg + j] = wv[(gi * ocg + j) * k + p] } }
                return t
            }
        default:
            // Transposed convolution: weight IC x OC/g x KH x KW; per group (IC/g) x (OC/g * KH * KW).
            let g = s.convolution?.groups ?? 1, icg = s.weight[0] / g, cols = s.weight[1] * s.weight[2] * s.weight[3]
            weights = (0..<g).map { gi in Array(wv[(gi * icg * cols)..<((gi + 1) * icg * cols)]) }
        }
        if let bias, bias.count != (s.kind == .linear ? s.weight[0] : (s.outputChannels ?? 0)) {
            throw FP32ReferenceError.operand("bias holds \(bias.count) values, the op has \(s.kind == .linear ? s.weight[0] : (s.outputChannels ?? 0)) outputs")
        }
    }

    func run(inputs: [Tensor], output: inout Tensor) throws {
        guard let x = inputs.first, x.dtype == .f32, x.shape == signature.input else {
            throw FP32ReferenceError.operand("input must be f32 \(signature.input)")
        }
        let xv = try x.scalars(as: Float.self)
        var out: [Float]
        switch signature.kind {
        case .linear:
            let n = signature.weight[0], k = signature.weight[1], m = xv.count / max(k, 1)
            out = [Float](repeating: 0, count: m * n)
            Gemm.multiply(m, n, k, xv, 0, weights[0], 0, &out, 0)
            addBias(&out, channels: n, inner: 1)
        case .matmul:
            guard inputs.count > 1, inputs[1].dtype == .f32, inputs[1].shape == signature.weight else {
                throw FP32ReferenceError.operand("second operand must be f32 \(signature.weight)")
            }
            let bv = try inputs[1].scalars(as: Float.self)
            let m = signature.input[-2], k = signature.input[-1], n = signature.weight[-1]
            let batch = xv.count / max(m * k, 1)
            out = [Float](repeating: 0, count: batch * m * n)
            for b in 0..<batch { Gemm.multiply(m, n, k, xv, b * m * k, bv, b * k * n, &out, b * m * n) }
        case .conv2d:
            out = try convolve(xv)
        default:
            out = try transposedConvolve(xv)
        }
        out.withUnsafeMutableBufferPointer { PostOp.clamp($0, lo: clamp.lo, hi: clamp.hi) }
        guard out.count == output.shape.elementCount, output.dtype == .f32 else {
            throw FP32ReferenceError.operand("output must be f32 with \(out.count) elements, got \(output.dtype) \(output.shape)")
        }
        try output.withUnsafeMutableBufferPointer(as: Float.self) { d in for i in out.indices { d[i] = out[i] } }
    }

    private func addBias(_ out: inout [Float], channels: Int, inner: Int) {
        guard let bias else { return }
        for i in out.indices { out[i] += bias[(i / inner) % channels] }
    }

    /// im2col per image and group, then a GEMM into NCHW.
    private func convolve(_ xv: [Float]) throws -> [Float] {
        let s = signature
        guard let g = s.convolution, let (oh, ow) = s.outputSpatial else { throw FP32ReferenceError.operand("invalid geometry") }
        let (nb, c, h, w) = (s.input[0], s.input[1], s.input[2], s.input[3])
        let (oc, icg, kh, kw) = (s.weight[0], s.weight[1], s.weight[2], s.weight[3])
        let groups = g.groups, ocg = oc / groups, k = icg * kh * kw, pixels = oh * ow
        var out = [Float](repeating: 0, count: nb * oc * pixels)
        var cols = [Float](repeating: 0, count: pixels * k)
        var tile = [Float](repeating: 0, count: pixels * ocg)
        for n in 0..<nb {
            for gi in 0..<groups {
                // cols: pixels x k.
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let row = (oy * ow + ox) * k
                        var p = 0
                        for ci in 0..<icg {
                            let plane = (n * c + gi * icg + ci) * h * w
                            for ky in 0..<kh {
                                let y = oy * g.strideH - g.padTop + ky * g.dilationH
                                for kx in 0..<kw {
                                    let xx = ox * g.strideW - g.padLeft + kx * g.dilationW
                                    cols[row + p] = (y >= 0 && y < h && xx >= 0 && xx < w) ? xv[plane + y * w + xx] : 0
                                    p += 1
                                }
                            }
                        }
                    }
                }
                for i in tile.indices { tile[i] = 0 }
                Gemm.multiply(pixels, ocg, k, cols, 0, weights[gi], 0, &tile, 0)
                for j in 0..<ocg {
                    let base = (n * oc + gi * ocg + j) * pixels
                    let b = bias?[gi * ocg + j] ?? 0
                    for px in 0..<pixels { out[base + px] = tile[px * ocg + j] + b }
                }
            }
        }
        return out
    }

    /// GEMM into columns, then col2im (scatter-add) into NCHW.
    private func transposedConvolve(_ xv: [Float]) throws -> [Float] {
        let s = signature
        guard let g = s.convolution, let (oh, ow) = s.outputSpatial else { throw FP32ReferenceError.operand("invalid geometry") }
        let (nb, c, h, w) = (s.input[0], s.input[1], s.input[2], s.input[3])
        let (ocg, kh, kw) = (s.weight[1], s.weight[2], s.weight[3])
        let groups = g.groups, icg = c / groups, oc = ocg * groups, pixels = h * w, cols = ocg * kh * kw
        var out = [Float](repeating: 0, count: nb * oc * oh * ow)
        var a = [Float](repeating: 0, count: pixels * icg)
        var colBuffer = [Float](repeating: 0, count: pixels * cols)
        for n in 0..<nb {
            for gi in 0..<groups {
                for ci in 0..<icg {
                    let plane = (n * c + gi * icg + ci) * pixels
                    for px in 0..<pixels { a[px * icg + ci] = xv[plane + px] }
                }
                for i in colBuffer.indices { colBuffer[i] = 0 }
                Gemm.multiply(pixels, cols, icg, a, 0, weights[gi], 0, &colBuffer, 0)
                for iy in 0..<h {
                    for ix in 0..<w {
                        let row = (iy * w + ix) * cols
                        for o in 0..<ocg {
                            let plane = (n * oc + gi * ocg + o) * oh * ow
                            for ky in 0..<kh {
                                let y = iy * g.strideH - g.padTop + ky * g.dilationH
                                guard y >= 0, y < oh else { continue }
                                for kx in 0..<kw {
                                    let xx = ix * g.strideW - g.padLeft + kx * g.dilationW
                                    guard xx >= 0, xx < ow else { continue }
                                    out[plane + y * ow + xx] += colBuffer[row + (o * kh + ky) * kw + kx]
                                }
                            }
                        }
                    }
                }
            }
        }
        addBias(&out, channels: oc, inner: oh * ow)
        return out
    }
}

/// `C[m x n] += A[m x k] · B[k x n]`, row-major, blocked over k and n so that the inner
/// loop is a contiguous, vectorizable axpy.
enum Gemm {
    static func multiply(_ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ ao: Int, _ b: [Float], _ bo: Int, _ c: inout [Float], _ co: Int) {
        let kBlock = 256, nBlock = 512
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    guard let A = ap.baseAddress, let B = bp.baseAddress, let C = cp.baseAddress else { return }
                    var j0 = 0
                    while j0 < n {
                        let nb = min(nBlock, n - j0)
                        var p0 = 0
                        while p0 < k {
                            let kb = min(kBlock, k - p0)
                            for i in 0..<m {
                                let crow = C + co + i * n + j0
                                let arow = A + ao + i * k + p0
                                for p in 0..<kb {
                                    let x = arow[p]
                                    if x == 0 { continue }
                                    let brow = B + bo + (p0 + p) * n + j0
                                    for j in 0..<nb { crow[j] += x * brow[j] }
                                }
                            }
                            p0 += kb
                        }
                        j0 += nb
                    }
                }
            }
        }
    }
}
