#include "octet_cpu_probe.h"

#include <string.h>
#include <stdio.h>

#if defined(__x86_64__) || defined(__i386__)
#define OCTET_X86 1
#include <cpuid.h>
#include <libcpuid.h>
#else
#define OCTET_X86 0
#endif

#if defined(__linux__)
#include <unistd.h>
#include <sys/syscall.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif
#endif

int octet_cpuid_available(void) {
#if OCTET_X86
    unsigned a, b, c, d;
    return __get_cpuid(0, &a, &b, &c, &d) ? 1 : 0;
#else
    return 0;
#endif
}

uint32_t octet_cpuid_max_leaf(void) {
#if OCTET_X86
    return __get_cpuid_max(0, NULL);
#else
    return 0;
#endif
}

octet_cpuid_regs octet_cpuid(uint32_t leaf, uint32_t subleaf) {
    octet_cpuid_regs r = {0, 0, 0, 0};
#if OCTET_X86
    if (leaf <= octet_cpuid_max_leaf()) {
        unsigned a, b, c, d;
        __cpuid_count(leaf, subleaf, a, b, c, d);
        r.eax = a; r.ebx = b; r.ecx = c; r.edx = d;
    }
#else
    (void)leaf; (void)subleaf;
#endif
    return r;
}

octet_cpuid_regs octet_cpuid_extended(uint32_t leaf) {
    octet_cpuid_regs r = {0, 0, 0, 0};
#if OCTET_X86
    if (leaf >= 0x80000000u && leaf <= __get_cpuid_max(0x80000000u, NULL)) {
        unsigned a, b, c, d;
        __cpuid_count(leaf, 0, a, b, c, d);
        r.eax = a; r.ebx = b; r.ecx = c; r.edx = d;
    }
#else
    (void)leaf;
#endif
    return r;
}

uint64_t octet_xgetbv0(void) {
#if OCTET_X86
    octet_cpuid_regs l1 = octet_cpuid(1, 0);
    if (!(l1.ecx & (1u << 27))) { /* OSXSAVE */
        return 0;
    }
    uint32_t lo, hi;
    /* XGETBV with ECX = 0, written as an instruction so no ISA flag is needed. */
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
#else
    return 0;
#endif
}

int octet_amx_permission(int request) {
#if defined(__linux__) && defined(__x86_64__) && defined(SYS_arch_prctl)
    enum { ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    unsigned long bitmask = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bitmask) != 0) {
        return -1; /* kernel older than 5.16: no dynamic XSTATE interface */
    }
    if (bitmask & (1ul << XFEATURE_XTILEDATA)) {
        return 1;
    }
    if (!request) {
        return 0;
    }
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        return 0;
    }
    return 1;
#else
    (void)request;
    return -1;
#endif
}

int octet_arm_has_neon(void) {
#if defined(__aarch64__) && defined(__linux__)
    /* HWCAP_ASIMD is bit 1 on AArch64 Linux. */
    return (getauxval(AT_HWCAP) & (1ul << 1)) ? 1 : 0;
#elif defined(__aarch64__)
    return 1; /* Advanced SIMD is mandatory on AArch64. */
#else
    return 0;
#endif
}

static void copy_string(char *dst, size_t cap, const char *src) {
    if (cap == 0) return;
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int octet_libcpuid_identify(octet_libcpuid_info *out, char *error, size_t error_len) {
    memset(out, 0, sizeof *out);
    out->cores = out->logical_cpus = -1;
    out->l1d_kb = out->l2_kb = out->l3_kb = -1;
#if OCTET_X86
    if (!cpuid_present()) {
        copy_string(error, error_len, "CPUID instruction is not present");
        return -1;
    }
    struct cpu_raw_data_t raw;
    struct cpu_id_t id;
    int rc = cpuid_get_raw_data(&raw);
    if (rc == 0) rc = cpu_identify(&raw, &id);
    if (rc != 0) {
        copy_string(error, error_len, cpuid_error());
        return rc;
    }
    copy_string(out->vendor, sizeof out->vendor, id.vendor_str);
    copy_string(out->brand, sizeof out->brand, id.brand_str);
    out->cores = id.num_cores;
    out->logical_cpus = id.num_logical_cpus;
    out->l1d_kb = id.l1_data_cache;
    out->l2_kb = id.l2_cache;
    out->l3_kb = id.l3_cache;
    out->sse4_2 = id.flags[CPU_FEATURE_SSE4_2];
    out->avx = id.flags[CPU_FEATURE_AVX];
    out->avx2 = id.flags[CPU_FEATURE_AVX2];
    out->fma3 = id.flags[CPU_FEATURE_FMA3];
    out->f16c = id.flags[CPU_FEATURE_F16C];
    out->avx512f = id.flags[CPU_FEATURE_AVX512F];
    out->avx512bw = id.flags[CPU_FEATURE_AVX512BW];
    out->avx512vl = id.flags[CPU_FEATURE_AVX512VL];
    out->avx512dq = id.flags[CPU_FEATURE_AVX512DQ];
    out->avx512vnni = id.flags[CPU_FEATURE_AVX512VNNI];
    return 0;
#else
    copy_string(error, error_len, "libcpuid supports x86 only");
    return -1;
#endif
}

const char *octet_libcpuid_version(void) {
#if OCTET_X86
    return cpuid_lib_version();
#else
    return "unavailable";
#endif
}
