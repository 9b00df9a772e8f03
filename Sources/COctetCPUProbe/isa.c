#include "octet_isa.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int bit(uint32_t reg, unsigned n) { return (reg >> n) & 1u; }

octet_cpuid_dump octet_cpuid_read_dump(void) {
    octet_cpuid_dump d;
    memset(&d, 0, sizeof d);
    if (!octet_cpuid_available()) return d;
    d.leaf0 = octet_cpuid(0, 0);
    d.leaf1 = octet_cpuid(1, 0);
    d.leaf7_0 = octet_cpuid(7, 0);
    if (d.leaf7_0.eax >= 1) d.leaf7_1 = octet_cpuid(7, 1);
    d.leafD_0 = octet_cpuid(0xD, 0);
    if (bit(d.leaf7_1.edx, 19)) d.leaf24_0 = octet_cpuid(0x24, 0); /* AVX10 enumeration */
    d.leaf80000000 = octet_cpuid_extended(0x80000000u);
    if (d.leaf80000000.eax >= 0x80000001u) d.leaf80000001 = octet_cpuid_extended(0x80000001u);
    d.xcr0 = octet_xgetbv0();
    return d;
}

uint32_t octet_isa_decode(const octet_cpuid_dump *d) {
    const uint32_t max_leaf = d->leaf0.eax;
    uint32_t f = 0;
    if (max_leaf >= 1) {
        const uint32_t c = d->leaf1.ecx; /* SDM Table 3-10: CPUID.01H:ECX */
        if (bit(c, 20)) f |= OCTET_ISA_SSE4_2;
        if (bit(c, 12)) f |= OCTET_ISA_FMA;
        if (bit(c, 28)) f |= OCTET_ISA_AVX;
        if (bit(c, 29)) f |= OCTET_ISA_F16C;
    }
    if (max_leaf >= 7) {
        const octet_cpuid_regs l7 = d->leaf7_0; /* SDM Table 3-8, leaf 07H subleaf 0 */
        if (bit(l7.ebx, 5)) f |= OCTET_ISA_AVX2;
        if (bit(l7.ebx, 16)) f |= OCTET_ISA_AVX512F;
        if (bit(l7.ebx, 17)) f |= OCTET_ISA_AVX512DQ;
        if (bit(l7.ebx, 30)) f |= OCTET_ISA_AVX512BW;
        if (bit(l7.ebx, 31)) f |= OCTET_ISA_AVX512VL;
        if (bit(l7.ecx, 11)) f |= OCTET_ISA_AVX512_VNNI;
        if (bit(l7.edx, 22)) f |= OCTET_ISA_AMX_BF16;
        if (bit(l7.edx, 24)) f |= OCTET_ISA_AMX_TILE;
        if (bit(l7.edx, 25)) f |= OCTET_ISA_AMX_INT8;
        if (l7.eax >= 1) { /* leaf 07H subleaf 1 */
            if (bit(d->leaf7_1.eax, 4)) f |= OCTET_ISA_AVX_VNNI;
            if (bit(d->leaf7_1.eax, 5)) f |= OCTET_ISA_AVX512_BF16;
        }
    }
    return f;
}

enum {
    XCR0_SSE_AVX = (1u << 1) | (1u << 2),
    XCR0_AVX512 = (1u << 5) | (1u << 6) | (1u << 7),
    XCR0_AMX = (1u << 17) | (1u << 18),
};

static const uint32_t AVX_STATE = OCTET_ISA_AVX | OCTET_ISA_AVX2 | OCTET_ISA_FMA | OCTET_ISA_F16C | OCTET_ISA_AVX_VNNI;
static const uint32_t AVX512_STATE = OCTET_ISA_AVX512F | OCTET_ISA_AVX512BW | OCTET_ISA_AVX512VL | OCTET_ISA_AVX512DQ |
                                     OCTET_ISA_AVX512_VNNI | OCTET_ISA_AVX512_BF16;
static const uint32_t AMX_STATE = OCTET_ISA_AMX_TILE | OCTET_ISA_AMX_INT8 | OCTET_ISA_AMX_BF16;

uint32_t octet_isa_os_enabled(uint32_t f, uint64_t xcr0, int amx_permitted) {
    const int avx = (xcr0 & XCR0_SSE_AVX) == XCR0_SSE_AVX;
    const int avx512 = avx && (xcr0 & XCR0_AVX512) == XCR0_AVX512;
    const int amx = (xcr0 & XCR0_AMX) == XCR0_AMX && amx_permitted;
    if (!avx) f &= ~AVX_STATE;
    if (!avx512) f &= ~AVX512_STATE;
    if (!amx) f &= ~AMX_STATE;
    return f;
}

/* Each feature with the features it needs (direct prerequisites). */
static const struct { uint32_t feature, needs; } prerequisites[] = {
    {OCTET_ISA_AVX2, OCTET_ISA_AVX},
    {OCTET_ISA_FMA, OCTET_ISA_AVX},
    {OCTET_ISA_F16C, OCTET_ISA_AVX},
    {OCTET_ISA_AVX_VNNI, OCTET_ISA_AVX2},
    {OCTET_ISA_AVX512F, OCTET_ISA_AVX2 | OCTET_ISA_FMA | OCTET_ISA_F16C},
    {OCTET_ISA_AVX512BW, OCTET_ISA_AVX512F},
    {OCTET_ISA_AVX512VL, OCTET_ISA_AVX512F},
    {OCTET_ISA_AVX512DQ, OCTET_ISA_AVX512F},
    {OCTET_ISA_AVX512_VNNI, OCTET_ISA_AVX512F},
    {OCTET_ISA_AVX512_BF16, OCTET_ISA_AVX512F},
    {OCTET_ISA_AMX_INT8, OCTET_ISA_AMX_TILE},
    {OCTET_ISA_AMX_BF16, OCTET_ISA_AMX_TILE},
};
enum { PREREQUISITE_COUNT = sizeof prerequisites / sizeof prerequisites[0] };

uint32_t octet_isa_enforce_prerequisites(uint32_t f, uint32_t *dropped) {
    const uint32_t original = f;
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < PREREQUISITE_COUNT; i++) {
            if ((f & prerequisites[i].feature) && (f & prerequisites[i].needs) != prerequisites[i].needs) {
                f &= ~prerequisites[i].feature;
                changed = 1;
            }
        }
    }
    if (dropped) *dropped = original & ~f;
    return f;
}

uint32_t octet_isa_add_prerequisites(uint32_t f) {
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < PREREQUISITE_COUNT; i++) {
            if ((f & prerequisites[i].feature) && (f & prerequisites[i].needs) != prerequisites[i].needs) {
                f |= prerequisites[i].needs;
                changed = 1;
            }
        }
    }
    return f;
}

uint32_t octet_isa_level_features(octet_isa_level level) {
    uint32_t f = OCTET_ISA_SSE4_2;
    if (level >= OCTET_ISA_LEVEL_AVX2) f |= OCTET_ISA_AVX | OCTET_ISA_AVX2 | OCTET_ISA_FMA | OCTET_ISA_F16C;
    if (level >= OCTET_ISA_LEVEL_AVX2_VNNI) f |= OCTET_ISA_AVX_VNNI;
    if (level >= OCTET_ISA_LEVEL_AVX512) f |= OCTET_ISA_AVX512F | OCTET_ISA_AVX512BW | OCTET_ISA_AVX512VL | OCTET_ISA_AVX512DQ;
    if (level >= OCTET_ISA_LEVEL_AVX512_VNNI) f |= OCTET_ISA_AVX512_VNNI;
    if (level >= OCTET_ISA_LEVEL_AVX512_BF16) f |= OCTET_ISA_AVX512_BF16;
    if (level >= OCTET_ISA_LEVEL_AMX) f |= AMX_STATE;
    if (level >= OCTET_ISA_LEVEL_ALL) f = ~0u;
    return f;
}

static const struct { const char *name; octet_isa_level level; } level_names[] = {
    {"scalar", OCTET_ISA_LEVEL_SCALAR},
    {"avx2", OCTET_ISA_LEVEL_AVX2},
    {"avx2_vnni", OCTET_ISA_LEVEL_AVX2_VNNI},
    {"avx512", OCTET_ISA_LEVEL_AVX512},
    {"avx512_vnni", OCTET_ISA_LEVEL_AVX512_VNNI},
    {"avx512_bf16", OCTET_ISA_LEVEL_AVX512_BF16},
    {"amx", OCTET_ISA_LEVEL_AMX},
    {"all", OCTET_ISA_LEVEL_ALL},
    /* oneDNN's names for the same levels. */
    {"sse41", OCTET_ISA_LEVEL_SCALAR},
    {"avx512_core", OCTET_ISA_LEVEL_AVX512},
    {"avx512_core_vnni", OCTET_ISA_LEVEL_AVX512_VNNI},
    {"avx512_core_bf16", OCTET_ISA_LEVEL_AVX512_BF16},
    {"avx512_core_amx", OCTET_ISA_LEVEL_AMX},
};

int octet_isa_level_parse(const char *name, octet_isa_level *level) {
    if (!name) return 0;
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(name, level_names[i].name) == 0) {
            *level = level_names[i].level;
            return 1;
        }
    }
    return 0;
}

const char *octet_isa_level_name(octet_isa_level level) {
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (level_names[i].level == level) return level_names[i].name;
    }
    return "unknown";
}

static octet_host_description host;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void read_cap(void) {
    static const struct { const char *variable; octet_isa_cap_source source; } variables[] = {
        {"OCTET_MAX_ISA", OCTET_ISA_CAP_OCTET_MAX_ISA},
        {"ONEDNN_MAX_CPU_ISA", OCTET_ISA_CAP_ONEDNN_MAX_CPU_ISA},
        {"DNNL_MAX_CPU_ISA", OCTET_ISA_CAP_DNNL_MAX_CPU_ISA},
    };
    host.cap = OCTET_ISA_LEVEL_ALL;
    for (size_t i = 0; i < sizeof variables / sizeof variables[0]; i++) {
        const char *value = getenv(variables[i].variable);
        if (!value || !*value) continue;
        host.cap_source = variables[i].source;
        strncpy(host.cap_value, value, sizeof host.cap_value - 1);
        host.cap_value[sizeof host.cap_value - 1] = '\0';
        if (!octet_isa_level_parse(value, &host.cap)) {
            host.cap = OCTET_ISA_LEVEL_ALL;
            host.cap_invalid = 1;
        }
        return;
    }
}

static void read_host(void) {
    memset(&host, 0, sizeof host);
    host.amx_permission = -1;
#if defined(__x86_64__) || defined(__i386__)
    host.dump = octet_cpuid_read_dump();
    host.hardware = octet_isa_decode(&host.dump);
    int amx_permitted = 0;
    if ((host.hardware & OCTET_ISA_AMX_TILE) && (host.dump.xcr0 & XCR0_AMX) == XCR0_AMX) {
        /* A process that may run AMX code must ask Linux for the tile-data state. */
        host.amx_permission = octet_amx_permission(1);
        amx_permitted = host.amx_permission != 0;
    }
    host.os_enabled = octet_isa_os_enabled(host.hardware, host.dump.xcr0, amx_permitted);
#else
    host.hardware = octet_arm_has_neon() ? OCTET_ISA_NEON : 0;
    host.os_enabled = host.hardware;
#endif
    host.usable = octet_isa_enforce_prerequisites(host.os_enabled, &host.dropped);
    read_cap();
    host.features = host.usable & octet_isa_level_features(host.cap);
}

const octet_host_description *octet_host_isa(void) {
    pthread_once(&host_once, read_host);
    return &host;
}

int octet_host_has(uint32_t mask) { return (octet_host_isa()->features & mask) == mask; }
