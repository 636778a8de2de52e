/* The soak: a mixed workload on thread and process pools for SOAK_SECONDS (argv[1]), every
 * call kind (submit, submit_bytes, map, wait, as_completed, groups, completion queues,
 * done-callbacks, cancel, request_cancel, standalone futures, pool churn), random cancels,
 * crashing and timed-out process tasks. A sampler thread writes RSS, threads, fds and zombie
 * children once a second to a CSV (argv[2]). At the end the first minute after warm-up is
 * compared with the last minute: growth beyond the tolerances fails the run, as does a
 * wrong result, a lost future or an argument dropped other than once.
 *
 * Short runs (a smoke test) scale the windows: warm-up and windows are a sixth of the run. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfutures.h"
#include "soak_util.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- arguments dropped exactly once ---------------------------------------------------- */

static atomic_long live_args, dropped_args;
typedef struct arg { uint32_t magic; long v; } arg;
static arg *arg_new(long v) {
    arg *a = malloc(sizeof *a);
    a->magic = 0xA5A5;
    a->v = v;
    atomic_fetch_add(&live_args, 1);
    return a;
}
static void arg_drop(void *p) {
    arg *a = p;
    if (a->magic != 0xA5A5) {
        g_failed++;
        fprintf(stderr, "  FAIL: an argument dropped twice\n");
    }
    a->magic = 0;
    free(a);
    atomic_fetch_sub(&live_args, 1);
    atomic_fetch_add(&dropped_args, 1);
}

/* ---- tasks ------------------------------------------------------------------------------ */

static int32_t t_square(void *p, cfut_result *out) {
    arg *a = p;
    long r = a->v * a->v;
    return cfut_result_set_bytes(out, &r, sizeof r) == CFUT_OK ? 0 : 1;
}
static int32_t t_fail(void *p, cfut_result *out) {
    cfut_result_set_error(out, 7, "soak failure");
    return (int32_t)(((arg *)p)->v % 5) + 1;
}
/* Polls for a cancellation request (up to 2 s). */
static int32_t t_poll_cancel(void *p, cfut_result *out) {
    (void)p;
    for (int i = 0; i < 2000; i++) {
        if (cfut_result_cancel_requested(out)) return cfut_result_set_cancelled(out) == CFUT_OK ? 0 : 1;
        usleep(1000);
    }
    return 0;
}
static int32_t p_square(const void *in, size_t len, cfut_result *out) {
    long v;
    if (len != sizeof v) return 22;
    memcpy(&v, in, sizeof v);
    v *= v;
    cfut_result_set_bytes(out, &v, sizeof v);
    return 0;
}
static int32_t p_crash(const void *in, size_t len, cfut_result *out) {
    (void)in, (void)len, (void)out;
    _exit(3);
}
static int32_t p_hang(const void *in, size_t len, cfut_result *out) {
    (void)in, (void)len, (void)out;
    for (;;) pause();
    return 0;
}
static int32_t p_poll_cancel(const void *in, size_t len, cfut_result *out) {
    (void)in, (void)len;
    for (int i = 0; i < 2000; i++) {
        if (cfut_result_cancel_requested(out)) return cfut_result_set_cancelled(out) == CFUT_OK ? 0 : 1;
        usleep(1000);
    }
    return 0;
}

/* ---- one round of each call kind -------------------------------------------------------- */

static long result_long(cfut_future *f) {
    const void *d = NULL;
    size_t n = 0;
    if (cfut_future_result_bytes(f, CFUT_SECONDS(60), &d, &n) != CFUT_OK || n != sizeof(long)) return -1;
    long v;
    memcpy(&v, d, sizeof v);
    return v;
}

enum { N = 24 };

static void round_threads(cfut_executor *tp) {
    cfut_future *fs[N];
    int kind[N];
    for (int i = 0; i < N; i++) {
        kind[i] = (int)rnd(4);
        cfut_task_fn fn = kind[i] == 1 ? t_fail : t_square;
        CHECK(cfut_executor_submit(tp, fn, arg_new(i), arg_drop, &fs[i]) == CFUT_OK);
        if (kind[i] == 2) cfut_future_cancel(fs[i]); /* may be too late: either outcome is fine */
    }
    size_t done = 0;
    CHECK(cfut_wait(fs, N, CFUT_SECONDS(60), CFUT_ALL_COMPLETED, NULL, &done) == CFUT_OK && done == N);
    for (int i = 0; i < N; i++) {
        cfut_error e;
        cfut_status s = cfut_future_error(fs[i], 0, &e);
        if (cfut_future_cancelled(fs[i])) CHECK(kind[i] == 2);
        else if (kind[i] == 1) CHECK(s == CFUT_OK && e.status == CFUT_TASK_FAILED);
        else CHECK(result_long(fs[i]) == (long)i * i);
        cfut_future_release(fs[i]);
    }
    /* Fire-and-forget and a cancellation request. */
    CHECK(cfut_executor_submit(tp, t_square, arg_new(3), arg_drop, NULL) == CFUT_OK);
    cfut_future *c;
    CHECK(cfut_executor_submit(tp, t_poll_cancel, arg_new(0), arg_drop, &c) == CFUT_OK);
    cfut_future_request_cancel(c);
    CHECK(cfut_future_wait(c, CFUT_SECONDS(60)) == CFUT_OK);
    cfut_future_release(c);
}

static void cb_count(cfut_future *f, void *a) {
    (void)f;
    atomic_fetch_add((atomic_int *)a, 1);
}

static void round_process(cfut_executor *pp, bool hang) {
    cfut_future *fs[N];
    int kind[N];
    atomic_int callbacks = 0;
    for (int i = 0; i < N; i++) {
        long v = i;
        kind[i] = (int)rnd(10);
        cfut_bytes_fn fn = kind[i] == 0 ? p_crash : p_square;
        if (hang && i == 0) fn = p_hang, kind[i] = 10;
        CHECK(cfut_executor_submit_bytes(pp, fn, &v, sizeof v, &fs[i]) == CFUT_OK);
        CHECK(cfut_future_add_done_callback(fs[i], cb_count, &callbacks, NULL) == CFUT_OK);
        if (kind[i] == 1) cfut_future_cancel(fs[i]);
    }
    cfut_as_completed *it;
    CHECK(cfut_as_completed_new(fs, N, CFUT_SECONDS(60), &it) == CFUT_OK);
    size_t idx, seen = 0;
    while (cfut_as_completed_next(it, &idx) == CFUT_OK) seen++;
    cfut_as_completed_free(it);
    CHECK(seen == N);
    for (int i = 0; i < N; i++) {
        cfut_error e;
        cfut_future_error(fs[i], 0, &e);
        if (cfut_future_cancelled(fs[i])) CHECK(kind[i] == 1);
        else if (kind[i] == 0) CHECK(e.status == CFUT_WORKER_DIED);
        else if (kind[i] == 10) CHECK(e.status == CFUT_TIMEOUT);
        else CHECK(result_long(fs[i]) == (long)i * i);
        cfut_future_release(fs[i]);
    }
    /* Callbacks run on the manager thread after waiters wake: wait for all of them. */
    for (int t = 0; t < 60000 && atomic_load(&callbacks) < N; t++) usleep(1000);
    CHECK(atomic_load(&callbacks) == N);
    cfut_future *c;
    CHECK(cfut_executor_submit_bytes(pp, p_poll_cancel, NULL, 0, &c) == CFUT_OK);
    cfut_future_request_cancel(c);
    CHECK(cfut_future_wait(c, CFUT_SECONDS(60)) == CFUT_OK);
    cfut_future_release(c);
}

static void round_group(cfut_executor *tp) {
    cfut_group *g;
    uint32_t flags = rnd(2) ? CFUT_GROUP_CANCEL_ON_FAILURE : 0;
    CHECK(cfut_group_new(tp, flags, &g) == CFUT_OK);
    bool fail = rnd(3) == 0;
    for (int i = 0; i < 16; i++) {
        cfut_status s = cfut_group_submit(g, fail && i == 8 ? t_fail : t_square, arg_new(i), arg_drop, NULL);
        CHECK(s == CFUT_OK || s == CFUT_CANCELLED);
    }
    cfut_error e;
    cfut_status s = cfut_group_wait(g, CFUT_SECONDS(60), &e);
    CHECK(fail ? s == CFUT_TASK_FAILED : s == CFUT_OK);
    if (rnd(5) == 0) cfut_group_cancel(g);
    cfut_group_free(g);
}

static void round_cq(cfut_executor *tp, cfut_executor *pp) {
    cfut_cq *q;
    CHECK(cfut_cq_new(&q) == CFUT_OK);
    int want = 0;
    for (int i = 0; i < 16; i++) {
        cfut_future *f;
        long v = i;
        cfut_status s = i % 4 == 0 ? cfut_executor_submit_bytes(pp, p_square, &v, sizeof v, &f)
                                   : cfut_executor_submit(tp, t_square, arg_new(i), arg_drop, &f);
        CHECK(s == CFUT_OK);
        CHECK(cfut_cq_watch(q, f, (uint64_t)i) == CFUT_OK);
        want++;
        if (rnd(4) == 0) cfut_future_cancel(f);
        cfut_future_release(f);
    }
    uint64_t tags[16];
    int got = 0;
    while (got < want && cfut_cq_wait(q, CFUT_SECONDS(60)) == CFUT_OK) got += (int)cfut_cq_drain(q, tags, 16);
    CHECK(got == want);
    cfut_cq_free(q);
}

static void round_standalone(void) {
    cfut_future *f;
    CHECK(cfut_future_new(&f) == CFUT_OK);
    CHECK(cfut_future_set_running_or_notify_cancel(f));
    CHECK(cfut_future_set_result(f, arg_new(1), arg_drop) == CFUT_OK);
    CHECK(cfut_future_set_error(f, 1, "late") == CFUT_INVALID_STATE);
    cfut_future_release(f);
}

static void churn_thread_pool(void) {
    cfut_executor *ex;
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = 1 + rnd(3);
    CHECK(cfut_thread_pool_new(&o, &ex) == CFUT_OK);
    for (int i = 0; i < 8; i++) cfut_executor_submit(ex, t_square, arg_new(i), arg_drop, NULL);
    if (rnd(2)) cfut_executor_shutdown(ex, false, true);
    cfut_executor_free(ex);
}

static void churn_process_pool(void) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 1;
    o.start_method = rnd(2) ? CFUT_START_SPAWN : CFUT_START_FORKSERVER;
    cfut_executor *ex;
    CHECK(cfut_process_pool_new(&o, &ex) == CFUT_OK);
    long v = 9;
    cfut_future *f;
    CHECK(cfut_executor_submit_bytes(ex, p_square, &v, sizeof v, &f) == CFUT_OK);
    if (rnd(2)) CHECK(result_long(f) == 81);
    else cfut_process_pool_terminate(ex, SIGKILL);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

/* ---- sampling ------------------------------------------------------------------------- */

/* RSS split as anonymous (heap, stacks) and file-backed (code pages touched so far). */
typedef struct sample { double t; long rss_kb, threads, fds, zombies, anon_kb, file_kb; } sample;
enum { MAX_SAMPLES = 100000 };
static sample samples[MAX_SAMPLES];
static int nsamples;
static atomic_bool stop_sampler;
static atomic_long rounds;
static FILE *csv;

static void status_fields(sample *s) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", &s->rss_kb);
        sscanf(line, "RssAnon: %ld", &s->anon_kb);
        sscanf(line, "RssFile: %ld", &s->file_kb);
        sscanf(line, "Threads: %ld", &s->threads);
    }
    if (f) fclose(f);
}

static long count_dir(const char *path) {
    DIR *d = opendir(path);
    long n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n - 1; /* the directory's own fd */
}

/* Children of this process in state Z. */
static long zombies(void) {
    DIR *d = opendir("/proc");
    long n = 0;
    struct dirent *e;
    pid_t me = getpid();
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char p[300], buf[512];
        snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = 0;
        char *rp = strrchr(buf, ')');
        char st;
        int ppid;
        if (rp && sscanf(rp + 2, "%c %d", &st, &ppid) == 2 && ppid == me && st == 'Z') n++;
    }
    if (d) closedir(d);
    return n;
}

static void *sampler(void *p) {
    double t0 = *(double *)p;
    while (!atomic_load(&stop_sampler) && nsamples < MAX_SAMPLES) {
        sample s = {now_s() - t0, 0, 0, 0, 0, 0, 0};
        status_fields(&s);
        s.fds = count_dir("/proc/self/fd");
        s.zombies = zombies();
        samples[nsamples++] = s;
        fprintf(csv, "%.1f,%ld,%ld,%ld,%ld,%ld,%ld,%ld\n", s.t, s.rss_kb, s.threads, s.fds, s.zombies, atomic_load(&rounds),
                s.anon_kb, s.file_kb);
        fflush(csv);
        sleep(1);
    }
    return NULL;
}

typedef struct window { double rss, threads_max, fds_max, zombies_max; int n; } window;
static window summarize(double from, double to) {
    window w = {0, 0, 0, 0, 0};
    for (int i = 0; i < nsamples; i++) {
        sample *s = &samples[i];
        if (s->t < from || s->t >= to) continue;
        w.rss += (double)s->rss_kb;
        if (s->threads > w.threads_max) w.threads_max = (double)s->threads;
        if (s->fds > w.fds_max) w.fds_max = (double)s->fds;
        if (s->zombies > w.zombies_max) w.zombies_max = (double)s->zombies;
        w.n++;
    }
    if (w.n) w.rss /= w.n;
    return w;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 600;
    csv = fopen(argc > 2 ? argv[2] : "soak.csv", "w");
    if (!csv) return 2;
    fprintf(csv, "t_s,rss_kb,threads,fds,zombies,rounds,rss_anon_kb,rss_file_kb\n");
    rng_state ^= (uint64_t)getpid() << 20;

    cfut_executor *tp, *pp;
    cfut_thread_pool_options to;
    cfut_thread_pool_options_init(&to);
    to.max_workers = 4;
    if (cfut_thread_pool_new(&to, &tp) != CFUT_OK) return 2;
    cfut_process_pool_options po;
    cfut_process_pool_options_init(&po);
    po.max_workers = 2;
    po.max_tasks_per_child = 40;
    po.task_timeout_ns = CFUT_SECONDS(2);
    if (cfut_process_pool_new(&po, &pp) != CFUT_OK) return 2;

    double t0 = now_s();
    pthread_t sth;
    pthread_create(&sth, NULL, sampler, &t0);
    long r = 0;
    /* SOAK_KINDS: a bit mask of the round's parts (default all), to narrow down a growth. */
    const char *kinds_env = getenv("SOAK_KINDS");
    unsigned kinds = kinds_env ? (unsigned)strtoul(kinds_env, NULL, 0) : 0x1ff;
    while (now_s() - t0 < seconds) {
        if (kinds & 0x001) round_threads(tp);
        if (kinds & 0x002) round_process(pp, r % 50 == 49);
        if (kinds & 0x004) round_map(tp, false);
        if (kinds & 0x008) round_map(pp, true);
        if (kinds & 0x010) round_group(tp);
        if (kinds & 0x020) round_cq(tp, pp);
        if (kinds & 0x040) round_standalone();
        if ((kinds & 0x080) && r % 5 == 0) churn_thread_pool();
        if ((kinds & 0x100) && r % 40 == 0) churn_process_pool();
        atomic_store(&rounds, ++r);
    }
    cfut_executor_free(pp);
    cfut_executor_free(tp);
    atomic_store(&stop_sampler, true);
    pthread_join(sth, NULL);
    fclose(csv);
    CHECK(atomic_load(&live_args) == 0);

    /* Warm-up: the first minute (a sixth of a short run); windows likewise. */
    double win = seconds >= 360 ? 60 : seconds / 6;
    double end = samples[nsamples - 1].t;
    window a = summarize(win, 2 * win), b = summarize(end - win, end + 1);
    printf("soak: %.0f s, %ld rounds, %ld arguments dropped, %d samples\n", end, r, atomic_load(&dropped_args), nsamples);
    printf("  first window after warm-up: rss %.0f kB, threads <= %.0f, fds <= %.0f, zombies <= %.0f\n", a.rss, a.threads_max, a.fds_max, a.zombies_max);
    printf("  last window:                rss %.0f kB, threads <= %.0f, fds <= %.0f, zombies <= %.0f\n", b.rss, b.threads_max, b.fds_max, b.zombies_max);
    /* Tolerances: RSS +20% + 8 MB (allocator noise), a few threads and fds (a pool being
     * churned at the sample instant), zombies only while a worker exit is being reaped. */
    CHECK(a.n > 0 && b.n > 0);
    CHECK(b.rss <= a.rss * 1.2 + 8192);
    CHECK(b.threads_max <= a.threads_max + 4);
    CHECK(b.fds_max <= a.fds_max + 8);
    CHECK(b.zombies_max <= 3);
    printf("%ld passed, %ld failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
