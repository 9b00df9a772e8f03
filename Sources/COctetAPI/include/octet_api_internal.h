#pragma once
/// Between the C and Swift halves of the C API; not part of octet.h.
void octet_api_set_last_error(const char *text);
