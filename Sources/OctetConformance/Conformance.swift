import OctetCore
import OctetCPU
import OctetDispatch
import OctetQNNPack

/// The first difference between a backend and the reference on one case.
public struct ConformanceFailure: Sendable, CustomStringConvertible {
    public var backend: String
    /// `nil` when the case could not even be generated.
    public var signature: OpSignature?
    public var seed: UInt64
    /// Flat index and per-dimension index of the first element beyond the tolerance.
    public var position: Int
    public var coordinates: [Int]
    public var expected: String
    public var got: String
    public var detail: String

    public var description: String {
        "\(backend) differs from qnnpack-ref on [\(signature.map(\.description) ?? "no signature")] (seed \(seed)): " +
            (detail.isEmpty ? "element \(position) \(coordinates): expected \(expected), got \(got)" : detail)
    }
}

/// What a conformance run covered and found.
public struct ConformanceReport: Sendable {
    public var tested: [OpKind: Int] = [:]
    public var declined: [OpKind: Int] = [:]
    public var failures: [ConformanceFailure] = []
}

/// Runs random cases of every op kind through a backend and through `qnnpack-ref`, and
/// compares: quantized outputs may differ by at most `tolerance` steps, f32 outputs by
/// `tolerance` steps of `s_in · s_w` plus 1e-5 relative. Kinds the backend declines
/// are counted, not failed. With `channelsLast`, convolutions run through the backend in
/// NHWC (inputs reordered before, outputs after) and through the reference in NCHW.
public enum Conformance {
    public static func check(
        _ backend: any Backend, reference: any Backend = QNNPackReferenceBackend(), cpu: CPUFeatures,
        kinds: [OpKind] = OpKind.allCases, casesPerKind: Int = 25, seed: UInt64 = 1, tolerance: Int = 1,
        sevenBitActivations: Bool = false, channelsLast: Bool = false, threads: Int = 1
    ) -> ConformanceReport {
        var report = ConformanceReport()
        for kind in kinds {
            for i in 0..<casesPerKind {
                let caseSeed = seed &* 1_000_003 &+ UInt64(i)
                var c: ConformanceCase
                do { c = try ConformanceCases.random(kind, seed: caseSeed, sevenBitActivations: sevenBitActivations) } catch {
                    report.failures.append(failure(backend, nil, caseSeed, "could not generate a \(kind) case: \(error)"))
                    continue
                }
                if channelsLast {
                    guard kind == .conv2d else { continue }
                    c.signature.activationLayout = .nhwc
                }
                guard backend.capability(for: c.signature, on: cpu).isSupported else {
                    report.declined[kind, default: 0] += 1
                    continue
                }
                report.tested[kind, default: 0] += 1
                if let f = compare(backend, reference, c, cpu: cpu, tolerance: tolerance, threads: threads) { report.failures.append(f) }
            }
        }
        return report
    }

    /// Runs `cases` random dynamic linears (`ConformanceCases.dynamicLinear`, activations per
    /// tensor or per row) through a backend and through the reference; reported under `.linear`.
    public static func checkDynamic(
        _ backend: any Backend, reference: any Backend = QNNPackReferenceBackend(), cpu: CPUFeatures, perRowActivations: Bool,
        cases: Int = 40, seed: UInt64 = 1, tolerance: Int = 0, threads: Int = 1, sevenBit: Bool = false, shape: (m: Int, k: Int, n: Int)? = nil,
        unsignedWeights: Bool = false
    ) -> ConformanceReport {
        var report = ConformanceReport()
        for i in 0..<cases {
            let caseSeed = seed &* 1_000_003 &+ UInt64(i)
            let c: ConformanceCase
            do { c = try ConformanceCases.dynamicLinear(seed: caseSeed, perRowActivations: perRowActivations, sevenBit: sevenBit, shape: shape, unsignedWeights: unsignedWeights) } catch {
                report.failures.append(failure(backend, nil, caseSeed, "could not generate a dynamic linear case: \(error)"))
                continue
            }
            guard backend.capability(for: c.signature, on: cpu).isSupported else {
                report.declined[.linear, default: 0] += 1
                continue
            }
            report.tested[.linear, default: 0] += 1
            if let f = compare(backend, reference, c, cpu: cpu, tolerance: tolerance, threads: threads) { report.failures.append(f) }
        }
        return report
    }

    static func failure(_ b: any Backend, _ s: OpSignature?, _ seed: UInt64, _ detail: String) -> ConformanceFailure {
        ConformanceFailure(backend: b.name, signature: s, seed: seed, position: -1, coordinates: [], expected: "", got: "", detail: detail)
    }

    /// Runs one case through both backends; the first difference beyond tolerance, if any.
    /// An NHWC signature runs the backend channels-last and the reference in NCHW.
    public static func compare(_ backend: any Backend, _ reference: any Backend, _ c: ConformanceCase, cpu: CPUFeatures, tolerance: Int,
                               threads: Int = 1) -> ConformanceFailure? {
        let s = c.signature
        func fail(_ detail: String) -> ConformanceFailure { failure(backend, s, c.seed, detail) }
        guard let shape = s.outputShape else { return fail("no output shape") }
        let context = PrepareContext(cpu: cpu, threads: threads)
        let channelsLast = s.activationLayout == .nhwc
        var rowMajor = s
        rowMajor.activationLayout = .rowMajor
        var want: Tensor, got: Tensor
        do {
            want = try Tensor(zeros: s.outputType, shape: shape)
            try reference.prepare(rowMajor, constants: c.constants, context: PrepareContext(cpu: cpu)).run(inputs: c.inputs, output: &want)
        } catch {
            return fail("the reference could not run the case: \(error)")
        }
        do {
            var inputs = c.inputs
            if channelsLast { inputs[0] = try LayoutReorder.reorder(inputs[0], to: .nhwc) }
            got = try Tensor(zeros: s.outputType, shape: shape, layout: channelsLast ? .nhwc : .rowMajor)
            try backend.prepare(s, constants: c.constants, context: context).run(inputs: inputs, output: &got)
            if channelsLast { got = try LayoutReorder.reorder(got, to: .rowMajor) }
        } catch {
            return fail("said it supports the op, then failed: \(error)")
        }
        do {
            if s.outputType == .f32 {
                let w = try want.scalars(as: Float.self), g = try got.scalars(as: Float.self)
                let step = (c.constants.inputQuantization?.scale() ?? 1) * (c.constants.weight?.quantization?.scales.max() ?? c.constants.otherInputQuantizations.first?.scale() ?? 1)
                for i in w.indices where !(abs(w[i] - g[i]) <= Float(tolerance) * step + 1e-5 * abs(w[i])) {
                    return mismatch(backend, c, shape, i, "\(w[i])", "\(g[i])")
                }
            } else {
                let w = try intValues(want), g = try intValues(got)
                for i in w.indices where abs(w[i] - g[i]) > Int32(tolerance) {
                    return mismatch(backend, c, shape, i, "\(w[i])", "\(g[i])")
                }
            }
        } catch {
            return fail("outputs could not be read: \(error)")
        }
        return nil
    }

    static func mismatch(_ b: any Backend, _ c: ConformanceCase, _ shape: TensorShape, _ i: Int, _ want: String, _ got: String) -> ConformanceFailure {
        var coords: [Int] = [], rest = i
        for d in shape.dims.reversed() {
            coords.insert(rest % max(d, 1), at: 0)
            rest /= max(d, 1)
        }
        return ConformanceFailure(backend: b.name, signature: c.signature, seed: c.seed, position: i, coordinates: coords, expected: want, got: got, detail: "")
    }

    static func intValues(_ t: Tensor) throws -> [Int32] {
        switch t.dtype {
        case .u8: try t.scalars(as: UInt8.self).map(Int32.init)
        case .s8: try t.scalars(as: Int8.self).map(Int32.init)
        default: try t.scalars(as: Int32.self)
        }
    }
}
