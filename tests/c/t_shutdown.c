/* cpython-spec §1.6 shutdown, §1.7, §2.8 (test_shutdown.py) on the thread pool. */
#include "util.h"

/* Worker threads that exit are counted through a thread-specific-data destructor. */
static pthread_key_t exit_key;
static gate exits;

static void on_thread_exit(void *p) {
    (void)p;
    gate_add(&exits, 1);
}

static void mark_thread(void) {
    if (pthread_getspecific(exit_key) == NULL) {
        pthread_setspecific(exit_key, (void *)1);
    }
}

static int32_t block_task(void *arg, cfut_result *out) {
    (void)out;
    mark_thread();
    gate *g = arg;
    gate_add(g, 1);
    return gate_wait(g, HANG_MS) ? 0 : 1;
}

static atomic_int runs;
static int32_t count_task(void *arg, cfut_result *out) {
    mark_thread();
    atomic_fetch_add(&runs, 1);
    cfut_result_set_value(out, (void *)(intptr_t)(tok_value(arg) * 2), NULL);
    return 0;
}

/* 114 test_run_after_shutdown; shutdown is idempotent */
static void run_after_shutdown(void) {
    atomic_int drops = 0;
    cfut_executor *ex = new_pool(2);
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    cfut_future *f = (cfut_future *)0x1;
    CHECK_ST(cfut_executor_submit(ex, count_task, tok_new(&drops, 1), tok_drop, &f), CFUT_SHUTDOWN);
    CHECK(f == (cfut_future *)0x1);
    CHECK_EQ(atomic_load(&drops), 1);
    CHECK_ST(cfut_executor_submit(ex, count_task, tok_new(&drops, 1), tok_drop, NULL), CFUT_SHUTDOWN);
    CHECK_EQ(atomic_load(&drops), 2);
    CHECK_ST(cfut_executor_submit_bytes(ex, NULL, NULL, 0, NULL), CFUT_INVALID_ARGUMENT);
    /* double shutdown, all flag combinations */
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    CHECK_ST(cfut_executor_shutdown(ex, false, true), CFUT_OK);
    CHECK_ST(cfut_executor_shutdown(ex, true, true), CFUT_OK);
    cfut_executor_free(ex);
    /* a pool never used */
    ex = new_pool(2);
    cfut_executor_free(ex);
}

/* 117 test_hang_issue12364: 50 short tasks then shutdown; all results retrievable */
static void hang_issue12364(void) {
    atomic_int drops = 0;
    cfut_executor *ex = new_pool(5);
    cfut_future *fs[50];
    for (int i = 0; i < 50; i++) {
        CHECK_ST(cfut_executor_submit(ex, count_task, tok_new(&drops, i), tok_drop, &fs[i]), CFUT_OK);
    }
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    for (int i = 0; i < 50; i++) {
        void *v = NULL;
        CHECK_ST(cfut_future_result(fs[i], 0, &v), CFUT_OK);
        CHECK_EQ((intptr_t)v, 2 * i);
        cfut_future_release(fs[i]);
    }
    CHECK_EQ(atomic_load(&drops), 50);
    cfut_executor_free(ex);
}

/* 118 test_cancel_futures: 50 tasks on 5 workers, shutdown(cancel_futures) */
typedef struct cancel_ctx {
    gate g;
    atomic_int cb_calls, cb_drops;
    pthread_t main;
    atomic_int cb_on_main;
} cancel_ctx;

static void cancel_cb(cfut_future *f, void *arg) {
    cancel_ctx *c = arg;
    atomic_fetch_add(&c->cb_calls, 1);
    if (cfut_future_cancelled(f) && pthread_equal(pthread_self(), c->main)) {
        atomic_fetch_add(&c->cb_on_main, 1);
    }
}

static void cancel_cb_drop(void *arg) {
    atomic_fetch_add(&((cancel_ctx *)arg)->cb_drops, 1);
}

static int32_t gated_task(void *arg, cfut_result *out) {
    (void)out;
    gate *g = *(gate **)arg;
    gate_add(g, 1);
    return gate_wait(g, HANG_MS) ? 0 : 1;
}

typedef struct gtok {
    gate *g;
    atomic_int *drops;
} gtok;

static void gtok_drop(void *p) {
    atomic_fetch_add(((gtok *)p)->drops, 1);
    free(p);
}

/* gh-92001 / gh-109934 (not copied): waiters on futures cancelled by
 * shutdown(cancel_futures) are woken */
typedef struct waiter_arg {
    cfut_future **fs;
    size_t n;
    cfut_status wait_st;
    int yielded;
    cfut_status ac_st;
} waiter_arg;

static void *wait_all_thread(void *p) {
    waiter_arg *w = p;
    w->wait_st = cfut_wait(w->fs, w->n, CFUT_SECONDS(60), CFUT_ALL_COMPLETED, NULL, NULL);
    return NULL;
}

static void *as_completed_thread(void *p) {
    waiter_arg *w = p;
    cfut_as_completed *it = NULL;
    if (cfut_as_completed_new(w->fs, w->n, CFUT_SECONDS(60), &it) != CFUT_OK) {
        return NULL;
    }
    size_t idx;
    cfut_status st;
    while ((st = cfut_as_completed_next(it, &idx)) == CFUT_OK) {
        w->yielded++;
    }
    w->ac_st = st;
    cfut_as_completed_free(it);
    return NULL;
}

static void cancel_futures(void) {
    atomic_int drops = 0;
    cancel_ctx c = {.main = pthread_self()};
    gate_init(&c.g);
    cfut_executor *ex = new_pool(5);
    cfut_future *fs[50];
    for (int i = 0; i < 50; i++) {
        gtok *t = malloc(sizeof *t);
        t->g = &c.g;
        t->drops = &drops;
        CHECK_ST(cfut_executor_submit(ex, gated_task, t, gtok_drop, &fs[i]), CFUT_OK);
        CHECK_ST(cfut_future_add_done_callback(fs[i], cancel_cb, &c, cancel_cb_drop), CFUT_OK);
    }
    CHECK(gate_wait_count(&c.g, 5, HANG_MS));
    /* the 45 queued ones (FIFO: the first 5 are running) */
    waiter_arg w = {fs + 5, 45, 99, 0, 99};
    pthread_t wt = spawn(wait_all_thread, &w), at = spawn(as_completed_thread, &w);
    CHECK_ST(cfut_executor_shutdown(ex, false, true), CFUT_OK);
    join(wt);
    join(at);
    CHECK_ST(w.wait_st, CFUT_OK);
    CHECK_ST(w.ac_st, CFUT_EXHAUSTED);
    CHECK_EQ(w.yielded, 45);
    /* cancelled futures completed (callbacks ran on this thread, args dropped) at once */
    CHECK_EQ(atomic_load(&c.cb_on_main), 45);
    CHECK_EQ(atomic_load(&drops), 45);
    gate_open(&c.g);
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    int cancelled = 0, ok = 0;
    for (int i = 0; i < 50; i++) {
        CHECK(cfut_future_done(fs[i]));
        if (cfut_future_cancelled(fs[i])) {
            cancelled++;
            CHECK_ST(cfut_future_result(fs[i], 0, NULL), CFUT_CANCELLED);
        } else {
            cfut_error e;
            CHECK_ST(cfut_future_error(fs[i], 0, &e), CFUT_OK);
            CHECK_ST(e.status, CFUT_OK);
            ok++;
        }
    }
    CHECK_MSG(cancelled > 20, "%d cancelled", cancelled);
    CHECK_EQ(cancelled, 45);
    CHECK(ok >= 1);
    CHECK_EQ(gate_count(&c.g), 5); /* cancelled tasks never started */
    /* cancelled futures count as completed for wait */
    size_t n;
    CHECK_ST(cfut_wait(fs, 50, 0, CFUT_ALL_COMPLETED, NULL, &n), CFUT_OK);
    CHECK_EQ(n, 50);
    for (int i = 0; i < 50; i++) {
        cfut_future_release(fs[i]);
    }
    cfut_executor_free(ex);
    CHECK_EQ(atomic_load(&drops), 50);
    CHECK_EQ(atomic_load(&c.cb_calls), 50);
    CHECK_EQ(atomic_load(&c.cb_drops), 50);
    gate_destroy(&c.g);
}

/* 120 test_hang_gh94440: max_workers=1, run one task, submit + cancel another, shutdown */
static void hang_gh94440(void) {
    for (int round = 0; round < 10; round++) {
        atomic_int drops = 0;
        cfut_executor *ex = new_pool(1);
        cfut_future *f = NULL, *g = NULL;
        CHECK_ST(cfut_executor_submit(ex, count_task, tok_new(&drops, 1), tok_drop, &f), CFUT_OK);
        CHECK_ST(cfut_future_result(f, CFUT_FOREVER, NULL), CFUT_OK);
        CHECK_ST(cfut_executor_submit(ex, count_task, tok_new(&drops, 2), tok_drop, &g), CFUT_OK);
        bool cancelled = cfut_future_cancel(g);
        uint64_t t0 = now_ns();
        CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
        CHECK_MSG(now_ns() - t0 < CFUT_SECONDS(5), "shutdown took %llu ns", (unsigned long long)(now_ns() - t0));
        CHECK(cfut_future_done(g));
        CHECK(cfut_future_cancelled(g) == cancelled);
        CHECK_EQ(atomic_load(&drops), 2);
        cfut_future_release(f);
        cfut_future_release(g);
        cfut_executor_free(ex);
    }
}

/* 121 test_threads_terminate; 122 test_context_manager_shutdown; 124 test_shutdown_no_wait */
static void threads_terminate(void) {
    /* three blocked tasks ⇒ three threads, all exited once shutdown(wait) returns */
    int base = gate_count(&exits);
    cfut_executor *ex = new_pool(5);
    gate g;
    gate_init(&g);
    cfut_future *fs[3];
    for (int i = 0; i < 3; i++) {
        CHECK_ST(cfut_executor_submit(ex, block_task, &g, NULL, &fs[i]), CFUT_OK);
    }
    CHECK(gate_wait_count(&g, 3, HANG_MS));
    gate_open(&g);
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    CHECK_EQ(gate_count(&exits) - base, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_ST(cfut_future_result(fs[i], 0, NULL), CFUT_OK);
        cfut_future_release(fs[i]);
    }
    cfut_executor_free(ex);
    gate_destroy(&g);

    /* shutdown(wait=false): queued work still runs, then the threads exit by themselves */
    base = gate_count(&exits);
    atomic_store(&runs, 0);
    atomic_int drops = 0;
    ex = new_pool(3);
    gate_init(&g);
    cfut_future *b[3];
    for (int i = 0; i < 3; i++) {
        CHECK_ST(cfut_executor_submit(ex, block_task, &g, NULL, &b[i]), CFUT_OK);
    }
    CHECK(gate_wait_count(&g, 3, HANG_MS));
    cfut_future *fs2[10];
    for (int i = 0; i < 10; i++) {
        CHECK_ST(cfut_executor_submit(ex, count_task, tok_new(&drops, i), tok_drop, &fs2[i]), CFUT_OK);
    }
    CHECK_ST(cfut_executor_shutdown(ex, false, false), CFUT_OK);
    gate_open(&g);
    CHECK_ST(cfut_wait(fs2, 10, CFUT_SECONDS(30), CFUT_ALL_COMPLETED, NULL, NULL), CFUT_OK);
    for (int i = 0; i < 10; i++) {
        void *v;
        CHECK_ST(cfut_future_result(fs2[i], 0, &v), CFUT_OK);
        CHECK_EQ((intptr_t)v, 2 * i);
        cfut_future_release(fs2[i]);
    }
    CHECK(gate_wait_count(&exits, base + 3, HANG_MS));
    CHECK_EQ(atomic_load(&runs), 10);
    CHECK_EQ(atomic_load(&drops), 10);
    for (int i = 0; i < 3; i++) {
        cfut_future_release(b[i]);
    }
    cfut_executor_free(ex);
    gate_destroy(&g);

    /* 122: "with" block = create, map, free; results correct, threads gone after free */
    base = gate_count(&exits);
    ex = new_pool(4);
    atomic_store(&runs, 0);
    cfut_future *fs3[8];
    for (int i = 0; i < 8; i++) {
        CHECK_ST(cfut_executor_submit(ex, count_task, tok_new(&drops, i), tok_drop, &fs3[i]), CFUT_OK);
    }
    cfut_executor_free(ex);
    for (int i = 0; i < 8; i++) {
        void *v;
        CHECK_ST(cfut_future_result(fs3[i], 0, &v), CFUT_OK); /* futures outlive the executor */
        CHECK_EQ((intptr_t)v, 2 * i);
        cfut_future_release(fs3[i]);
    }
    int started = gate_count(&exits) - base;
    CHECK_MSG(started >= 1 && started <= 4, "%d threads exited after free", started);
}

/* 127 test_cancel_futures_wait_false */
static void cancel_futures_wait_false(void) {
    atomic_int drops = 0;
    cfut_executor *ex = new_pool(2);
    gate g;
    gate_init(&g);
    cfut_future *b = NULL;
    CHECK_ST(cfut_executor_submit(ex, block_task, &g, NULL, &b), CFUT_OK);
    CHECK(gate_wait_count(&g, 1, HANG_MS));
    for (int i = 0; i < 10; i++) {
        CHECK_ST(cfut_executor_submit(ex, count_task, tok_new(&drops, i), tok_drop, NULL), CFUT_OK);
    }
    CHECK_ST(cfut_executor_shutdown(ex, false, true), CFUT_OK);
    gate_open(&g);
    cfut_executor_free(ex);
    CHECK_EQ(atomic_load(&drops), 10);
    CHECK_ST(cfut_future_result(b, 0, NULL), CFUT_OK);
    cfut_future_release(b);
    gate_destroy(&g);
}

/* shutdown racing submits from other threads: every submit either succeeds (and its task
 * runs) or returns CFUT_SHUTDOWN (and its arg is dropped at once) */
typedef struct racer {
    cfut_executor *ex;
    atomic_int *drops;
    int ok, refused;
    gate *go;
} racer;

static void *race_submit(void *p) {
    racer *r = p;
    gate_wait(r->go, HANG_MS);
    for (int i = 0; i < 200; i++) {
        int before = atomic_load(r->drops);
        cfut_status st = cfut_executor_submit(r->ex, count_task, tok_new(r->drops, i), tok_drop, NULL);
        if (st == CFUT_OK) {
            r->ok++;
        } else {
            CHECK_ST(st, CFUT_SHUTDOWN);
            CHECK(atomic_load(r->drops) > before);
            r->refused++;
        }
    }
    return NULL;
}

static void shutdown_races_submits(void) {
    for (int round = 0; round < 5; round++) {
        atomic_int drops = 0;
        atomic_store(&runs, 0);
        cfut_executor *ex = new_pool(2);
        gate go;
        gate_init(&go);
        racer r[2] = {{ex, &drops, 0, 0, &go}, {ex, &drops, 0, 0, &go}};
        pthread_t t[2] = {spawn(race_submit, &r[0]), spawn(race_submit, &r[1])};
        gate_open(&go);
        CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
        join(t[0]);
        join(t[1]);
        CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
        CHECK_EQ(atomic_load(&runs), r[0].ok + r[1].ok);
        CHECK_EQ(atomic_load(&drops), 400);
        cfut_executor_free(ex);
        gate_destroy(&go);
    }
}

/* shutdown is safe from any thread: several threads shut down at once, with and without
 * waiting and cancelling; each waiting call returns only after the running task ended. */
typedef struct sd_arg {
    cfut_executor *ex;
    bool wait, cancel;
    cfut_future *running;
    bool running_done_after;
    cfut_status st;
} sd_arg;

static void *sd_thread(void *p) {
    sd_arg *a = p;
    a->st = cfut_executor_shutdown(a->ex, a->wait, a->cancel);
    a->running_done_after = cfut_future_done(a->running);
    return NULL;
}

static void concurrent_shutdowns(void) {
    atomic_int drops = 0;
    cfut_executor *ex = new_pool(2);
    gate g;
    gate_init(&g);
    cfut_future *running = NULL;
    CHECK_ST(cfut_executor_submit(ex, block_task, &g, NULL, &running), CFUT_OK);
    CHECK(gate_wait_count(&g, 1, HANG_MS));
    for (int i = 0; i < 10; i++) {
        CHECK_ST(cfut_executor_submit(ex, count_task, tok_new(&drops, i), tok_drop, NULL), CFUT_OK);
    }
    sd_arg args[4] = {{ex, true, false, running, false, 99},
                      {ex, true, true, running, false, 99},
                      {ex, false, true, running, false, 99},
                      {ex, true, false, running, false, 99}};
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = spawn(sd_thread, &args[i]);
    }
    /* the non-waiting one returns while the task still runs */
    join(t[2]);
    CHECK_ST(args[2].st, CFUT_OK);
    gate_open(&g);
    for (int i = 0; i < 4; i++) {
        if (i != 2) {
            join(t[i]);
            CHECK_ST(args[i].st, CFUT_OK);
            CHECK_MSG(args[i].running_done_after, "shutdown(wait) #%d returned before the running task ended", i);
        }
    }
    cfut_executor_free(ex);
    CHECK_EQ(atomic_load(&drops), 10);
    cfut_future_release(running);
    gate_destroy(&g);
}

void test_shutdown(void) {
    pthread_key_create(&exit_key, on_thread_exit);
    gate_init(&exits);
    RUN(run_after_shutdown);
    RUN(hang_issue12364);
    RUN(cancel_futures);
    RUN(hang_gh94440);
    RUN(threads_terminate);
    RUN(cancel_futures_wait_false);
    RUN(shutdown_races_submits);
    RUN(concurrent_shutdowns);
}
