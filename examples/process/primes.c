/* The seeds' PRIMES check on processes: is_prime over 19000..19999 serially and with
 * cfut_executor_map on a process pool; then the same over 1000 large numbers, where each
 * check costs enough for processes to pay off. Results must agree. */
#define _GNU_SOURCE
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cfutures.h"

static bool is_prime(uint64_t n) {
    if (n < 2) return false;
    if (n == 2) return true;
    if (n % 2 == 0) return false;
    uint64_t r = (uint64_t)floor(sqrt((double)n));
    for (uint64_t i = 3; i <= r; i += 2)
        if (n % i == 0) return false;
    return true;
}

/* The map function (runs in a worker process): item = uint64_t, result = bool. */
static int32_t is_prime_task(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    *(bool *)slot = is_prime(*(const uint64_t *)item);
    return 0;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int check(cfut_executor *ex, const char *what, const uint64_t *nums, size_t n) {
    bool *serial = malloc(n), *par = malloc(n);
    double t0 = now_ms();
    for (size_t i = 0; i < n; i++) serial[i] = is_prime(nums[i]);
    double serial_ms = now_ms() - t0;

    t0 = now_ms();
    cfut_map *m;
    cfut_status s = cfut_executor_map(ex, is_prime_task, NULL, 0, nums, n, sizeof *nums, par, sizeof *par, NULL, &m);
    size_t count = 0, idx;
    if (s == CFUT_OK) {
        /* Results in input order, as Python's map. */
        while ((s = cfut_map_next(m, &idx, NULL)) == CFUT_OK) count += par[idx];
        cfut_map_free(m);
    }
    double par_ms = now_ms() - t0;
    if (s != CFUT_EXHAUSTED) {
        fprintf(stderr, "map failed: %s\n", cfut_status_name(s));
        return 1;
    }
    size_t serial_count = 0;
    int same = 1;
    for (size_t i = 0; i < n; i++) {
        serial_count += serial[i];
        same &= serial[i] == par[i];
    }
    printf("%s: %zu of %zu are prime; serial %.2f ms, %u processes %.2f ms (speed-up %.2fx)%s\n", what, count, n,
           serial_ms, cfut_executor_max_workers(ex), par_ms, serial_ms / par_ms, same ? "" : "  MISMATCH");
    free(serial);
    free(par);
    return !(same && count == serial_count);
}

int main(void) {
    cfut_executor *ex;
    if (cfut_process_pool_new(NULL, &ex) != CFUT_OK) {
        fprintf(stderr, "cfut_process_pool_new: %s\n", cfut_last_error_message());
        return 1;
    }
    enum { N = 1000 };
    uint64_t nums[N];
    for (int i = 0; i < N; i++) nums[i] = 19000 + (uint64_t)i; /* PRIMES = range(19000, 20000) */
    int bad = check(ex, "PRIMES 19000..19999 (tiny checks: IPC dominates)", nums, N);
    printf("  e.g. 19088 is prime: %s, 19087 is prime: %s\n", is_prime(19088) ? "True" : "False", is_prime(19087) ? "True" : "False");
    for (int i = 0; i < N; i++) nums[i] = 1000000000000ULL + 2 * (uint64_t)i + 1; /* odd numbers near 10^12 */
    bad |= check(ex, "1000 odd numbers near 10^12 (heavier checks)", nums, N);
    cfut_executor_free(ex);
    return bad;
}
