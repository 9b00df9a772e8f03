#include "octet_fp16.h"
#include "fp16_inline.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define OCTET_X86 1
#else
#define OCTET_X86 0
#endif

uint16_t octet_f32_to_f16(float value) {
    uint32_t x;
    memcpy(&x, &value, sizeof x);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t a = x & 0x7FFFFFFFu;
    if (a >= 0x7F800000u) { /* Inf, or NaN kept quiet with its top payload bits */
        return (uint16_t)(sign | 0x7C00u | (a > 0x7F800000u ? 0x0200u | ((a >> 13) & 0x03FFu) : 0u));
    }
    if (a >= 0x477FF000u) { /* ≥ 65520, the midpoint of 65504 and 2^16: rounds (to even) to Inf */
        return (uint16_t)(sign | 0x7C00u);
    }
    if (a < 0x38800000u) { /* below 2^-14: a binary16 subnormal m · 2^-24, or zero */
        float magnitude;
        memcpy(&magnitude, &a, sizeof magnitude);
        /* Scaling by 2^24 is exact; rintf rounds half to even in the default mode.
           m = 1024 lands exactly on the smallest normal, 0x0400. */
        return (uint16_t)(sign | (uint32_t)rintf(magnitude * 16777216.0f));
    }
    /* Normal: rebias the exponent (127 → 15) and round the mantissa 23 → 10 bits. */
    uint32_t h = (a - 0x38000000u) >> 13;
    const uint32_t rest = a & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) {
        h += 1; /* a carry into the exponent is the correct rounding */
    }
    return (uint16_t)(sign | h);
}

float octet_f16_to_f32(uint16_t bits) { return octet_f16_to_f32_inline(bits); }

#if OCTET_X86
__attribute__((target("avx2,f16c")))
static void convert_f16c(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(dst + i), h);
    }
    for (; i < n; i++) dst[i] = octet_f32_to_f16(src[i]);
}
#endif

void octet_f32_to_f16_array(const float *src, uint16_t *dst, size_t n, octet_fp16_isa isa) {
#if OCTET_X86
    if (isa == OCTET_FP16_AVX2) {
        convert_f16c(src, dst, n);
        return;
    }
#else
    (void)isa;
#endif
    for (size_t i = 0; i < n; i++) dst[i] = octet_f32_to_f16(src[i]);
}
