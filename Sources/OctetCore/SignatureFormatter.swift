/// Renders an `OpSignature` on one line for traces and logs, e.g.
/// `conv2d int8 u8·s8→u8 in 1x64x56x56 w 64x64x3x3 s1 p1 d1 g1 per-channel sym zp_in=0 [relu]`.
enum SignatureFormatter {
    static func oneLine(_ s: OpSignature) -> String {
        var parts = ["\(s.kind)", "\(s.precision)", "\(s.inputType)·\(s.weightType)→\(s.outputType)"]
        parts.append("in \(s.input)")
        parts.append("w \(s.weight)")
        if let g = s.convolution {
            parts.append("s\(pair(g.strideH, g.strideW))")
            if g.padTop == g.padBottom && g.padLeft == g.padRight {
                parts.append("p\(pair(g.padTop, g.padLeft))")
            } else {
                parts.append("p\(g.padTop),\(g.padLeft),\(g.padBottom),\(g.padRight)")
            }
            parts.append("d\(pair(g.dilationH, g.dilationW))")
            parts.append("g\(g.groups)")
            if s.kind == .convTranspose2d { parts.append("op\(pair(g.outputPaddingH, g.outputPaddingW))") }
        }
        if let gm = s.gemm { parts.append(gm.batch > 1 ? "gemm \(gm.batch)x(\(gm.m)x\(gm.n)x\(gm.k))" : "gemm \(gm.m)x\(gm.n)x\(gm.k)") }
        if let q = s.quantization {
            parts.append(q.perChannelWeights ? "per-channel" : "per-tensor")
            parts.append(q.symmetricWeights ? "sym" : "asym(zp_w=\(q.weightZeroPoint))")
            parts.append("zp_in=\(q.inputZeroPoint)")
            if q.reduceRange { parts.append("reduce_range") }
            if q.dynamic { parts.append(q.perRowActivations ? "dynamic per-token" : "dynamic") }
        }
        if s.activationLayout == .nhwc { parts.append("nhwc") }
        if !s.postOps.isEmpty { parts.append("[" + s.postOps.map(\.description).joined(separator: ",") + "]") }
        return parts.joined(separator: " ")
    }

    private static func pair(_ a: Int, _ b: Int) -> String { a == b ? "\(a)" : "\(a)x\(b)" }
}
