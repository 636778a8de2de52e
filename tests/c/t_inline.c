/* Deadlock-proof waits (C API 0.2 section 1): a worker's blocking wait on a pending future
 * of its own pool runs it inline; a wait that closes a cycle of waiting tasks returns
 * CFUT_WOULD_DEADLOCK; inline_waits = false waits as CPython does. */
#include "util.h"

#include <stddef.h>
#include <unistd.h>

static int32_t square(void *arg, cfut_result *out) {
    long *r = malloc(sizeof *r);
    *r = (long)(intptr_t)arg * (long)(intptr_t)arg;
    cfut_result_set_value(out, r, free);
    return 0;
}

static long value_of(cfut_future *f) {
    void *v = NULL;
    if (cfut_future_result(f, MS(HANG_MS), &v) != CFUT_OK || v == NULL) {
        return -1;
    }
    return *(long *)v;
}

/* ---- the seed's nested submit: one worker, the task submits to its own pool and waits ---- */

typedef struct nest {
    cfut_executor *ex;
    int how;          /* which blocking call waits */
    uint64_t timeout; /* for it */
    cfut_status st;   /* what it returned */
} nest;

static int32_t nested_task(void *arg, cfut_result *out) {
    nest *n = arg;
    cfut_future *inner = NULL;
    if (cfut_executor_submit(n->ex, square, (void *)(intptr_t)5, NULL, &inner) != CFUT_OK) {
        return 1;
    }
    long v = -1;
    void *p = NULL;
    const void *data = NULL;
    size_t len = 0;
    cfut_error e;
    switch (n->how) {
    case 0:
        n->st = cfut_future_result(inner, n->timeout, &p);
        break;
    case 1:
        n->st = cfut_future_result_bytes(inner, n->timeout, &data, &len);
        p = (void *)data;
        break;
    case 2:
        n->st = cfut_future_error(inner, n->timeout, &e);
        if (n->st == CFUT_OK) {
            n->st = cfut_future_result(inner, 0, &p);
        }
        break;
    default:
        n->st = cfut_future_wait(inner, n->timeout);
        if (n->st == CFUT_OK) {
            n->st = cfut_future_result(inner, 0, &p);
        }
        break;
    }
    if (n->st == CFUT_OK && p) {
        v = *(long *)p;
    }
    cfut_future_release(inner);
    long *r = malloc(sizeof *r);
    *r = v;
    cfut_result_set_value(out, r, free);
    return 0;
}

static void nested_submit_runs_inline(void) {
    for (int how = 0; how < 4; how++) {
        cfut_executor *ex = new_pool_with(1, true);
        nest n = {ex, how, CFUT_FOREVER, CFUT_PANIC};
        cfut_future *outer = NULL;
        uint64_t t0 = now_ns();
        CHECK_ST(cfut_executor_submit(ex, nested_task, &n, NULL, &outer), CFUT_OK);
        CHECK_EQ(value_of(outer), 25);
        CHECK_ST(n.st, CFUT_OK);
        CHECK_MSG(now_ns() - t0 < MS(5000), "nested wait %d took %llu ms", how,
                  (unsigned long long)((now_ns() - t0) / 1000000));
        cfut_future_release(outer);
        cfut_executor_free(ex);
    }
}

/* inline_waits = false: CPython's behaviour, the nested wait times out (the inner task runs
 * once the outer one has returned). */
static void nested_without_inline_times_out(void) {
    cfut_executor *ex = new_pool_with(1, false);
    nest n = {ex, 0, MS(200), CFUT_PANIC};
    cfut_future *outer = NULL;
    CHECK_ST(cfut_executor_submit(ex, nested_task, &n, NULL, &outer), CFUT_OK);
    CHECK_EQ(value_of(outer), -1);
    CHECK_ST(n.st, CFUT_TIMEOUT);
    cfut_future_release(outer);
    cfut_executor_free(ex);
}

/* A 0.1 program's smaller options struct is accepted, with inline waits on. */
static void old_options_size_gets_inline_waits(void) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    CHECK(o.inline_waits);
    o.max_workers = 1;
    o.struct_size = (uint32_t)offsetof(cfut_thread_pool_options, inline_waits);
    o.inline_waits = false; /* beyond the old size: not read */
    cfut_executor *ex = NULL;
    CHECK_ST(cfut_thread_pool_new(&o, &ex), CFUT_OK);
    nest n = {ex, 0, MS(HANG_MS), CFUT_PANIC};
    cfut_future *outer = NULL;
    CHECK_ST(cfut_executor_submit(ex, nested_task, &n, NULL, &outer), CFUT_OK);
    CHECK_EQ(value_of(outer), 25);
    cfut_future_release(outer);
    cfut_executor_free(ex);
    o.struct_size = 12;
    CHECK_ST(cfut_thread_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
}

/* ---- inline_waits_any_thread: any waiting thread runs the pool's pending tasks ---- */

static int32_t wait_gate_task(void *arg, cfut_result *out) {
    (void)out;
    gate *g = arg;
    gate_add(g, 1); /* started */
    return gate_wait(g, HANG_MS) ? 0 : 1;
}


/* A one-worker pool whose worker blocks on `g` until opened (the pool returns it busy). */
static cfut_executor *busy_pool(cfut_thread_pool_options *o, gate *g, cfut_future **blocker) {
    o->max_workers = 1;
    cfut_executor *ex = NULL;
    CHECK_ST(cfut_thread_pool_new(o, &ex), CFUT_OK);
    gate_init(g);
    CHECK_ST(cfut_executor_submit(ex, wait_gate_task, g, NULL, blocker), CFUT_OK);
    CHECK(gate_wait_count(g, 1, HANG_MS));
    return ex;
}

static void any_thread_waits_run_pending_tasks(void) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    CHECK(!o.inline_waits_any_thread);
    o.inline_waits_any_thread = true;
    gate g;
    cfut_future *blocker = NULL;
    cfut_executor *ex = busy_pool(&o, &g, &blocker);
    where w[4];
    cfut_future *fs[4];
    for (int i = 0; i < 4; i++) {
        atomic_init(&w[i].runs, 0);
        CHECK_ST(cfut_executor_submit(ex, record_thread, &w[i], NULL, &fs[i]), CFUT_OK);
    }
    /* the worker is busy: the caller's result runs the task here */
    void *v = NULL;
    CHECK_ST(cfut_future_result(fs[0], MS(HANG_MS), &v), CFUT_OK);
    CHECK(pthread_equal(w[0].thread, pthread_self()));
    /* and so does a collective wait, for every pending one */
    size_t n = 0;
    CHECK_ST(cfut_wait(fs + 1, 3, MS(HANG_MS), CFUT_ALL_COMPLETED, NULL, &n), CFUT_OK);
    CHECK_EQ(n, 3);
    for (int i = 1; i < 4; i++) {
        CHECK(pthread_equal(w[i].thread, pthread_self()));
    }
    gate_open(&g);
    CHECK_ST(cfut_future_wait(blocker, MS(HANG_MS)), CFUT_OK);
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(atomic_load(&w[i].runs), 1); /* the worker skipped them */
        cfut_future_release(fs[i]);
    }
    cfut_executor_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    CHECK_ST(cfut_executor_stats_get(ex, &st), CFUT_OK);
    CHECK_EQ(st.submitted, 5);
    CHECK_EQ(st.completed, 5);
    CHECK_EQ(st.running, 0);
    cfut_future_release(blocker);
    cfut_executor_free(ex);
    gate_destroy(&g);
}

/* Off by default, and for a program built against the options before the field. */
static void without_any_thread_waits_tasks_stay_on_workers(void) {
    for (int old = 0; old < 2; old++) {
        cfut_thread_pool_options o;
        cfut_thread_pool_options_init(&o);
        if (old) {
            o.struct_size = (uint32_t)offsetof(cfut_thread_pool_options, inline_waits_any_thread);
            o.inline_waits_any_thread = true; /* beyond the old size: not read */
        }
        gate g;
        cfut_future *blocker = NULL;
        cfut_executor *ex = busy_pool(&o, &g, &blocker);
        where w;
        atomic_init(&w.runs, 0);
        cfut_future *f = NULL;
        CHECK_ST(cfut_executor_submit(ex, record_thread, &w, NULL, &f), CFUT_OK);
        CHECK_ST(cfut_future_wait(f, MS(30)), CFUT_TIMEOUT);
        gate_open(&g);
        CHECK_ST(cfut_future_wait(f, MS(HANG_MS)), CFUT_OK);
        CHECK(!pthread_equal(w.thread, pthread_self()));
        cfut_future_release(f);
        cfut_future_release(blocker);
        cfut_executor_free(ex);
        gate_destroy(&g);
    }
}

/* The waiter's timeout bounds the waiting, not a task it already runs inline. */
static int32_t slow_square(void *arg, cfut_result *out) {
    usleep(100 * 1000);
    return square(arg, out);
}
static int32_t short_timeout_task(void *arg, cfut_result *out) {
    cfut_executor *ex = arg;
    cfut_future *inner = NULL;
    if (cfut_executor_submit(ex, slow_square, (void *)(intptr_t)6, NULL, &inner) != CFUT_OK) {
        return 1;
    }
    void *p = NULL;
    cfut_status st = cfut_future_result(inner, MS(10), &p);
    long *r = malloc(sizeof *r);
    *r = st == CFUT_OK ? *(long *)p : -(long)st;
    cfut_future_release(inner);
    cfut_result_set_value(out, r, free);
    return 0;
}
static void inline_run_outlives_timeout(void) {
    cfut_executor *ex = new_pool_with(1, true);
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(ex, short_timeout_task, ex, NULL, &f), CFUT_OK);
    CHECK_EQ(value_of(f), 36);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

/* ---- cycles: n tasks, task i waits on task i+1 (mod n), spread over pools ---- */

typedef struct ring {
    int n;
    cfut_future *_Atomic fut[4];
    gate all_submitted;
    atomic_int would_deadlock;
    atomic_int index;
} ring;

typedef struct ring_arg {
    ring *r;
    int i;
} ring_arg;

static int32_t ring_task(void *arg, cfut_result *out) {
    ring_arg *a = arg;
    ring *r = a->r;
    if (!gate_wait(&r->all_submitted, HANG_MS)) {
        return 2;
    }
    cfut_future *next = atomic_load(&r->fut[(a->i + 1) % r->n]);
    void *p = NULL;
    cfut_status st = cfut_future_result(next, MS(HANG_MS), &p);
    if (st == CFUT_WOULD_DEADLOCK) {
        atomic_fetch_add(&r->would_deadlock, 1);
        cfut_result_set_error(out, 7, "would deadlock");
        return 7;
    }
    /* the next task ended (with a value or its own failure): this one is done too */
    return st == CFUT_OK || st == CFUT_TASK_FAILED ? 0 : 3;
}

static void run_ring(int n, cfut_executor **pools, int npools) {
    ring r = {.n = n};
    gate_init(&r.all_submitted);
    ring_arg args[4];
    cfut_future *fs[4];
    for (int i = 0; i < n; i++) {
        args[i] = (ring_arg){&r, i};
        CHECK_ST(cfut_executor_submit(pools[i % npools], ring_task, &args[i], NULL, &fs[i]), CFUT_OK);
        atomic_store(&r.fut[i], fs[i]);
    }
    gate_open(&r.all_submitted);
    uint64_t t0 = now_ns();
    CHECK_ST(cfut_wait(fs, (size_t)n, MS(HANG_MS), CFUT_ALL_COMPLETED, NULL, NULL), CFUT_OK);
    CHECK_MSG(now_ns() - t0 < MS(5000), "a %d-task cycle took %llu ms", n,
              (unsigned long long)((now_ns() - t0) / 1000000));
    int wd = atomic_load(&r.would_deadlock);
    CHECK_MSG(wd >= 1 && wd <= n, "%d-task cycle: %d waits got WOULD_DEADLOCK", n, wd);
    int failed_with_7 = 0;
    for (int i = 0; i < n; i++) {
        cfut_error e;
        CHECK_ST(cfut_future_error(fs[i], 0, &e), CFUT_OK);
        CHECK(e.status == CFUT_OK || (e.status == CFUT_TASK_FAILED && e.code == 7));
        failed_with_7 += e.status == CFUT_TASK_FAILED;
        cfut_future_release(fs[i]);
    }
    CHECK_EQ(failed_with_7, wd);
    gate_destroy(&r.all_submitted);
}

static void mutual_wait_one_pool(void) {
    for (uint32_t workers = 1; workers <= 2; workers++) {
        for (int inl = 0; inl < 2; inl++) {
            if (workers == 1 && !inl) {
                continue; /* one worker without inline runs: b never starts (CPython's hang) */
            }
            for (int round = 0; round < 20; round++) {
                cfut_executor *ex = new_pool_with(workers, inl);
                run_ring(2, &ex, 1);
                cfut_executor_free(ex);
            }
        }
    }
}

static void cycles_across_two_pools(void) {
    for (int n = 3; n <= 4; n++) {
        for (int inl = 0; inl < 2; inl++) {
            for (int round = 0; round < 20; round++) {
                cfut_executor *pools[2] = {new_pool_with(2, inl), new_pool_with(2, inl)};
                run_ring(n, pools, 2);
                cfut_executor_free(pools[0]);
                cfut_executor_free(pools[1]);
            }
        }
    }
}

/* A task waiting on its own future. */
static int32_t self_wait_task(void *arg, cfut_result *out) {
    (void)out;
    ring *r = arg;
    if (!gate_wait(&r->all_submitted, HANG_MS)) {
        return 2;
    }
    return cfut_future_wait(atomic_load(&r->fut[0]), MS(HANG_MS)) == CFUT_WOULD_DEADLOCK ? 0 : 1;
}
static void waiting_on_itself(void) {
    cfut_executor *ex = new_pool_with(2, true);
    ring r = {.n = 1};
    gate_init(&r.all_submitted);
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(ex, self_wait_task, &r, NULL, &f), CFUT_OK);
    atomic_store(&r.fut[0], f);
    gate_open(&r.all_submitted);
    CHECK_ST(cfut_future_result(f, MS(HANG_MS), NULL), CFUT_OK);
    cfut_future_release(f);
    cfut_executor_free(ex);
    gate_destroy(&r.all_submitted);
}

/* ---- collective waits from a task of a one-worker pool ---- */

enum { KIDS = 5 };

static int32_t collective_task(void *arg, cfut_result *out) {
    (void)out;
    nest *n = arg;
    cfut_future *kids[KIDS];
    for (int i = 0; i < KIDS; i++) {
        if (cfut_executor_submit(n->ex, square, (void *)(intptr_t)(i + 1), NULL, &kids[i]) != CFUT_OK) {
            return 1;
        }
    }
    long sum = 0;
    bool done[KIDS] = {false};
    size_t ndone = 0;
    switch (n->how) {
    case 0: /* FIRST_COMPLETED, then ALL_COMPLETED */
        n->st = cfut_wait(kids, KIDS, CFUT_FOREVER, CFUT_FIRST_COMPLETED, done, &ndone);
        if (n->st == CFUT_OK && ndone >= 1) {
            n->st = cfut_wait(kids, KIDS, CFUT_FOREVER, CFUT_ALL_COMPLETED, done, &ndone);
        }
        break;
    case 1: /* FIRST_EXCEPTION runs them all (none fails) */
        n->st = cfut_wait(kids, KIDS, CFUT_FOREVER, CFUT_FIRST_EXCEPTION, done, &ndone);
        break;
    default: { /* as_completed */
        cfut_as_completed *it = NULL;
        n->st = cfut_as_completed_new(kids, KIDS, CFUT_FOREVER, &it);
        size_t idx;
        while (n->st == CFUT_OK && (n->st = cfut_as_completed_next(it, &idx)) == CFUT_OK) {
            ndone++;
        }
        if (n->st == CFUT_EXHAUSTED) {
            n->st = CFUT_OK;
        }
        cfut_as_completed_free(it);
    }
    }
    for (int i = 0; i < KIDS; i++) {
        void *p = NULL;
        if (cfut_future_result(kids[i], 0, &p) == CFUT_OK) {
            sum += *(long *)p;
        }
        cfut_future_release(kids[i]);
    }
    long *r = malloc(sizeof *r);
    *r = ndone == KIDS ? sum : -1;
    cfut_result_set_value(out, r, free);
    return 0;
}

static void collective_waits_run_inline(void) {
    for (int how = 0; how < 3; how++) {
        cfut_executor *ex = new_pool_with(1, true);
        nest n = {ex, how, 0, CFUT_PANIC};
        cfut_future *f = NULL;
        CHECK_ST(cfut_executor_submit(ex, collective_task, &n, NULL, &f), CFUT_OK);
        CHECK_EQ(value_of(f), 1 + 4 + 9 + 16 + 25);
        CHECK_ST(n.st, CFUT_OK);
        cfut_future_release(f);
        cfut_executor_free(ex);
    }
}

static int32_t add_ten(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    *(int64_t *)slot = *(const int64_t *)item + 10;
    return 0;
}

/* A map started inside a task of a one-worker pool, read with map_next, then map_wait. */
static int32_t map_task(void *arg, cfut_result *out) {
    (void)out;
    nest *n = arg;
    enum { N = 200 };
    int64_t items[N], results[N];
    for (int i = 0; i < N; i++) {
        items[i] = i;
    }
    cfut_map_options o;
    cfut_map_options_init(&o);
    o.chunksize = 7;
    cfut_map *m = NULL;
    if (cfut_executor_map(n->ex, add_ten, NULL, 0, items, N, sizeof(int64_t), results, sizeof(int64_t), &o, &m) !=
        CFUT_OK) {
        return 1;
    }
    size_t idx;
    int ok = 0;
    for (int i = 0; i < N / 2; i++) {
        if (cfut_map_next(m, &idx, NULL) == CFUT_OK && idx == (size_t)i && results[i] == i + 10) {
            ok++;
        }
    }
    n->st = cfut_map_wait(m, NULL);
    cfut_map_free(m);
    for (int i = N / 2; i < N; i++) {
        ok += results[i] == i + 10;
    }
    return ok == N ? 0 : 1;
}

static void map_waits_run_inline(void) {
    cfut_executor *ex = new_pool_with(1, true);
    nest n = {ex, 0, 0, CFUT_PANIC};
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(ex, map_task, &n, NULL, &f), CFUT_OK);
    CHECK_ST(cfut_future_result(f, MS(HANG_MS), NULL), CFUT_OK);
    CHECK_ST(n.st, CFUT_OK);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

/* Only the awaited task runs inline: another queued task stays for a worker. */
static _Thread_local int on_this_thread;
static int32_t mark_task(void *arg, cfut_result *out) {
    (void)out;
    atomic_int *seen_nested = arg;
    if (on_this_thread) {
        atomic_fetch_add(seen_nested, 1);
    }
    return 0;
}
static int32_t picky_task(void *arg, cfut_result *out) {
    (void)out;
    nest *n = arg;
    static atomic_int seen_nested;
    cfut_future *other = NULL, *mine = NULL;
    if (cfut_executor_submit(n->ex, mark_task, &seen_nested, NULL, &other) != CFUT_OK ||
        cfut_executor_submit(n->ex, square, (void *)(intptr_t)3, NULL, &mine) != CFUT_OK) {
        return 1;
    }
    on_this_thread = 1;
    n->st = cfut_future_wait(mine, CFUT_FOREVER);
    int32_t rc = cfut_future_done(other) ? 2 : 0; /* one worker: `other` cannot have run */
    on_this_thread = 0;
    cfut_future_release(other);
    cfut_future_release(mine);
    return rc + atomic_load(&seen_nested);
}
static void only_the_awaited_task_runs(void) {
    cfut_executor *ex = new_pool_with(1, true);
    nest n = {ex, 0, 0, CFUT_PANIC};
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(ex, picky_task, &n, NULL, &f), CFUT_OK);
    CHECK_ST(cfut_future_result(f, MS(HANG_MS), NULL), CFUT_OK);
    CHECK_ST(n.st, CFUT_OK);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

/* Recursive fork-join: every task submits two children and waits on them one by one
 * (some with cfut_future_result, some with cfut_wait), on pools of 1 to 3 workers. */
typedef struct fj {
    cfut_executor *ex;
    long n, r;
} fj;
static int32_t fj_task(void *arg, cfut_result *out) {
    (void)out;
    fj *q = arg;
    if (q->n < 8) {
        long a = 0, b = 1;
        for (long i = 0; i < q->n; i++) {
            long t = a + b;
            a = b;
            b = t;
        }
        q->r = a;
        return 0;
    }
    fj a = {q->ex, q->n - 1, 0}, b = {q->ex, q->n - 2, 0};
    cfut_future *fa = NULL, *fb = NULL;
    if (cfut_executor_submit(q->ex, fj_task, &a, NULL, &fa) != CFUT_OK ||
        cfut_executor_submit(q->ex, fj_task, &b, NULL, &fb) != CFUT_OK) {
        return 1;
    }
    cfut_status s1, s2;
    if (q->n % 2) {
        s1 = cfut_future_result(fb, MS(HANG_MS), NULL);
        s2 = cfut_future_result(fa, MS(HANG_MS), NULL);
    } else {
        cfut_future *both[2] = {fa, fb};
        s1 = cfut_wait(both, 2, MS(HANG_MS), CFUT_ALL_COMPLETED, NULL, NULL);
        s2 = CFUT_OK;
    }
    cfut_future_release(fa);
    cfut_future_release(fb);
    q->r = a.r + b.r;
    return s1 == CFUT_OK && s2 == CFUT_OK ? 0 : 2;
}
static void fork_join_stress(void) {
    for (uint32_t workers = 1; workers <= 3; workers++) {
        cfut_executor *ex = new_pool_with(workers, true);
        for (int round = 0; round < 5; round++) {
            fj root = {ex, 18, 0};
            cfut_future *f = NULL;
            CHECK_ST(cfut_executor_submit(ex, fj_task, &root, NULL, &f), CFUT_OK);
            CHECK_ST(cfut_future_result(f, MS(HANG_MS), NULL), CFUT_OK);
            CHECK_EQ(root.r, 2584);
            cfut_future_release(f);
        }
        cfut_executor_free(ex);
    }
}

/* A group waited on from a task of the group's one-worker pool: its tasks run inline. */
static int32_t count_task(void *arg, cfut_result *out) {
    (void)out;
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}
static int32_t group_task(void *arg, cfut_result *out) {
    (void)out;
    nest *n = arg;
    static atomic_int ran;
    atomic_store(&ran, 0);
    cfut_group *g = NULL;
    if (cfut_group_new(n->ex, 0, &g) != CFUT_OK) {
        return 1;
    }
    for (int i = 0; i < 10; i++) {
        cfut_group_submit(g, count_task, &ran, NULL, NULL);
    }
    n->st = cfut_group_wait(g, MS(HANG_MS), NULL);
    cfut_group_free(g);
    return atomic_load(&ran) == 10 ? 0 : 2;
}
static void group_wait_runs_inline(void) {
    cfut_executor *ex = new_pool_with(1, true);
    nest n = {ex, 0, 0, CFUT_PANIC};
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(ex, group_task, &n, NULL, &f), CFUT_OK);
    CHECK_ST(cfut_future_result(f, MS(HANG_MS), NULL), CFUT_OK);
    CHECK_ST(n.st, CFUT_OK);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

void test_inline(void) {
    RUN(group_wait_runs_inline);
    RUN(fork_join_stress);
    RUN(nested_submit_runs_inline);
    RUN(nested_without_inline_times_out);
    RUN(old_options_size_gets_inline_waits);
    RUN(any_thread_waits_run_pending_tasks);
    RUN(without_any_thread_waits_tasks_stay_on_workers);
    RUN(inline_run_outlives_timeout);
    RUN(mutual_wait_one_pool);
    RUN(cycles_across_two_pools);
    RUN(waiting_on_itself);
    RUN(collective_waits_run_inline);
    RUN(map_waits_run_inline);
    RUN(only_the_awaited_task_runs);
}
