/*
 * is_prime_pool.c: when a pool does NOT pay, and how chunking makes it pay.
 *
 * Python:
 *     PRIMES = [num for num in range(19000, 20000)]
 *
 *     for number in PRIMES:                                    # serial:   ~67 ms
 *         print(f"{number} is prime: {is_prime(number)}")
 *
 *     with ThreadPoolExecutor(max_workers=13) as executor:     # threads: ~140 ms
 *         for number, prime in zip(PRIMES, executor.map(is_prime, PRIMES)):
 *             print(f"{number} is prime: {prime}")
 *
 * Checking whether 19xxx is prime takes a few dozen divisions: nanoseconds. Handing a
 * task to a worker thread (queue it, wake a thread, publish the result, wake the waiter)
 * costs far more than that, so one task per number makes the pool slower than a plain
 * loop. (Python's GIL makes it worse there; C threads really do run in parallel, and the
 * pool still loses on tiny tasks.) The fix is to give each task many numbers:
 * cfut_executor_map runs items in chunks, so the hand-off cost is paid once per chunk
 * instead of once per number. Once the total work is large compared with a few
 * hand-offs, the chunked pool beats the loop, by up to the number of CPU cores.
 *
 * Timings vary from run to run (and on a busy machine); each one is the best of a few runs.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, sysconf */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfutures.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void check(cfut_status status, const char *what) {
    if (status != CFUT_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, cfut_status_name(status), cfut_status_str(status));
        exit(1);
    }
}

/* The seed's is_prime, by trial division over odd numbers up to sqrt(n). */
static bool is_prime(uint32_t n) {
    if (n < 2)
        return false;
    if (n == 2)
        return true;
    if (n % 2 == 0)
        return false;
    for (uint32_t i = 3; (uint64_t)i * i <= n; i += 2) {
        if (n % i == 0)
            return false;
    }
    return true;
}

/* The map function: one number in, one bool out. */
static int32_t is_prime_item(const void *ctx, const void *item, void *result_slot) {
    (void)ctx;
    *(bool *)result_slot = is_prime(*(const uint32_t *)item);
    return 0;
}

static size_t count_true(const bool *flags, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += flags[i];
    return c;
}

/* Time of one run of the plain loop, in ms. */
static double time_serial(const uint32_t *nums, bool *results, size_t n) {
    double t0 = now_ms();
    for (size_t i = 0; i < n; i++)
        results[i] = is_prime(nums[i]);
    return now_ms() - t0;
}

/* Time of one map over the numbers with the given chunk size (0 = automatic), in ms;
 * reports the chunk size the map actually used. */
static double time_map(cfut_executor *ex, const uint32_t *nums, bool *results, size_t n,
                       size_t chunksize, size_t *used_chunksize) {
    cfut_map_options opts;
    cfut_map_options_init(&opts);
    opts.chunksize = chunksize;
    double t0 = now_ms();
    cfut_map *map;
    check(cfut_executor_map(ex, is_prime_item, NULL, 0, nums, n, sizeof nums[0], results,
                            sizeof results[0], &opts, &map),
          "cfut_executor_map");
    check(cfut_map_wait(map, NULL), "cfut_map_wait"); /* every item done (none fails) */
    double t = now_ms() - t0;
    *used_chunksize = cfut_map_chunksize(map);
    cfut_map_free(map);
    return t;
}

static double min2(double a, double b) { return a < b ? a : b; }

/* One line of the timing table; compared with the loop's time `base` unless it is 0. */
static void print_row(const char *label, double t, double base) {
    printf("  %-38s %8.3f ms", label, t);
    if (base <= 0)
        printf("\n");
    else if (t >= base)
        printf("  (%.1fx slower than the loop)\n", t / base);
    else
        printf("  (%.1fx faster than the loop)\n", base / t);
}

/* numbers first, first+1, ..., first+n-1, on the heap (a million is too big for the stack). */
static uint32_t *number_range(uint32_t first, size_t n) {
    uint32_t *nums = malloc(n * sizeof *nums);
    if (nums == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        nums[i] = first + (uint32_t)i;
    return nums;
}

int main(void) {
    /* CPU-bound work: one thread per core. More threads cannot compute faster, they
     * only take turns on the same cores. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfut_thread_pool_options popts;
    cfut_thread_pool_options_init(&popts);
    popts.max_workers = cpus > 0 ? (uint32_t)cpus : 1;
    cfut_executor *ex;
    check(cfut_thread_pool_new(&popts, &ex), "cfut_thread_pool_new");
    uint32_t workers = cfut_executor_max_workers(ex);
    int ok = 1;

    /* ---- 1. the seed: 19000..19999 -------------------------------------------------- */
    enum { SMALL_N = 1000, SMALL_REPS = 5 };
    uint32_t *nums = number_range(19000, SMALL_N);
    bool *serial_res = malloc(SMALL_N * sizeof *serial_res);
    bool *pool_res = malloc(SMALL_N * sizeof *pool_res);
    if (serial_res == NULL || pool_res == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    /* Runs take turns, so a burst of load from other programs hits them all alike. */
    size_t chunk1, chunked;
    double t_serial = 1e300, t_each = 1e300, t_chunked = 1e300;
    for (int r = 0; r < SMALL_REPS; r++) {
        t_serial = min2(t_serial, time_serial(nums, serial_res, SMALL_N));
        t_each = min2(t_each, time_map(ex, nums, pool_res, SMALL_N, 1, &chunk1));
        ok &= memcmp(pool_res, serial_res, SMALL_N * sizeof *pool_res) == 0;
        t_chunked = min2(t_chunked, time_map(ex, nums, pool_res, SMALL_N, 0, &chunked));
        ok &= memcmp(pool_res, serial_res, SMALL_N * sizeof *pool_res) == 0;
    }
    size_t primes = count_true(serial_res, SMALL_N);

    printf("is_prime over 19000..19999: %zu primes (e.g. 19001 is prime: %s)\n", primes,
           serial_res[1] ? "true" : "false");
    printf("%u worker threads (one per CPU), best of %d runs:\n", workers, SMALL_REPS);
    char label[64];
    print_row("serial loop:", t_serial, 0);
    print_row("pool, one task per number (chunk 1):", t_each, t_serial);
    snprintf(label, sizeof label, "pool, chunked map (%zu per task):", chunked);
    print_row(label, t_chunked, t_serial);
    printf("Why: checking one number takes ~%.0f ns, but each task costs ~%.1f us to hand to\n"
           "a worker and back. With one task per number the pool spends its time on overhead,\n"
           "not work. Chunking pays that cost once per %zu numbers instead; with only %.3f ms\n"
           "of work in all, even a few hand-offs cost about as much as just doing it.\n",
           t_serial * 1e6 / SMALL_N, t_each * 1e3 / SMALL_N, chunked, t_serial);
    double t_per_task_us = t_each * 1e3 / SMALL_N; /* wall time per task, all-in */
    free(nums);
    free(serial_res);
    free(pool_res);

    /* ---- 2. the same function with enough work to share out ----------------------- */
    enum { BIG_N = 1000000, BIG_REPS = 5 };
    nums = number_range(19000, BIG_N);
    serial_res = malloc(BIG_N * sizeof *serial_res);
    pool_res = malloc(BIG_N * sizeof *pool_res);
    if (serial_res == NULL || pool_res == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    t_serial = t_chunked = 1e300;
    for (int r = 0; r < BIG_REPS; r++) {
        t_serial = min2(t_serial, time_serial(nums, serial_res, BIG_N));
        t_chunked = min2(t_chunked, time_map(ex, nums, pool_res, BIG_N, 0, &chunked));
        ok &= memcmp(pool_res, serial_res, BIG_N * sizeof *pool_res) == 0;
    }
    primes = count_true(serial_res, BIG_N);

    printf("\nis_prime over 19000..%u (%d numbers, %zu primes), best of %d runs:\n",
           19000 + BIG_N - 1, BIG_N, primes, BIG_REPS);
    print_row("serial loop:", t_serial, 0);
    snprintf(label, sizeof label, "pool, chunked map (%zu per task):", chunked);
    print_row(label, t_chunked, t_serial);
    printf("  speed-up: %.2fx (at most %u, one per worker thread)\n", t_serial / t_chunked,
           workers);
    printf("One task per number would add about %.0f ms of hand-offs (%d x %.2f us measured\n"
           "above); with %zu numbers per task it is %zu hand-offs, which is noise, and the\n"
           "cores share the work.\n",
           BIG_N * t_per_task_us / 1e3, BIG_N, t_per_task_us, chunked,
           (BIG_N + chunked - 1) / chunked);
    if (t_serial / t_chunked < 1.2)
        printf("(Little or no speed-up this time: other programs are probably busy on the cores,\n"
               "so the workers wait for CPU time. On an idle machine expect most of %ux.)\n",
               workers);
    free(nums);
    free(serial_res);
    free(pool_res);

    cfut_executor_free(ex);
    if (!ok) {
        fprintf(stderr, "the pool and the loop disagree on which numbers are prime\n");
        return 1;
    }
    return 0;
}
