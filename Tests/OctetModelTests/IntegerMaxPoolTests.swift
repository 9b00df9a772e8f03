import COctetGraphKernels
import Foundation
import Octet
import Testing

/// The 8-bit max-pooling kernel (NCHW and NHWC, u8 and s8) against a direct computation
/// of the definition, over random geometries: kernel, stride, padding, dilation.
@Suite struct IntegerMaxPoolTests {
    struct Geometry: CustomStringConvertible {
        var n: Int, c: Int, h: Int, w: Int, kh: Int, kw: Int, sh: Int, sw: Int, pt: Int, pl: Int, pb: Int, pr: Int, dh: Int, dw: Int
        var oh: Int { (h + pt + pb - dh * (kh - 1) - 1) / sh + 1 }
        var ow: Int { (w + pl + pr - dw * (kw - 1) - 1) / sw + 1 }
        var description: String { "n\(n) c\(c) \(h)x\(w) k\(kh)x\(kw) s\(sh)x\(sw) p\(pt),\(pl),\(pb),\(pr) d\(dh)x\(dw)" }
    }

    static func geometries() -> [Geometry] {
        var g = SeededGenerator(seed: 42)
        var out: [Geometry] = [
            Geometry(n: 1, c: 64, h: 112, w: 112, kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1, pb: 1, pr: 1, dh: 1, dw: 1),
            // Rows wider than the plane variant's stack row; windows of more taps than the channels-last tap list.
            Geometry(n: 1, c: 2, h: 3, w: 4101, kh: 2, kw: 3, sh: 1, sw: 2, pt: 1, pl: 1, pb: 0, pr: 2, dh: 1, dw: 1),
            Geometry(n: 1, c: 37, h: 12, w: 11, kh: 9, kw: 8, sh: 2, sw: 1, pt: 4, pl: 3, pb: 4, pr: 3, dh: 1, dw: 1),
        ]
        while out.count < 60 {
            let kh = Int.random(in: 1...4, using: &g), kw = Int.random(in: 1...4, using: &g)
            // Channel counts below, at and past the 32- and 64-channel vectors of the NHWC kernel.
            let geo = Geometry(n: Int.random(in: 1...2, using: &g), c: Int.random(in: 1...(out.count.isMultiple(of: 3) ? 100 : 19), using: &g),
                               h: Int.random(in: 1...13, using: &g), w: Int.random(in: 1...13, using: &g), kh: kh, kw: kw,
                               sh: Int.random(in: 1...3, using: &g), sw: Int.random(in: 1...3, using: &g),
                               pt: Int.random(in: 0..<kh, using: &g), pl: Int.random(in: 0..<kw, using: &g),
                               pb: Int.random(in: 0..<kh, using: &g), pr: Int.random(in: 0..<kw, using: &g),
                               dh: Int.random(in: 1...2, using: &g), dw: Int.random(in: 1...2, using: &g))
            if geo.oh >= 1 && geo.ow >= 1 { out.append(geo) }
        }
        return out
    }

    /// The definition, on NCHW values widened to Int.
    static func direct(_ x: [Int], _ g: Geometry, lowest: Int) -> [Int] {
        var out = [Int](repeating: lowest, count: g.n * g.c * g.oh * g.ow)
        for p in 0..<(g.n * g.c) {
            for oy in 0..<g.oh {
                for ox in 0..<g.ow {
                    var m = lowest
                    for ky in 0..<g.kh {
                        for kx in 0..<g.kw {
                            let y = oy * g.sh - g.pt + ky * g.dh, xx = ox * g.sw - g.pl + kx * g.dw
                            if y >= 0 && y < g.h && xx >= 0 && xx < g.w { m = max(m, x[(p * g.h + y) * g.w + xx]) }
                        }
                    }
                    out[(p * g.oh + oy) * g.ow + ox] = m
                }
            }
        }
        return out
    }

    /// NCHW ↔ NHWC index maps.
    static func toNHWC(_ v: [UInt8], n: Int, c: Int, h: Int, w: Int) -> [UInt8] {
        var out = v
        for b in 0..<n { for k in 0..<c { for i in 0..<(h * w) { out[(b * h * w + i) * c + k] = v[(b * c + k) * h * w + i] } } }
        return out
    }

    @Test(arguments: [false, true])
    func matchesTheDefinition(signed: Bool) {
        var gen = SeededGenerator(seed: signed ? 7 : 8)
        for geo in Self.geometries() {
            let count = geo.n * geo.c * geo.h * geo.w
            let raw = (0..<count).map { _ in UInt8.random(in: 0...255, using: &gen) }
            let values = raw.map { signed ? Int(Int8(bitPattern: $0)) : Int($0) }
            let want = Self.direct(values, geo, lowest: signed ? -128 : 0)
            for channelsLast in [false, true] {
                let src = channelsLast ? Self.toNHWC(raw, n: geo.n, c: geo.c, h: geo.h, w: geo.w) : raw
                var dst = [UInt8](repeating: 0xA5, count: geo.n * geo.c * geo.oh * geo.ow)
                // In two calls split at a random output row, as threads split them.
                let rows = geo.n * (channelsLast ? 1 : geo.c) * geo.oh, split = Int.random(in: 0...rows, using: &gen)
                for (lo, hi) in [(0, split), (split, rows)] {
                    octet_i8_max_pool2d(signed ? 1 : 0, channelsLast ? 1 : 0, src, &dst, geo.n, geo.c, Int32(geo.h), Int32(geo.w),
                                        Int32(geo.oh), Int32(geo.ow), Int32(geo.kh), Int32(geo.kw), Int32(geo.sh), Int32(geo.sw),
                                        Int32(geo.pt), Int32(geo.pl), Int32(geo.dh), Int32(geo.dw), lo, hi)
                }
                let nchw: [UInt8] = channelsLast ? Self.fromNHWC(dst, n: geo.n, c: geo.c, h: geo.oh, w: geo.ow) : dst
                let result = nchw.map { signed ? Int(Int8(bitPattern: $0)) : Int($0) }
                #expect(result == want, "\(geo) \(channelsLast ? "NHWC" : "NCHW") \(signed ? "s8" : "u8")")
            }
        }
    }

    static func fromNHWC(_ v: [UInt8], n: Int, c: Int, h: Int, w: Int) -> [UInt8] {
        var out = v
        for b in 0..<n { for k in 0..<c { for i in 0..<(h * w) { out[(b * c + k) * h * w + i] = v[(b * h * w + i) * c + k] } } }
        return out
    }
}
