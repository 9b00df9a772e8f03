#pragma once
/// Low-level CPU probing for Octet: raw CPUID, XGETBV, Linux AMX permission and a
/// flattened view of libcpuid's answer. Every function is safe to call on any
/// architecture; on non-x86 targets the x86 probes report "absent".
#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct octet_cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
} octet_cpuid_regs;

/// 1 when this is an x86 CPU and the CPUID instruction may be used, else 0.
int octet_cpuid_available(void);

/// Highest basic CPUID leaf (leaf 0, EAX); 0 when CPUID is unavailable.
uint32_t octet_cpuid_max_leaf(void);

/// CPUID(leaf, subleaf). All zero when the leaf exceeds the maximum or CPUID is absent.
octet_cpuid_regs octet_cpuid(uint32_t leaf, uint32_t subleaf);

/// CPUID(leaf, 0) for an extended leaf (0x8000_0000 and above). All zero when the leaf
/// exceeds the maximum extended leaf or CPUID is absent.
octet_cpuid_regs octet_cpuid_extended(uint32_t leaf);

/// XCR0 as read by XGETBV(0); 0 when the OS has not enabled XSAVE (CPUID.1:ECX.OSXSAVE).
uint64_t octet_xgetbv0(void);

/// AMX tile-data permission on Linux (arch_prctl ARCH_GET/REQ_XCOMP_PERM).
/// Returns 1 when the process may use AMX tile data (already permitted, or granted
/// now when `request` is non-zero), 0 when the kernel refuses, -1 when the question
/// does not apply (not Linux, not x86-64, or a kernel without the interface).
int octet_amx_permission(int request);

/// 1 when an AArch64 CPU reports Advanced SIMD (NEON) through the auxiliary vector.
int octet_arm_has_neon(void);

/// What libcpuid reports, flattened so that callers need no fixed-size arrays.
typedef struct octet_libcpuid_info {
    char vendor[32];
    char brand[64];
    int32_t cores;            ///< physical cores (per socket), -1 if unknown
    int32_t logical_cpus;     ///< logical CPUs, -1 if unknown
    int32_t l1d_kb, l2_kb, l3_kb; ///< cache sizes in KiB, -1 if unknown
    uint8_t sse4_2, avx, avx2, fma3, f16c;
    uint8_t avx512f, avx512bw, avx512vl, avx512dq, avx512vnni;
} octet_libcpuid_info;

/// Fills `out` through libcpuid. Returns 0 on success; otherwise writes libcpuid's
/// error message into `error` (at most `error_len` bytes, NUL-terminated) and returns
/// the non-zero libcpuid error code (or -1 when libcpuid is not usable here).
int octet_libcpuid_identify(octet_libcpuid_info *out, char *error, size_t error_len);

/// libcpuid's version string.
const char *octet_libcpuid_version(void);

#ifdef __cplusplus
}
#endif
