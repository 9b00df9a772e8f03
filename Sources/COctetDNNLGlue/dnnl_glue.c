#include "octet_dnnl.h"

#include <dlfcn.h>
#include <pthread.h>
#include "octet_isa.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>

struct octet_dnnl_kernel {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t primitive;
    dnnl_memory_desc_t src_md, wei_md, dst_md, bias_md;
    /* The caller's NCHW layouts, and reorders to / from the primitive's when they differ. */
    dnnl_memory_desc_t user_src_md, user_dst_md;
    dnnl_primitive_t src_reorder, dst_reorder;
    /* Scratchpad owned by each execution context (user mode): concurrent calls never
       share oneDNN's per-library scratchpad. */
    dnnl_memory_desc_t scratch_md;
    size_t scratch_size;
    dnnl_memory_t weights;   /* reordered constant weights, or NULL */
    dnnl_memory_t bias;      /* owned copy, or NULL */
    float *bias_data;
    const char *impl;
};

static dnnl_engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static dnnl_status_t engine_status = dnnl_success;
static dnnl_status_t cap_status = dnnl_success;

/* The host description's ISA cap (OCTET_MAX_ISA), handed to oneDNN before its first
   primitive, so that oneDNN never uses more than the rest of Octet may. */
static void apply_isa_cap(void) {
    const octet_host_description *host = octet_host_isa();
    dnnl_cpu_isa_t isa;
    switch (host->cap) {
    case OCTET_ISA_LEVEL_SCALAR: isa = dnnl_cpu_isa_sse41; break;
    case OCTET_ISA_LEVEL_AVX2: isa = dnnl_cpu_isa_avx2; break;
    case OCTET_ISA_LEVEL_AVX2_VNNI: isa = dnnl_cpu_isa_avx2_vnni; break;
    case OCTET_ISA_LEVEL_AVX512: isa = dnnl_cpu_isa_avx512_core; break;
    case OCTET_ISA_LEVEL_AVX512_VNNI: isa = dnnl_cpu_isa_avx512_core_vnni; break;
    case OCTET_ISA_LEVEL_AVX512_BF16: isa = dnnl_cpu_isa_avx512_core_bf16; break;
    case OCTET_ISA_LEVEL_AMX: isa = dnnl_cpu_isa_avx512_core_amx; break;
    default: return;
    }
    cap_status = dnnl_set_max_cpu_isa(isa);
}

static void make_engine(void) {
    apply_isa_cap();
    engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
}

static int fail(dnnl_status_t s, const char *what, char *error, size_t len) {
    snprintf(error, len, "%s failed: oneDNN status %d%s", what, (int)s,
             s == dnnl_unimplemented ? " (unimplemented: no oneDNN 2.6 kernel for this combination here)" : "");
    return s == dnnl_success ? -1 : (int)s;
}
#define CHECK(call, what)                                  \
    do {                                                   \
        dnnl_status_t st_ = (call);                        \
        if (st_ != dnnl_success) { status = fail(st_, what, error, error_len); goto done; } \
    } while (0)

static dnnl_data_type_t dt(octet_dnnl_type t) {
    return t == OCTET_DNNL_U8 ? dnnl_u8 : t == OCTET_DNNL_S8 ? dnnl_s8 : dnnl_f32;
}

/* omp_set_num_threads, looked up once (a dlsym per call was 4% of a small CNN's run). */
static void (*omp_set_threads)(int);
static pthread_once_t omp_lookup_once = PTHREAD_ONCE_INIT;

static void lookup_omp_set_threads(void) { omp_set_threads = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads"); }

static void set_threads(int threads) {
    pthread_once(&omp_lookup_once, lookup_omp_set_threads);
    if (omp_set_threads && threads > 0) omp_set_threads(threads);
}

int octet_dnnl_prepare(const octet_dnnl_op *op, octet_dnnl_kernel **out, char *error, size_t error_len) {
    int status = 0;
    *out = NULL;
    pthread_once(&engine_once, make_engine);
    if (engine_status != dnnl_success) return fail(engine_status, "creating the CPU engine", error, error_len);

    octet_dnnl_kernel *k = calloc(1, sizeof *k);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post = NULL;
    dnnl_memory_desc_t user_wei_md;
    dnnl_primitive_desc_t reorder_pd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t user_weights = NULL;
    dnnl_stream_t stream = NULL;
    if (!k) return fail(dnnl_out_of_memory, "allocating a kernel", error, error_len);

    /* oneDNN (OpenMP build) reads the team size when it creates the primitive and splits
     * the work for it: set it now, not only at execution. */
    set_threads(op->threads);
    const int has_bias = op->bias != NULL;
    const int nhwc = op->kind == OCTET_DNNL_CONV && op->channels_last;
    const dnnl_format_tag_t plain = op->ndims == 4 ? (nhwc ? dnnl_nhwc : dnnl_nchw) : op->ndims == 3 ? dnnl_abc : dnnl_ab;
    CHECK(dnnl_memory_desc_init_by_tag(&k->user_src_md, op->ndims, op->src_dims, dt(op->src_type), plain), "source descriptor");
    CHECK(dnnl_memory_desc_init_by_tag(&k->user_dst_md, op->ndims, op->dst_dims, dt(op->dst_type), plain), "destination descriptor");
    /* Convolutions choose their activation layout (INT8 JIT kernels need NHWC or blocked). */
    /* Channels-last callers: the primitive works on their NHWC buffers directly, no reorder. */
    const dnnl_format_tag_t act = op->kind == OCTET_DNNL_CONV && !nhwc ? dnnl_format_tag_any : plain;
    CHECK(dnnl_memory_desc_init_by_tag(&k->src_md, op->ndims, op->src_dims, dt(op->src_type), act), "source descriptor");
    CHECK(dnnl_memory_desc_init_by_tag(&k->dst_md, op->ndims, op->dst_dims, dt(op->dst_type), act), "destination descriptor");
    /* The caller's weight layout. */
    dnnl_format_tag_t user_tag = op->wei_ndims == 5 ? dnnl_goihw : op->wei_ndims == 4 ? dnnl_oihw
                               : op->wei_ndims == 3 ? dnnl_abc : (op->wei_transposed ? dnnl_ba : dnnl_ab);
    CHECK(dnnl_memory_desc_init_by_tag(&user_wei_md, op->wei_ndims, op->wei_dims, dt(op->wei_type), user_tag), "weights descriptor");
    if (op->wei_constant) {
        CHECK(dnnl_memory_desc_init_by_tag(&k->wei_md, op->wei_ndims, op->wei_dims, dt(op->wei_type), dnnl_format_tag_any), "weights descriptor (any)");
    } else {
        k->wei_md = user_wei_md;
    }
    if (has_bias) {
        int64_t bias_dims[3] = {1, 1, op->bias_count};
        if (op->kind == OCTET_DNNL_CONV) {
            CHECK(dnnl_memory_desc_init_by_tag(&k->bias_md, 1, &op->bias_count, dnnl_f32, dnnl_a), "bias descriptor");
        } else {
            int nd = op->ndims;
            CHECK(dnnl_memory_desc_init_by_tag(&k->bias_md, nd, bias_dims + (3 - nd), dnnl_f32, nd == 3 ? dnnl_abc : dnnl_ab), "bias descriptor");
        }
    }

    CHECK(dnnl_primitive_attr_create(&attr), "attributes");
    CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    if (op->scales_count > 0) CHECK(dnnl_primitive_attr_set_output_scales(attr, op->scales_count, op->scales_mask, op->scales), "output scales");
    if (op->src_zp) CHECK(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &op->src_zp), "source zero point");
    if (op->wei_zp) CHECK(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_WEIGHTS, 1, 0, &op->wei_zp), "weights zero point");
    if (op->dst_zp) CHECK(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_DST, 1, 0, &op->dst_zp), "destination zero point");
    if (op->post != OCTET_DNNL_POST_NONE || op->has_sum) {
        CHECK(dnnl_post_ops_create(&post), "post-ops");
        if (op->post == OCTET_DNNL_POST_RELU) CHECK(dnnl_post_ops_append_eltwise(post, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f), "relu post-op");
        else if (op->post == OCTET_DNNL_POST_CLIP) CHECK(dnnl_post_ops_append_eltwise(post, 1.0f, dnnl_eltwise_clip, op->post_alpha, op->post_beta), "clip post-op");
        if (op->has_sum) {
            if (op->kind != OCTET_DNNL_CONV || !nhwc || op->dst_type != OCTET_DNNL_U8) {
                status = fail(dnnl_unimplemented, "a residual sum needs a convolution with a u8 channels-last destination", error, error_len);
                goto done;
            }
            CHECK(dnnl_post_ops_append_sum_v3(post, op->sum_scale, op->sum_zp, dnnl_u8), "sum post-op");
            if (op->sum_relu) CHECK(dnnl_post_ops_append_eltwise(post, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f), "relu post-op after the sum");
        }
        CHECK(dnnl_primitive_attr_set_post_ops(attr, post), "post-ops");
    }

    if (op->kind == OCTET_DNNL_CONV) {
        dnnl_convolution_desc_t cd;
        CHECK(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &k->src_md, &k->wei_md,
                                                         has_bias ? &k->bias_md : NULL, &k->dst_md, op->strides, op->dilates, op->pad_l, op->pad_r),
              "convolution descriptor");
        CHECK(dnnl_primitive_desc_create(&k->pd, &cd, attr, engine, NULL), "convolution primitive descriptor");
    } else {
        dnnl_matmul_desc_t md;
        CHECK(dnnl_matmul_desc_init(&md, &k->src_md, &k->wei_md, has_bias ? &k->bias_md : NULL, &k->dst_md), "matmul descriptor");
        CHECK(dnnl_primitive_desc_create(&k->pd, &md, attr, engine, NULL), "matmul primitive descriptor");
    }
    CHECK(dnnl_primitive_desc_query(k->pd, dnnl_query_impl_info_str, 0, &k->impl), "implementation query");
    CHECK(dnnl_primitive_create(&k->primitive, k->pd), "primitive");
    k->scratch_md = *dnnl_primitive_desc_query_md(k->pd, dnnl_query_scratchpad_md, 0);
    k->scratch_size = dnnl_memory_desc_get_size(&k->scratch_md);
    k->src_md = *dnnl_primitive_desc_query_md(k->pd, dnnl_query_src_md, 0);
    k->dst_md = *dnnl_primitive_desc_query_md(k->pd, dnnl_query_dst_md, 0);
    if (!dnnl_memory_desc_equal(&k->src_md, &k->user_src_md)) {
        dnnl_primitive_desc_t rpd = NULL;
        CHECK(dnnl_reorder_primitive_desc_create(&rpd, &k->user_src_md, engine, &k->src_md, engine, NULL), "source reorder descriptor");
        dnnl_status_t st = dnnl_primitive_create(&k->src_reorder, rpd);
        dnnl_primitive_desc_destroy(rpd);
        CHECK(st, "source reorder");
    }
    if (!dnnl_memory_desc_equal(&k->dst_md, &k->user_dst_md)) {
        dnnl_primitive_desc_t rpd = NULL;
        CHECK(dnnl_reorder_primitive_desc_create(&rpd, &k->dst_md, engine, &k->user_dst_md, engine, NULL), "destination reorder descriptor");
        dnnl_status_t st = dnnl_primitive_create(&k->dst_reorder, rpd);
        dnnl_primitive_desc_destroy(rpd);
        CHECK(st, "destination reorder");
    }

    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags), "stream");
    if (op->wei_constant) {
        /* Reorder the weights once into the layout the primitive chose. */
        const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(k->pd, dnnl_query_weights_md, 0);
        k->wei_md = *chosen;
        CHECK(dnnl_memory_create(&k->weights, chosen, engine, DNNL_MEMORY_ALLOCATE), "weights memory");
        CHECK(dnnl_memory_create(&user_weights, &user_wei_md, engine, (void *)op->weights), "user weights memory");
        CHECK(dnnl_reorder_primitive_desc_create(&reorder_pd, &user_wei_md, engine, chosen, engine, NULL), "weights reorder descriptor");
        CHECK(dnnl_primitive_create(&reorder, reorder_pd), "weights reorder");
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user_weights}, {DNNL_ARG_TO, k->weights}};
        CHECK(dnnl_primitive_execute(reorder, stream, 2, args), "weights reorder");
        CHECK(dnnl_stream_wait(stream), "weights reorder");
    }
    if (has_bias) {
        k->bias_data = malloc((size_t)op->bias_count * sizeof(float));
        if (!k->bias_data) { status = fail(dnnl_out_of_memory, "bias copy", error, error_len); goto done; }
        memcpy(k->bias_data, op->bias, (size_t)op->bias_count * sizeof(float));
        CHECK(dnnl_memory_create(&k->bias, &k->bias_md, engine, k->bias_data), "bias memory");
    }

done:
    if (stream) dnnl_stream_destroy(stream);
    if (reorder) dnnl_primitive_destroy(reorder);
    if (reorder_pd) dnnl_primitive_desc_destroy(reorder_pd);
    if (user_weights) dnnl_memory_destroy(user_weights);
    if (post) dnnl_post_ops_destroy(post);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (status != 0) {
        octet_dnnl_destroy(k);
        return status;
    }
    *out = k;
    return 0;
}

const char *octet_dnnl_implementation(const octet_dnnl_kernel *k) { return k->impl ? k->impl : "unknown"; }

struct octet_dnnl_context {
    dnnl_stream_t stream;
    dnnl_memory_t user_src, user_dst, src, dst, wei, scratch;
    void *src_buffer, *dst_buffer, *scratch_buffer;
    char error[512];
};

static void *layout_buffer(const dnnl_memory_desc_t *md) {
    size_t size = dnnl_memory_desc_get_size(md);
    return aligned_alloc(64, (size + 63) / 64 * 64);
}

void octet_dnnl_context_destroy(octet_dnnl_context *c) {
    if (!c) return;
    dnnl_memory_t mems[6] = {c->user_src, c->user_dst, c->src, c->dst, c->wei, c->scratch};
    for (int i = 0; i < 6; i++) if (mems[i]) dnnl_memory_destroy(mems[i]);
    if (c->stream) dnnl_stream_destroy(c->stream);
    free(c->scratch_buffer);
    free(c->src_buffer);
    free(c->dst_buffer);
    free(c);
}

octet_dnnl_context *octet_dnnl_context_create(const octet_dnnl_kernel *k, char *error, size_t error_len) {
    int status = 0;
    octet_dnnl_context *c = calloc(1, sizeof *c);
    if (!c) { fail(dnnl_out_of_memory, "allocating a context", error, error_len); return NULL; }
    CHECK(dnnl_stream_create(&c->stream, engine, dnnl_stream_default_flags), "stream");
    if (k->src_reorder) {
        if (!(c->src_buffer = layout_buffer(&k->src_md))) { status = fail(dnnl_out_of_memory, "source buffer", error, error_len); goto done; }
        CHECK(dnnl_memory_create(&c->user_src, &k->user_src_md, engine, DNNL_MEMORY_NONE), "source memory");
        CHECK(dnnl_memory_create(&c->src, &k->src_md, engine, c->src_buffer), "source memory");
    } else {
        CHECK(dnnl_memory_create(&c->src, &k->src_md, engine, DNNL_MEMORY_NONE), "source memory");
    }
    if (k->dst_reorder) {
        if (!(c->dst_buffer = layout_buffer(&k->dst_md))) { status = fail(dnnl_out_of_memory, "destination buffer", error, error_len); goto done; }
        CHECK(dnnl_memory_create(&c->dst, &k->dst_md, engine, c->dst_buffer), "destination memory");
        CHECK(dnnl_memory_create(&c->user_dst, &k->user_dst_md, engine, DNNL_MEMORY_NONE), "destination memory");
    } else {
        CHECK(dnnl_memory_create(&c->dst, &k->dst_md, engine, DNNL_MEMORY_NONE), "destination memory");
    }
    if (!k->weights) CHECK(dnnl_memory_create(&c->wei, &k->wei_md, engine, DNNL_MEMORY_NONE), "weights memory");
    if (k->scratch_size > 0) {
        if (!(c->scratch_buffer = layout_buffer(&k->scratch_md))) { status = fail(dnnl_out_of_memory, "scratchpad", error, error_len); goto done; }
        CHECK(dnnl_memory_create(&c->scratch, &k->scratch_md, engine, c->scratch_buffer), "scratchpad memory");
    }
done:
    if (status != 0) {
        octet_dnnl_context_destroy(c);
        return NULL;
    }
    return c;
}

const char *octet_dnnl_context_error(const octet_dnnl_context *c) { return c->error; }

int octet_dnnl_execute(const octet_dnnl_kernel *k, octet_dnnl_context *c, const void *src, const void *weights, void *dst, int threads) {
    int status = 0;
    char *error = c->error;
    const size_t error_len = sizeof c->error;
    set_threads(threads);
    if (k->src_reorder) {
        CHECK(dnnl_memory_set_data_handle(c->user_src, (void *)src), "source memory");
        dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, c->user_src}, {DNNL_ARG_TO, c->src}};
        CHECK(dnnl_primitive_execute(k->src_reorder, c->stream, 2, r), "source reorder");
    } else {
        CHECK(dnnl_memory_set_data_handle(c->src, (void *)src), "source memory");
    }
    CHECK(dnnl_memory_set_data_handle(k->dst_reorder ? c->user_dst : c->dst, dst), "destination memory");
    if (c->wei) CHECK(dnnl_memory_set_data_handle(c->wei, (void *)weights), "weights memory");
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, c->src}, {DNNL_ARG_WEIGHTS, k->weights ? k->weights : c->wei}, {DNNL_ARG_DST, c->dst}};
    int nargs = 3;
    if (k->bias) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, k->bias};
    if (c->scratch) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, c->scratch};
    CHECK(dnnl_primitive_execute(k->primitive, c->stream, nargs, args), "execute");
    if (k->dst_reorder) {
        dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, c->dst}, {DNNL_ARG_TO, c->user_dst}};
        CHECK(dnnl_primitive_execute(k->dst_reorder, c->stream, 2, r), "destination reorder");
    }
    CHECK(dnnl_stream_wait(c->stream), "execute");
done:
    return status;
}

void octet_dnnl_destroy(octet_dnnl_kernel *k) {
    if (!k) return;
    if (k->primitive) dnnl_primitive_destroy(k->primitive);
    if (k->src_reorder) dnnl_primitive_destroy(k->src_reorder);
    if (k->dst_reorder) dnnl_primitive_destroy(k->dst_reorder);
    if (k->pd) dnnl_primitive_desc_destroy(k->pd);
    if (k->weights) dnnl_memory_destroy(k->weights);
    if (k->bias) dnnl_memory_destroy(k->bias);
    free(k->bias_data);
    free(k);
}

const char *octet_dnnl_effective_isa(void) {
    pthread_once(&engine_once, make_engine);
    if (cap_status != dnnl_success) return "unknown (dnnl_set_max_cpu_isa failed)";
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
    }
}

const char *octet_dnnl_version(void) {
    static char text[64];
    const dnnl_version_t *v = dnnl_version();
    snprintf(text, sizeof text, "%d.%d.%d", v->major, v->minor, v->patch);
    return text;
}
