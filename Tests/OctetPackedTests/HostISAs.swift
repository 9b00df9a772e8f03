import COctetPackedKernels
import OctetCore
import OctetCPU

/// The packed ISAs this host can run (after the process's ISA cap), and CPUs that plan for
/// them, so that every kernel family is tested wherever the machine has it.
enum HostISAs {
    /// The ISA levels, lowest first, with the features each needs.
    private static let levels: [(isa: octet_packed_isa, needs: [ISAFeature])] = [
        (OCTET_PACKED_SCALAR, []),
        (OCTET_PACKED_AVX2, [.avx2, .fma]),
        (OCTET_PACKED_AVX_VNNI, [.avx2, .fma, .avx_vnni]),
        (OCTET_PACKED_AVX512BW, [.avx2, .fma, .avx512f, .avx512bw, .avx512vl, .avx512dq]),
        (OCTET_PACKED_AVX512_VNNI, [.avx2, .fma, .avx512f, .avx512bw, .avx512vl, .avx512dq, .avx512_vnni]),
    ]

    /// Every ISA the host can run (the C kernels called directly with each).
    static var all: [octet_packed_isa] { levels.filter { CPUFeatures.host.hasAll($0.needs) }.map(\.isa) }

    /// The host; on an AVX-512 VNNI host also the host capped at AVX-512 without VNNI (the
    /// `u8s8s32-gemm-8x32-avx512bw` plans) and at AVX-VNNI when it has that too (no capped run
    /// of `scripts/test` reaches either kernel otherwise); and the host capped to portable C.
    /// AVX2 itself is left to `scripts/test`'s run under `OCTET_MAX_ISA=avx2`, which repeats
    /// these suites with the cap (the conformance checks are the slow tests of the suite).
    static var cpus: [CPUFeatures] {
        let host = CPUFeatures.host
        var list = [host]
        if all.contains(OCTET_PACKED_AVX512_VNNI) { list.append(host.capped(at: .avx512)) }
        if all.contains(OCTET_PACKED_AVX512_VNNI) && all.contains(OCTET_PACKED_AVX_VNNI) { list.append(host.capped(at: .avx2_vnni)) }
        if !all.elementsEqual([OCTET_PACKED_SCALAR]) { list.append(host.capped(at: .scalar)) }
        return list
    }
}
