#pragma once
/// The one description of what this machine's CPU may run, read once.
///
/// Every kernel choice in Octet — C micro-kernels and Swift backends alike — obeys
/// `octet_host_isa()`; no other code reads CPUID or asks the compiler runtime
/// (`__builtin_cpu_supports`). The model is XNNPACK's hardware config and FBGEMM's
/// `fbgemmHas*` predicates.
///
/// Features are decoded from raw CPUID registers per the Intel SDM (vol. 2A, CPUID) and
/// the AMD APM (vol. 3, appendix E), the same bits on every vendor; gated by what the OS
/// enables in XCR0 (and, for AMX, the Linux permission); closed under prerequisites (an
/// AVX-512 extension is usable only with AVX-512F); then capped by `OCTET_MAX_ISA`
/// (or, when that is unset, oneDNN's `ONEDNN_MAX_CPU_ISA` / `DNNL_MAX_CPU_ISA`).
#include <stdint.h>
#include <stddef.h>

#include "octet_cpu_probe.h"

#ifdef __cplusplus
extern "C" {
#endif

/// One bit per feature; the same order as Swift's `ISAFeature`.
typedef enum octet_isa_feature {
    OCTET_ISA_SSE4_2 = 1u << 0,
    OCTET_ISA_AVX = 1u << 1,
    OCTET_ISA_AVX2 = 1u << 2,
    OCTET_ISA_FMA = 1u << 3,
    OCTET_ISA_F16C = 1u << 4,
    OCTET_ISA_AVX512F = 1u << 5,
    OCTET_ISA_AVX512BW = 1u << 6,
    OCTET_ISA_AVX512VL = 1u << 7,
    OCTET_ISA_AVX512DQ = 1u << 8,
    OCTET_ISA_AVX512_VNNI = 1u << 9,
    OCTET_ISA_AVX_VNNI = 1u << 10,
    OCTET_ISA_AVX512_BF16 = 1u << 11,
    OCTET_ISA_AMX_TILE = 1u << 12,
    OCTET_ISA_AMX_INT8 = 1u << 13,
    OCTET_ISA_AMX_BF16 = 1u << 14,
    OCTET_ISA_NEON = 1u << 15,
} octet_isa_feature;

/// The raw registers the decoder reads. A leaf above the reported maximum is all zero.
typedef struct octet_cpuid_dump {
    octet_cpuid_regs leaf0;        ///< EAX: max basic leaf; EBX, EDX, ECX: vendor
    octet_cpuid_regs leaf1;        ///< ECX: SSE4.2, FMA, OSXSAVE, AVX, F16C
    octet_cpuid_regs leaf7_0;      ///< EAX: max subleaf; EBX: AVX2, AVX-512 F/DQ/BW/VL; ECX: VNNI; EDX: AMX
    octet_cpuid_regs leaf7_1;      ///< EAX: AVX-VNNI, AVX-512 BF16; EDX: AVX10
    octet_cpuid_regs leafD_0;      ///< EAX, EDX: the XCR0 bits the processor can save
    octet_cpuid_regs leaf24_0;     ///< EBX: AVX10 version and vector lengths
    octet_cpuid_regs leaf80000000; ///< EAX: max extended leaf
    octet_cpuid_regs leaf80000001; ///< ECX/EDX: extended features (LAHF, LZCNT, SSE4A, ...)
    uint64_t xcr0;                 ///< XGETBV(0); 0 when OSXSAVE is clear
} octet_cpuid_dump;

/// Reads this machine's registers (all zero off x86).
octet_cpuid_dump octet_cpuid_read_dump(void);

/// Features the CPU reports, from the registers alone (no OS gating).
uint32_t octet_isa_decode(const octet_cpuid_dump *dump);

/// Of `features`, those whose register state the OS enables in `xcr0`: XCR0[2:1] for AVX
/// and its extensions, XCR0[7:5] too for AVX-512, XCR0[18:17] and `amx_permitted` for AMX.
uint32_t octet_isa_os_enabled(uint32_t features, uint64_t xcr0, int amx_permitted);

/// Drops every feature whose prerequisite is missing, transitively: AVX2/FMA/F16C need
/// AVX; AVX-VNNI needs AVX2; AVX-512 BW/VL/DQ/VNNI/BF16 need AVX-512F; AMX-INT8/BF16
/// need AMX-TILE. Returns the closed set; `dropped` (may be NULL) gets what was removed.
uint32_t octet_isa_enforce_prerequisites(uint32_t features, uint32_t *dropped);

/// Adds every prerequisite of the features in `features` (planning: `+avx512_vnni`
/// implies AVX-512F and AVX2). The inverse of `octet_isa_enforce_prerequisites`.
uint32_t octet_isa_add_prerequisites(uint32_t features);

/// Levels of the ISA cap, ordered like oneDNN's `dnnl_cpu_isa_t`.
typedef enum octet_isa_level {
    OCTET_ISA_LEVEL_SCALAR = 0,  ///< portable C only (SSE4.2 at most)
    OCTET_ISA_LEVEL_AVX2 = 1,     ///< AVX, AVX2, FMA, F16C
    OCTET_ISA_LEVEL_AVX2_VNNI = 2, ///< + AVX-VNNI
    OCTET_ISA_LEVEL_AVX512 = 3,   ///< + AVX-512 F/BW/VL/DQ (oneDNN's avx512_core)
    OCTET_ISA_LEVEL_AVX512_VNNI = 4,
    OCTET_ISA_LEVEL_AVX512_BF16 = 5,
    OCTET_ISA_LEVEL_AMX = 6,      ///< + AMX tile, int8, bf16
    OCTET_ISA_LEVEL_ALL = 7,      ///< no cap
} octet_isa_level;

/// The features a level allows.
uint32_t octet_isa_level_features(octet_isa_level level);

/// Parses a level name (case-insensitive): Octet's (`scalar`, `avx2`, `avx2_vnni`,
/// `avx512`, `avx512_vnni`, `avx512_bf16`, `amx`, `all`) or oneDNN's (`sse41`,
/// `avx512_core`, `avx512_core_vnni`, `avx512_core_bf16`, `avx512_core_amx`).
/// Returns 1 and sets `level` when known, else 0.
int octet_isa_level_parse(const char *name, octet_isa_level *level);

/// The stable name of a level (`avx2`, ...).
const char *octet_isa_level_name(octet_isa_level level);

/// Where the cap came from.
typedef enum octet_isa_cap_source {
    OCTET_ISA_CAP_NONE = 0,
    OCTET_ISA_CAP_OCTET_MAX_ISA = 1,
    OCTET_ISA_CAP_ONEDNN_MAX_CPU_ISA = 2,
    OCTET_ISA_CAP_DNNL_MAX_CPU_ISA = 3,
} octet_isa_cap_source;

/// This machine, read once (thread-safe).
typedef struct octet_host_description {
    octet_cpuid_dump dump;
    uint32_t hardware;     ///< reported by the CPU
    uint32_t os_enabled;   ///< of those, enabled by the OS
    uint32_t usable;       ///< of those, with their prerequisites
    uint32_t dropped;      ///< removed for a missing prerequisite
    uint32_t features;     ///< of those, allowed by the cap: what code may use
    octet_isa_level cap;   ///< OCTET_ISA_LEVEL_ALL when uncapped
    octet_isa_cap_source cap_source;
    int cap_invalid;       ///< 1 when the variable was set to an unknown name (then uncapped)
    char cap_value[32];    ///< the variable's text, truncated
    int amx_permission;    ///< octet_amx_permission(1): 1, 0 or -1; -1 too when AMX absent
} octet_host_description;

/// The host description. Computed on first call (requesting the Linux AMX permission
/// when the CPU and OS offer AMX), then returned unchanged for the life of the process.
const octet_host_description *octet_host_isa(void);

/// Shorthand for `octet_host_isa()->features & mask == mask`.
int octet_host_has(uint32_t mask);

#ifdef __cplusplus
}
#endif
