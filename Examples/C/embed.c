/* Embedding Octet from C: load an FP32 ONNX model, quantize it to INT8 with calibration
 * samples, plan a session, run one input through it on caller-owned buffers, and print the
 * logits and the dispatch trace.
 *
 * Build:  cc embed.c -I ../../Sources/COctetAPI/include -L ../../.build/debug -lOctetC -o embed
 * Run:    LD_LIBRARY_PATH=../../.build/debug ./embed MODEL.onnx CALIBRATION.npz INPUT.f32 [TRACE.json]
 *         (INPUT.f32: the raw little-endian float32 values of one 1 x 1 x 8 x 8 input) */
#include "octet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "embed: %s: %s\n", what, octet_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: embed MODEL.onnx CALIBRATION.npz INPUT.f32 [TRACE.json]\n");
        return 2;
    }
    float x[64];
    FILE *f = fopen(argv[3], "rb");
    if (!f || fread(x, sizeof x[0], 64, f) != 64) {
        fprintf(stderr, "embed: %s: expected 64 float32 values\n", argv[3]);
        if (f) fclose(f);
        return 2;
    }
    fclose(f);

    printf("octet %s\n", octet_version());
    octet_model *model = octet_model_load(argv[1]);
    if (!model) return fail("loading the model");
    octet_model *int8 = octet_quantize_static(model, argv[2], "minmax");
    octet_model_free(model);
    if (!int8) return fail("quantizing");

    octet_session_options options;
    memset(&options, 0, sizeof options);
    options.struct_size = sizeof options;
    options.threads = 1;
    octet_session *session = octet_session_create(int8, &options);
    if (!session) {
        octet_model_free(int8);
        return fail("planning the session");
    }

    octet_tensor input = {.name = octet_model_input_name(int8, 0), .dtype = OCTET_F32, .rank = 4, .dims = {1, 1, 8, 8},
                          .data = x, .capacity = sizeof x, .byte_count = sizeof x};
    float logits[10];
    octet_tensor output = {.name = octet_model_output_name(int8, 0), .data = logits, .capacity = sizeof logits};
    int status = 0;
    if (octet_session_run(session, &input, 1, &output, 1) != 0) {
        status = fail("running");
    } else {
        int best = 0;
        printf("logits:");
        for (int i = 0; i < 10; i++) {
            printf(" %.9g", logits[i]);
            if (logits[i] > logits[best]) best = i;
        }
        printf("\nargmax: %d\n", best);
        printf("output: rank %d, %lld x %lld, %zu bytes\n", output.rank, (long long)output.dims[0], (long long)output.dims[1], output.byte_count);
    }

    /* A buffer too small is refused, and says how much it needs. */
    float small[2];
    octet_tensor tiny = {.name = octet_model_output_name(int8, 0), .data = small, .capacity = sizeof small};
    if (octet_session_run(session, &input, 1, &tiny, 1) == 0) status = 1;
    printf("small buffer: %s\n", octet_last_error());

    char *trace = octet_session_trace_json(session, &input, 1);
    if (!trace) {
        status = fail("tracing");
    } else {
        if (argc > 4) {
            FILE *t = fopen(argv[4], "w");
            if (t) { fputs(trace, t); fclose(t); }
        }
        printf("trace: %zu bytes of JSON\n", strlen(trace));
        octet_string_free(trace);
    }
    octet_session_free(session);
    octet_model_free(int8);
    return status;
}
