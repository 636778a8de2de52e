/*
 * cbench: the cfutures side of the benchmark suite, through the public C API only.
 *
 *   cbench CASE [N]
 *
 * Cases (each prints "key value" lines on stdout; run.py collects them):
 *   submit1 [N]      N empty tasks, 1 submitter, 2 workers: submit all, then result() each
 *   submit1w [N]     submit1 after one untimed batch of N (warm heap: no first-touch faults)
 *   submit1t [N]     same, but the one submitter is a thread started for it (not main)
 *   submit2 [N]      same with 2 submitter threads (N/2 each)
 *   lat [N]          N back-to-back one-shot submit->result samples on a warm 2-worker pool
 *   tick [N]         N x (sleep 1 ms; submit no-op; result): process CPU (getrusage) and wall
 *                    per tick, next to a bare sleep loop measured in the same process
 *   map1|map1000|mapauto [N]   cfut_executor_map identity over N uint64 items, 2 workers
 *   mapmanual [N]    diagnostic: the same identity work in 16 chunks submitted by hand
 *                    (cfut_executor_submit + cfut_future_result per chunk)
 *   sleep [N]        N x sleep(10 ms) on a 100-worker pool: wall time
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cfutures.h"

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double cpu_ns(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec) * 1e9 +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) * 1e3;
}

/* Voluntary + involuntary context switches of the whole process so far. */
static double csw(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_nvcsw + (double)ru.ru_nivcsw;
}

static void check(cfut_status s, const char *what) {
    if (s != CFUT_OK) {
        fprintf(stderr, "cbench: %s: %s\n", what, cfut_status_name(s));
        exit(1);
    }
}

static cfut_executor *pool(uint32_t workers) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = workers;
    o.thread_name_prefix = "cbench";
    cfut_executor *ex;
    check(cfut_thread_pool_new(&o, &ex), "cfut_thread_pool_new");
    return ex;
}

static int32_t noop(void *arg, cfut_result *out) {
    (void)arg;
    (void)out;
    return 0;
}

static void one_shot(cfut_executor *ex) {
    cfut_future *f;
    check(cfut_executor_submit(ex, noop, NULL, NULL, &f), "submit");
    check(cfut_future_result(f, CFUT_FOREVER, NULL), "result");
    cfut_future_release(f);
}

/* Warm up: start both workers (lazy start) and touch the paths once. */
static void warm(cfut_executor *ex, int n) {
    cfut_future **fs = malloc(sizeof *fs * (size_t)n);
    for (int i = 0; i < n; i++) check(cfut_executor_submit(ex, noop, NULL, NULL, &fs[i]), "submit");
    for (int i = 0; i < n; i++) {
        check(cfut_future_result(fs[i], CFUT_FOREVER, NULL), "result");
        cfut_future_release(fs[i]);
    }
    free(fs);
}

/* ---- submit throughput ---- */

struct submitter {
    cfut_executor *ex;
    long n;
    cfut_future **fs;
    pthread_barrier_t *start;
};

static void *submit_run(void *p) {
    struct submitter *s = p;
    if (s->start) pthread_barrier_wait(s->start);
    for (long i = 0; i < s->n; i++) check(cfut_executor_submit(s->ex, noop, NULL, NULL, &s->fs[i]), "submit");
    for (long i = 0; i < s->n; i++) {
        check(cfut_future_result(s->fs[i], CFUT_FOREVER, NULL), "result");
        cfut_future_release(s->fs[i]);
    }
    return NULL;
}

static void case_submit(long n, int submitters, int on_main, int warm_heap) {
    cfut_executor *ex = pool(2);
    warm(ex, 64);
    if (warm_heap) warm(ex, (int)n); /* one untimed batch first: the heap is no longer fresh */
    struct submitter s[2];
    pthread_t th[2];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)submitters + 1);
    for (int i = 0; i < submitters; i++) {
        s[i].ex = ex;
        s[i].n = n / submitters;
        s[i].fs = malloc(sizeof(cfut_future *) * (size_t)s[i].n);
        s[i].start = on_main ? NULL : &start;
        if (!on_main) pthread_create(&th[i], NULL, submit_run, &s[i]);
    }
    double x0 = csw(), c0 = cpu_ns(), t0 = now_ns();
    if (on_main) {
        submit_run(&s[0]); /* 1 submitter: the main thread itself, the common case */
    } else {
        pthread_barrier_wait(&start);
        for (int i = 0; i < submitters; i++) pthread_join(th[i], NULL);
    }
    double t1 = now_ns(), c1 = cpu_ns(), x1 = csw();
    long total = (n / submitters) * submitters;
    printf("tasks_per_s %.0f\n", (double)total / ((t1 - t0) / 1e9));
    printf("cpu_us_per_task %.4f\n", (c1 - c0) / 1e3 / (double)total);
    printf("csw_per_task %.4f\n", (x1 - x0) / (double)total);
    for (int i = 0; i < submitters; i++) free(s[i].fs);
    cfut_executor_free(ex);
}

/* ---- one-shot latency ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void case_lat(long n) {
    cfut_executor *ex = pool(2);
    warm(ex, 64);
    for (int i = 0; i < 200; i++) one_shot(ex);
    double *lat = malloc(sizeof *lat * (size_t)n);
    double x0 = csw(), c0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        double t0 = now_ns();
        one_shot(ex);
        lat[i] = now_ns() - t0;
    }
    double c1 = cpu_ns(), x1 = csw();
    printf("cpu_us_per_sample %.3f\n", (c1 - c0) / 1e3 / (double)n);
    printf("csw_per_sample %.3f\n", (x1 - x0) / (double)n);
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    printf("p50_us %.3f\n", lat[n / 2] / 1e3);
    printf("p99_us %.3f\n", lat[n * 99 / 100] / 1e3);
    free(lat);
    cfut_executor_free(ex);
}

/* ---- idle tick ---- */

static void sleep_ns(long ns) {
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void case_tick(long n) {
    cfut_executor *ex = pool(2);
    warm(ex, 64);
    /* Bare sleep loop with the (idle) pool alive: the baseline. */
    double c0 = cpu_ns(), t0 = now_ns(), x0 = csw();
    for (long i = 0; i < n; i++) sleep_ns(1000000);
    double c1 = cpu_ns(), t1 = now_ns(), x1 = csw();
    for (long i = 0; i < n; i++) {
        sleep_ns(1000000);
        one_shot(ex);
    }
    double c2 = cpu_ns(), t2 = now_ns(), x2 = csw();
    printf("net_csw_per_tick %.3f\n", ((x2 - x1) - (x1 - x0)) / (double)n);
    printf("bare_cpu_us_per_tick %.3f\n", (c1 - c0) / 1e3 / (double)n);
    printf("bare_wall_us_per_tick %.3f\n", (t1 - t0) / 1e3 / (double)n);
    printf("cpu_us_per_tick %.3f\n", (c2 - c1) / 1e3 / (double)n);
    printf("wall_us_per_tick %.3f\n", (t2 - t1) / 1e3 / (double)n);
    printf("net_cpu_us_per_tick %.3f\n", ((c2 - c1) - (c1 - c0)) / 1e3 / (double)n);
    cfut_executor_free(ex);
}

/* ---- map ---- */

static int32_t ident(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    *(uint64_t *)slot = *(const uint64_t *)item;
    return 0;
}

static void case_map(long n, size_t chunk) {
    cfut_executor *ex = pool(2);
    warm(ex, 64);
    uint64_t *items = malloc(sizeof *items * (size_t)n);
    for (long i = 0; i < n; i++) items[i] = (uint64_t)i;
    cfut_map_options o;
    cfut_map_options_init(&o);
    o.chunksize = chunk;
    double t0 = now_ns();
    /* The result buffer is allocated inside the timed region, as rayon's collect() does. */
    uint64_t *results = malloc(sizeof *results * (size_t)n);
    cfut_map *m;
    check(cfut_executor_map(ex, ident, NULL, 0, items, (size_t)n, sizeof *items, results,
                            sizeof *results, &o, &m),
          "cfut_executor_map");
    size_t used = cfut_map_chunksize(m);
    check(cfut_map_wait(m, NULL), "cfut_map_wait");
    cfut_map_free(m);
    double t1 = now_ns();
    for (long i = 0; i < n; i += 4099) {
        if (results[i] != (uint64_t)i) {
            fprintf(stderr, "cbench: map result %ld wrong\n", i);
            exit(1);
        }
    }
    printf("items_per_s %.0f\n", (double)n / ((t1 - t0) / 1e9));
    printf("chunksize %zu\n", used);
    free(results);
    free(items);
    cfut_executor_free(ex);
}

/* The same work split by hand into 8 chunks per worker, one cfut_executor_submit per chunk
 * and one cfut_future_result per chunk: what the pool itself delivers when the consumer
 * waits per chunk rather than per item (a diagnostic for cfut_executor_map). */
struct chunk {
    const uint64_t *items;
    uint64_t *results;
    size_t lo, hi;
};

static int32_t chunk_task(void *arg, cfut_result *out) {
    (void)out;
    struct chunk *c = arg;
    for (size_t i = c->lo; i < c->hi; i++) ident(NULL, &c->items[i], &c->results[i]);
    return 0;
}

static void case_mapmanual(long n) {
    cfut_executor *ex = pool(2);
    warm(ex, 64);
    uint64_t *items = malloc(sizeof *items * (size_t)n);
    for (long i = 0; i < n; i++) items[i] = (uint64_t)i;
    enum { CHUNKS = 16 };
    struct chunk cs[CHUNKS];
    cfut_future *fs[CHUNKS];
    size_t per = ((size_t)n + CHUNKS - 1) / CHUNKS;
    double t0 = now_ns();
    uint64_t *results = malloc(sizeof *results * (size_t)n);
    for (int k = 0; k < CHUNKS; k++) {
        size_t lo = (size_t)k * per, hi = lo + per > (size_t)n ? (size_t)n : lo + per;
        cs[k] = (struct chunk){items, results, lo, hi};
        check(cfut_executor_submit(ex, chunk_task, &cs[k], NULL, &fs[k]), "submit");
    }
    for (int k = 0; k < CHUNKS; k++) {
        check(cfut_future_result(fs[k], CFUT_FOREVER, NULL), "result");
        cfut_future_release(fs[k]);
    }
    double t1 = now_ns();
    for (long i = 0; i < n; i += 4099) {
        if (results[i] != (uint64_t)i) {
            fprintf(stderr, "cbench: map result %ld wrong\n", i);
            exit(1);
        }
    }
    printf("items_per_s %.0f\n", (double)n / ((t1 - t0) / 1e9));
    free(results);
    free(items);
    cfut_executor_free(ex);
}

/* ---- I/O-bound sleep ---- */

static int32_t sleep10(void *arg, cfut_result *out) {
    (void)arg;
    (void)out;
    sleep_ns(10000000);
    return 0;
}

static void case_sleep(long n) {
    double t0 = now_ns();
    cfut_executor *ex = pool(100);
    cfut_future **fs = malloc(sizeof *fs * (size_t)n);
    for (long i = 0; i < n; i++) check(cfut_executor_submit(ex, sleep10, NULL, NULL, &fs[i]), "submit");
    for (long i = 0; i < n; i++) {
        check(cfut_future_result(fs[i], CFUT_FOREVER, NULL), "result");
        cfut_future_release(fs[i]);
    }
    double t1 = now_ns();
    printf("wall_ms %.3f\n", (t1 - t0) / 1e6);
    free(fs);
    cfut_executor_free(ex);
}

/* ---- recursive fork-join: each task submits its children and waits on them ---------- */
/* The waits run on the pool's own workers, so inline waits run the pending children there
 * (without them a 2-worker pool would deadlock at the second level). */

enum { FIB_N = 30, FIB_CUTOFF = 16, FIB_REPS = 20, QS_CUTOFF = 16384 };

static cfut_executor *fj_pool;

static long fib_seq(int n) { return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2); }

/* A child writes its result into its parent's frame (as a TBB lambda captures a local). */
typedef struct fib_arg { long n; long r; } fib_arg;

static int32_t fib_task(void *arg, cfut_result *out) {
    (void)out;
    fib_arg *q = arg;
    if (q->n < FIB_CUTOFF) {
        q->r = fib_seq((int)q->n);
        return 0;
    }
    fib_arg a = {q->n - 1, 0}, b = {q->n - 2, 0};
    cfut_future *fa, *fb;
    check(cfut_executor_submit(fj_pool, fib_task, &a, NULL, &fa), "submit");
    check(cfut_executor_submit(fj_pool, fib_task, &b, NULL, &fb), "submit");
    /* Wait for both at once, as task_group::wait does: the waiting worker runs whichever
     * child is still queued while another worker runs the other. */
    cfut_future *both[2] = {fa, fb};
    check(cfut_wait(both, 2, CFUT_FOREVER, CFUT_ALL_COMPLETED, NULL, NULL), "fib wait");
    cfut_future_release(fa);
    cfut_future_release(fb);
    q->r = a.r + b.r;
    return 0;
}

static void case_fib(long reps) {
    fj_pool = pool(getenv("FJ_WORKERS") ? (uint32_t)atoi(getenv("FJ_WORKERS")) : 2);
    double best = 1e300, total = 0;
    long v = 0;
    for (long i = -1; i < reps; i++) { /* i = -1: an untimed warm-up (starts the workers) */
        double t0 = now_ns();
        cfut_future *f;
        fib_arg root = {FIB_N, 0};
        check(cfut_executor_submit(fj_pool, fib_task, &root, NULL, &f), "submit");
        check(cfut_future_wait(f, CFUT_FOREVER), "fib");
        v = root.r;
        cfut_future_release(f);
        double dt = now_ns() - t0;
        if (i < 0) continue;
        total += dt;
        best = dt < best ? dt : best;
    }
    if (v != 832040) {
        fprintf(stderr, "fib(30) = %ld\n", v);
        exit(1);
    }
    printf("ms %.4f\nbest_ms %.4f\n", total / reps / 1e6, best / 1e6);
    cfut_executor_free(fj_pool);
}

static void insertion(int64_t *a, long n) {
    for (long i = 1; i < n; i++) {
        int64_t x = a[i];
        long j = i - 1;
        while (j >= 0 && a[j] > x) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = x;
    }
}

/* Hoare partition around the median of three; returns the split point. */
static long partition(int64_t *a, long n) {
    int64_t x = a[0], y = a[n / 2], z = a[n - 1];
    int64_t p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    long i = -1, j = n;
    for (;;) {
        do i++; while (a[i] < p);
        do j--; while (a[j] > p);
        if (i >= j) return j + 1;
        int64_t t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

static void qs_seq(int64_t *a, long n) {
    while (n > 32) {
        long m = partition(a, n);
        qs_seq(a, m);
        a += m;
        n -= m;
    }
    insertion(a, n);
}

typedef struct qs_arg { int64_t *a; long n; } qs_arg;

static int32_t qs_task(void *arg, cfut_result *out) {
    (void)out;
    qs_arg *q = arg;
    if (q->n <= QS_CUTOFF) {
        qs_seq(q->a, q->n);
        return 0;
    }
    long m = partition(q->a, q->n);
    qs_arg l = {q->a, m}, r = {q->a + m, q->n - m};
    cfut_future *fl, *fr;
    check(cfut_executor_submit(fj_pool, qs_task, &l, NULL, &fl), "submit");
    check(cfut_executor_submit(fj_pool, qs_task, &r, NULL, &fr), "submit");
    cfut_future *both[2] = {fl, fr};
    check(cfut_wait(both, 2, CFUT_FOREVER, CFUT_ALL_COMPLETED, NULL, NULL), "qs wait");
    cfut_future_release(fl);
    cfut_future_release(fr);
    return 0;
}

/* The same pseudo-random input in every implementation (xorshift64*, seed 42). */
static void qs_fill(int64_t *a, long n) {
    uint64_t s = 42;
    for (long i = 0; i < n; i++) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        a[i] = (int64_t)(s * 2685821657736338717ull);
    }
}

static void case_qsort(long n) {
    fj_pool = pool(2);
    int64_t *a = malloc((size_t)n * sizeof *a);
    qs_fill(a, n);
    double t0 = now_ns();
    qs_arg root = {a, n};
    cfut_future *f;
    check(cfut_executor_submit(fj_pool, qs_task, &root, NULL, &f), "submit");
    check(cfut_future_wait(f, CFUT_FOREVER), "qsort");
    double dt = now_ns() - t0;
    cfut_future_release(f);
    for (long i = 1; i < n; i++) {
        if (a[i - 1] > a[i]) {
            fprintf(stderr, "qsort: not sorted at %ld\n", i);
            exit(1);
        }
    }
    printf("ms %.4f\nitems_per_s %.1f\n", dt / 1e6, (double)n / (dt / 1e9));
    free(a);
    cfut_executor_free(fj_pool);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: cbench submit1|submit1w|submit1t|submit2|lat|tick|map1|map1000|mapauto|mapmanual|sleep|fib|qsort [N]\n");
        return 2;
    }
    const char *c = argv[1];
    long n = argc > 2 ? atol(argv[2]) : 0;
#define N(d) (n > 0 ? n : (d))
    if (!strcmp(c, "submit1")) case_submit(N(200000), 1, 1, 0);
    else if (!strcmp(c, "submit1w")) case_submit(N(200000), 1, 1, 1);
    else if (!strcmp(c, "submit1t")) case_submit(N(200000), 1, 0, 0);
    else if (!strcmp(c, "submit2")) case_submit(N(200000), 2, 0, 0);
    else if (!strcmp(c, "lat")) case_lat(N(20000));
    else if (!strcmp(c, "tick")) case_tick(N(1000));
    else if (!strcmp(c, "map1")) case_map(N(1000000), 1);
    else if (!strcmp(c, "map1000")) case_map(N(1000000), 1000);
    else if (!strcmp(c, "mapauto")) case_map(N(1000000), 0);
    else if (!strcmp(c, "mapmanual")) case_mapmanual(N(1000000));
    else if (!strcmp(c, "sleep")) case_sleep(N(1000));
    else if (!strcmp(c, "fib")) case_fib(N(FIB_REPS));
    else if (!strcmp(c, "qsort")) case_qsort(N(10000000));
    else {
        fprintf(stderr, "cbench: unknown case %s\n", c);
        return 2;
    }
    return 0;
}
