import COctetFP16Kernels
import OctetCPU

/// Which FP16 micro-kernel may run.
enum FP16ISA {
    /// The best kernel this machine can execute.
    static let host: octet_fp16_isa = octet_fp16_host_has_avx2() != 0 ? OCTET_FP16_AVX2 : OCTET_FP16_SCALAR

    /// The kernel a plan for `cpu` names (what would run there).
    static func planned(for cpu: CPUFeatures) -> octet_fp16_isa {
        cpu.hasAll([.avx2, .fma, .f16c]) ? OCTET_FP16_AVX2 : OCTET_FP16_SCALAR
    }

    /// The kernel to execute here for a plan made for `cpu`: never more than the host has.
    static func executable(for cpu: CPUFeatures) -> octet_fp16_isa {
        planned(for: cpu) == OCTET_FP16_AVX2 && host == OCTET_FP16_AVX2 ? OCTET_FP16_AVX2 : OCTET_FP16_SCALAR
    }

    static func name(_ isa: octet_fp16_isa) -> String {
        isa == OCTET_FP16_AVX2 ? "avx2+fma+f16c 6x16" : "scalar 6x16"
    }
}

/// The FP16 kernel this machine runs (for benchmarks in this package).
package func FP16ISA_host() -> octet_fp16_isa { FP16ISA.host }
