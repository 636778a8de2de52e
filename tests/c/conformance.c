/*
 * cfutures C conformance suite: CPython's concurrent.futures tests tagged [C] in
 * /work/shared/reference/cpython-spec.md §2.1-2.3 and §2.6-2.9, on the thread pool, plus
 * bad input for every exported function, statuses and versions.
 *
 * Prints one line per failed check and ends with "N passed, N failed"; the exit status is
 * non-zero on any failure. A watchdog alarm turns a hang into a failure with a message.
 */
#include "util.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- statuses and versions --------------------------------------------------------------- */

void test_status_and_version(void) {
    t_current = "test_status_and_version";
    static const char *names[] = {
        "CFUT_OK",           "CFUT_TIMEOUT",       "CFUT_CANCELLED",     "CFUT_TASK_FAILED",
        "CFUT_SHUTDOWN",     "CFUT_BROKEN",        "CFUT_WORKER_DIED",   "CFUT_INVALID_ARGUMENT",
        "CFUT_INVALID_STATE", "CFUT_WOULD_DEADLOCK", "CFUT_QUEUE_FULL",   "CFUT_EXHAUSTED",
        "CFUT_UNSUPPORTED",  "CFUT_NO_MEMORY",     "CFUT_PANIC",
    };
    /* values are pinned */
    const uint32_t values[] = {CFUT_OK,          CFUT_TIMEOUT,          CFUT_CANCELLED,     CFUT_TASK_FAILED,
                               CFUT_SHUTDOWN,    CFUT_BROKEN,           CFUT_WORKER_DIED,   CFUT_INVALID_ARGUMENT,
                               CFUT_INVALID_STATE, CFUT_WOULD_DEADLOCK, CFUT_QUEUE_FULL,    CFUT_EXHAUSTED,
                               CFUT_UNSUPPORTED, CFUT_NO_MEMORY,        CFUT_PANIC};
    for (uint32_t s = 0; s < 15; s++) {
        CHECK_EQ(values[s], s);
        const char *n = cfut_status_name(s);
        const char *d = cfut_status_str(s);
        CHECK_MSG(n && strcmp(n, names[s]) == 0, "status_name(%u) = %s", s, n ? n : "(null)");
        CHECK_MSG(d && *d && strcmp(d, "unknown status") != 0 && strcmp(d, n) != 0, "status_str(%u) = %s", s,
                  d ? d : "(null)");
        CHECK(cfut_status_name(s) == n); /* static strings */
    }
    CHECK(strcmp(cfut_status_str(CFUT_TIMEOUT), "the deadline passed first") == 0);
    const uint32_t unknown[] = {15, 16, 100, 0x7fffffffu, UINT32_MAX};
    for (int i = 0; i < 5; i++) {
        const char *n = cfut_status_name(unknown[i]);
        const char *d = cfut_status_str(unknown[i]);
        CHECK_MSG(n && strcmp(n, "unknown status") == 0, "status_name(%u)", unknown[i]);
        CHECK_MSG(d && strcmp(d, "unknown status") == 0, "status_str(%u)", unknown[i]);
    }
    /* the version macros match the loaded library */
    CHECK_EQ(CFUT_VERSION_NUMBER, CFUT_VERSION_MAJOR * 10000 + CFUT_VERSION_MINOR * 100 + CFUT_VERSION_PATCH);
    CHECK_EQ(cfut_version_number(), CFUT_VERSION_NUMBER);
    const char *v = cfut_version_string();
    CHECK(v != NULL && strcmp(v, CFUT_VERSION_STRING) == 0);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", CFUT_VERSION_MAJOR, CFUT_VERSION_MINOR, CFUT_VERSION_PATCH);
    CHECK(strcmp(buf, CFUT_VERSION_STRING) == 0);
    /* time macros */
    CHECK(CFUT_FOREVER == UINT64_MAX);
    CHECK(CFUT_MILLISECONDS(3) == 3000000u && CFUT_SECONDS(2) == 2000000000u && CFUT_MICROSECONDS(5) == 5000u);
    CHECK(CFUT_FIRST_COMPLETED == 0 && CFUT_FIRST_EXCEPTION == 1 && CFUT_ALL_COMPLETED == 2);
}

/* ---- bad input for every exported function ---------------------------------------------- */

static atomic_int bad_runs;
static int32_t bad_task(void *arg, cfut_result *out) {
    (void)arg;
    (void)out;
    atomic_fetch_add(&bad_runs, 1);
    return 0;
}
static int32_t bad_bytes(const void *in, size_t len, cfut_result *out) {
    (void)in;
    (void)len;
    (void)out;
    atomic_fetch_add(&bad_runs, 1);
    return 0;
}
static int32_t bad_map(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    (void)item;
    (void)slot;
    atomic_fetch_add(&bad_runs, 1);
    return 0;
}
static atomic_int bad_cb_calls;
static void bad_cb(cfut_future *f, void *arg) {
    (void)f;
    (void)arg;
    atomic_fetch_add(&bad_cb_calls, 1);
}

#define SENTINEL ((void *)0x5E5E)

void test_bad_input(void) {
    t_current = "test_bad_input";
    atomic_int drops = 0;
    atomic_store(&bad_runs, 0);
    atomic_store(&bad_cb_calls, 0);
    cfut_error e;

    /* result sinks: a NULL out drops what it owns, never crashes */
    cfut_result_set_value(NULL, tok_new(&drops, 1), tok_drop);
    CHECK_EQ(atomic_load(&drops), 1);
    cfut_result_set_value(NULL, NULL, NULL);
    CHECK_ST(cfut_result_set_bytes(NULL, "abc", 3), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_result_set_bytes(NULL, NULL, 0), CFUT_INVALID_ARGUMENT);
    cfut_result_set_error(NULL, 1, "x");
    cfut_result_set_error_payload(NULL, tok_new(&drops, 2), tok_drop);
    CHECK_EQ(atomic_load(&drops), 2);

    /* futures */
    CHECK(cfut_future_retain(NULL) == NULL);
    cfut_future_release(NULL);
    CHECK(!cfut_future_cancel(NULL));
    CHECK(!cfut_future_cancelled(NULL));
    CHECK(!cfut_future_running(NULL));
    CHECK(!cfut_future_done(NULL));
    CHECK_ST(cfut_future_wait(NULL, 0), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_future_wait(NULL, CFUT_FOREVER), CFUT_INVALID_ARGUMENT);
    void *v = SENTINEL;
    CHECK_ST(cfut_future_result(NULL, CFUT_FOREVER, &v), CFUT_INVALID_ARGUMENT);
    CHECK(v == SENTINEL);
    const void *data = SENTINEL;
    size_t len = 5;
    CHECK_ST(cfut_future_result_bytes(NULL, CFUT_FOREVER, &data, &len), CFUT_INVALID_ARGUMENT);
    CHECK(data == SENTINEL && len == 5);
    CHECK_ST(cfut_future_error(NULL, CFUT_FOREVER, &e), CFUT_INVALID_ARGUMENT);
    cfut_future *ok = fx_ok(1), *pending = fx_pending();
    CHECK_ST(cfut_future_error(ok, 0, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_future_error(pending, CFUT_FOREVER, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_future_add_done_callback(NULL, bad_cb, tok_new(&drops, 3), tok_drop), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(atomic_load(&drops), 3);
    CHECK_ST(cfut_future_add_done_callback(pending, NULL, tok_new(&drops, 4), tok_drop), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(atomic_load(&drops), 4);
    CHECK_ST(cfut_future_add_done_callback(ok, NULL, tok_new(&drops, 5), tok_drop), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(atomic_load(&drops), 5);
    CHECK_ST(cfut_future_add_done_callback(NULL, NULL, NULL, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_future_new(NULL), CFUT_INVALID_ARGUMENT);
    CHECK(!cfut_future_set_running_or_notify_cancel(NULL));
    CHECK_ST(cfut_future_set_result(NULL, tok_new(&drops, 6), tok_drop), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(atomic_load(&drops), 6);
    CHECK_ST(cfut_future_set_error(NULL, 1, "x"), CFUT_INVALID_ARGUMENT);
    /* the pending future is unaffected by the refused callback */
    CHECK_ST(cfut_future_set_result(pending, NULL, NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&bad_cb_calls), 0);
    cfut_future_release(ok);
    cfut_future_release(pending);

    /* thread pools: NULL out, wrong struct_size */
    cfut_thread_pool_options_init(NULL);
    CHECK_ST(cfut_thread_pool_new(NULL, NULL), CFUT_INVALID_ARGUMENT);
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    CHECK_EQ(o.struct_size, sizeof o);
    CHECK(o.max_workers == 0 && o.thread_name_prefix == NULL && o.initializer == NULL && o.initializer_arg == NULL);
    CHECK_ST(cfut_thread_pool_new(&o, NULL), CFUT_INVALID_ARGUMENT);
    const uint32_t bad_sizes[] = {0, 4, (uint32_t)sizeof o - 1, (uint32_t)sizeof o + 8, UINT32_MAX};
    for (int i = 0; i < 5; i++) {
        o.struct_size = bad_sizes[i];
        cfut_executor *ex = SENTINEL;
        CHECK_MSG(cfut_thread_pool_new(&o, &ex) == CFUT_INVALID_ARGUMENT, "struct_size %u accepted", bad_sizes[i]);
        CHECK(ex == SENTINEL);
    }

    /* executors */
    cfut_future *f = SENTINEL;
    CHECK_ST(cfut_executor_submit(NULL, bad_task, tok_new(&drops, 7), tok_drop, &f), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(atomic_load(&drops), 7);
    CHECK(f == SENTINEL);
    CHECK_ST(cfut_executor_submit_bytes(NULL, bad_bytes, "ab", 2, &f), CFUT_INVALID_ARGUMENT);
    CHECK(f == SENTINEL);
    CHECK_ST(cfut_executor_shutdown(NULL, true, true), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_shutdown(NULL, false, false), CFUT_INVALID_ARGUMENT);
    cfut_executor_free(NULL);
    CHECK_EQ(cfut_executor_max_workers(NULL), 0);

    cfut_thread_pool_options_init(&o);
    o.max_workers = 2;
    cfut_executor *ex = NULL;
    CHECK_ST(cfut_thread_pool_new(&o, &ex), CFUT_OK);
    CHECK_ST(cfut_executor_submit(ex, NULL, tok_new(&drops, 8), tok_drop, &f), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(atomic_load(&drops), 8);
    CHECK(f == SENTINEL);
    CHECK_ST(cfut_executor_submit(ex, NULL, NULL, NULL, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_submit_bytes(ex, NULL, "ab", 2, &f), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_submit_bytes(ex, bad_bytes, NULL, 5, &f), CFUT_INVALID_ARGUMENT);
    CHECK(f == SENTINEL);

    /* wait / as_completed */
    cfut_future *a = fx_ok(1), *p = fx_pending();
    cfut_future *fs[3] = {a, p, NULL};
    bool done[3] = {false, false, false};
    size_t n = 77;
    CHECK_ST(cfut_wait(fs, 2, 0, 3, done, &n), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_wait(fs, 2, 0, 99, done, &n), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_wait(fs, 1, 0, UINT32_MAX, done, &n), CFUT_INVALID_ARGUMENT); /* even if it could return */
    CHECK_ST(cfut_wait(NULL, 0, 0, 7, NULL, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_wait(fs, 3, 0, CFUT_ALL_COMPLETED, done, &n), CFUT_INVALID_ARGUMENT); /* NULL entry */
    CHECK_ST(cfut_wait(NULL, 2, 0, CFUT_ALL_COMPLETED, done, &n), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_wait(fs, 2, 0, CFUT_FIRST_COMPLETED, NULL, NULL), CFUT_OK); /* both outs optional */
    cfut_as_completed *it = SENTINEL;
    CHECK_ST(cfut_as_completed_new(fs, 2, 0, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_as_completed_new(fs, 3, 0, &it), CFUT_INVALID_ARGUMENT);
    CHECK(it == SENTINEL);
    CHECK_ST(cfut_as_completed_new(NULL, 1, 0, &it), CFUT_INVALID_ARGUMENT);
    CHECK(it == SENTINEL);
    size_t idx = 55;
    CHECK_ST(cfut_as_completed_next(NULL, &idx), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(idx, 55);
    it = NULL;
    CHECK_ST(cfut_as_completed_new(fs, 2, 0, &it), CFUT_OK);
    CHECK_ST(cfut_as_completed_next(it, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_OK);
    CHECK_EQ(idx, 0);
    cfut_as_completed_free(it);
    cfut_as_completed_free(NULL);
    cfut_future_release(a);
    cfut_future_release(p);

    /* maps */
    cfut_map_options_init(NULL);
    cfut_map_options mo;
    cfut_map_options_init(&mo);
    CHECK_EQ(mo.struct_size, sizeof mo);
    CHECK(mo.chunksize == 0 && mo.timeout_ns == CFUT_FOREVER && mo.max_in_flight == 0);
    int items[4] = {1, 2, 3, 4};
    int res[4];
    cfut_map *m = SENTINEL;
    CHECK_ST(cfut_executor_map(NULL, bad_map, NULL, 0, items, 4, sizeof(int), res, sizeof(int), NULL, &m),
             CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_map(ex, NULL, NULL, 0, items, 4, sizeof(int), res, sizeof(int), NULL, &m),
             CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_map(ex, bad_map, NULL, 0, items, 4, sizeof(int), res, sizeof(int), NULL, NULL),
             CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_map(ex, bad_map, NULL, 0, NULL, 4, sizeof(int), res, sizeof(int), NULL, &m),
             CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_map(ex, bad_map, NULL, 0, items, 4, 0, res, sizeof(int), NULL, &m),
             CFUT_INVALID_ARGUMENT); /* zero item_size with count > 0 */
    CHECK_ST(cfut_executor_map(ex, bad_map, NULL, 0, items, 4, sizeof(int), NULL, sizeof(int), NULL, &m),
             CFUT_INVALID_ARGUMENT); /* NULL results with result_size > 0 */
    CHECK_ST(cfut_executor_map(ex, bad_map, NULL, 8, items, 4, sizeof(int), res, sizeof(int), NULL, &m),
             CFUT_INVALID_ARGUMENT); /* NULL ctx with ctx_len > 0 */
    CHECK_ST(cfut_executor_map(ex, bad_map, NULL, 0, items, SIZE_MAX / 2, 4, res, sizeof(int), NULL, &m),
             CFUT_INVALID_ARGUMENT); /* count * item_size overflows */
    CHECK_ST(cfut_executor_map(ex, bad_map, NULL, 0, items, SIZE_MAX / 2, 1, res, 8, NULL, &m),
             CFUT_INVALID_ARGUMENT); /* count * result_size overflows */
    for (int i = 0; i < 5; i++) {
        cfut_map_options_init(&mo);
        mo.struct_size = bad_sizes[i] == (uint32_t)sizeof o - 1 ? (uint32_t)sizeof mo - 1
                         : bad_sizes[i] == (uint32_t)sizeof o + 8 ? (uint32_t)sizeof mo + 8
                                                                  : bad_sizes[i];
        CHECK_MSG(cfut_executor_map(ex, bad_map, NULL, 0, items, 4, sizeof(int), res, sizeof(int), &mo, &m) ==
                      CFUT_INVALID_ARGUMENT,
                  "map struct_size %u accepted", mo.struct_size);
    }
    CHECK(m == SENTINEL);
    CHECK_ST(cfut_map_next(NULL, &idx, &e), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_map_wait(NULL, &idx), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(cfut_map_chunksize(NULL), 0);
    cfut_map_free(NULL);
    m = NULL;
    CHECK_ST(cfut_executor_map(ex, bad_map, NULL, 0, items, 4, sizeof(int), res, sizeof(int), NULL, &m), CFUT_OK);
    CHECK_ST(cfut_map_next(m, NULL, &e), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_map_wait(m, NULL), CFUT_OK);
    cfut_map_free(m);

    /* after shutdown, and a double shutdown */
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    CHECK_ST(cfut_executor_submit(ex, bad_task, tok_new(&drops, 9), tok_drop, &f), CFUT_SHUTDOWN);
    CHECK_EQ(atomic_load(&drops), 9);
    CHECK(f == SENTINEL);
    CHECK_ST(cfut_executor_submit_bytes(ex, bad_bytes, "ab", 2, &f), CFUT_SHUTDOWN);
    CHECK(f == SENTINEL);
    m = SENTINEL;
    CHECK_ST(cfut_executor_map(ex, bad_map, NULL, 0, items, 4, sizeof(int), res, sizeof(int), NULL, &m),
             CFUT_SHUTDOWN);
    CHECK(m == SENTINEL);
    CHECK_EQ(cfut_executor_max_workers(ex), 2);
    cfut_executor_free(ex);
    CHECK_EQ(atomic_load(&bad_runs), 4); /* only the one valid map ran */
    CHECK_EQ(atomic_load(&drops), 9);
}

/* ---- bad input for the process-pool functions (no pool is started here: the process pool
 * has its own suite in tests/process) -------------------------------------------------- */

#ifdef CFUT_START_SPAWN
static int32_t pp_init(const void *in, size_t len, cfut_result *out) {
    (void)in;
    (void)len;
    (void)out;
    return 0;
}

typedef struct last_err {
    const char *before, *after;
    cfut_status st;
} last_err;

static void *last_error_thread(void *p) {
    last_err *l = p;
    l->before = cfut_last_error_message(); /* a fresh thread: none yet */
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.worker_exe = "/nonexistent/cfut-worker";
    cfut_executor *ex = SENTINEL;
    l->st = cfut_process_pool_new(&o, &ex);
    l->after = cfut_last_error_message();
    if (l->after) {
        (void)strlen(l->after);
    }
    /* a successful call leaves it unchanged */
    CHECK(cfut_status_name(CFUT_OK) != NULL);
    CHECK(cfut_last_error_message() == l->after);
    CHECK(ex == SENTINEL);
    return NULL;
}

static void test_bad_input_process_pool(void) {
    cfut_process_pool_options_init(NULL);
    cfut_process_pool_options o;
    memset(&o, 0xAB, sizeof o);
    cfut_process_pool_options_init(&o);
    CHECK_EQ(o.struct_size, sizeof o);
    CHECK(o.max_workers == 0 && o.max_tasks_per_child == 0 && o.task_timeout_ns == CFUT_FOREVER);
    CHECK(o.on_worker_death == CFUT_REPLACE_WORKER && o.start_method == CFUT_START_SPAWN);
    CHECK(o.initializer == NULL && o.initializer_input == NULL && o.initializer_len == 0 && o.worker_exe == NULL);

    CHECK_ST(cfut_process_pool_new(NULL, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_process_pool_new(&o, NULL), CFUT_INVALID_ARGUMENT);
    const uint32_t bad_sizes[] = {0, 4, (uint32_t)sizeof o - 1, (uint32_t)sizeof o + 8, UINT32_MAX};
    for (int i = 0; i < 5; i++) {
        cfut_process_pool_options_init(&o);
        o.struct_size = bad_sizes[i];
        cfut_executor *ex = SENTINEL;
        CHECK_MSG(cfut_process_pool_new(&o, &ex) == CFUT_INVALID_ARGUMENT, "process struct_size %u accepted",
                  bad_sizes[i]);
        CHECK(ex == SENTINEL);
    }
    cfut_executor *ex = SENTINEL;
    cfut_process_pool_options_init(&o);
    o.on_worker_death = 2;
    CHECK_ST(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    cfut_process_pool_options_init(&o);
    o.on_worker_death = UINT32_MAX;
    CHECK_ST(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    cfut_process_pool_options_init(&o);
    o.start_method = 3; /* 0 SPAWN, 1 FORK and 2 FORKSERVER are valid */
    CHECK_ST(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    cfut_process_pool_options_init(&o);
    o.initializer = pp_init;
    o.initializer_input = NULL;
    o.initializer_len = 8;
    CHECK_ST(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    cfut_process_pool_options_init(&o);
    o.worker_exe = "/nonexistent/cfut-worker";
    CHECK_ST(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    char path[] = "/tmp/cfut-noexec-XXXXXX"; /* exists, not executable */
    int fd = mkstemp(path);
    if (fd >= 0) {
        close(fd);
        chmod(path, 0644);
        o.worker_exe = path;
        CHECK_ST(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
        unlink(path);
    }
    CHECK(ex == SENTINEL);
    if (ex != SENTINEL) {
        cfut_executor_free(ex);
    }

    /* the last-error message is per thread */
    last_err l = {SENTINEL, NULL, 99};
    pthread_t t = spawn(last_error_thread, &l);
    join(t);
    CHECK(l.before == NULL);
    CHECK_ST(l.st, CFUT_INVALID_ARGUMENT);
    CHECK(l.after != NULL);

    /* process-pool calls: NULL handles, NULL outs, and a thread pool */
    size_t n = 77;
    int32_t pids[4];
    CHECK_ST(cfut_process_pool_terminate(NULL, SIGKILL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_process_pool_terminate(NULL, 0), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_process_pool_worker_pids(NULL, pids, 4, &n), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(n, 77);
    CHECK_EQ(cfut_process_pool_workers_started(NULL), 0);
    cfut_executor *tp = NULL;
    CHECK_ST(cfut_thread_pool_new(NULL, &tp), CFUT_OK);
    CHECK_ST(cfut_process_pool_terminate(tp, SIGKILL), CFUT_UNSUPPORTED);
    CHECK_ST(cfut_process_pool_terminate(tp, SIGTERM), CFUT_UNSUPPORTED);
    CHECK_ST(cfut_process_pool_worker_pids(tp, NULL, 0, &n), CFUT_UNSUPPORTED);
    CHECK_EQ(n, 77);
    CHECK_EQ(cfut_process_pool_workers_started(tp), 0);
    /* the thread pool still works after all that */
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(tp, bad_task, NULL, NULL, &f), CFUT_OK);
    CHECK_ST(cfut_future_result(f, CFUT_FOREVER, NULL), CFUT_OK);
    cfut_future_release(f);
    cfut_executor_free(tp);
    atomic_fetch_sub(&bad_runs, 1);
}
#endif

/* ---- main ----------------------------------------------------------------------------- */

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL watchdog: the conformance suite hung (no progress before the alarm)\n";
    ssize_t w = write(1, msg, sizeof msg - 1);
    (void)w;
    _exit(2);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    setvbuf(stdout, NULL, _IOLBF, 0);
    unsigned secs = 600;
    const char *env = getenv("CFUT_TEST_TIMEOUT");
    if (env && atoi(env) > 0) {
        secs = (unsigned)atoi(env);
    }
    const char *verbose = getenv("CFUT_TEST_VERBOSE");
    t_verbose = verbose && *verbose && strcmp(verbose, "0") != 0;
    signal(SIGALRM, on_alarm);
    alarm(secs);

    test_status_and_version();
    test_bad_input();
#ifdef CFUT_START_SPAWN
    t_current = "test_bad_input_process_pool";
    test_bad_input_process_pool();
#endif
    test_futures();
    test_executor();
    test_init();
    test_map();
    test_wait();
    test_as_completed();
    test_shutdown();
    test_cancel();
    test_group();
    test_inline();
    test_cq();
    test_parallel_for();
    test_flow();
    test_life();

    int p = atomic_load(&t_passed), f = atomic_load(&t_failed);
    printf("%d passed, %d failed\n", p, f);
    return f == 0 ? 0 : 1;
}
