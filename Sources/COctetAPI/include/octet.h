#pragma once
/// Octet's C API, for applications that embed the runtime: load an ONNX model, quantize
/// it, plan a session, run it on caller-owned buffers, read the dispatch trace.
///
/// Link with `-lOctetC` (the `OctetC` shared-library product; `pkg-config --libs octet`).
/// Every object is an opaque handle freed by its `_free` function (NULL is accepted).
/// Functions that can fail return NULL or a non-zero status; `octet_last_error()` then
/// says why, for the calling thread. Strings returned as `char *` are the caller's, freed
/// with `octet_string_free`; `const char *` results are owned by Octet.
///
/// Threads: a session may run from several threads at once; models and options are
/// read-only once made.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OCTET_API_VERSION 1

typedef struct octet_model octet_model;
typedef struct octet_session octet_session;

/// Element types (the same codes as the plugin ABI).
typedef enum octet_dtype {
    OCTET_F32 = 0, OCTET_F16 = 1, OCTET_U8 = 2, OCTET_S8 = 3, OCTET_S32 = 4, OCTET_S64 = 5, OCTET_BOOL = 6,
    /* Appended (codes above never change): */
    OCTET_U16 = 7, OCTET_S16 = 8, OCTET_U32 = 9, OCTET_U64 = 10, OCTET_F64 = 11, OCTET_BF16 = 12,
} octet_dtype;

#define OCTET_MAX_RANK 8

/// A tensor the caller owns: `data` holds `capacity` bytes, row-major over `dims`.
/// For inputs every field is read. For outputs `name`, `data` and `capacity` are read;
/// `dtype`, `rank`, `dims` and `byte_count` are written.
typedef struct octet_tensor {
    const char *name;
    int32_t dtype;
    int32_t rank;
    int64_t dims[OCTET_MAX_RANK];
    void *data;
    size_t capacity;      ///< bytes available at `data`
    size_t byte_count;    ///< bytes used (written for outputs)
} octet_tensor;

/// Session settings; zero-initialize, set `struct_size = sizeof(octet_session_options)`.
typedef struct octet_session_options {
    uint32_t struct_size;
    int32_t threads;              ///< ≤ 0: 1
    const char *rules_path;       ///< NULL: the built-in backends.json
    const char *cpu;              ///< NULL: this machine; else a preset or feature list (`--cpu`)
    const char *const *plugins;   ///< shared-library backends to load (octet_plugin.h)
    size_t plugin_count;
} octet_session_options;

/// Why the last failing call on this thread failed ("" when none did). Valid until the
/// next Octet call on this thread.
const char *octet_last_error(void);
/// Octet's version ("major.minor.patch").
const char *octet_version(void);
void octet_string_free(char *text);

/// Loads an ONNX model from a file (external data beside it) or from memory.
octet_model *octet_model_load(const char *path);
octet_model *octet_model_load_bytes(const void *bytes, size_t size);
void octet_model_free(octet_model *model);
/// Writes the model as ONNX (a quantized model is standard QDQ ONNX). 0 on success.
int octet_model_save(const octet_model *model, const char *path);
size_t octet_model_input_count(const octet_model *model);
size_t octet_model_output_count(const octet_model *model);
/// The i-th input / output name (owned by the model), or NULL past the end.
const char *octet_model_input_name(const octet_model *model, size_t i);
const char *octet_model_output_name(const octet_model *model, size_t i);

/// Static post-training quantization with the samples of an .npz (leading sample axis per
/// input); `method` is NULL or one of minmax, moving-average, histogram, entropy, percentile.
octet_model *octet_quantize_static(const octet_model *model, const char *calibration_npz, const char *method);
/// Dynamic quantization (s8 weights; activations quantized per call), for transformers.
octet_model *octet_quantize_dynamic(const octet_model *model);
/// FP16 weights.
octet_model *octet_quantize_fp16(const octet_model *model);

/// Plans a session (`options` may be NULL). Nothing is planned for shapes until the first run.
octet_session *octet_session_create(const octet_model *model, const octet_session_options *options);
void octet_session_free(octet_session *session);
/// Runs on `inputs`, writing every requested output into its caller-owned buffer. Fails
/// (nothing written past `capacity`) when a buffer is too small; the error names the
/// output and the bytes it needs. 0 on success.
int octet_session_run(octet_session *session, const octet_tensor *inputs, size_t input_count,
                      octet_tensor *outputs, size_t output_count);
/// The dispatch trace of the plan for these inputs' shapes, as JSON (see `octet run
/// --trace`); free with `octet_string_free`. NULL on failure.
char *octet_session_trace_json(octet_session *session, const octet_tensor *inputs, size_t input_count);

#ifdef __cplusplus
}
#endif
