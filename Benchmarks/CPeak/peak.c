#include "octet_peak.h"
#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

static int have_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

AVX2 static uint64_t maddwd(uint64_t n) {
    __m256i a = _mm256_set1_epi16(3), b = _mm256_set1_epi16(-2);
#define DECL(i) __m256i c##i = _mm256_set1_epi32(i);
    REP12(DECL)
    for (uint64_t it = 0; it < n; it++) {
#define STEP(i) c##i = _mm256_add_epi32(c##i, _mm256_madd_epi16(a, b));
        REP12(STEP)
        __asm__ volatile("" : "+x"(a), "+x"(b));
    }
    __m256i s = c0;
#define SUM(i) s = _mm256_add_epi32(s, c##i);
    REP12(SUM)
    volatile int sink = _mm256_extract_epi32(s, 0);
    (void)sink;
    return n * 12 * 16;
}

AVX2 static uint64_t maddubsw(uint64_t n) {
    __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
    REP12(DECL)
    for (uint64_t it = 0; it < n; it++) {
#define STEP2(i) c##i = _mm256_add_epi32(c##i, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
        REP12(STEP2)
        __asm__ volatile("" : "+x"(a), "+x"(b));
    }
    __m256i s = c0;
    REP12(SUM)
    volatile int sink = _mm256_extract_epi32(s, 0);
    (void)sink;
    return n * 12 * 32;
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

uint64_t octet_peak_maddwd(uint64_t n) { return have_avx2() ? maddwd(n) : 0; }
uint64_t octet_peak_maddubsw(uint64_t n) { return have_avx2() ? maddubsw(n) : 0; }
uint64_t octet_peak_fma(uint64_t n) { return have_avx2() ? fma(n) : 0; }
#else
uint64_t octet_peak_maddwd(uint64_t n) { (void)n; return 0; }
uint64_t octet_peak_maddubsw(uint64_t n) { (void)n; return 0; }
uint64_t octet_peak_fma(uint64_t n) { (void)n; return 0; }
#endif
