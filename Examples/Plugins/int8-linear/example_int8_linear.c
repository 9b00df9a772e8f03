/* An Octet backend plugin in plain C: a quantized linear layer (u8 activations x s8
 * weights, per-channel or per-tensor, s32 or f32 bias, u8 or f32 output, ReLU/clip
 * post-ops), straightforward loops. It is what a vendor kernel library would wrap.
 *
 * Build:  cc -O2 -shared -fPIC -I ../../../Sources/COctetPlugin/include example_int8_linear.c -o libexample_int8_linear.so
 * Use:    octet --plugin ./libexample_int8_linear.so backends
 *         octet run MODEL_int8.onnx --plugin ./libexample_int8_linear.so --rules rules.json --trace
 */
#include "octet_plugin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct kernel {
    int64_t n, k;
    int8_t *weight;        /* n x k */
    float *weight_scale;   /* n */
    int32_t *weight_zp;    /* n */
    int32_t *bias_s32;     /* n, or NULL */
    float *bias_f32;       /* n, or NULL */
    float in_scale;
    int32_t in_zp;
    int to_u8;
    float out_scale;
    int32_t out_zp;
    float lo, hi;          /* post-op bounds, real values */
} kernel;

static int supports(const octet_plugin_signature *s, char *reason, size_t cap) {
    if (strcmp(s->kind, "linear") != 0) { snprintf(reason, cap, "runs linear only, not %s", s->kind); return 0; }
    if (strcmp(s->precision, "int8") != 0) { snprintf(reason, cap, "runs int8 only, not %s", s->precision); return 0; }
    if (s->dynamic) { snprintf(reason, cap, "static quantization only"); return 0; }
    if (s->input_dtype != OCTET_PLUGIN_U8 || s->weight_dtype != OCTET_PLUGIN_S8) {
        snprintf(reason, cap, "needs u8 activations and s8 weights");
        return 0;
    }
    if (s->output_dtype != OCTET_PLUGIN_U8 && s->output_dtype != OCTET_PLUGIN_F32) {
        snprintf(reason, cap, "writes u8 or f32 outputs");
        return 0;
    }
    return 1;
}

static void fail(char *error, size_t cap, const char *what) { snprintf(error, cap, "%s", what); }

static float scale_of(const octet_plugin_quantization *q, int64_t i) { return q->count > 1 ? q->scales[i] : q->scales[0]; }
static int32_t zp_of(const octet_plugin_quantization *q, int64_t i) { return q->count > 1 ? q->zero_points[i] : q->zero_points[0]; }

static void release(void *p) {
    kernel *k = p;
    if (!k) return;
    free(k->weight);
    free(k->weight_scale);
    free(k->weight_zp);
    free(k->bias_s32);
    free(k->bias_f32);
    free(k);
}

static void *prepare(const octet_plugin_signature *s, const octet_plugin_constants *c, char *error, size_t cap) {
    const octet_plugin_tensor *w = c->weight;
    if (!w || w->rank != 2 || w->dtype != OCTET_PLUGIN_S8 || w->quantization.count == 0) { fail(error, cap, "needs a quantized N x K s8 weight"); return NULL; }
    if (c->input_quantization.count != 1) { fail(error, cap, "needs the activation's scale and zero point"); return NULL; }
    if (s->output_dtype == OCTET_PLUGIN_U8 && c->output_quantization.count != 1) { fail(error, cap, "u8 output needs its scale and zero point"); return NULL; }
    kernel *k = calloc(1, sizeof *k);
    if (!k) { fail(error, cap, "out of memory"); return NULL; }
    k->n = w->dims[0];
    k->k = w->dims[1];
    k->weight = malloc((size_t)(k->n * k->k));
    k->weight_scale = malloc((size_t)k->n * sizeof(float));
    k->weight_zp = malloc((size_t)k->n * sizeof(int32_t));
    if (!k->weight || !k->weight_scale || !k->weight_zp) { release(k); fail(error, cap, "out of memory"); return NULL; }
    memcpy(k->weight, w->data, (size_t)(k->n * k->k));
    for (int64_t j = 0; j < k->n; j++) {
        k->weight_scale[j] = scale_of(&w->quantization, j);
        k->weight_zp[j] = zp_of(&w->quantization, j);
    }
    if (c->bias) {
        if (c->bias->dtype == OCTET_PLUGIN_S32) {
            k->bias_s32 = malloc((size_t)k->n * sizeof(int32_t));
            if (k->bias_s32) memcpy(k->bias_s32, c->bias->data, (size_t)k->n * sizeof(int32_t));
        } else {
            k->bias_f32 = malloc((size_t)k->n * sizeof(float));
            if (k->bias_f32) memcpy(k->bias_f32, c->bias->data, (size_t)k->n * sizeof(float));
        }
        if (!k->bias_s32 && !k->bias_f32) { release(k); fail(error, cap, "out of memory"); return NULL; }
    }
    k->in_scale = c->input_quantization.scales[0];
    k->in_zp = c->input_quantization.zero_points[0];
    k->to_u8 = s->output_dtype == OCTET_PLUGIN_U8;
    if (k->to_u8) {
        k->out_scale = c->output_quantization.scales[0];
        k->out_zp = c->output_quantization.zero_points[0];
    }
    k->lo = -INFINITY;
    k->hi = INFINITY;
    if (s->post_op == OCTET_PLUGIN_POST_RELU) k->lo = 0;
    if (s->post_op == OCTET_PLUGIN_POST_CLIP) { k->lo = s->clip_min; k->hi = s->clip_max; }
    return k;
}

static int run(void *p, const octet_plugin_tensor *inputs, size_t count, octet_plugin_tensor *output, char *error, size_t cap) {
    const kernel *k = p;
    if (count < 1 || inputs[0].dtype != OCTET_PLUGIN_U8) { fail(error, cap, "needs one u8 input"); return 1; }
    const uint8_t *x = inputs[0].data;
    const int64_t m = k->k ? (int64_t)(inputs[0].byte_count / (size_t)k->k) : 0;
    for (int64_t r = 0; r < m; r++) {
        for (int64_t j = 0; j < k->n; j++) {
            int64_t acc = 0;
            for (int64_t t = 0; t < k->k; t++) {
                acc += (int64_t)((int32_t)x[r * k->k + t] - k->in_zp) * ((int32_t)k->weight[j * k->k + t] - k->weight_zp[j]);
            }
            if (k->bias_s32) acc += k->bias_s32[j];
            float real = (float)acc * (k->in_scale * k->weight_scale[j]);
            if (k->bias_f32) real += k->bias_f32[j];
            real = real < k->lo ? k->lo : (real > k->hi ? k->hi : real);
            if (k->to_u8) {
                float q = nearbyintf(real / k->out_scale) + (float)k->out_zp;
                q = q < 0 ? 0 : (q > 255 ? 255 : q);
                ((uint8_t *)output->data)[r * k->n + j] = (uint8_t)q;
            } else {
                ((float *)output->data)[r * k->n + j] = real;
            }
        }
    }
    return 0;
}

static const char *kernel_name(const void *p) {
    (void)p;
    return "u8s8-linear-reference-c";
}

static const octet_plugin_api api = {
    .abi_version = OCTET_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(octet_plugin_api),
    .name = "example-int8-linear",
    .version = "1.0",
    .summary = "example plugin: INT8 linear in plain C loops",
    .supports = supports,
    .prepare = prepare,
    .run = run,
    .release = release,
    .kernel_name = kernel_name,
};

const octet_plugin_api *octet_plugin_entry(void) { return &api; }
