/* What the soak (soak.c) and the map loop (maps.c) share: the check counter, the xorshift
 * generator and the map item function. Each program includes it once. */
#ifndef SOAK_UTIL_H
#define SOAK_UTIL_H
#include <stdint.h>
#include <stdio.h>

static long g_passed, g_failed;
#define CHECK(c)                                                                           \
    do {                                                                                   \
        if (c) {                                                                           \
            g_passed++;                                                                    \
        } else {                                                                           \
            g_failed++;                                                                    \
            if (g_failed < 20) fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
        }                                                                                  \
    } while (0)

/* A fixed-seed xorshift: every run draws the same sequence. */
static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* Map item: result = item + *ctx (1 without a ctx); items 13, 110 and 207 (of 300) fail
 * with code 5. */
static int32_t m_add(const void *ctx, const void *item, void *slot) {
    long k = ctx ? *(const long *)ctx : 1;
    *(long *)slot = *(const long *)item + k;
    return *(const long *)item % 97 == 13 ? 5 : 0;
}
#endif
