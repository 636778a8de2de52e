/* Task functions that live in a shared library (not the test executable). Built twice:
 * libptasks.so is linked by the test program, libptasks_dl.so is dlopen()ed at run time,
 * and VARIANT gives a second build (different build-id) for the version-skew test. */
#include <stdint.h>
#include <string.h>
#include "cfutures.h"

#ifndef VARIANT
#define VARIANT 1
#endif

/* Unexported on purpose: reached only through its address (offset resolution). */
static int32_t hidden_negate(const void *in, size_t len, cfut_result *out) {
    long v;
    if (len != sizeof v) return 22;
    memcpy(&v, in, sizeof v);
    v = -v * VARIANT;
    cfut_result_set_bytes(out, &v, sizeof v);
    return 0;
}

int32_t lib_triple(const void *in, size_t len, cfut_result *out) {
    long v;
    if (len != sizeof v) return 22;
    memcpy(&v, in, sizeof v);
    v = 3 * v * VARIANT;
    cfut_result_set_bytes(out, &v, sizeof v);
    return 0;
}

cfut_bytes_fn lib_hidden(void) { return hidden_negate; }
