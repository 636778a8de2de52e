/*
 * Process pools: cancellation requests reaching running tasks (each start method),
 * cancel_kills, requests racing completion, and task groups.
 *
 * Tasks tell the host they are polling through a shared file mapping (workers inherit no
 * descriptors); CLOCK_MONOTONIC is system-wide, so a worker's timestamp is comparable with
 * the host's. Prints "N passed, N failed" and exits non-zero on failure.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "cfutures.h"
#include "check.h"

/* ---- the shared page ------------------------------------------------------------------- */

typedef struct shared {
    atomic_int polling; /* tasks that started polling */
    atomic_int ran;
} shared;

static char g_path[64];
static shared *g_sh;

static void shared_open(void) {
    snprintf(g_path, sizeof g_path, "/tmp/cfut-cancel-XXXXXX");
    int fd = mkstemp(g_path);
    CHECK(fd >= 0 && ftruncate(fd, 4096) == 0);
    g_sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
}

static void shared_reset(void) {
    atomic_store(&g_sh->polling, 0);
    atomic_store(&g_sh->ran, 0);
}

/* In a worker: the host's shared page, mapped once per process. */
static shared *worker_page(const char *path) {
    static shared *p;
    if (!p) {
        int fd = open(path, O_RDWR);
        if (fd < 0) return NULL;
        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
    }
    return p;
}

/* ---- tasks ------------------------------------------------------------------------------ */

typedef struct poll_in {
    char path[64];
    int acknowledge;
} poll_in;

/* Polls until asked to stop; returns the CLOCK_MONOTONIC time it saw the request (or
 * acknowledges, ending CANCELLED). */
static int32_t t_poll(const void *in, size_t len, cfut_result *out) {
    if (len != sizeof(poll_in)) return 1;
    const poll_in *p = in;
    shared *sh = worker_page(p->path);
    if (!sh) return 2;
    atomic_fetch_add(&sh->polling, 1);
    uint64_t give_up = now_ns() + 30000000000ull;
    while (!cfut_result_cancel_requested(out)) {
        if (now_ns() > give_up) return 3;
    }
    uint64_t seen = now_ns();
    if (p->acknowledge) {
        cfut_result_set_cancelled(out);
        return 9;
    }
    return (int32_t)cfut_result_set_bytes(out, &seen, sizeof seen);
}

static int32_t t_spin_forever(const void *in, size_t len, cfut_result *out) {
    (void)out;
    const poll_in *p = in;
    shared *sh = len == sizeof(poll_in) ? worker_page(p->path) : NULL;
    if (sh) atomic_fetch_add(&sh->polling, 1);
    for (;;) {
        __asm__ volatile("" ::: "memory");
    }
    return 0;
}

static int32_t t_pid(const void *in, size_t len, cfut_result *out) {
    (void)in;
    (void)len;
    int pid = getpid();
    return (int32_t)cfut_result_set_bytes(out, &pid, sizeof pid);
}

/* A short task that acknowledges a request if it sees one. */
static int32_t t_short(const void *in, size_t len, cfut_result *out) {
    (void)len;
    const poll_in *p = in;
    shared *sh = worker_page(p->path);
    if (sh) atomic_fetch_add(&sh->ran, 1);
    uint64_t end = now_ns() + 200000;
    while (now_ns() < end) {
        if (cfut_result_cancel_requested(out)) {
            cfut_result_set_cancelled(out);
            return 0;
        }
    }
    return (int32_t)cfut_result_set_bytes(out, "ok", 2);
}

static int32_t t_fail(const void *in, size_t len, cfut_result *out) {
    (void)in;
    (void)len;
    cfut_result_set_error(out, 5, "first failure");
    return 5;
}

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *METHOD_NAMES[] = {"spawn", "fork", "forkserver"};

static cfut_executor *pool(uint32_t method, uint32_t workers, bool kills) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = workers;
    o.start_method = method;
    o.cancel_kills = kills;
    cfut_executor *ex = NULL;
    CHECK_STATUS(cfut_process_pool_new(&o, &ex), CFUT_OK);
    return ex;
}

static bool wait_polling(int n) {
    uint64_t end = now_ns() + 30000000000ull;
    while (atomic_load(&g_sh->polling) < n) {
        if (now_ns() > end) return false;
        sleep_us(100); /* a hang guard's pace, not synchronisation: the flag is the event */
    }
    return true;
}

static poll_in input(int acknowledge) {
    poll_in p;
    memset(&p, 0, sizeof p);
    snprintf(p.path, sizeof p.path, "%s", g_path);
    p.acknowledge = acknowledge;
    return p;
}

/* ---- tests ------------------------------------------------------------------------------ */

/* The request reaches the worker; the task sees it well within a bound and stops. */
static void request_reaches_running_task(uint32_t method) {
    cfut_executor *ex = pool(method, 1, false);
    for (int ack = 0; ack <= 1; ack++) {
        shared_reset();
        poll_in in = input(ack);
        cfut_future *f = NULL;
        CHECK_STATUS(cfut_executor_submit_bytes(ex, t_poll, &in, sizeof in, &f), CFUT_OK);
        CHECK(wait_polling(1));
        uint64_t t0 = now_ns();
        CHECK(!cfut_future_request_cancel(f));
        CHECK_STATUS(cfut_future_wait(f, CFUT_SECONDS(30)), CFUT_OK);
        uint64_t t1 = now_ns();
        if (ack) {
            CHECK(cfut_future_cancelled(f));
            CHECK_STATUS(cfut_future_result(f, 0, NULL), CFUT_CANCELLED);
            printf("    %-10s acknowledged: CANCELLED %.3f ms after the request\n", METHOD_NAMES[method],
                   (t1 - t0) / 1e6);
            CHECK(t1 - t0 < 500000000ull);
        } else {
            const void *p = NULL;
            size_t n = 0;
            CHECK_STATUS(cfut_future_result_bytes(f, 0, &p, &n), CFUT_OK);
            uint64_t seen = 0;
            if (n == sizeof seen) memcpy(&seen, p, sizeof seen);
            CHECK(seen >= t0 && seen - t0 < 500000000ull);
            printf("    %-10s the worker saw the request %.3f ms after it was made\n", METHOD_NAMES[method],
                   (seen - t0) / 1e6);
        }
        cfut_future_release(f);
    }
    cfut_executor_free(ex);
}

/* cancel_kills: the worker is killed and replaced, the future ends CANCELLED. */
static void cancel_kills_replaces_worker(uint32_t method) {
    cfut_executor *ex = pool(method, 1, true);
    cfut_future *f = NULL;
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_pid, NULL, 0, &f), CFUT_OK);
    int pid0 = 0, pid1 = 0;
    const void *p = NULL;
    size_t n = 0;
    CHECK_STATUS(cfut_future_result_bytes(f, CFUT_SECONDS(30), &p, &n), CFUT_OK);
    if (n == sizeof pid0) memcpy(&pid0, p, n);
    cfut_future_release(f);

    shared_reset();
    poll_in in = input(0);
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_spin_forever, &in, sizeof in, &f), CFUT_OK);
    CHECK(wait_polling(1));
    uint64_t t0 = now_ns();
    CHECK(!cfut_future_request_cancel(f));
    CHECK_STATUS(cfut_future_wait(f, CFUT_SECONDS(30)), CFUT_OK);
    CHECK(cfut_future_cancelled(f));
    printf("    %-10s cancel_kills: CANCELLED %.3f ms after the request\n", METHOD_NAMES[method], (now_ns() - t0) / 1e6);
    cfut_future_release(f);

    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_pid, NULL, 0, &f), CFUT_OK);
    CHECK_STATUS(cfut_future_result_bytes(f, CFUT_SECONDS(30), &p, &n), CFUT_OK);
    if (n == sizeof pid1) memcpy(&pid1, p, n);
    CHECK(pid1 > 0 && pid1 != pid0);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static void t_request_spawn(void) { request_reaches_running_task(CFUT_START_SPAWN); }
static void t_request_forkserver(void) { request_reaches_running_task(CFUT_START_FORKSERVER); }
static void t_request_fork(void) { request_reaches_running_task(CFUT_START_FORK); }
static void t_kills_spawn(void) { cancel_kills_replaces_worker(CFUT_START_SPAWN); }
static void t_kills_forkserver(void) { cancel_kills_replaces_worker(CFUT_START_FORKSERVER); }
static void t_kills_fork(void) { cancel_kills_replaces_worker(CFUT_START_FORK); }

/* Requests racing completion: every future ends exactly one way. */
static void t_races(void) {
    enum { N = 300 };
    cfut_executor *ex = pool(CFUT_START_SPAWN, 2, false);
    shared_reset();
    poll_in in = input(0);
    cfut_future *fs[N];
    for (int i = 0; i < N; i++) {
        CHECK_STATUS(cfut_executor_submit_bytes(ex, t_short, &in, sizeof in, &fs[i]), CFUT_OK);
        if (i >= 2 && i % 2 == 0) cfut_future_request_cancel(fs[i - 2]);
    }
    int cancelled = 0, ok = 0;
    for (int i = 0; i < N; i++) {
        CHECK_STATUS(cfut_future_wait(fs[i], CFUT_SECONDS(30)), CFUT_OK);
        const void *p = NULL;
        size_t n = 0;
        cfut_status s = cfut_future_result_bytes(fs[i], 0, &p, &n);
        if (cfut_future_cancelled(fs[i])) {
            CHECK_STATUS(s, CFUT_CANCELLED);
            cancelled++;
        } else {
            CHECK_STATUS(s, CFUT_OK);
            CHECK(n == 2 && memcmp(p, "ok", 2) == 0);
            ok++;
        }
        cfut_future_release(fs[i]);
    }
    CHECK(cancelled + ok == N);
    printf("    %d cancelled, %d finished, %d ran\n", cancelled, ok, atomic_load(&g_sh->ran));
    cfut_executor_free(ex);
}

/* A cancel-on-failure group on a process pool: the failure stops the polling tasks. */
static void t_group(void) {
    cfut_executor *ex = pool(CFUT_START_FORKSERVER, 3, false);
    cfut_group *g = NULL;
    CHECK_STATUS(cfut_group_new(ex, CFUT_GROUP_CANCEL_ON_FAILURE, &g), CFUT_OK);
    shared_reset();
    poll_in in = input(1);
    for (int i = 0; i < 2; i++) CHECK_STATUS(cfut_group_submit_bytes(g, t_poll, &in, sizeof in, NULL), CFUT_OK);
    for (int i = 0; i < 20; i++) CHECK_STATUS(cfut_group_submit_bytes(g, t_short, &in, sizeof in, NULL), CFUT_OK);
    CHECK(wait_polling(2));
    CHECK_STATUS(cfut_group_submit_bytes(g, t_fail, NULL, 0, NULL), CFUT_OK);
    cfut_error e;
    CHECK_STATUS(cfut_group_wait(g, CFUT_SECONDS(30), &e), CFUT_TASK_FAILED);
    CHECK(e.code == 5 && e.message && strcmp(e.message, "first failure") == 0);
    CHECK_STATUS(cfut_group_submit_bytes(g, t_short, &in, sizeof in, NULL), CFUT_CANCELLED);
    CHECK_STATUS(cfut_group_submit(g, NULL, NULL, NULL, NULL), CFUT_INVALID_ARGUMENT);
    cfut_group_free(g);

    /* free from outside with a task that polls: it is asked to stop and waited for */
    CHECK_STATUS(cfut_group_new(ex, 0, &g), CFUT_OK);
    shared_reset();
    CHECK_STATUS(cfut_group_submit_bytes(g, t_poll, &in, sizeof in, NULL), CFUT_OK);
    CHECK(wait_polling(1));
    cfut_group_free(g);
    cfut_executor_free(ex);
}

/* A group wait inside a process-pool done-callback (the manager thread) would stop the
 * pool that must complete the tasks: it returns CFUT_WOULD_DEADLOCK at once. */
static atomic_int g_cb_status = -1;
static cfut_group *g_cb_group;
static void wait_in_callback(cfut_future *f, void *arg) {
    (void)f;
    (void)arg;
    atomic_store(&g_cb_status, (int)cfut_group_wait(g_cb_group, CFUT_FOREVER, NULL));
}

static void t_group_wait_in_callback(void) {
    cfut_executor *ex = pool(CFUT_START_SPAWN, 2, false);
    CHECK_STATUS(cfut_group_new(ex, 0, &g_cb_group), CFUT_OK);
    shared_reset();
    poll_in in = input(1);
    cfut_future *second = NULL;
    CHECK_STATUS(cfut_group_submit_bytes(g_cb_group, t_poll, &in, sizeof in, NULL), CFUT_OK);
    CHECK_STATUS(cfut_group_submit_bytes(g_cb_group, t_poll, &in, sizeof in, &second), CFUT_OK);
    CHECK(wait_polling(2));
    /* Both poll until asked: the callback runs on the manager thread when `second` ends. */
    CHECK_STATUS(cfut_future_add_done_callback(second, wait_in_callback, NULL, NULL), CFUT_OK);
    CHECK(!cfut_future_request_cancel(second));
    CHECK_STATUS(cfut_future_wait(second, CFUT_SECONDS(30)), CFUT_OK);
    for (int i = 0; i < 3000 && atomic_load(&g_cb_status) == -1; i++) sleep_us(1000);
    CHECK(atomic_load(&g_cb_status) == CFUT_WOULD_DEADLOCK);
    cfut_future_release(second);
    cfut_group_free(g_cb_group); /* asks the first task to stop, waits */
    cfut_executor_free(ex);
}

/* A map whose timeout passes asks its running chunks (in workers) to stop. */
static int32_t m_slow(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    (void)item;
    (void)slot;
    sleep_us(2000); /* the work: 2 ms per item */
    return 0;
}

static void t_map_timeout(void) {
    cfut_executor *ex = pool(CFUT_START_SPAWN, 2, false);
    enum { N = 400 };
    static int items[N];
    char ctx = 0;
    cfut_map_options o;
    cfut_map_options_init(&o);
    o.chunksize = 200; /* two chunks of 400 ms each */
    o.timeout_ns = CFUT_MILLISECONDS(50);
    cfut_map *m = NULL;
    uint64_t t0 = now_ns();
    CHECK_STATUS(cfut_executor_map(ex, m_slow, &ctx, 1, items, N, sizeof(int), NULL, 0, &o, &m), CFUT_OK);
    CHECK_STATUS(cfut_map_wait(m, NULL), CFUT_TIMEOUT);
    cfut_map_free(m);
    uint64_t took = now_ns() - t0;
    printf("    map timed out; free returned %.1f ms after the start (the chunks alone take 400 ms)\n", took / 1e6);
    CHECK(took < 300000000ull);
    cfut_executor_free(ex);
}

/* A 0.1 options struct (without cancel_kills) still works. */
static void t_old_options(void) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    CHECK(!o.cancel_kills);
    o.struct_size = (uint32_t)offsetof(cfut_process_pool_options, cancel_kills);
    o.max_workers = 1;
    cfut_executor *ex = NULL;
    CHECK_STATUS(cfut_process_pool_new(&o, &ex), CFUT_OK);
    cfut_executor_free(ex);
    o.struct_size = 12;
    CHECK_STATUS(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
}

struct test {
    const char *name;
    void (*fn)(void);
};

static const struct test TESTS[] = {
    {"request_spawn", t_request_spawn}, {"request_forkserver", t_request_forkserver},
    {"request_fork", t_request_fork},   {"kills_spawn", t_kills_spawn},
    {"kills_forkserver", t_kills_forkserver}, {"kills_fork", t_kills_fork},
    {"races", t_races},                 {"group", t_group},
    {"map_timeout", t_map_timeout},     {"group_wait_in_callback", t_group_wait_in_callback},     {"old_options", t_old_options},
};

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    shared_open();
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof TESTS / sizeof *TESTS; i++) {
        if (only && !strstr(TESTS[i].name, only)) continue;
        g_test = TESTS[i].name;
        int before = g_failed_checks;
        alarm(120);
        TESTS[i].fn();
        alarm(0);
        bool ok = g_failed_checks == before;
        printf("%s %s\n", ok ? "ok  " : "FAIL", TESTS[i].name);
        ok ? passed++ : failed++;
    }
    unlink(g_path);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
