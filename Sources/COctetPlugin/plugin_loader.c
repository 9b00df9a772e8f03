#include "octet_plugin.h"

#include <dlfcn.h>
#include <stdio.h>

const octet_plugin_api *octet_plugin_open(const char *path, void **library, char *error, size_t error_capacity) {
    *library = NULL;
    /* RTLD_LOCAL: two plugins may define the same internal symbols. */
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        snprintf(error, error_capacity, "not a loadable shared library: %s", why ? why : "dlopen failed");
        return NULL;
    }
    dlerror();
    void *symbol = dlsym(handle, OCTET_PLUGIN_ENTRY);
    if (!symbol) {
        snprintf(error, error_capacity, "no '%s' symbol: not an Octet plugin", OCTET_PLUGIN_ENTRY);
        dlclose(handle);
        return NULL;
    }
    octet_plugin_entry_fn entry;
    *(void **)(&entry) = symbol;
    const octet_plugin_api *api = entry();
    if (!api) {
        snprintf(error, error_capacity, "'%s' returned NULL", OCTET_PLUGIN_ENTRY);
        dlclose(handle);
        return NULL;
    }
    *library = handle;
    return api;
}
