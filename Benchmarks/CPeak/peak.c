#include "octet_peak.h"
#include "octet_isa.h"
#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

static int have_avx2(void) { return octet_host_has(OCTET_ISA_AVX2 | OCTET_ISA_FMA); }

#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

/* Like the micro-kernel: 4 activation vectors x 2 weight vectors = 8 distinct products
   per iteration into 8 accumulators (12 identical products would be computed once). */
#define REP8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define INPUTS                                                                                   \
    __m256i a0 = _mm256_set1_epi32(0x00030001), a1 = _mm256_set1_epi32(0x00050002),              \
            a2 = _mm256_set1_epi32(0x00070004), a3 = _mm256_set1_epi32(0x000B0006);              \
    __m256i b0 = _mm256_set1_epi32(0xFFFE0003), b1 = _mm256_set1_epi32(0x0002FFFD);

AVX2 static uint64_t maddwd(uint64_t n) {
    INPUTS
#define DECL8(i) __m256i c##i = _mm256_set1_epi32(i);
    REP8(DECL8)
    for (uint64_t it = 0; it < n; it++) {
        c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(a0, b0)); c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(a0, b1));
        c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(a1, b0)); c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(a1, b1));
        c4 = _mm256_add_epi32(c4, _mm256_madd_epi16(a2, b0)); c5 = _mm256_add_epi32(c5, _mm256_madd_epi16(a2, b1));
        c6 = _mm256_add_epi32(c6, _mm256_madd_epi16(a3, b0)); c7 = _mm256_add_epi32(c7, _mm256_madd_epi16(a3, b1));
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(b0), "+x"(b1));
    }
    __m256i s = c0;
#define SUM8(i) s = _mm256_add_epi32(s, c##i);
    REP8(SUM8)
    volatile int sink = _mm256_extract_epi32(s, 0);
    (void)sink;
    return n * 8 * 16;
}

AVX2 static uint64_t maddubsw(uint64_t n) {
    INPUTS
    const __m256i ones = _mm256_set1_epi16(1);
    REP8(DECL8)
    for (uint64_t it = 0; it < n; it++) {
#define UB(c, a, b) c = _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
        UB(c0, a0, b0) UB(c1, a0, b1) UB(c2, a1, b0) UB(c3, a1, b1) UB(c4, a2, b0) UB(c5, a2, b1) UB(c6, a3, b0) UB(c7, a3, b1)
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(b0), "+x"(b1));
    }
    __m256i s = c0;
    REP8(SUM8)
    volatile int sink = _mm256_extract_epi32(s, 0);
    (void)sink;
    return n * 8 * 32;
}

AVX2 static uint64_t fma(uint64_t n) {
    __m256 a = _mm256_set1_ps(1.0001f), b = _mm256_set1_ps(0.9999f);
#define DECLF(i) __m256 f##i = _mm256_set1_ps((float)i);
    REP12(DECLF)
    for (uint64_t it = 0; it < n; it++) {
#define STEPF(i) f##i = _mm256_fmadd_ps(a, b, f##i);
        REP12(STEPF)
        __asm__ volatile("" : "+x"(a), "+x"(b));
    }
    __m256 s = f0;
#define SUMF(i) s = _mm256_add_ps(s, f##i);
    REP12(SUMF)
    volatile float sink = _mm256_cvtss_f32(s);
    (void)sink;
    return n * 12 * 8;
}

#define AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define AVXVNNI __attribute__((target("avxvnni,avx2")))

/* vpdpbusd zmm: 12 independent accumulators (its latency is up to 5 cycles on two ports). */
AVX512VNNI static uint64_t dpbusd_zmm(uint64_t n) {
    __m512i a = _mm512_set1_epi32(0x03020104), b0 = _mm512_set1_epi32(0xFE03FD02), b1 = _mm512_set1_epi32(0x02FD0301);
#define DECLZ(i) __m512i z##i = _mm512_set1_epi32(i);
    REP12(DECLZ)
    for (uint64_t it = 0; it < n; it++) {
#define STEPZ(i) z##i = _mm512_dpbusd_epi32(z##i, a, (i) & 1 ? b1 : b0);
        REP12(STEPZ)
        __asm__ volatile("" : "+v"(a), "+v"(b0), "+v"(b1));
    }
    __m512i s = z0;
#define SUMZ(i) s = _mm512_add_epi32(s, z##i);
    REP12(SUMZ)
    volatile int sink = _mm512_reduce_add_epi32(s);
    (void)sink;
    return n * 12 * 64;
}

#define AVX512BW __attribute__((target("avx512f,avx512bw")))

/* vpmaddwd + vpaddd zmm on s16 pairs (AVX-512BW), 8 accumulators from 4 x 2 distinct operands, as `maddwd`. */
AVX512BW static uint64_t maddwd_zmm(uint64_t n) {
    __m512i a0 = _mm512_set1_epi32(0x00030001), a1 = _mm512_set1_epi32(0x00050002), a2 = _mm512_set1_epi32(0x00070004),
            a3 = _mm512_set1_epi32(0x000B0006), b0 = _mm512_set1_epi32((int)0xFFFE0003), b1 = _mm512_set1_epi32(0x0002FFFD);
#define DECLW(i) __m512i w##i = _mm512_set1_epi32(i);
    REP8(DECLW)
    for (uint64_t it = 0; it < n; it++) {
        w0 = _mm512_add_epi32(w0, _mm512_madd_epi16(a0, b0)); w1 = _mm512_add_epi32(w1, _mm512_madd_epi16(a0, b1));
        w2 = _mm512_add_epi32(w2, _mm512_madd_epi16(a1, b0)); w3 = _mm512_add_epi32(w3, _mm512_madd_epi16(a1, b1));
        w4 = _mm512_add_epi32(w4, _mm512_madd_epi16(a2, b0)); w5 = _mm512_add_epi32(w5, _mm512_madd_epi16(a2, b1));
        w6 = _mm512_add_epi32(w6, _mm512_madd_epi16(a3, b0)); w7 = _mm512_add_epi32(w7, _mm512_madd_epi16(a3, b1));
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(b0), "+v"(b1));
    }
    __m512i s = w0;
#define SUMW(i) s = _mm512_add_epi32(s, w##i);
    REP8(SUMW)
    volatile int sink = _mm512_reduce_add_epi32(s);
    (void)sink;
    return n * 8 * 32;
}

/* VEX vpdpbusd ymm (AVX-VNNI), 12 accumulators. */
AVXVNNI static uint64_t dpbusd_ymm(uint64_t n) {
    __m256i a = _mm256_set1_epi32(0x03020104), b0 = _mm256_set1_epi32(0xFE03FD02), b1 = _mm256_set1_epi32(0x02FD0301);
#define DECLY(i) __m256i y##i = _mm256_set1_epi32(i);
    REP12(DECLY)
    for (uint64_t it = 0; it < n; it++) {
#define STEPY(i) y##i = _mm256_dpbusd_avx_epi32(y##i, a, (i) & 1 ? b1 : b0);
        REP12(STEPY)
        __asm__ volatile("" : "+x"(a), "+x"(b0), "+x"(b1));
    }
    __m256i s = y0;
#define SUMY(i) s = _mm256_add_epi32(s, y##i);
    REP12(SUMY)
    volatile int sink = _mm256_extract_epi32(s, 0);
    (void)sink;
    return n * 12 * 32;
}

uint64_t octet_peak_dpbusd_zmm(uint64_t n) {
    return octet_host_has(OCTET_ISA_AVX512F | OCTET_ISA_AVX512BW | OCTET_ISA_AVX512VL | OCTET_ISA_AVX512_VNNI) ? dpbusd_zmm(n) : 0;
}
uint64_t octet_peak_dpbusd_ymm(uint64_t n) { return octet_host_has(OCTET_ISA_AVX2 | OCTET_ISA_AVX_VNNI) ? dpbusd_ymm(n) : 0; }
uint64_t octet_peak_maddwd(uint64_t n) { return have_avx2() ? maddwd(n) : 0; }
uint64_t octet_peak_maddwd_zmm(uint64_t n) { return octet_host_has(OCTET_ISA_AVX512F | OCTET_ISA_AVX512BW) ? maddwd_zmm(n) : 0; }
uint64_t octet_peak_maddubsw(uint64_t n) { return have_avx2() ? maddubsw(n) : 0; }
uint64_t octet_peak_fma(uint64_t n) { return have_avx2() ? fma(n) : 0; }
#else
uint64_t octet_peak_maddwd(uint64_t n) { (void)n; return 0; }
uint64_t octet_peak_maddwd_zmm(uint64_t n) { (void)n; return 0; }
uint64_t octet_peak_maddubsw(uint64_t n) { (void)n; return 0; }
uint64_t octet_peak_fma(uint64_t n) { (void)n; return 0; }
uint64_t octet_peak_dpbusd_zmm(uint64_t n) { (void)n; return 0; }
uint64_t octet_peak_dpbusd_ymm(uint64_t n) { (void)n; return 0; }
#endif
