#include "octet.h"

#include <stdlib.h>
#include <string.h>

/* The calling thread's last error, set by the Swift side of the API. */
static _Thread_local char *last_error;

void octet_api_set_last_error(const char *text) {
    free(last_error);
    last_error = text ? strdup(text) : NULL;
}

const char *octet_last_error(void) { return last_error ? last_error : ""; }

void octet_string_free(char *text) { free(text); }
