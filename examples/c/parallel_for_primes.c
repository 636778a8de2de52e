/*
 * parallel_for_primes.c: the "pitfalls" is_prime count again, as a parallel loop.
 *
 * is_prime_pool.c shows that one task per number drowns in per-task overhead. A parallel
 * loop hands out *ranges* instead: cfut_parallel_for calls count_range(ctx, b, e) on
 * disjoint ranges covering [begin, end), on the pool's workers and on this thread, and the
 * cost of a number grows with its size, so the adaptive split (grain 0) keeps the threads
 * busy to the end. Then a loop that fails: the first non-zero code stops new ranges and
 * comes back as CFUT_TASK_FAILED with that code.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cfutures.h"

#define LIMIT 2000000u

static bool is_prime(uint64_t n) {
    if (n < 2) return false;
    if (n % 2 == 0) return n == 2;
    for (uint64_t d = 3; d * d <= n; d += 2)
        if (n % d == 0) return false;
    return true;
}

static int32_t count_range(void *ctx, size_t b, size_t e) {
    uint64_t found = 0;
    for (size_t n = b; n < e; n++) found += is_prime(n);
    atomic_fetch_add((_Atomic uint64_t *)ctx, found); /* one shared update per range */
    return 0;
}

/* Fails on the range holding 1 000 003 (a prime), as a loop body reporting bad input would. */
static int32_t refuse_range(void *ctx, size_t b, size_t e) {
    (void)ctx;
    return b <= 1000003 && 1000003 < e ? 42 : 0;
}

int main(void) {
    cfut_executor *ex = NULL;
    cfut_status st = cfut_thread_pool_new(NULL, &ex);
    if (st != CFUT_OK) {
        fprintf(stderr, "pool: %s\n", cfut_status_name(st));
        return 1;
    }
    _Atomic uint64_t primes = 0;
    st = cfut_parallel_for(ex, 0, LIMIT, 0, count_range, &primes, NULL);
    printf("primes below %u: %llu (%s)\n", LIMIT, (unsigned long long)primes, cfut_status_name(st));
    int rc = st == CFUT_OK && primes == 148933 ? 0 : 1;

    cfut_error err;
    st = cfut_parallel_for(ex, 0, LIMIT, 1000, refuse_range, NULL, &err);
    printf("failing loop: %s, code %d\n", cfut_status_name(st), err.code);
    if (st != CFUT_TASK_FAILED || err.code != 42) rc = 1;
    cfut_executor_free(ex);
    return rc;
}
