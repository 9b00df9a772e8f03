import COctetFP16Kernels
import OctetCPU
import OctetDispatch

/// Which FP16 micro-kernel may run.
enum FP16ISA {
    /// The kernel a plan for `cpu` names (what would run there).
    static func planned(for cpu: CPUFeatures) -> octet_fp16_isa {
        cpu.hasAll([.avx2, .fma, .f16c]) ? OCTET_FP16_AVX2 : OCTET_FP16_SCALAR
    }

    /// The kernel to execute for a plan made for `context.cpu`: never more than the host has.
    static func executable(in context: PrepareContext) -> octet_fp16_isa {
        context.mayUse([.avx2, .fma, .f16c]) ? OCTET_FP16_AVX2 : OCTET_FP16_SCALAR
    }

    static func name(_ isa: octet_fp16_isa) -> String {
        isa == OCTET_FP16_AVX2 ? "avx2+fma+f16c 6x16" : "scalar 6x16"
    }
}

/// The FP16 kernel this machine runs (for benchmarks in this package).
package func FP16ISA_host() -> octet_fp16_isa { FP16ISA.planned(for: .host) }
