/* Kernel bodies, compiled once per ISA (see graph_kernels_*.c); OCTET_FN names each variant.
 * Separable f32 max pooling: a horizontal pass (max over kw columns into a row buffer), then
 * a vertical pass (max over kh buffered rows). Both fold in window order with `v > acc`, so
 * the result is the window's first maximum in row-major order, as in octet_f32_pool2d. */
#include "octet_graph_kernels.h"
#include <stdlib.h>

static inline void max_pool_row(const float *in, float *o, int w, int ow, int kw, int sw, int pad_left) {
    for (int ox = 0; ox < ow; ox++) o[ox] = -__builtin_inff();
    /* Columns whose whole window lies inside the row: [lo, hi). */
    int lo = (pad_left + sw - 1) / sw, hi = w - kw + pad_left < 0 ? 0 : (w - kw + pad_left) / sw + 1;
    if (lo > ow) lo = ow;
    if (hi > ow) hi = ow;
    if (hi < lo) hi = lo;
    /* Strides 1 and 2 spelled out so that the loads vectorize (contiguous, or deinterleaved). */
    for (int kx = 0; kx < kw; kx++) {
        const float *s = in + kx - pad_left;
        if (sw == 1) {
            for (int ox = lo; ox < hi; ox++) { const float v = s[ox]; o[ox] = v > o[ox] ? v : o[ox]; }
        } else if (sw == 2) {
            for (int ox = lo; ox < hi; ox++) { const float v = s[2 * ox]; o[ox] = v > o[ox] ? v : o[ox]; }
        } else {
            for (int ox = lo; ox < hi; ox++) { const float v = s[ox * sw]; o[ox] = v > o[ox] ? v : o[ox]; }
        }
    }
    for (int ox = 0; ox < ow; ox++) {
        if (ox >= lo && ox < hi) continue;
        const int x0 = ox * sw - pad_left;
        for (int kx = 0; kx < kw; kx++) {
            const int x = x0 + kx;
            if (x < 0 || x >= w) continue;
            o[ox] = in[x] > o[ox] ? in[x] : o[ox];
        }
    }
}

void OCTET_FN(octet_f32_max_pool2d_planes)(const float *src, float *dst, int h, int w, int oh, int ow, int kh, int kw, int sh,
                                           int sw, int pad_top, int pad_left, int pad_bottom, int pad_right, size_t plane_begin,
                                           size_t plane_end) {
    float *rows = malloc((size_t)(h > 0 ? h : 1) * (size_t)(ow > 0 ? ow : 1) * sizeof *rows);
    if (!rows) {
        /* No row buffer: the general kernel, window by window. */
        OCTET_FN(octet_f32_pool2d)(1, src + plane_begin * (size_t)h * w, dst + plane_begin * (size_t)oh * ow, plane_end - plane_begin,
                                   h, w, oh, ow, kh, kw, sh, sw, pad_top, pad_left, pad_bottom, pad_right, 1, 1, 0);
        return;
    }
    for (size_t p = plane_begin; p < plane_end; p++) {
        const float *in = src + p * (size_t)h * w;
        float *out = dst + p * (size_t)oh * ow;
        if (sw == 1 && ow == w && h > 0) {
            /* Stride 1, as wide as the input: every interior window of every row in one flat
             * pass per kx (crossing row ends only at edge columns), then the edges redone. */
            const int lo = pad_left < ow ? pad_left : ow, hi = w - kw + pad_left + 1 < ow ? w - kw + pad_left + 1 : ow;
            const size_t n = (size_t)h * w;
            for (size_t j = 0; j < n; j++) rows[j] = -__builtin_inff();
            if (hi > lo) {
                const size_t first = (size_t)lo, last = (size_t)(h - 1) * w + (size_t)hi;
                for (int kx = 0; kx < kw; kx++) {
                    const float *s = in + kx - pad_left;
                    for (size_t j = first; j < last; j++) { const float v = s[j]; rows[j] = v > rows[j] ? v : rows[j]; }
                }
            }
            for (int y = 0; y < h; y++) {
                const float *r = in + (size_t)y * w;
                float *o = rows + (size_t)y * ow;
                for (int ox = 0; ox < ow; ox++) {
                    if (ox >= lo && ox < hi) continue;
                    float m = -__builtin_inff();
                    for (int kx = 0; kx < kw; kx++) {
                        const int x = ox - pad_left + kx;
                        if (x >= 0 && x < w) m = r[x] > m ? r[x] : m;
                    }
                    o[ox] = m;
                }
            }
        } else {
            for (int y = 0; y < h; y++) max_pool_row(in + (size_t)y * w, rows + (size_t)y * ow, w, ow, kw, sw, pad_left);
        }
        /* Stride 1 vertically: the output rows whose whole window lies inside, in one flat pass per ky. */
        int row_lo = 0, row_hi = 0;
        if (sh == 1) {
            row_lo = pad_top < oh ? pad_top : oh;
            row_hi = h - kh + pad_top + 1 < oh ? h - kh + pad_top + 1 : oh;
            if (row_hi < row_lo) row_hi = row_lo;
            float *o = out + (size_t)row_lo * ow;
            const size_t n = (size_t)(row_hi - row_lo) * ow;
            for (size_t j = 0; j < n; j++) o[j] = -__builtin_inff();
            for (int ky = 0; ky < kh; ky++) {
                const float *r = rows + (size_t)(row_lo - pad_top + ky) * ow;
                for (size_t j = 0; j < n; j++) o[j] = r[j] > o[j] ? r[j] : o[j];
            }
        }
        for (int oy = 0; oy < oh; oy++) {
            if (oy >= row_lo && oy < row_hi) continue;
            float *o = out + (size_t)oy * ow;
            for (int ox = 0; ox < ow; ox++) o[ox] = -__builtin_inff();
            const int y0 = oy * sh - pad_top;
            for (int ky = 0; ky < kh; ky++) {
                const int y = y0 + ky;
                if (y < 0 || y >= h) continue;
                const float *r = rows + (size_t)y * ow;
                for (int ox = 0; ox < ow; ox++) o[ox] = r[ox] > o[ox] ? r[ox] : o[ox];
            }
        }
    }
    free(rows);
}
