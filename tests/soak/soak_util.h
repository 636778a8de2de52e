/* What the soak (soak.c) and the map loop (maps.c) share: the check counter, the xorshift
 * generator and the map round. Each program includes it once. */
#ifndef SOAK_UTIL_H
#define SOAK_UTIL_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cfutures.h"

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

/* One map of 300 items with random chunk sizes, half with max_in_flight 4; a quarter are
 * dropped half-way, the rest consumed and checked (3 items fail). `copy_ctx`: the context
 * is copied (a process pool needs it). False if the map could not start. */
static bool round_map(cfut_executor *ex, bool copy_ctx) {
    enum { M = 300 };
    static long items[M], results[M];
    for (long i = 0; i < M; i++) items[i] = i;
    long k = 5;
    cfut_map_options o;
    cfut_map_options_init(&o);
    o.chunksize = 1 + rnd(40);
    o.max_in_flight = rnd(2) ? 0 : 4;
    cfut_map *m;
    cfut_status st = cfut_executor_map(ex, m_add, &k, copy_ctx ? sizeof k : 0, items, M, sizeof(long), results, sizeof(long), &o, &m);
    CHECK(st == CFUT_OK);
    if (st != CFUT_OK) return false;
    if (rnd(4) == 0) {
        cfut_map_free(m); /* dropped half-way */
        return true;
    }
    size_t idx, n = 0, failed = 0;
    cfut_error e;
    cfut_status s;
    while ((s = cfut_map_next(m, &idx, &e)) != CFUT_EXHAUSTED) {
        if (s == CFUT_OK) CHECK(results[idx] == items[idx] + k);
        else failed++;
        n++;
    }
    CHECK(n == M);
    CHECK(failed == 3); /* 13, 110, 207 */
    cfut_map_free(m);
    return true;
}
#endif
