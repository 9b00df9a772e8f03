/* Plugins that break the ABI one way each, selected by a macro; Octet must refuse or
 * report each with its reason and carry on. */
#include "octet_plugin.h"

#include <stdio.h>
#include <string.h>

static int supports(const octet_plugin_signature *s, char *reason, size_t cap) {
    if (strcmp(s->kind, "linear") != 0 || strcmp(s->precision, "int8") != 0) {
        snprintf(reason, cap, "linear int8 only");
        return 0;
    }
    return 1;
}

static int token;
static void *prepare(const octet_plugin_signature *s, const octet_plugin_constants *c, char *error, size_t cap) {
    (void)s; (void)c;
#ifdef FAIL_PREPARE
    snprintf(error, cap, "the device is busy");
    return NULL;
#else
    (void)error; (void)cap;
    return &token;
#endif
}

static int run(void *k, const octet_plugin_tensor *in, size_t n, octet_plugin_tensor *out, char *error, size_t cap) {
    (void)k; (void)in; (void)n; (void)out;
    snprintf(error, cap, "kernel exploded");
    return 7;
}

static void release(void *k) { (void)k; }

static const octet_plugin_api api = {
#ifdef WRONG_ABI
    .abi_version = 99,
#else
    .abi_version = OCTET_PLUGIN_ABI_VERSION,
#endif
#ifdef WRONG_SIZE
    .struct_size = sizeof(octet_plugin_api) - 8,
#else
    .struct_size = sizeof(octet_plugin_api),
#endif
#ifdef EMPTY_NAME
    .name = "",
#else
    .name = "broken",
#endif
    .version = "0",
    .summary = "a broken plugin",
    .supports = supports,
    .prepare = prepare,
#ifdef NULL_RUN
    .run = NULL,
#else
    .run = run,
#endif
    .release = release,
    .kernel_name = NULL,
};

#ifdef NO_ENTRY
const octet_plugin_api *octet_plugin_entry_misspelled(void) { return &api; }
#elif defined(NULL_TABLE)
const octet_plugin_api *octet_plugin_entry(void) { return NULL; }
#else
const octet_plugin_api *octet_plugin_entry(void) { return &api; }
#endif
