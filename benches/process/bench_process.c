/* cfutures process-pool benchmarks. Prints one line per measurement:
 *   <name> <value> <unit>
 * The same measurements are made for CPython's ProcessPoolExecutor by cpython_bench.py,
 * and run.py puts both side by side. Usage: bench_process [workers] */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfutures.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int32_t nothing(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len; (void)out;
    return 0;
}
static int32_t crash(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len; (void)out;
    raise(SIGSEGV);
    return 0;
}
static int32_t square(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    long v = *(const long *)item;
    *(long *)slot = v * v;
    return 0;
}

static uint32_t g_method = CFUT_START_SPAWN;

static cfut_executor *pool(unsigned workers) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = workers;
    o.start_method = g_method;
    cfut_executor *ex;
    if (cfut_process_pool_new(&o, &ex) != CFUT_OK) {
        fprintf(stderr, "pool: %s\n", cfut_last_error_message());
        exit(1);
    }
    return ex;
}

static void warm(cfut_executor *ex, unsigned workers) {
    cfut_future *f[64];
    for (unsigned i = 0; i < workers * 4 && i < 64; i++) cfut_executor_submit_bytes(ex, nothing, NULL, 0, &f[i]);
    for (unsigned i = 0; i < workers * 4 && i < 64; i++) {
        cfut_future_wait(f[i], CFUT_FOREVER);
        cfut_future_release(f[i]);
    }
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Pool start to the first result (best of 5). */
static void start_to_first(unsigned workers, const char *suffix) {
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        cfut_executor *ex = pool(workers);
        cfut_future *f;
        cfut_executor_submit_bytes(ex, nothing, NULL, 0, &f);
        cfut_future_wait(f, CFUT_FOREVER);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
        cfut_future_release(f);
        cfut_executor_free(ex);
    }
    printf("start_to_first_result%s %.3f ms\n", suffix, best * 1e3);
}

/* Crash to the replacement worker's first result (one worker: the next task must run on
 * the replacement); the mean of 20. */
static void crash_to_replacement(const char *suffix) {
    cfut_executor *ex = pool(1);
    warm(ex, 1);
    double sum = 0;
    for (int r = 0; r < 20; r++) {
        cfut_future *c, *f;
        double t0 = now_s();
        cfut_executor_submit_bytes(ex, crash, NULL, 0, &c);
        cfut_executor_submit_bytes(ex, nothing, NULL, 0, &f);
        cfut_future_wait(f, CFUT_FOREVER);
        sum += now_s() - t0;
        cfut_error e;
        cfut_future_error(c, CFUT_FOREVER, &e);
        if (e.status != CFUT_WORKER_DIED) fprintf(stderr, "crash not reported\n");
        cfut_future_release(c);
        cfut_future_release(f);
    }
    printf("crash_to_replacement_result%s %.3f ms\n", suffix, sum / 20 * 1e3);
    cfut_executor_free(ex);
}

int main(int argc, char **argv) {
    unsigned workers = argc > 1 ? (unsigned)atoi(argv[1]) : 2;
    start_to_first(workers, "");
    g_method = CFUT_START_FORKSERVER;
    start_to_first(workers, "_forkserver");
    crash_to_replacement("_forkserver");
    g_method = CFUT_START_SPAWN;
    cfut_executor *ex = pool(workers);
    warm(ex, workers);

    /* Empty-task throughput: submit N, then wait for all. */
    enum { N = 200000 };
    cfut_future **fs = malloc(N * sizeof *fs);
    double t0 = now_s();
    for (int i = 0; i < N; i++) cfut_executor_submit_bytes(ex, nothing, NULL, 0, &fs[i]);
    for (int i = 0; i < N; i++) {
        cfut_future_wait(fs[i], CFUT_FOREVER);
        cfut_future_release(fs[i]);
    }
    double dt = now_s() - t0;
    printf("empty_task_throughput %.0f tasks/s\n", N / dt);
    free(fs);

    /* One-shot latency on a warm pool. */
    enum { L = 3000 };
    double *lat = malloc(L * sizeof *lat);
    for (int i = 0; i < L; i++) {
        double a = now_s();
        cfut_future *f;
        cfut_executor_submit_bytes(ex, nothing, NULL, 0, &f);
        cfut_future_wait(f, CFUT_FOREVER);
        lat[i] = now_s() - a;
        cfut_future_release(f);
    }
    qsort(lat, L, sizeof *lat, cmp_d);
    printf("one_shot_latency_p50 %.1f us\n", lat[L / 2] * 1e6);
    printf("one_shot_latency_p99 %.1f us\n", lat[L * 99 / 100] * 1e6);
    free(lat);

    /* map with chunksize 1 and 1000. */
    size_t counts[2] = {50000, 2000000}, chunks[2] = {1, 1000};
    for (int k = 0; k < 2; k++) {
        size_t n = counts[k];
        long *items = malloc(n * sizeof *items), *res = malloc(n * sizeof *res);
        for (size_t i = 0; i < n; i++) items[i] = (long)i;
        cfut_map_options mo;
        cfut_map_options_init(&mo);
        mo.chunksize = chunks[k];
        t0 = now_s();
        cfut_map *m;
        cfut_executor_map(ex, square, NULL, 0, items, n, sizeof(long), res, sizeof(long), &mo, &m);
        size_t first;
        if (cfut_map_wait(m, &first) != CFUT_OK) fprintf(stderr, "map failed\n");
        dt = now_s() - t0;
        cfut_map_free(m);
        for (size_t i = 0; i < n; i++)
            if (res[i] != (long)(i * i)) {
                fprintf(stderr, "map result wrong at %zu\n", i);
                break;
            }
        printf("map_chunksize_%zu %.0f items/s\n", chunks[k], n / dt);
        free(items);
        free(res);
    }
    cfut_executor_free(ex);

    crash_to_replacement("");
    return 0;
}
