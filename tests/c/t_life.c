/* The unobserved-error hook (contract section 6) and the worker life cycle (section 7):
 * the hook fires exactly once for each failure nobody read (fire-and-forget included),
 * never for read ones or cancelled ones; idle workers retire, on_worker_exit runs once per
 * worker thread, retired workers start again on demand. The process pool's worker death
 * is in tests/process. */
#include "util.h"

/* ---- the hook --------------------------------------------------------------------------- */

/* Only this file's failures count (codes 7000..7099): other tests free failed futures too. */
#define CODE0 7000
static atomic_int hook_calls[100];
static gate hook_gate;
static pthread_t main_thread;

static void on_unobserved(void *arg, const cfut_error *e) {
    if (arg != &hook_gate || !e || e->code < CODE0 || e->code >= CODE0 + 100) {
        return;
    }
    if (e->status != CFUT_TASK_FAILED || !e->message || strcmp(e->message, "lost") != 0) {
        t_fail(__FILE__, __LINE__, "hook error: status %u message %s", e->status, e->message ? e->message : "(null)");
    }
    atomic_fetch_add(&hook_calls[e->code - CODE0], 1);
    gate_add(&hook_gate, 1);
}

static int32_t fail_with(void *arg, cfut_result *out) {
    cfut_result_set_error(out, (int32_t)(intptr_t)arg, "lost");
    return (int32_t)(intptr_t)arg;
}

static int32_t acknowledge_cancel(void *arg, cfut_result *out) {
    gate *g = arg;
    gate_add(g, 1);
    while (!cfut_result_cancel_requested(out)) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cfut_result_set_cancelled(out);
    return 1;
}

static int32_t wait_gate(void *arg, cfut_result *out) {
    (void)out;
    return gate_wait(arg, HANG_MS) ? 0 : 1;
}

static int total_calls(void) {
    int n = 0;
    for (int i = 0; i < 100; i++) {
        n += atomic_load(&hook_calls[i]);
    }
    return n;
}

static void hook_fires_once_per_unread_failure(void) {
    main_thread = pthread_self();
    gate_init(&hook_gate);
    cfut_set_unobserved_error_hook(on_unobserved, &hook_gate);
    cfut_executor *ex = new_pool(2);

    /* 1: fire-and-forget: reported at once (on the worker, or on this thread if the task
     * ended before the submit let go of its reference). */
    CHECK_ST(cfut_executor_submit(ex, fail_with, (void *)(intptr_t)(CODE0 + 1), NULL, NULL), CFUT_OK);
    CHECK(gate_wait_count(&hook_gate, 1, HANG_MS));
    CHECK_EQ(atomic_load(&hook_calls[1]), 1);

    /* 2, 3, 4: read by result, result_bytes, error: never reported. */
    cfut_future *f = NULL;
    for (int code = 2; code <= 4; code++) {
        CHECK_ST(cfut_executor_submit(ex, fail_with, (void *)(intptr_t)(CODE0 + code), NULL, &f), CFUT_OK);
        if (code == 2) {
            CHECK_ST(cfut_future_result(f, MS(HANG_MS), NULL), CFUT_TASK_FAILED);
        } else if (code == 3) {
            CHECK_ST(cfut_future_result_bytes(f, MS(HANG_MS), NULL, NULL), CFUT_TASK_FAILED);
        } else {
            cfut_error e;
            CHECK_ST(cfut_future_error(f, MS(HANG_MS), &e), CFUT_OK);
            CHECK_EQ(e.code, CODE0 + code);
        }
        cfut_future_release(f);
    }

    /* 5: held, never read, released: reported once (on whichever thread drops last). */
    CHECK_ST(cfut_executor_submit(ex, fail_with, (void *)(intptr_t)(CODE0 + 5), NULL, &f), CFUT_OK);
    CHECK_ST(cfut_future_wait(f, MS(HANG_MS)), CFUT_OK);
    cfut_future *extra = cfut_future_retain(f);
    cfut_future_release(f);
    CHECK_EQ(atomic_load(&hook_calls[5]), 0); /* a reference is still held */
    cfut_future_release(extra);
    CHECK(gate_wait_count(&hook_gate, 2, HANG_MS));

    /* 6: a standalone future failed by hand and never read. */
    cfut_future *s = fx_failed(CODE0 + 6, "lost");
    cfut_future_release(s);
    CHECK(gate_wait_count(&hook_gate, 3, HANG_MS));
    CHECK_EQ(atomic_load(&hook_calls[6]), 1);

    /* Cancelled futures never report: cancelled while queued, and acknowledged while running. */
    gate g1, started;
    gate_init(&g1);
    gate_init(&started);
    cfut_executor *one = new_pool(1);
    cfut_future *blocker = NULL, *queued = NULL, *ack = NULL;
    CHECK_ST(cfut_executor_submit(one, wait_gate, &g1, NULL, &blocker), CFUT_OK);
    CHECK_ST(cfut_executor_submit(one, fail_with, (void *)(intptr_t)(CODE0 + 7), NULL, &queued), CFUT_OK);
    CHECK(cfut_future_cancel(queued));
    cfut_future_release(queued);
    gate_open(&g1);
    CHECK_ST(cfut_executor_submit(one, acknowledge_cancel, &started, NULL, &ack), CFUT_OK);
    CHECK(gate_wait_count(&started, 1, HANG_MS));
    cfut_future_request_cancel(ack);
    CHECK_ST(cfut_future_wait(ack, MS(HANG_MS)), CFUT_OK);
    CHECK(cfut_future_cancelled(ack));
    cfut_future_release(ack);
    cfut_future_release(blocker);
    cfut_executor_free(one);

    /* A successful fire-and-forget task never reports. */
    CHECK_ST(cfut_executor_submit(ex, wait_gate, &g1, NULL, NULL), CFUT_OK);
    cfut_executor_free(ex); /* every reference is gone once its workers are joined */

    CHECK_EQ(atomic_load(&hook_calls[1]), 1);
    for (int code = 2; code <= 4; code++) {
        CHECK_EQ(atomic_load(&hook_calls[code]), 0);
    }
    CHECK_EQ(atomic_load(&hook_calls[5]), 1);
    CHECK_EQ(atomic_load(&hook_calls[7]), 0);
    CHECK_EQ(total_calls(), 3);

    /* Removed: nothing more is reported. */
    cfut_set_unobserved_error_hook(NULL, NULL);
    s = fx_failed(CODE0 + 8, "lost");
    cfut_future_release(s);
    CHECK_EQ(atomic_load(&hook_calls[8]), 0);
    gate_destroy(&g1);
    gate_destroy(&started);
    gate_destroy(&hook_gate);
}

/* ---- worker life cycle ------------------------------------------------------------------- */

static atomic_int inits, exits, exits_on_main;

static int32_t count_init(void *arg) {
    (void)arg;
    atomic_fetch_add(&inits, 1);
    return 0;
}

static void count_exit(void *arg) {
    atomic_fetch_add((atomic_int *)arg, 1);
    if (pthread_equal(pthread_self(), main_thread)) {
        atomic_fetch_add(&exits_on_main, 1);
    }
}

typedef struct meet {
    gate arrived;
    gate release;
} meet;

/* Holds its worker until all three have arrived, so three threads start. */
static int32_t meet_task(void *arg, cfut_result *out) {
    (void)out;
    meet *m = arg;
    gate_add(&m->arrived, 1);
    return gate_wait(&m->release, HANG_MS) ? 0 : 1;
}

static cfut_executor_stats stats_now(cfut_executor *ex) {
    cfut_executor_stats s;
    s.struct_size = sizeof s;
    CHECK_ST(cfut_executor_stats_get(ex, &s), CFUT_OK);
    return s;
}

/* Polls the stats until no worker is left (a generous deadline: the machine is shared). */
static bool wait_no_workers(cfut_executor *ex) {
    uint64_t until = now_ns() + MS(HANG_MS);
    while (now_ns() < until) {
        if (stats_now(ex).workers == 0) {
            return true;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static void life_idle_workers_retire_and_restart(void) {
    main_thread = pthread_self();
    atomic_store(&inits, 0);
    atomic_store(&exits, 0);
    atomic_store(&exits_on_main, 0);
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = 3;
    o.idle_timeout_ns = MS(30);
    o.on_worker_exit = count_exit;
    o.on_worker_exit_arg = &exits;
    o.initializer = count_init;
    cfut_executor *ex = NULL;
    CHECK_ST(cfut_thread_pool_new(&o, &ex), CFUT_OK);

    meet m;
    gate_init(&m.arrived);
    gate_init(&m.release);
    cfut_future *fs[3];
    for (int i = 0; i < 3; i++) {
        CHECK_ST(cfut_executor_submit(ex, meet_task, &m, NULL, &fs[i]), CFUT_OK);
    }
    CHECK(gate_wait_count(&m.arrived, 3, HANG_MS));
    CHECK_EQ(stats_now(ex).workers, 3);
    gate_open(&m.release);
    for (int i = 0; i < 3; i++) {
        CHECK_ST(cfut_future_result(fs[i], MS(HANG_MS), NULL), CFUT_OK);
        cfut_future_release(fs[i]);
    }
    /* Idle longer than the timeout: no thread left, each exit hook ran once. */
    CHECK(wait_no_workers(ex));
    CHECK_EQ(atomic_load(&inits), 3);
    CHECK_EQ(atomic_load(&exits), 3);
    cfut_executor_stats s = stats_now(ex);
    CHECK_EQ(s.idle_workers, 0);
    CHECK_EQ(s.worker_restarts, 0);

    /* On demand again. */
    for (int round = 0; round < 3; round++) {
        cfut_future *f = NULL;
        CHECK_ST(cfut_executor_submit(ex, meet_task, &m, NULL, &f), CFUT_OK);
        CHECK_ST(cfut_future_result(f, MS(HANG_MS), NULL), CFUT_OK);
        cfut_future_release(f);
    }
    s = stats_now(ex);
    CHECK(s.worker_restarts >= 1);
    CHECK_EQ(s.completed, 6);
    cfut_executor_free(ex);
    /* Shutdown: every worker started ran its exit hook exactly once, on itself. */
    CHECK_EQ(atomic_load(&exits), atomic_load(&inits));
    CHECK(atomic_load(&inits) >= 4);
    CHECK_EQ(atomic_load(&exits_on_main), 0);
    gate_destroy(&m.arrived);
    gate_destroy(&m.release);
}

/* Without idle_timeout workers stay; on_worker_exit still runs once each at shutdown. */
static void life_exit_hook_at_shutdown(void) {
    atomic_int n = 0;
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = 2;
    o.on_worker_exit = count_exit;
    o.on_worker_exit_arg = &n;
    cfut_executor *ex = NULL;
    CHECK_ST(cfut_thread_pool_new(&o, &ex), CFUT_OK);
    meet m;
    gate_init(&m.arrived);
    gate_init(&m.release);
    for (int i = 0; i < 2; i++) {
        CHECK_ST(cfut_executor_submit(ex, meet_task, &m, NULL, NULL), CFUT_OK);
    }
    CHECK(gate_wait_count(&m.arrived, 2, HANG_MS));
    gate_open(&m.release);
    CHECK_EQ(atomic_load(&n), 0);
    cfut_executor_free(ex);
    CHECK_EQ(atomic_load(&n), 2);
    gate_destroy(&m.arrived);
    gate_destroy(&m.release);
}

/* Submits racing retirement never strand a task (retire vs. submit fences). */
static int32_t nothing(void *arg, cfut_result *out) {
    (void)arg;
    (void)out;
    return 0;
}

static void life_submit_races_retirement(void) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = 2;
    o.idle_timeout_ns = 20 * 1000; /* 20 µs: workers retire between most submits */
    cfut_executor *ex = NULL;
    CHECK_ST(cfut_thread_pool_new(&o, &ex), CFUT_OK);
    int ok = 0;
    for (int i = 0; i < 300; i++) {
        cfut_future *f = NULL;
        if (cfut_executor_submit(ex, nothing, NULL, NULL, &f) == CFUT_OK && cfut_future_result(f, MS(HANG_MS), NULL) == CFUT_OK) {
            ok++;
        }
        cfut_future_release(f);
        if (i % 50 == 0) {
            struct timespec ts = {0, 200 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    CHECK_EQ(ok, 300);
    cfut_executor_stats s = stats_now(ex);
    CHECK_EQ(s.completed, 300);
    cfut_executor_free(ex);
}

void test_life(void) {
    RUN(hook_fires_once_per_unread_failure);
    RUN(life_idle_workers_retire_and_restart);
    RUN(life_exit_hook_at_shutdown);
    RUN(life_submit_races_retirement);
}
