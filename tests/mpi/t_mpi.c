#define _DEFAULT_SOURCE
/* The MPI pool suite, run as `mpirun -np 4 t_mpi` (2-4 ranks). The program initialises MPI
 * itself (MPI_THREAD_SERIALIZED), so it can create several pools in one job: every rank
 * makes the same sequence of cfut_mpi_pool_new calls; the root checks what the pools do,
 * the other ranks serve inside each call. The root prints `N passed, N failed`; any rank's
 * failure makes the job exit non-zero. */
#include <mpi.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfutures.h"

static int g_failed, g_passed_tests, g_failed_tests, g_rank;
static const char *g_test = "";

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "  FAIL rank %d %s:%d [%s]: %s\n", g_rank, __FILE__, __LINE__,    \
                    g_test, #c);                                                              \
            g_failed++;                                                                       \
        }                                                                                     \
    } while (0)
#define CHECK_STATUS(s, want)                                                                 \
    do {                                                                                      \
        cfut_status _s = (s), _w = (want);                                                    \
        if (_s != _w) {                                                                       \
            fprintf(stderr, "  FAIL rank %d %s:%d [%s]: %s gave %s, want %s (%s)\n", g_rank,  \
                    __FILE__, __LINE__, g_test, #s, cfut_status_name(_s),                     \
                    cfut_status_name(_w),                                                     \
                    cfut_last_error_message() ? cfut_last_error_message() : "");              \
            g_failed++;                                                                       \
        }                                                                                     \
    } while (0)

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- tasks (every rank runs this same program, so they resolve everywhere) ---- */

/* input: u64 x -> output: u64 x*x + rank-independent constant */
static int32_t square(const void *in, size_t len, cfut_result *out) {
    uint64_t x;
    if (len != sizeof x)
        return 22;
    memcpy(&x, in, sizeof x);
    uint64_t y = x * x + 7;
    cfut_result_set_bytes(out, &y, sizeof y);
    return 0;
}

static int32_t fail_odd(const void *in, size_t len, cfut_result *out) {
    uint64_t x;
    (void)len;
    memcpy(&x, in, sizeof x);
    if (x % 2) {
        cfut_result_set_error(out, (int32_t)x, "odd input");
        return (int32_t)x;
    }
    return 0;
}

static int32_t crash(const void *in, size_t len, cfut_result *out) {
    (void)in, (void)len, (void)out;
    raise(SIGSEGV);
    return 0;
}

static int32_t empty(const void *in, size_t len, cfut_result *out) {
    (void)in, (void)len, (void)out;
    return 0;
}

/* Echoes a checksum and the length of a large input, and sends back as many bytes. */
static int32_t big_echo(const void *in, size_t len, cfut_result *out) {
    const unsigned char *p = in;
    uint64_t sum = 0;
    for (size_t i = 0; i < len; i += 4096)
        sum += p[i];
    unsigned char *back = malloc(len);
    if (!back)
        return 12;
    memcpy(back, in, len);
    memcpy(back, &sum, sizeof sum);
    cfut_status s = cfut_result_set_bytes(out, back, len);
    free(back);
    return s == CFUT_OK ? 0 : 1;
}

/* Sleeps (in ms, from the input) in small steps, stopping early when asked to. */
static int32_t nap(const void *in, size_t len, cfut_result *out) {
    uint32_t ms = 0;
    memcpy(&ms, in, len < sizeof ms ? len : sizeof ms);
    for (uint32_t i = 0; i < ms; i++) {
        if (cfut_result_cancel_requested(out))
            return cfut_result_set_cancelled(out) == CFUT_OK ? 0 : 1;
        usleep(1000);
    }
    return 0;
}

/* Ignores cancellation: only cancel_kills can stop it early. */
static int32_t stubborn(const void *in, size_t len, cfut_result *out) {
    (void)in, (void)len, (void)out;
    sleep(30);
    return 0;
}

struct map_ctx {
    uint64_t mul, add;
};
static int32_t affine(const void *ctx, const void *item, void *slot) {
    const struct map_ctx *c = ctx;
    uint64_t x;
    memcpy(&x, item, sizeof x);
    if (x == 4242)
        return 99;
    uint64_t y = x * c->mul + c->add;
    memcpy(slot, &y, sizeof y);
    return 0;
}

/* ---- helpers ---- */

static cfut_executor *mpi_pool(uint32_t isolation, uint32_t workers, bool cancel_kills) {
    cfut_mpi_pool_options o;
    cfut_mpi_pool_options_init(&o);
    o.isolation = isolation;
    o.workers_per_rank = workers;
    o.cancel_kills = cancel_kills;
    o.plugin_path = getenv("CFUT_TEST_MPI_PLUGIN");
    cfut_executor *ex = (cfut_executor *)1;
    CHECK_STATUS(cfut_mpi_pool_new(&o, &ex), CFUT_OK);
    CHECK((g_rank == 0) == (ex != NULL));
    return ex;
}

static void begin(const char *name) {
    g_test = name;
    MPI_Barrier(MPI_COMM_WORLD); /* the program's own traffic beside the pool's */
}

static void end(int failed_before) {
    if (g_rank != 0)
        return;
    if (g_failed == failed_before) {
        g_passed_tests++;
        printf("ok   %s\n", g_test);
    } else {
        g_failed_tests++;
        printf("FAIL %s\n", g_test);
    }
    fflush(stdout);
}

static uint64_t u64_of(cfut_future *f) {
    const void *d = NULL;
    size_t n = 0;
    uint64_t v = UINT64_MAX;
    if (cfut_future_result_bytes(f, CFUT_SECONDS(60), &d, &n) == CFUT_OK && n == sizeof v)
        memcpy(&v, d, sizeof v);
    return v;
}

/* Runs the same bytes tasks and map on `ex`, writing results for comparison. */
#define N_TASKS 40
#define N_ITEMS 5000
static void workload(cfut_executor *ex, uint64_t *sq, uint32_t *st, uint64_t *mapped, int32_t *map_status) {
    cfut_future *fs[N_TASKS];
    for (uint64_t i = 0; i < N_TASKS; i++) {
        cfut_status s = cfut_executor_submit_bytes(ex, i % 4 == 3 ? fail_odd : square, &i, sizeof i, &fs[i]);
        CHECK_STATUS(s, CFUT_OK);
    }
    for (int i = 0; i < N_TASKS; i++) {
        sq[i] = u64_of(fs[i]);
        cfut_error e;
        CHECK_STATUS(cfut_future_error(fs[i], CFUT_SECONDS(60), &e), CFUT_OK);
        st[i] = e.status * 1000u + (uint32_t)e.code;
        cfut_future_release(fs[i]);
    }
    static uint64_t items[N_ITEMS];
    for (uint64_t i = 0; i < N_ITEMS; i++)
        items[i] = i * 3;
    items[1414] = 4242;
    struct map_ctx c = {5, 11};
    cfut_map_options mo;
    cfut_map_options_init(&mo);
    mo.chunksize = 97;
    cfut_map *m = NULL;
    CHECK_STATUS(cfut_executor_map(ex, affine, &c, sizeof c, items, N_ITEMS, sizeof(uint64_t), mapped, sizeof(uint64_t), &mo, &m), CFUT_OK);
    size_t first = 0;
    *map_status = m ? (int32_t)cfut_map_wait(m, &first) : -1;
    if (*map_status == CFUT_TASK_FAILED)
        CHECK(first == 1414);
    cfut_map_free(m);
}

/* ---- tests (root side; every rank calls the pool constructor) ---- */

static void test_same_results_as_process_pool(uint32_t isolation, const char *name) {
    begin(name);
    int before = g_failed;
    static uint64_t sq_l[N_TASKS], sq_m[N_TASKS], map_l[N_ITEMS], map_m[N_ITEMS];
    static uint32_t st_l[N_TASKS], st_m[N_TASKS];
    int32_t ms_l = 0, ms_m = 0;
    if (g_rank == 0) {
        cfut_executor *local = NULL;
        CHECK_STATUS(cfut_process_pool_new(NULL, &local), CFUT_OK);
        workload(local, sq_l, st_l, map_l, &ms_l);
        cfut_executor_free(local);
    }
    cfut_executor *ex = mpi_pool(isolation, 2, false);
    if (ex) {
        CHECK(cfut_executor_max_workers(ex) >= 2);
        workload(ex, sq_m, st_m, map_m, &ms_m);
        CHECK(memcmp(sq_l, sq_m, sizeof sq_l) == 0);
        CHECK(memcmp(st_l, st_m, sizeof st_l) == 0);
        CHECK(memcmp(map_l, map_m, sizeof map_l) == 0);
        CHECK(ms_l == CFUT_TASK_FAILED && ms_m == CFUT_TASK_FAILED);
        CHECK(sq_m[5] == 32 && st_m[3] == CFUT_TASK_FAILED * 1000u + 3 && map_m[10] == 30 * 5 + 11);
        cfut_executor_free(ex);
    }
    end(before);
}

static void test_crash_fails_one_future(void) {
    begin("a task crash on a rank: CFUT_WORKER_DIED, the pool goes on");
    int before = g_failed;
    cfut_executor *ex = mpi_pool(CFUT_MPI_ISOLATION_PROCESS, 1, false);
    if (ex) {
        cfut_future *f = NULL;
        CHECK_STATUS(cfut_executor_submit_bytes(ex, crash, NULL, 0, &f), CFUT_OK);
        cfut_error e;
        CHECK_STATUS(cfut_future_error(f, CFUT_SECONDS(60), &e), CFUT_OK);
        CHECK(e.status == CFUT_WORKER_DIED && e.code == -SIGSEGV);
        CHECK(e.message && strstr(e.message, "on rank") && strstr(e.message, "SIGSEGV"));
        cfut_future_release(f);
        for (uint64_t i = 0; i < 20; i++) {
            CHECK_STATUS(cfut_executor_submit_bytes(ex, square, &i, sizeof i, &f), CFUT_OK);
            CHECK(u64_of(f) == i * i + 7);
            cfut_future_release(f);
        }
        cfut_executor_free(ex);
    }
    end(before);
}

static void test_large_payloads(void) {
    begin("64 MiB inputs and results");
    int before = g_failed;
    cfut_executor *ex = mpi_pool(CFUT_MPI_ISOLATION_PROCESS, 1, false);
    if (ex) {
        size_t n = 64u << 20;
        unsigned char *buf = malloc(n);
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)(i * 131 + 7);
        for (size_t i = 0; i < n; i += 4096)
            sum += buf[i];
        cfut_future *f[2] = {0};
        for (int k = 0; k < 2; k++)
            CHECK_STATUS(cfut_executor_submit_bytes(ex, big_echo, buf, n, &f[k]), CFUT_OK);
        for (int k = 0; k < 2; k++) {
            const void *d = NULL;
            size_t len = 0;
            CHECK_STATUS(cfut_future_result_bytes(f[k], CFUT_SECONDS(120), &d, &len), CFUT_OK);
            CHECK(len == n);
            if (len == n) {
                uint64_t got;
                memcpy(&got, d, sizeof got);
                CHECK(got == sum);
                CHECK(memcmp((const char *)d + 8, buf + 8, n - 8) == 0);
            }
            cfut_future_release(f[k]);
        }
        free(buf);
        cfut_executor_free(ex);
    }
    end(before);
}

static void test_cancel_and_shutdown(void) {
    begin("cancellation requests reach the rank; shutdown(cancel_futures) with pending tasks");
    int before = g_failed;
    cfut_executor *ex = mpi_pool(CFUT_MPI_ISOLATION_PROCESS, 1, false);
    if (ex) {
        uint32_t ms = 20000;
        cfut_future *running = NULL;
        CHECK_STATUS(cfut_executor_submit_bytes(ex, nap, &ms, sizeof ms, &running), CFUT_OK);
        double t0 = now_s();
        while (!cfut_future_running(running) && now_s() - t0 < 30)
            usleep(1000);
        usleep(50000); /* the task is on its rank: a request must travel there */
        CHECK(!cfut_future_request_cancel(running));
        CHECK_STATUS(cfut_future_wait(running, CFUT_SECONDS(30)), CFUT_OK);
        CHECK(cfut_future_cancelled(running));
        CHECK(now_s() - t0 < 15);
        cfut_future_release(running);

        /* More tasks than slots: some run, the rest wait on the root and are cancelled. */
        enum { N = 24 };
        cfut_future *fs[N];
        uint32_t short_ms = 200;
        for (int i = 0; i < N; i++)
            CHECK_STATUS(cfut_executor_submit_bytes(ex, nap, &short_ms, sizeof short_ms, &fs[i]), CFUT_OK);
        /* Shut down once the first task runs on a rank (an event, not a guess at timing). */
        t0 = now_s();
        while (!cfut_future_running(fs[0]) && !cfut_future_done(fs[0]) && now_s() - t0 < 30)
            usleep(1000);
        CHECK_STATUS(cfut_executor_shutdown(ex, true, true), CFUT_OK);
        int cancelled = 0, finished = 0;
        cfut_error e;
        for (int i = 0; i < N; i++) {
            CHECK(cfut_future_done(fs[i]));
            if (cfut_future_cancelled(fs[i]))
                cancelled++;
            else if (cfut_future_error(fs[i], 0, &e) == CFUT_OK && e.status == CFUT_OK)
                finished++;
            cfut_future_release(fs[i]);
        }
        CHECK(cancelled > 0 && finished > 0 && cancelled + finished == N);
        cfut_future *late = NULL;
        CHECK_STATUS(cfut_executor_submit_bytes(ex, empty, NULL, 0, &late), CFUT_SHUTDOWN);
        cfut_executor_free(ex);
    }
    end(before);
}

/* Waits (bounded) until every future is running or done. */
static int all_running(cfut_future **fs, uint32_t n, double bound_s) {
    double t0 = now_s();
    for (;;) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++)
            k += cfut_future_running(fs[i]) || cfut_future_done(fs[i]);
        if (k == n)
            return 1;
        if (now_s() - t0 > bound_s)
            return 0;
        usleep(1000);
    }
}

/* Waits (bounded) until the pool's stats show `running` running and `queued` queued. */
static int stats_show(cfut_executor *ex, uint64_t running, uint64_t queued) {
    double t0 = now_s();
    cfut_executor_stats st = {.struct_size = sizeof st};
    while (now_s() - t0 < 10) {
        if (cfut_executor_stats_get(ex, &st) == CFUT_OK && st.running == running && st.queued == queued)
            return 1;
        usleep(1000);
    }
    fprintf(stderr, "stats: running %llu queued %llu, want %llu %llu\n", (unsigned long long)st.running,
            (unsigned long long)st.queued, (unsigned long long)running, (unsigned long long)queued);
    return 0;
}

/* A rank is sent a task beyond its free slots (it waits in the rank's queue): it is running
 * on the root, so cancel fails, but a cancellation request, or shutdown(cancel_futures),
 * cancels it there before it starts. The task ahead ignores requests and takes 30 s: only
 * a cancellation before it starts ends it within seconds. */
static void test_sent_ahead(int shutdown_cancels) {
    begin(shutdown_cancels ? "tasks sent ahead to a rank: shutdown(cancel_futures) cancels them there before they start"
                           : "tasks sent ahead to a rank: a cancellation request cancels them there before they start");
    int before = g_failed;
    cfut_executor *ex = mpi_pool(CFUT_MPI_ISOLATION_PROCESS, 1, false);
    if (ex) {
        enum { MAXR = 64 };
        uint32_t slots = cfut_executor_max_workers(ex); /* one per worker rank */
        if (slots > MAXR)
            slots = MAXR;
        cfut_future *naps[MAXR], *ahead[MAXR];
        /* Every rank's worker process started (ties go round the ranks), so that each nap
         * starts on its rank as soon as it arrives there. */
        for (uint32_t i = 0; i < 2 * slots; i++) {
            cfut_future *f = NULL;
            CHECK_STATUS(cfut_executor_submit_bytes(ex, empty, NULL, 0, &f), CFUT_OK);
            CHECK_STATUS(cfut_future_wait(f, CFUT_SECONDS(30)), CFUT_OK);
            cfut_future_release(f);
        }
        uint32_t ms = 20000;
        for (uint32_t i = 0; i < slots; i++)
            CHECK_STATUS(cfut_executor_submit_bytes(ex, nap, &ms, sizeof ms, &naps[i]), CFUT_OK);
        CHECK(all_running(naps, slots, 30)); /* one per rank: idle slots go first */
        for (uint32_t i = 0; i < slots; i++)
            CHECK_STATUS(cfut_executor_submit_bytes(ex, stubborn, NULL, 0, &ahead[i]), CFUT_OK);
        CHECK(all_running(ahead, slots, 30)); /* sent ahead, behind the naps */
        CHECK(stats_show(ex, slots, slots));  /* the stats count them as queued */
        CHECK(!cfut_future_cancel(ahead[0]));
        double t0 = now_s();
        if (shutdown_cancels) {
            CHECK_STATUS(cfut_executor_shutdown(ex, false, true), CFUT_OK);
        } else {
            for (uint32_t i = 0; i < slots; i++)
                CHECK(!cfut_future_request_cancel(ahead[i]));
        }
        for (uint32_t i = 0; i < slots; i++) {
            CHECK_STATUS(cfut_future_wait(ahead[i], CFUT_SECONDS(25)), CFUT_OK);
            CHECK(cfut_future_cancelled(ahead[i]));
        }
        CHECK(now_s() - t0 < 10);
        for (uint32_t i = 0; i < slots; i++) {
            CHECK(!cfut_future_done(naps[i])); /* what had started runs on */
            cfut_future_request_cancel(naps[i]);
            CHECK_STATUS(cfut_future_wait(naps[i], CFUT_SECONDS(25)), CFUT_OK);
            cfut_future_release(naps[i]);
            cfut_future_release(ahead[i]);
        }
        cfut_executor_stats st = {.struct_size = sizeof st};
        CHECK(cfut_executor_stats_get(ex, &st) == CFUT_OK && st.cancelled == 2 * (uint64_t)slots);
        cfut_executor_free(ex);
    }
    end(before);
}

static void test_cancel_kills(void) {
    begin("cancel_kills kills the task's worker process on its rank");
    int before = g_failed;
    cfut_executor *ex = mpi_pool(CFUT_MPI_ISOLATION_PROCESS, 1, true);
    if (ex) {
        cfut_future *f = NULL;
        CHECK_STATUS(cfut_executor_submit_bytes(ex, stubborn, NULL, 0, &f), CFUT_OK);
        double t0 = now_s();
        while (!cfut_future_running(f) && now_s() - t0 < 30)
            usleep(1000);
        usleep(100000);
        cfut_future_request_cancel(f);
        CHECK_STATUS(cfut_future_wait(f, CFUT_SECONDS(20)), CFUT_OK);
        CHECK(cfut_future_cancelled(f));
        CHECK(now_s() - t0 < 10);
        cfut_future_release(f);
        uint64_t x = 9;
        CHECK_STATUS(cfut_executor_submit_bytes(ex, square, &x, sizeof x, &f), CFUT_OK);
        CHECK(u64_of(f) == 88);
        cfut_future_release(f);
        cfut_executor_free(ex);
    }
    end(before);
}

static void test_groups_and_cq(void) {
    begin("groups, completion queues and as_completed on MPI futures");
    int before = g_failed;
    cfut_executor *ex = mpi_pool(CFUT_MPI_ISOLATION_NONE, 2, false);
    if (ex) {
        cfut_group *g = NULL;
        CHECK_STATUS(cfut_group_new(ex, 0, &g), CFUT_OK);
        for (uint64_t i = 0; i < 10; i++)
            CHECK_STATUS(cfut_group_submit_bytes(g, i == 7 ? fail_odd : square, &i, sizeof i, NULL), CFUT_OK);
        cfut_error e;
        CHECK_STATUS(cfut_group_wait(g, CFUT_SECONDS(60), &e), CFUT_TASK_FAILED);
        CHECK(e.code == 7);
        cfut_group_free(g);

        cfut_cq *cq = NULL;
        CHECK_STATUS(cfut_cq_new(&cq), CFUT_OK);
        for (uint64_t i = 0; i < 16; i++) {
            cfut_future *f = NULL;
            CHECK_STATUS(cfut_executor_submit_bytes(ex, square, &i, sizeof i, &f), CFUT_OK);
            CHECK_STATUS(cfut_cq_watch(cq, f, 100 + i), CFUT_OK);
            cfut_future_release(f);
        }
        uint64_t seen = 0;
        int got = 0;
        double t0 = now_s();
        while (got < 16 && now_s() - t0 < 60) {
            if (cfut_cq_wait(cq, CFUT_SECONDS(1)) != CFUT_OK)
                continue;
            uint64_t tags[16];
            size_t n = cfut_cq_drain(cq, tags, 16);
            for (size_t k = 0; k < n; k++) {
                seen |= 1ull << (tags[k] - 100);
                got++;
            }
        }
        CHECK(got == 16 && seen == 0xffff);
        cfut_cq_free(cq);
        cfut_executor_free(ex);
    }
    end(before);
}

static void test_root_never_submits(void) {
    begin("a job where the root never submits");
    int before = g_failed;
    double t0 = now_s();
    cfut_executor *ex = mpi_pool(CFUT_MPI_ISOLATION_PROCESS, 0, false);
    if (ex)
        cfut_executor_free(ex);
    CHECK(now_s() - t0 < 20);
    end(before);
}

static void test_bad_arguments(void) {
    begin("bad arguments and a missing plugin: clear statuses on every rank");
    int before = g_failed;
    cfut_mpi_pool_options o;
    cfut_executor *ex = NULL;
    cfut_mpi_pool_options_init(&o);
    o.plugin_path = getenv("CFUT_TEST_MPI_PLUGIN");
    CHECK_STATUS(cfut_mpi_pool_new(&o, NULL), CFUT_INVALID_ARGUMENT);
    o.isolation = 7;
    CHECK_STATUS(cfut_mpi_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    o.isolation = CFUT_MPI_ISOLATION_PROCESS;
    o.struct_size = 3;
    CHECK_STATUS(cfut_mpi_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    cfut_mpi_pool_options_init(&o);
    o.plugin_path = getenv("CFUT_TEST_MPI_PLUGIN");
    o.root = 99;
    CHECK_STATUS(cfut_mpi_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    CHECK(cfut_last_error_message() && strstr(cfut_last_error_message(), "root 99"));
    o.root = g_rank; /* ranks that disagree on the root: refused on every rank, no hang */
    CHECK_STATUS(cfut_mpi_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    CHECK(cfut_last_error_message() && strstr(cfut_last_error_message(), "different roots"));
    o.root = 0;
    o.plugin_path = "/nonexistent/libcfutures_mpi.so";
    CHECK_STATUS(cfut_mpi_pool_new(&o, &ex), CFUT_UNSUPPORTED);
    CHECK(cfut_last_error_message() && strstr(cfut_last_error_message(), "libcfutures_mpi.so"));
    CHECK(!cfut_mpi_pool_survives_rank_death(NULL));
    end(before);
}

static void test_other_root(int size) {
    begin("root may be any rank");
    int before = g_failed;
    cfut_mpi_pool_options o;
    cfut_mpi_pool_options_init(&o);
    o.root = size - 1;
    o.isolation = CFUT_MPI_ISOLATION_NONE;
    o.plugin_path = getenv("CFUT_TEST_MPI_PLUGIN");
    cfut_executor *ex = (cfut_executor *)1;
    CHECK_STATUS(cfut_mpi_pool_new(&o, &ex), CFUT_OK);
    CHECK((g_rank == size - 1) == (ex != NULL));
    int ok = 1;
    if (ex) {
        for (uint64_t i = 0; i < 8; i++) {
            cfut_future *f = NULL;
            CHECK_STATUS(cfut_executor_submit_bytes(ex, square, &i, sizeof i, &f), CFUT_OK);
            ok &= u64_of(f) == i * i + 7;
            cfut_future_release(f);
        }
        CHECK(ok);
        cfut_executor_free(ex);
    }
    /* The root of this test reports to rank 0, which prints. */
    int fails = g_failed - before, all = 0;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (g_rank == 0 && all > 0 && fails == 0)
        g_failed++;
    end(before);
}

int main(int argc, char **argv) {
    int provided = 0, size = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (g_rank == 0)
        printf("MPI pool suite on %d ranks\n", size);
    test_bad_arguments();
    test_same_results_as_process_pool(CFUT_MPI_ISOLATION_PROCESS, "isolation PROCESS: same results as a local process pool");
    test_same_results_as_process_pool(CFUT_MPI_ISOLATION_NONE, "isolation NONE: same results as a local process pool");
    test_crash_fails_one_future();
    test_large_payloads();
    test_cancel_and_shutdown();
    test_cancel_kills();
    test_sent_ahead(0);
    test_sent_ahead(1);
    test_groups_and_cq();
    test_root_never_submits();
    test_other_root(size);
    int mine = g_failed, total = 0;
    MPI_Reduce(&mine, &total, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (g_rank == 0) {
        if (total > mine)
            fprintf(stderr, "other ranks reported %d failed checks\n", total - mine);
        printf("%d passed, %d failed\n", g_passed_tests, g_failed_tests + (total > mine && g_failed_tests == 0));
    }
    MPI_Finalize();
    return mine ? 1 : 0;
}
