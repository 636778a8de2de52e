/* The per-item square of ours_c.c, built into a shared library of its own: a call between
 * the executable and a shared library (far apart in the address space) costs about 1 ns
 * more per call on an AMD EPYC host than one between neighbours, so the map row with this
 * callback shows what the library's per-item loop does when the callback lives near it. */
#include <stdint.h>

int32_t pfor_sq_item_lib(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    int64_t x = *(const int64_t *)item;
    *(int64_t *)slot = x * x;
    return 0;
}
