#pragma once
/* Branch-free binary16 → binary32, inlined so loops over it vectorise (SSE2 suffices).
   The half's exponent and mantissa, shifted into f32 position, read as an f32 that is
   the true value times 2^-112 (normals and subnormals alike); one exact multiply by
   2^112 restores it. Inf and NaN (exponent 31) are blended in with their payload. */
#include <stdint.h>
#include <string.h>

static inline float octet_f16_to_f32_inline(uint16_t h) {
    const uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
    const uint32_t em = (uint32_t)h & 0x7FFFu;
    uint32_t bits = em << 13;
    float scaled;
    memcpy(&scaled, &bits, sizeof scaled);
    scaled *= 0x1p112f;
    uint32_t finite;
    memcpy(&finite, &scaled, sizeof finite);
    const uint32_t special = (em << 13) | 0x7F800000u;
    const uint32_t out = sign | (em >= 0x7C00u ? special : finite);
    float f;
    memcpy(&f, &out, sizeof f);
    return f;
}
