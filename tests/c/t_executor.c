/* cpython-spec §1.6, §1.7, §2.2, §2.3, §2.9 on the thread pool: submit, task results and
 * errors, fire-and-forget, bytes tasks, saturation, idle reuse, thread names, default
 * workers, initializers. */
#include "util.h"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- distinct thread ids ----------------------------------------------------------- */

typedef struct tids {
    pthread_mutex_t mu;
    pthread_t ids[256];
    int n;
} tids;

static void tids_init(tids *t) {
    pthread_mutex_init(&t->mu, NULL);
    t->n = 0;
}

static void tids_add(tids *t) {
    pthread_t me = pthread_self();
    pthread_mutex_lock(&t->mu);
    bool seen = false;
    for (int i = 0; i < t->n; i++) {
        if (pthread_equal(t->ids[i], me)) {
            seen = true;
        }
    }
    if (!seen && t->n < 256) {
        t->ids[t->n++] = me;
    }
    pthread_mutex_unlock(&t->mu);
}

static int tids_count(tids *t) {
    pthread_mutex_lock(&t->mu);
    int n = t->n;
    pthread_mutex_unlock(&t->mu);
    return n;
}

static cfut_executor *pool(uint32_t workers, const char *prefix) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = workers;
    o.thread_name_prefix = prefix;
    cfut_executor *ex = NULL;
    cfut_status st = cfut_thread_pool_new(&o, &ex);
    if (st != CFUT_OK || !ex) {
        fprintf(stdout, "FATAL: cfut_thread_pool_new: %s\n", cfut_status_name(st));
        exit(3);
    }
    return ex;
}

/* ---- 22 test_submit: pow(2, 8) == 256 ------------------------------------------------ */

static int32_t pow_task(void *arg, cfut_result *out) {
    long v = tok_value(arg);
    long base = v & 0xffff, exp = v >> 16, r = 1;
    for (long i = 0; i < exp; i++) {
        r *= base;
    }
    cfut_result_set_value(out, (void *)(intptr_t)r, NULL);
    return 0;
}

static int32_t pow_bytes_task(void *arg, cfut_result *out) {
    long v = tok_value(arg);
    long base = v & 0xffff, exp = v >> 16, r = 1;
    for (long i = 0; i < exp; i++) {
        r *= base;
    }
    return cfut_result_set_bytes(out, &r, sizeof r) == CFUT_OK ? 0 : 99;
}

static void submit_pow(void) {
    atomic_int drops = 0;
    cfut_executor *ex = pool(5, NULL);
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(ex, pow_task, tok_new(&drops, 2 | 8 << 16), tok_drop, &f), CFUT_OK);
    void *v = NULL;
    CHECK_ST(cfut_future_result(f, CFUT_FOREVER, &v), CFUT_OK);
    CHECK_EQ((intptr_t)v, 256);
    cfut_future_release(f);

    CHECK_ST(cfut_executor_submit(ex, pow_bytes_task, tok_new(&drops, 3 | 4 << 16), tok_drop, &f), CFUT_OK);
    const void *data = NULL;
    size_t len = 0;
    CHECK_ST(cfut_future_result_bytes(f, CFUT_FOREVER, &data, &len), CFUT_OK);
    CHECK_EQ(len, sizeof(long));
    long r = 0;
    if (data && len == sizeof r) {
        memcpy(&r, data, sizeof r);
    }
    CHECK_EQ(r, 81);
    CHECK_ST(cfut_future_result(f, 0, &v), CFUT_OK);
    CHECK(v == data);
    cfut_future_release(f);
    cfut_executor_free(ex);
    CHECK_EQ(atomic_load(&drops), 2); /* each arg dropped once, after its task ran */
}

/* ---- task outcomes: values, errors, payloads --------------------------------------- */

static atomic_int val_drops, payload_drops;

static int32_t outcome_task(void *arg, cfut_result *out) {
    long mode = tok_value(arg);
    switch (mode) {
    case 0: /* nothing set, success */
        return 0;
    case 1: /* non-zero return */
        return 17;
    case 2: /* set_error then return 0: still fails with that code */
        cfut_result_set_error(out, 23, "divide by zero");
        return 0;
    case 3: /* set_error then non-zero: the return wins for the code, message kept */
        cfut_result_set_error(out, 23, "kept");
        return 9;
    case 4: { /* set_value twice: the first is dropped at once */
        atomic_int first_drops = 0;
        token *a = tok_new(&first_drops, 1), *b = tok_new(&val_drops, 2);
        cfut_result_set_value(out, a, tok_drop);
        cfut_result_set_value(out, b, tok_drop);
        return atomic_load(&first_drops) == 1 ? 0 : 55;
    }
    case 5: /* error payload */
        cfut_result_set_error_payload(out, tok_new(&payload_drops, 5), tok_drop);
        return 31;
    case 6: /* error payload alone, return 0: still a failure */
        cfut_result_set_error_payload(out, tok_new(&payload_drops, 6), tok_drop);
        return 0;
    case 7: /* set_bytes of length 0 with NULL data */
        return cfut_result_set_bytes(out, NULL, 0) == CFUT_OK ? 0 : 56;
    case 8: /* set_bytes bad input */
        if (cfut_result_set_bytes(out, NULL, 4) != CFUT_INVALID_ARGUMENT) {
            return 57;
        }
        return 0;
    case 9: /* value then error: fails, and the value is dropped with the future */
        cfut_result_set_value(out, tok_new(&val_drops, 9), tok_drop);
        cfut_result_set_error(out, 4, NULL);
        return 0;
    case 10: { /* a pointer value replaced by bytes: the pointer is dropped at once */
        atomic_int replaced_drops = 0;
        cfut_result_set_value(out, tok_new(&replaced_drops, 10), tok_drop);
        cfut_result_set_bytes(out, "xy", 2);
        return atomic_load(&replaced_drops) == 1 ? 0 : 58;
    }
    case 11: { /* a second payload replaces the first, which is dropped exactly once */
        cfut_result_set_error_payload(out, tok_new(&payload_drops, 110), tok_drop);
        cfut_result_set_error_payload(out, tok_new(&payload_drops, 111), tok_drop);
        return 12;
    }
    default:
        return -1;
    }
}

static void task_outcomes(void) {
    atomic_int drops = 0;
    atomic_store(&val_drops, 0);
    atomic_store(&payload_drops, 0);
    cfut_executor *ex = pool(2, NULL);
    cfut_future *f[12];
    for (long m = 0; m < 12; m++) {
        f[m] = NULL;
        CHECK_ST(cfut_executor_submit(ex, outcome_task, tok_new(&drops, m), tok_drop, &f[m]), CFUT_OK);
    }
    cfut_error e;
    void *v = (void *)1;
    const void *data;
    size_t len;

    CHECK_ST(cfut_future_result(f[0], CFUT_FOREVER, &v), CFUT_OK);
    CHECK(v == NULL);
    CHECK_ST(cfut_future_result_bytes(f[0], 0, &data, &len), CFUT_OK);
    CHECK(data == NULL && len == 0);

    CHECK_ST(cfut_future_result(f[1], CFUT_FOREVER, &v), CFUT_TASK_FAILED);
    CHECK_ST(cfut_future_error(f[1], 0, &e), CFUT_OK);
    CHECK_ST(e.status, CFUT_TASK_FAILED);
    CHECK_EQ(e.code, 17);
    CHECK(e.message == NULL && e.payload == NULL);

    CHECK_ST(cfut_future_result(f[2], CFUT_FOREVER, &v), CFUT_TASK_FAILED);
    CHECK_ST(cfut_future_error(f[2], 0, &e), CFUT_OK);
    CHECK_EQ(e.code, 23);
    CHECK(e.message && strcmp(e.message, "divide by zero") == 0);

    CHECK_ST(cfut_future_error(f[3], CFUT_FOREVER, &e), CFUT_OK);
    CHECK_ST(e.status, CFUT_TASK_FAILED);
    CHECK_EQ(e.code, 9);
    CHECK(e.message && strcmp(e.message, "kept") == 0);

    CHECK_ST(cfut_future_result(f[4], CFUT_FOREVER, &v), CFUT_OK);
    CHECK_EQ(tok_value(v), 2);

    CHECK_ST(cfut_future_result(f[5], CFUT_FOREVER, &v), CFUT_TASK_FAILED);
    CHECK_ST(cfut_future_error(f[5], 0, &e), CFUT_OK);
    CHECK_EQ(e.code, 31);
    CHECK_EQ(tok_value(e.payload), 5);

    CHECK_ST(cfut_future_error(f[6], CFUT_FOREVER, &e), CFUT_OK);
    CHECK_ST(e.status, CFUT_TASK_FAILED);
    CHECK_EQ(tok_value(e.payload), 6);

    CHECK_ST(cfut_future_result_bytes(f[7], CFUT_FOREVER, &data, &len), CFUT_OK);
    CHECK_EQ(len, 0);

    CHECK_ST(cfut_future_result(f[8], CFUT_FOREVER, NULL), CFUT_OK);

    CHECK_ST(cfut_future_error(f[9], CFUT_FOREVER, &e), CFUT_OK);
    CHECK_ST(e.status, CFUT_TASK_FAILED);
    CHECK_EQ(e.code, 4);

    CHECK_ST(cfut_future_result_bytes(f[10], CFUT_FOREVER, &data, &len), CFUT_OK);
    CHECK(len == 2 && data && memcmp(data, "xy", 2) == 0);

    CHECK_ST(cfut_future_error(f[11], CFUT_FOREVER, &e), CFUT_OK);
    CHECK_EQ(e.code, 12);
    CHECK_EQ(tok_value(e.payload), 111);

    cfut_executor_free(ex);
    CHECK_EQ(atomic_load(&drops), 12);
    /* payloads live as long as their future (the replaced one may already be gone) */
    CHECK(atomic_load(&payload_drops) <= 1);
    /* case 4's second value lives with its future; case 9's value belongs to a failed
     * outcome that can never be read: the library may drop it at completion or with the
     * future (exactly once either way). */
    CHECK(atomic_load(&val_drops) == 0 || atomic_load(&val_drops) == 1);
    for (int m = 0; m < 12; m++) {
        cfut_future_release(f[m]);
    }
    CHECK_EQ(atomic_load(&payload_drops), 4);
    CHECK_EQ(atomic_load(&val_drops), 2);
}

/* ---- fire-and-forget ----------------------------------------------------------------- */

static atomic_int ff_runs;
static int32_t ff_task(void *arg, cfut_result *out) {
    (void)arg;
    atomic_fetch_add(&ff_runs, 1);
    cfut_result_set_value(out, tok_new(&val_drops, 0), tok_drop);
    return 0;
}

static void fire_and_forget(void) {
    atomic_int drops = 0;
    atomic_store(&ff_runs, 0);
    atomic_store(&val_drops, 0);
    cfut_executor *ex = pool(3, NULL);
    for (int i = 0; i < 40; i++) {
        CHECK_ST(cfut_executor_submit(ex, ff_task, tok_new(&drops, i), tok_drop, NULL), CFUT_OK);
    }
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    CHECK_EQ(atomic_load(&ff_runs), 40);
    CHECK_EQ(atomic_load(&drops), 40);
    CHECK_EQ(atomic_load(&val_drops), 40);
    cfut_executor_free(ex);
}

/* Cancelling a queued task: true, done at once, callbacks on this thread, arg dropped
 * before cancel returns, the task never runs. Running / finished tasks cannot be cancelled.
 * Releasing a future early never cancels its task. */
static int32_t block_task(void *arg, cfut_result *out);

typedef struct cancel_rec {
    atomic_int calls;
    pthread_t thread;
    bool cancelled;
} cancel_rec;

static void cancel_rec_cb(cfut_future *f, void *arg) {
    cancel_rec *r = arg;
    r->thread = pthread_self();
    r->cancelled = cfut_future_cancelled(f);
    atomic_fetch_add(&r->calls, 1);
}

static void cancel_queued_task(void) {
    atomic_int drops = 0;
    atomic_store(&ff_runs, 0);
    atomic_store(&val_drops, 0);
    cfut_executor *ex = pool(1, NULL);
    gate g;
    gate_init(&g);
    cfut_future *running = NULL;
    CHECK_ST(cfut_executor_submit(ex, block_task, &g, NULL, &running), CFUT_OK);
    CHECK(gate_wait_count(&g, 1, HANG_MS));
    CHECK(cfut_future_running(running));
    CHECK(!cfut_future_cancel(running));
    cfut_future *q = NULL;
    CHECK_ST(cfut_executor_submit(ex, ff_task, tok_new(&drops, 1), tok_drop, &q), CFUT_OK);
    CHECK(!cfut_future_done(q) && !cfut_future_running(q));
    cancel_rec r = {0};
    CHECK_ST(cfut_future_add_done_callback(q, cancel_rec_cb, &r, NULL), CFUT_OK);
    CHECK(cfut_future_cancel(q));
    CHECK_EQ(atomic_load(&drops), 1); /* dropped by cancel itself */
    CHECK_EQ(atomic_load(&r.calls), 1);
    CHECK(pthread_equal(r.thread, pthread_self()));
    CHECK(r.cancelled);
    CHECK(cfut_future_cancel(q)); /* already cancelled: true, nothing re-run */
    CHECK_EQ(atomic_load(&r.calls), 1);
    CHECK_ST(cfut_future_result(q, CFUT_FOREVER, NULL), CFUT_CANCELLED);
    /* queued tasks whose futures were released at once still run */
    for (int i = 0; i < 5; i++) {
        cfut_future *h = NULL;
        CHECK_ST(cfut_executor_submit(ex, ff_task, tok_new(&drops, 2), tok_drop, &h), CFUT_OK);
        cfut_future_release(h);
    }
    gate_open(&g);
    CHECK_ST(cfut_future_result(running, CFUT_FOREVER, NULL), CFUT_OK);
    CHECK(!cfut_future_cancel(running));
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    CHECK_EQ(atomic_load(&ff_runs), 5);
    CHECK_EQ(atomic_load(&drops), 6);
    CHECK_EQ(atomic_load(&val_drops), 5); /* the released futures' values went with them */
    cfut_future_release(q);
    cfut_future_release(running);
    cfut_executor_free(ex);
    gate_destroy(&g);
}

/* ---- submit_bytes (copied input) ------------------------------------------------------ */

static int32_t sum_bytes(const void *input, size_t len, cfut_result *out) {
    const unsigned char *p = input;
    long s = 0;
    for (size_t i = 0; i < len; i++) {
        s += p[i];
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "sum=%ld len=%zu", s, len);
    cfut_result_set_bytes(out, buf, (size_t)n + 1);
    return len == 3 && p[0] == 0xEE ? 13 : 0; /* a failing case */
}

static int32_t block_task(void *arg, cfut_result *out) {
    (void)out;
    gate *g = arg;
    gate_add(g, 1);
    return gate_wait(g, HANG_MS) ? 0 : 1;
}

static void submit_bytes(void) {
    cfut_executor *ex = pool(1, NULL);
    gate g;
    gate_init(&g);
    cfut_future *blocker = NULL;
    CHECK_ST(cfut_executor_submit(ex, block_task, &g, NULL, &blocker), CFUT_OK);
    CHECK(gate_wait_count(&g, 1, HANG_MS));

    unsigned char buf[4] = {1, 2, 3, 4};
    cfut_future *f1 = NULL, *f2 = NULL, *f3 = NULL;
    CHECK_ST(cfut_executor_submit_bytes(ex, sum_bytes, buf, 4, &f1), CFUT_OK);
    memset(buf, 0xEE, sizeof buf); /* the input was copied at submit */
    CHECK_ST(cfut_executor_submit_bytes(ex, sum_bytes, NULL, 0, &f2), CFUT_OK);
    CHECK_ST(cfut_executor_submit_bytes(ex, sum_bytes, buf, 3, &f3), CFUT_OK);
    CHECK_ST(cfut_executor_submit_bytes(ex, sum_bytes, buf, 2, NULL), CFUT_OK); /* fire-and-forget */
    gate_open(&g);

    const void *data = NULL;
    size_t len = 0;
    CHECK_ST(cfut_future_result_bytes(f1, CFUT_FOREVER, &data, &len), CFUT_OK);
    CHECK(data && len == strlen("sum=10 len=4") + 1 && strcmp(data, "sum=10 len=4") == 0);
    CHECK_ST(cfut_future_result_bytes(f2, CFUT_FOREVER, &data, &len), CFUT_OK);
    CHECK(data && strcmp(data, "sum=0 len=0") == 0);
    CHECK_ST(cfut_future_result_bytes(f3, CFUT_FOREVER, &data, &len), CFUT_TASK_FAILED);
    cfut_error e;
    CHECK_ST(cfut_future_error(f3, 0, &e), CFUT_OK);
    CHECK_EQ(e.code, 13);
    CHECK_ST(cfut_future_result(blocker, CFUT_FOREVER, NULL), CFUT_OK);
    cfut_executor_free(ex);
    cfut_future_release(f1);
    cfut_future_release(f2);
    cfut_future_release(f3);
    cfut_future_release(blocker);
    gate_destroy(&g);
}

/* ---- 45 test_saturation: 60 blocked tasks on 4 workers → exactly 4 threads ------------- */

typedef struct sat {
    gate *g;
    tids *t;
} sat;

static int32_t sat_task(void *arg, cfut_result *out) {
    (void)out;
    sat *s = arg;
    tids_add(s->t);
    gate_add(s->g, 1);
    return gate_wait(s->g, HANG_MS) ? 0 : 1;
}

static void saturation(void) {
    cfut_executor *ex = pool(4, NULL);
    CHECK_EQ(cfut_executor_max_workers(ex), 4);
    gate g;
    gate_init(&g);
    tids t;
    tids_init(&t);
    sat s = {&g, &t};
    cfut_future *f[60];
    for (int i = 0; i < 60; i++) {
        CHECK_ST(cfut_executor_submit(ex, sat_task, &s, NULL, &f[i]), CFUT_OK);
    }
    CHECK(gate_wait_count(&g, 4, HANG_MS));
    CHECK_EQ(tids_count(&t), 4);
    gate_open(&g);
    for (int i = 0; i < 60; i++) {
        CHECK_ST(cfut_future_result(f[i], CFUT_FOREVER, NULL), CFUT_OK);
        cfut_future_release(f[i]);
    }
    CHECK_EQ(gate_count(&g), 60);
    CHECK_EQ(tids_count(&t), 4);
    cfut_executor_free(ex);
    gate_destroy(&g);
}

/* 92/93 test_blocking(_with_limited_workers): blocking tasks that need each other all start
 * (no lost wake-ups): N tasks each wait until all N have started. */
static void blocking_all_start(void) {
    const uint32_t sizes[2] = {0, 4};
    for (int k = 0; k < 2; k++) {
        cfut_executor *ex = pool(sizes[k], NULL);
        uint32_t n = cfut_executor_max_workers(ex);
        gate g;
        gate_init(&g);
        cfut_future *f[32];
        for (uint32_t i = 0; i < n && i < 32; i++) {
            CHECK_ST(cfut_executor_submit(ex, block_task, &g, NULL, &f[i]), CFUT_OK);
        }
        CHECK(gate_wait_count(&g, (int)n, HANG_MS));
        gate_open(&g);
        for (uint32_t i = 0; i < n && i < 32; i++) {
            CHECK_ST(cfut_future_result(f[i], CFUT_FOREVER, NULL), CFUT_OK);
            cfut_future_release(f[i]);
        }
        cfut_executor_free(ex);
        gate_destroy(&g);
    }
}

/* ---- 46 test_idle_thread_reuse ---------------------------------------------------------- */

static atomic_int last_tid;

static int32_t tid_task(void *arg, cfut_result *out) {
    (void)out;
    tids_add(arg);
    atomic_store(&last_tid, (int)syscall(SYS_gettid));
    return 0;
}

/* True once thread `tid` is blocked in a futex wait (parked): Linux /proc. Falls back to
 * the sleeping state alone where wchan is hidden. */
static bool parked(int tid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        return false;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p || strlen(p) < 3 || p[2] != 'S') {
        return false;
    }
    snprintf(path, sizeof path, "/proc/self/task/%d/wchan", tid);
    fp = fopen(path, "r");
    if (!fp) {
        return true;
    }
    n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    return n == 0 || strcmp(buf, "0") == 0 || strstr(buf, "futex") != NULL;
}

/* 46 test_idle_thread_reuse. As in CPython, a worker publishes a task's outcome before it
 * goes back to the queue and counts as idle, so "sequential" means: the next submit comes
 * once the worker is parked on the queue (observed through /proc, not a sleep). */
static void idle_thread_reuse(void) {
    cfut_executor *ex = pool(8, NULL);
    tids t;
    tids_init(&t);
    for (int i = 0; i < 3; i++) {
        cfut_future *f = NULL;
        CHECK_ST(cfut_executor_submit(ex, tid_task, &t, NULL, &f), CFUT_OK);
        CHECK_ST(cfut_future_result(f, CFUT_FOREVER, NULL), CFUT_OK);
        cfut_future_release(f);
        uint64_t t0 = now_ns();
        int tid = atomic_load(&last_tid);
        while (!parked(tid) && now_ns() - t0 < MS(HANG_MS)) {
            sched_yield();
        }
        CHECK_MSG(parked(tid), "worker %d never parked", tid);
    }
    CHECK_EQ(tids_count(&t), 1);
    cfut_executor_free(ex);
}

/* ---- 125/126 thread names --------------------------------------------------------------- */

typedef struct names {
    gate g;
    pthread_mutex_t mu;
    char name[8][32];
    int n;
} names;

static int32_t name_task(void *arg, cfut_result *out) {
    (void)out;
    names *nm = arg;
    char buf[32] = {0};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    pthread_mutex_lock(&nm->mu);
    if (nm->n < 8) {
        snprintf(nm->name[nm->n++], 32, "%s", buf);
    }
    pthread_mutex_unlock(&nm->mu);
    gate_add(&nm->g, 1);
    return gate_wait(&nm->g, HANG_MS) ? 0 : 1;
}

static void run_names(const char *prefix, names *nm) {
    gate_init(&nm->g);
    pthread_mutex_init(&nm->mu, NULL);
    nm->n = 0;
    cfut_executor *ex = pool(5, prefix);
    cfut_future *f[5];
    for (int i = 0; i < 5; i++) {
        CHECK_ST(cfut_executor_submit(ex, name_task, nm, NULL, &f[i]), CFUT_OK);
    }
    CHECK(gate_wait_count(&nm->g, 5, HANG_MS)); /* five distinct workers */
    gate_open(&nm->g);
    for (int i = 0; i < 5; i++) {
        CHECK_ST(cfut_future_result(f[i], CFUT_FOREVER, NULL), CFUT_OK);
        cfut_future_release(f[i]);
    }
    cfut_executor_free(ex);
    gate_destroy(&nm->g);
}

static void thread_names(void) {
    names nm;
    run_names("SpecialPool", &nm);
    CHECK_EQ(nm.n, 5);
    for (int i = 0; i < 5; i++) {
        char want[32];
        snprintf(want, sizeof want, "SpecialPool_%d", i);
        int hits = 0;
        for (int j = 0; j < nm.n; j++) {
            hits += strcmp(nm.name[j], want) == 0;
        }
        CHECK_MSG(hits == 1, "thread name %s seen %d times", want, hits);
    }
    /* Linux keeps the first 15 bytes of a name */
    run_names("AVeryLongPrefixName", &nm);
    CHECK_EQ(nm.n, 5);
    for (int j = 0; j < nm.n; j++) {
        CHECK_MSG(strcmp(nm.name[j], "AVeryLongPrefi") == 0 || strcmp(nm.name[j], "AVeryLongPrefix") == 0,
                  "long-prefix thread name '%s'", nm.name[j]);
    }
    /* default: "cfut-N_i" */
    int pools[2] = {-1, -1};
    for (int round = 0; round < 2; round++) {
        run_names(NULL, &nm);
        CHECK_EQ(nm.n, 5);
        bool idx_seen[5] = {0};
        for (int j = 0; j < nm.n; j++) {
            int pool_no = -1, idx = -1;
            char tail = 0;
            int k = sscanf(nm.name[j], "cfut-%d_%d%c", &pool_no, &idx, &tail);
            CHECK_MSG(k == 2 && pool_no >= 0 && idx >= 0 && idx < 5, "default thread name '%s'", nm.name[j]);
            if (k == 2 && idx >= 0 && idx < 5) {
                CHECK(!idx_seen[idx]);
                idx_seen[idx] = true;
            }
            if (j > 0) {
                CHECK_MSG(pool_no == pools[round], "threads of one pool named '%s' and 'cfut-%d_...'", nm.name[j],
                          pools[round]);
            }
            pools[round] = pool_no;
        }
    }
    /* N counts pools: two default pools get different numbers */
    CHECK_MSG(pools[1] > pools[0], "default prefixes cfut-%d then cfut-%d", pools[0], pools[1]);
}

/* 44 test_default_workers */
static void default_workers(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    int want = cpus + 4 < 32 ? cpus + 4 : 32;
    cfut_executor *ex = NULL;
    CHECK_ST(cfut_thread_pool_new(NULL, &ex), CFUT_OK);
    uint32_t n = cfut_executor_max_workers(ex);
    /* a cgroup CPU quota may lower the count the library sees, never raise it */
    CHECK_MSG(n >= 5 && (int)n <= want, "default max_workers %u, want min(32, %d + 4)", n, cpus);
    cfut_executor_free(ex);
    ex = pool(0, NULL);
    CHECK_EQ(cfut_executor_max_workers(ex), n);
    cfut_executor_free(ex);
    ex = pool(3, NULL);
    CHECK_EQ(cfut_executor_max_workers(ex), 3);
    cfut_executor_free(ex);
}

/* ---- 134 initializer success ------------------------------------------------------------- */

static _Thread_local int tl_initialized;

typedef struct init_ctx {
    atomic_int calls;
    gate g; /* used by the failing initializer */
    int32_t rc;
    tids t;
} init_ctx;

static int32_t good_init(void *arg) {
    init_ctx *c = arg;
    atomic_fetch_add(&c->calls, 1);
    tids_add(&c->t);
    tl_initialized++;
    return 0;
}

static int32_t needs_init_task(void *arg, cfut_result *out) {
    (void)out;
    gate *g = arg;
    if (tl_initialized != 1) {
        return 77; /* the initializer did not run exactly once on this thread */
    }
    gate_add(g, 1);
    return gate_wait(g, HANG_MS) ? 0 : 1;
}

static void initializer_success(void) {
    init_ctx c = {0};
    tids_init(&c.t);
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = 2;
    o.initializer = good_init;
    o.initializer_arg = &c;
    cfut_executor *ex = NULL;
    CHECK_ST(cfut_thread_pool_new(&o, &ex), CFUT_OK);
    CHECK_EQ(atomic_load(&c.calls), 0); /* workers start lazily */
    gate g;
    gate_init(&g);
    cfut_future *f[6];
    for (int i = 0; i < 6; i++) {
        CHECK_ST(cfut_executor_submit(ex, needs_init_task, &g, NULL, &f[i]), CFUT_OK);
    }
    CHECK(gate_wait_count(&g, 2, HANG_MS)); /* both workers run a task at once */
    gate_open(&g);
    for (int i = 0; i < 6; i++) {
        CHECK_ST(cfut_future_result(f[i], CFUT_FOREVER, NULL), CFUT_OK);
        cfut_future_release(f[i]);
    }
    cfut_executor_free(ex);
    CHECK_EQ(atomic_load(&c.calls), 2); /* once per worker */
    CHECK_EQ(tids_count(&c.t), 2);
    gate_destroy(&g);
}

/* ---- 135 initializer failure ------------------------------------------------------------- */

static int32_t bad_init(void *arg) {
    init_ctx *c = arg;
    atomic_fetch_add(&c->calls, 1);
    gate_wait(&c->g, HANG_MS); /* hold until the test has queued its tasks */
    return c->rc;
}

static atomic_int never_runs;
static int32_t never_task(void *arg, cfut_result *out) {
    (void)arg;
    (void)out;
    atomic_fetch_add(&never_runs, 1);
    return 0;
}

static int32_t copy_int(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    (void)item;
    (void)slot;
    atomic_fetch_add(&never_runs, 1);
    return 0;
}

static void initializer_failure(void) {
    atomic_int drops = 0;
    atomic_store(&never_runs, 0);
    init_ctx c = {0};
    gate_init(&c.g);
    c.rc = 7;
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = 1;
    o.initializer = bad_init;
    o.initializer_arg = &c;
    cfut_executor *ex = NULL;
    CHECK_ST(cfut_thread_pool_new(&o, &ex), CFUT_OK);
    cfut_future *f[3] = {0};
    for (int i = 0; i < 3; i++) {
        CHECK_ST(cfut_executor_submit(ex, never_task, tok_new(&drops, i), tok_drop, &f[i]), CFUT_OK);
    }
    int mitems[4] = {1, 2, 3, 4};
    cfut_map *bm = NULL;
    cfut_map_options mo;
    cfut_map_options_init(&mo);
    mo.chunksize = 2;
    CHECK_ST(cfut_executor_map(ex, copy_int, NULL, 0, mitems, 4, sizeof(int), NULL, 0, &mo, &bm), CFUT_OK);
    gate_open(&c.g);
    for (size_t i = 0; i < 4; i++) {
        size_t idx = 99;
        cfut_error e = {0};
        CHECK_ST(cfut_map_next(bm, &idx, &e), CFUT_BROKEN);
        CHECK_EQ(idx, i);
        CHECK_ST(e.status, CFUT_BROKEN);
        CHECK_EQ(e.code, 7);
        CHECK(e.message == NULL || strlen(e.message) > 0); /* valid until the next call */
    }
    size_t idx;
    CHECK_ST(cfut_map_next(bm, &idx, NULL), CFUT_EXHAUSTED);
    cfut_map_free(bm);
    for (int i = 0; i < 3; i++) {
        CHECK_ST(cfut_future_result(f[i], CFUT_SECONDS(30), NULL), CFUT_BROKEN);
        cfut_error e = {0};
        CHECK_ST(cfut_future_error(f[i], 0, &e), CFUT_OK);
        CHECK_ST(e.status, CFUT_BROKEN);
        CHECK_EQ(e.code, 7);
        cfut_future_release(f[i]);
    }
    /* later submits: CFUT_BROKEN, arg already dropped, nothing written */
    atomic_int refused_drops = 0;
    cfut_future *g = (cfut_future *)0x1;
    CHECK_ST(cfut_executor_submit(ex, never_task, tok_new(&refused_drops, 9), tok_drop, &g), CFUT_BROKEN);
    CHECK(g == (cfut_future *)0x1);
    CHECK_EQ(atomic_load(&refused_drops), 1);
    CHECK_ST(cfut_executor_submit_bytes(ex, sum_bytes, "ab", 2, NULL), CFUT_BROKEN);
    cfut_map *m = NULL;
    int items[2] = {1, 2};
    m = (cfut_map *)0x1;
    CHECK_ST(cfut_executor_map(ex, copy_int, NULL, 0, items, 2, sizeof(int), NULL, 0, NULL, &m), CFUT_BROKEN);
    CHECK(m == (cfut_map *)0x1);
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    /* discarded tasks drop their args (on the breaking worker, which has exited now) */
    CHECK_EQ(atomic_load(&drops), 3);
    cfut_executor_free(ex);
    CHECK_EQ(atomic_load(&never_runs), 0);
    CHECK_EQ(atomic_load(&c.calls), 1);
    gate_destroy(&c.g);
}

/* The first worker initializes fine, the second fails: the task already running on the
 * first completes normally, the queued one fails with CFUT_BROKEN, later submits too. */
static int32_t second_init_fails(void *arg) {
    init_ctx *c = arg;
    return atomic_fetch_add(&c->calls, 1) == 0 ? 0 : 9;
}

static void initializer_fails_on_second_worker(void) {
    init_ctx c = {0};
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = 2;
    o.initializer = second_init_fails;
    o.initializer_arg = &c;
    cfut_executor *ex = NULL;
    CHECK_ST(cfut_thread_pool_new(&o, &ex), CFUT_OK);
    gate g;
    gate_init(&g);
    cfut_future *a = NULL, *b = NULL;
    CHECK_ST(cfut_executor_submit(ex, block_task, &g, NULL, &a), CFUT_OK);
    CHECK(gate_wait_count(&g, 1, HANG_MS));
    CHECK_ST(cfut_executor_submit(ex, never_task, NULL, NULL, &b), CFUT_OK);
    CHECK_ST(cfut_future_result(b, CFUT_SECONDS(30), NULL), CFUT_BROKEN);
    cfut_error e;
    CHECK_ST(cfut_future_error(b, 0, &e), CFUT_OK);
    CHECK_EQ(e.code, 9);
    CHECK_ST(cfut_executor_submit(ex, never_task, NULL, NULL, NULL), CFUT_BROKEN);
    gate_open(&g);
    CHECK_ST(cfut_future_result(a, CFUT_FOREVER, NULL), CFUT_OK);
    cfut_executor_free(ex);
    CHECK_EQ(atomic_load(&never_runs), 0);
    CHECK_EQ(atomic_load(&c.calls), 2);
    cfut_future_release(a);
    cfut_future_release(b);
    gate_destroy(&g);
}

/* ---- shutdown(wait) from one of the pool's own workers --------------------------------- */

typedef struct self_shutdown {
    cfut_executor *ex;
    cfut_status st;
} self_shutdown;

static int32_t shutdown_self_task(void *arg, cfut_result *out) {
    (void)out;
    self_shutdown *s = arg;
    s->st = cfut_executor_shutdown(s->ex, true, false);
    return 0;
}

static int32_t free_self_task(void *arg, cfut_result *out) {
    (void)out;
    cfut_executor_free(arg); /* frees the handle without waiting */
    return 0;
}

static void shutdown_from_worker(void) {
    atomic_int drops = 0;
    cfut_executor *ex = pool(2, NULL);
    self_shutdown s = {ex, 12345};
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(ex, shutdown_self_task, &s, NULL, &f), CFUT_OK);
    CHECK_ST(cfut_future_result(f, CFUT_FOREVER, NULL), CFUT_OK);
    CHECK_ST(s.st, CFUT_WOULD_DEADLOCK);
    cfut_future_release(f);
    /* the shutdown still happened */
    CHECK_ST(cfut_executor_submit(ex, never_task, tok_new(&drops, 0), tok_drop, NULL), CFUT_SHUTDOWN);
    CHECK_EQ(atomic_load(&drops), 1);
    /* from another thread, waiting is fine */
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    cfut_executor_free(ex);

    /* cfut_executor_free from a worker: no deadlock; the future completes */
    ex = pool(1, NULL);
    f = NULL;
    CHECK_ST(cfut_executor_submit(ex, free_self_task, ex, NULL, &f), CFUT_OK);
    CHECK_ST(cfut_future_result(f, CFUT_SECONDS(30), NULL), CFUT_OK);
    cfut_future_release(f);
}

/* ---- callbacks running on worker threads -------------------------------------------------- */

static atomic_int wcb_calls;
static void release_self_cb(cfut_future *f, void *arg) {
    CHECK(f == arg);
    atomic_fetch_add(&wcb_calls, 1);
    cfut_future_release(arg); /* the callback owned the caller's reference */
}

typedef struct chain {
    cfut_executor *ex;
    cfut_executor *other;
    atomic_int submitted, runs;
    cfut_status own_shutdown, other_shutdown;
    gate done;
    gate *start; /* the first task waits for it, so its callback runs on a worker */
} chain;

static int32_t chain_task(void *arg, cfut_result *out) {
    (void)out;
    chain *c = arg;
    atomic_fetch_add(&c->runs, 1);
    if (c->start) {
        gate *g = c->start;
        c->start = NULL;
        return gate_wait(g, HANG_MS) ? 0 : 1;
    }
    return 0;
}

/* runs on the worker that completed the future: submit more work from there, and try to
 * shut down (with wait) this pool (would deadlock) and another pool (fine) */
static void chain_cb(cfut_future *f, void *arg) {
    (void)f;
    chain *c = arg;
    if (atomic_fetch_add(&c->submitted, 1) < 5) {
        cfut_future *g = NULL;
        if (cfut_executor_submit(c->ex, chain_task, c, NULL, &g) == CFUT_OK) {
            CHECK_ST(cfut_future_add_done_callback(g, chain_cb, c, NULL), CFUT_OK);
            cfut_future_release(g);
        }
        return;
    }
    c->own_shutdown = cfut_executor_shutdown(c->ex, true, false);
    c->other_shutdown = cfut_executor_shutdown(c->other, true, false);
    gate_open(&c->done);
}

static void callbacks_on_workers(void) {
    static chain dummy;
    atomic_store(&wcb_calls, 0);
    cfut_executor *ex = pool(3, NULL);
    for (int i = 0; i < 50; i++) {
        cfut_future *f = NULL;
        CHECK_ST(cfut_executor_submit(ex, chain_task, &dummy, NULL, &f), CFUT_OK);
        CHECK_ST(cfut_future_add_done_callback(f, release_self_cb, f, NULL), CFUT_OK);
        /* f is not ours any more */
    }
    cfut_executor_free(ex);
    CHECK_EQ(atomic_load(&wcb_calls), 50);
    CHECK_EQ(atomic_load(&dummy.runs), 50);

    chain c = {0};
    gate start;
    gate_init(&start);
    gate_init(&c.done);
    c.ex = pool(2, NULL);
    c.other = pool(2, NULL);
    cfut_future *other_f = NULL;
    CHECK_ST(cfut_executor_submit(c.other, chain_task, &c, NULL, &other_f), CFUT_OK);
    CHECK_ST(cfut_future_wait(other_f, CFUT_FOREVER), CFUT_OK);
    c.start = &start;
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(c.ex, chain_task, &c, NULL, &f), CFUT_OK);
    CHECK_ST(cfut_future_add_done_callback(f, chain_cb, &c, NULL), CFUT_OK);
    gate_open(&start);
    CHECK(gate_wait(&c.done, HANG_MS));
    CHECK_ST(c.own_shutdown, CFUT_WOULD_DEADLOCK);
    CHECK_ST(c.other_shutdown, CFUT_OK);
    CHECK(cfut_future_done(other_f));
    cfut_executor_free(c.ex);
    cfut_executor_free(c.other);
    CHECK_EQ(atomic_load(&c.runs), 7);
    cfut_future_release(f);
    cfut_future_release(other_f);
    gate_destroy(&c.done);
    gate_destroy(&start);
}

void test_executor(void) {
    RUN(submit_pow);
    RUN(task_outcomes);
    RUN(fire_and_forget);
    RUN(cancel_queued_task);
    RUN(submit_bytes);
    RUN(saturation);
    RUN(blocking_all_start);
    RUN(idle_thread_reuse);
    RUN(thread_names);
    RUN(default_workers);
    RUN(shutdown_from_worker);
    RUN(callbacks_on_workers);
}

void test_init(void) {
    RUN(initializer_success);
    RUN(initializer_failure);
    RUN(initializer_fails_on_second_worker);
}
