import Testing
import OctetCore
import OctetCPU
import OctetDispatch
import OctetConformance
@testable import OctetQNNPack

/// Random convolutions against direct loops written here: a plain NCHW gather for conv2d
/// (no indirection buffer) and a scatter for conv_transpose2d (the kernel gathers).
@Suite struct ReferenceDirectFormulaTests {
    func ints(_ t: Tensor) throws -> [Int32] {
        t.dtype == .u8 ? try t.scalars(as: UInt8.self).map(Int32.init) : try t.scalars(as: Int8.self).map(Int32.init)
    }

    /// FBGEMM's requantization, written out again: (acc [+ s32 bias]) as Float, + f32 bias / (s_in·s_w), · multiplier, round half even.
    func requantize(_ acc: Int64, channel o: Int, _ c: OpConstants, _ s: OpSignature) throws -> Int32 {
        let inQ = try #require(c.inputQuantization), wQ = try #require(c.weight?.quantization), outQ = try #require(c.outputQuantization)
        let inW = inQ.scale() * wQ.scale(channel: wQ.scales.count == 1 ? 0 : o)
        var raw = Int32(truncatingIfNeeded: acc)
        var rawF: Float
        switch c.bias?.dtype {
        case .s32?: raw = raw &+ (try c.bias!.scalars(as: Int32.self)[o]); rawF = Float(raw)
        case .f32?: rawF = Float(raw) + (try c.bias!.scalars(as: Float.self)[o]) / inW
        default: rawF = Float(raw)
        }
        var lo = Int64(outQ.qmin), hi = Int64(outQ.qmax)
        for p in s.postOps {
            switch p {
            case .relu: lo = max(lo, Int64(outQ.zeroPoint()))
            case let .clip(a, b):
                lo = max(lo, Int64(AffineQuantization.quantize(a, scale: outQ.scale(), zeroPoint: outQ.zeroPoint(), qmin: outQ.qmin, qmax: outQ.qmax)))
                hi = min(hi, Int64(AffineQuantization.quantize(b, scale: outQ.scale(), zeroPoint: outQ.zeroPoint(), qmin: outQ.qmin, qmax: outQ.qmax)))
            case .sum: break // not generated here (ConvSumFusionTests covers it)
            }
        }
        let v = (rawF * (inW / outQ.scale())).rounded(.toNearestOrEven)
        return Int32(min(max(Double(v) + Double(outQ.zeroPoint()), Double(lo)), Double(max(lo, hi))))
    }

    @Test func randomConvolutionsMatchDirectLoops() throws {
        var compared = 0
        for seed in 0..<60 as Range<UInt64> {
            for kind in [OpKind.conv2d, .convTranspose2d] {
                let c = try ConformanceCases.random(kind, seed: 1000 + seed)
                let s = c.signature
                guard s.outputType == .u8 else { continue }
                let g = try #require(s.convolution)
                let out = try #require(s.outputShape)
                let x = try ints(c.inputs[0]), w = try ints(try #require(c.constants.weight))
                let wQ = try #require(c.constants.weight?.quantization)
                let zx = Int64(try #require(c.constants.inputQuantization).zeroPoint())
                let (n, ci, h, wd) = (s.input[0], s.input[1], s.input[2], s.input[3])
                let (co, oh, ow) = (out[1], out[2], out[3])
                let (kh, kw) = (s.weight[2], s.weight[3])
                var acc = [Int64](repeating: 0, count: out.elementCount)
                func wzp(_ o: Int) -> Int64 { Int64(wQ.zeroPoint(channel: wQ.zeroPoints.count == 1 ? 0 : o)) }
                if kind == .conv2d {
                    let cg = ci / g.groups, ocg = co / g.groups
                    for b in 0..<n { for o in 0..<co { for y in 0..<oh { for xx in 0..<ow {
                        var sum: Int64 = 0
                        for cc in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
                            let iy = y * g.strideH - g.padTop + ky * g.dilationH, ix = xx * g.strideW - g.padLeft + kx * g.dilationW
                            guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                            let ch = (o / ocg) * cg + cc
                            sum += (Int64(x[((b * ci + ch) * h + iy) * wd + ix]) - zx) * (Int64(w[((o * cg + cc) * kh + ky) * kw + kx]) - wzp(o))
                        } } }
                        acc[((b * co + o) * oh + y) * ow + xx] = sum
                    } } } }
                } else {
                    let icg = ci / g.groups, ocg = co / g.groups
                    for b in 0..<n { for ch in 0..<ci { for iy in 0..<h { for ix in 0..<wd {
                        let a = Int64(x[((b * ci + ch) * h + iy) * wd + ix]) - zx
                        for j in 0..<ocg { for ky in 0..<kh { for kx in 0..<kw {
                            let y = iy * g.strideH - g.padTop + ky * g.dilationH, xx = ix * g.strideW - g.padLeft + kx * g.dilationW
                            guard y >= 0, y < oh, xx >= 0, xx < ow else { continue }
                            let o = (ch / icg) * ocg + j
                            acc[((b * co + o) * oh + y) * ow + xx] += a * (Int64(w[((ch * ocg + j) * kh + ky) * kw + kx]) - wzp(o))
                        } } }
                    } } } }
                }
                let want = try acc.indices.map { try requantize(acc[$0], channel: ($0 / (oh * ow)) % co, c.constants, s) }
                var got = try Tensor(zeros: .u8, shape: out)
                try QNNPackReferenceBackend().prepare(s, constants: c.constants, context: PrepareContext(cpu: CPUFeatures.host)).run(inputs: c.inputs, output: &got)
                let g8 = try ints(got)
                if let i = want.indices.first(where: { want[$0] != g8[$0] }) {
                    Issue.record("[\(s)] seed \(1000 + seed): element \(i): direct \(want[i]), reference \(g8[i])")
                }
                compared += 1
            }
        }
        #expect(compared > 80)
    }
}
