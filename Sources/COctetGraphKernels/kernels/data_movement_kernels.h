/* Kernel bodies, compiled once per ISA (see graph_kernels_*.c); OCTET_FN names each variant.
 * Data movement of 4-byte elements (copied as bits: NaN payloads and -0 survive). */
#include "octet_graph_kernels.h"
#include <string.h>

void OCTET_FN(octet_u32_remap2d)(const uint32_t *src, uint32_t *dst, int ih, int iw, int oh, int ow, const int32_t *ymap,
                                 const int32_t *xmap, uint32_t fill, size_t row_begin, size_t row_end) {
    /* The longest run of output columns reading consecutive input columns ([run_lo, run_hi)),
     * copied with memcpy; the rest through the map. */
    int run_lo = 0, run_hi = 0;
    for (int ox = 0; ox < ow;) {
        int end = ox + 1;
        if (xmap[ox] >= 0)
            while (end < ow && xmap[end] == xmap[end - 1] + 1) end++;
        if (xmap[ox] >= 0 && end - ox > run_hi - run_lo) { run_lo = ox; run_hi = end; }
        ox = end;
    }
    for (size_t row = row_begin; row < row_end; row++) {
        const size_t plane = row / (size_t)oh;
        const int oy = (int)(row % (size_t)oh);
        uint32_t *o = dst + row * (size_t)ow;
        const int y = ymap[oy];
        if (y < 0) {
            for (int ox = 0; ox < ow; ox++) o[ox] = fill;
            continue;
        }
        /* Rows that read the same input row as the previous one (nearest upsampling) are copies of it. */
        if (oy > 0 && row > row_begin && ymap[oy - 1] == y) {
            memcpy(o, o - ow, (size_t)ow * sizeof *o);
            continue;
        }
        const uint32_t *in = src + (plane * (size_t)ih + (size_t)y) * (size_t)iw;
        for (int ox = 0; ox < run_lo; ox++) { const int x = xmap[ox]; o[ox] = x < 0 ? fill : in[x]; }
        if (run_hi > run_lo) memcpy(o + run_lo, in + xmap[run_lo], (size_t)(run_hi - run_lo) * sizeof *o);
        for (int ox = run_hi; ox < ow; ox++) { const int x = xmap[ox]; o[ox] = x < 0 ? fill : in[x]; }
    }
}

#ifdef OCTET_AVX2_INTRINSICS
#include <immintrin.h>
/* dst (8 columns of rows-long rows) <- the transpose of the 8 x 8 block at src (rows cols apart). */
static inline void transpose8x8(const uint32_t *src, size_t cols, uint32_t *dst, size_t rows) {
    const float *s = (const float *)src;
    float *d = (float *)dst;
    __m256 a[8], t[8], u[8];
    for (int i = 0; i < 8; i++) a[i] = _mm256_loadu_ps(s + (size_t)i * cols);
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(a[2 * i], a[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(a[2 * i], a[2 * i + 1]);
    }
    u[0] = _mm256_shuffle_ps(t[0], t[2], 0x44); u[1] = _mm256_shuffle_ps(t[0], t[2], 0xEE);
    u[2] = _mm256_shuffle_ps(t[1], t[3], 0x44); u[3] = _mm256_shuffle_ps(t[1], t[3], 0xEE);
    u[4] = _mm256_shuffle_ps(t[4], t[6], 0x44); u[5] = _mm256_shuffle_ps(t[4], t[6], 0xEE);
    u[6] = _mm256_shuffle_ps(t[5], t[7], 0x44); u[7] = _mm256_shuffle_ps(t[5], t[7], 0xEE);
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(d + (size_t)i * rows, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(d + (size_t)(i + 4) * rows, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}
#else
static inline void transpose8x8(const uint32_t *src, size_t cols, uint32_t *dst, size_t rows) {
    for (size_t c = 0; c < 8; c++)
        for (size_t r = 0; r < 8; r++) dst[c * rows + r] = src[r * cols + c];
}
#endif

void OCTET_FN(octet_u32_transpose2d)(const uint32_t *src, uint32_t *dst, size_t rows, size_t cols, size_t block_begin,
                                     size_t block_end) {
    enum { T = 8 };
    const size_t col_blocks = (cols + T - 1) / T;
    for (size_t b = block_begin; b < block_end; b++) {
        /* Block b covers T source rows (rows of the output's columns) by T source columns. */
        const size_t r0 = (b / col_blocks) * T, c0 = (b % col_blocks) * T;
        const size_t r1 = r0 + T < rows ? r0 + T : rows, c1 = c0 + T < cols ? c0 + T : cols;
        if (r1 - r0 == T && c1 - c0 == T) {
            transpose8x8(src + r0 * cols + c0, cols, dst + c0 * rows + r0, rows);
        } else {
            for (size_t c = c0; c < c1; c++)
                for (size_t r = r0; r < r1; r++) dst[c * rows + r] = src[r * cols + c];
        }
    }
}
