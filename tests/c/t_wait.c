/* cpython-spec §1.4, §1.5, §2.6 (test_as_completed), §2.7 (test_wait), with the library's
 * chosen semantics: a cancelled future counts as completed (gh-92001 not copied), so the
 * CANCELLED and CANCELLED_AND_NOTIFIED fixtures behave alike. */
#include "util.h"

static int32_t block_task(void *arg, cfut_result *out) {
    (void)out;
    gate *g = arg;
    gate_add(g, 1);
    return gate_wait(g, HANG_MS) ? 0 : 1;
}

static int32_t ok_task(void *arg, cfut_result *out) {
    cfut_result_set_value(out, arg, NULL);
    return 0;
}

/* fails once the future passed as arg is done */
static int32_t fail_after_task(void *arg, cfut_result *out) {
    cfut_future *dep = arg;
    if (cfut_future_wait(dep, CFUT_FOREVER) != CFUT_OK) {
        return 1;
    }
    cfut_result_set_error(out, 42, "ZeroDivisionError");
    return 0;
}

static int32_t fail_task(void *arg, cfut_result *out) {
    (void)arg;
    (void)out;
    return 3;
}

static cfut_future *submit(cfut_executor *ex, cfut_task_fn fn, void *arg) {
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(ex, fn, arg, NULL, &f), CFUT_OK);
    return f;
}

static void release_all(cfut_future **fs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        cfut_future_release(fs[i]);
    }
}

/* 105 test_20369: duplicates collapse */
static void wait_20369(void) {
    cfut_executor *ex = new_pool(2);
    cfut_future *f = submit(ex, ok_task, (void *)1);
    cfut_future *fs[2] = {f, f};
    bool done[2] = {false, false};
    size_t n = 0;
    CHECK_ST(cfut_wait(fs, 2, CFUT_FOREVER, CFUT_ALL_COMPLETED, done, &n), CFUT_OK);
    CHECK(done[0] && done[1]);
    CHECK_EQ(n, 2);
    CHECK_ST(cfut_wait(fs, 2, 0, CFUT_FIRST_COMPLETED, done, &n), CFUT_OK);
    cfut_future_release(f);
    /* a pending duplicate: FIRST_COMPLETED times out with both flags false */
    cfut_future *p = fx_pending();
    cfut_future *ps[2] = {p, p};
    uint64_t t0 = now_ns();
    CHECK_ST(cfut_wait(ps, 2, MS(20), CFUT_FIRST_COMPLETED, done, &n), CFUT_TIMEOUT);
    CHECK(now_ns() - t0 >= MS(20));
    CHECK(!done[0] && !done[1]);
    CHECK_EQ(n, 0);
    cfut_future_release(p);
    cfut_executor_free(ex);
}

/* 106 test_first_completed: [fast, blocked] → done {fast}; with the CANCELLED fixture added
 * the wait returns at once (a cancelled future is completed here, unlike CPython). */
static void wait_first_completed(void) {
    cfut_executor *ex = new_pool(3);
    gate g;
    gate_init(&g);
    cfut_future *blocked = submit(ex, block_task, &g);
    CHECK(gate_wait_count(&g, 1, HANG_MS));
    cfut_future *fast = submit(ex, ok_task, (void *)21);
    cfut_future *fs[2] = {fast, blocked};
    bool done[2];
    size_t n;
    CHECK_ST(cfut_wait(fs, 2, CFUT_SECONDS(20), CFUT_FIRST_COMPLETED, done, &n), CFUT_OK);
    CHECK(done[0] && !done[1]);
    CHECK_EQ(n, 1);

    cfut_future *c = fx_cancelled();
    cfut_future *p = fx_pending();
    cfut_future *fs2[3] = {c, p, blocked};
    bool done2[3];
    CHECK_ST(cfut_wait(fs2, 3, CFUT_SECONDS(20), CFUT_FIRST_COMPLETED, done2, &n), CFUT_OK);
    CHECK(done2[0] && !done2[1] && !done2[2]);
    CHECK_EQ(n, 1);

    /* 107 test_first_completed_some_already_completed: [C_A_N, SUCCESSFUL, blocked] */
    cfut_future *ok = fx_ok(42);
    cfut_future *fs3[3] = {c, ok, blocked};
    bool done3[3];
    CHECK_ST(cfut_wait(fs3, 3, 0, CFUT_FIRST_COMPLETED, done3, &n), CFUT_OK);
    CHECK(done3[0] && done3[1] && !done3[2]);
    CHECK_EQ(n, 2);

    /* a future completed (or cancelled) by another thread wakes FIRST_COMPLETED */
    cfut_future *p2 = fx_pending();
    cfut_future *fs4[2] = {p2, blocked};
    bool done4[2];
    cfut_future *fs5[1] = {p2};
    /* completed from a worker: a task that completes p2 */
    CHECK(cfut_future_cancel(p2) == true);
    CHECK_ST(cfut_wait(fs4, 2, CFUT_FOREVER, CFUT_FIRST_COMPLETED, done4, &n), CFUT_OK);
    CHECK(done4[0] && !done4[1]);
    CHECK_ST(cfut_wait(fs5, 1, CFUT_FOREVER, CFUT_ALL_COMPLETED, NULL, NULL), CFUT_OK);

    gate_open(&g);
    cfut_future *all[7] = {blocked, fast, c, p, ok, p2, NULL};
    release_all(all, 6);
    cfut_executor_free(ex);
    gate_destroy(&g);
}

typedef struct later {
    cfut_future *f;
    int how; /* 0 result, 1 error, 2 cancel */
    gate *go;
} later;

static void *later_thread(void *arg) {
    later *l = arg;
    if (l->go) {
        gate_wait(l->go, HANG_MS);
    }
    if (l->how == 0) {
        cfut_future_set_result(l->f, NULL, NULL);
    } else if (l->how == 1) {
        cfut_future_set_error(l->f, 1, NULL);
    } else {
        cfut_future_cancel(l->f);
    }
    return NULL;
}

/* 108-110 first_exception variants */
static void wait_first_exception(void) {
    cfut_executor *ex = new_pool(3);
    gate g;
    gate_init(&g);
    cfut_future *blocked = submit(ex, block_task, &g);
    CHECK(gate_wait_count(&g, 1, HANG_MS));
    size_t n;

    /* 108 test_first_exception: ok finishes first, then the raising one */
    cfut_future *ok = submit(ex, ok_task, (void *)42);
    cfut_future *raising = submit(ex, fail_after_task, ok);
    cfut_future *fs[3] = {ok, raising, blocked};
    bool done[3];
    CHECK_ST(cfut_wait(fs, 3, CFUT_SECONDS(20), CFUT_FIRST_EXCEPTION, done, &n), CFUT_OK);
    CHECK(done[0] && done[1] && !done[2]);
    CHECK_EQ(n, 2);

    /* 109 test_first_exception_some_already_complete:
     * [SUCCESSFUL, CANCELLED, C_A_N, failing, blocked] → done all but blocked */
    cfut_future *succ = fx_ok(42), *c1 = fx_cancelled(), *c2 = fx_cancelled();
    cfut_future *failing = submit(ex, fail_task, NULL);
    cfut_future *fs2[5] = {succ, c1, c2, failing, blocked};
    bool done2[5];
    CHECK_ST(cfut_wait(fs2, 5, CFUT_SECONDS(20), CFUT_FIRST_EXCEPTION, done2, &n), CFUT_OK);
    CHECK(done2[0] && done2[1] && done2[2] && done2[3] && !done2[4]);
    CHECK_EQ(n, 4);

    /* 110 test_first_exception_one_already_failed: [EXCEPTION, blocked] → at once */
    cfut_future *exc = fx_failed(5, "OSError");
    cfut_future *fs3[2] = {exc, blocked};
    bool done3[2];
    CHECK_ST(cfut_wait(fs3, 2, 0, CFUT_FIRST_EXCEPTION, done3, &n), CFUT_OK);
    CHECK(done3[0] && !done3[1]);

    /* a cancellation is not an exception: FIRST_EXCEPTION keeps waiting, then times out */
    cfut_future *p = fx_pending();
    cfut_future *fs4[2] = {p, blocked};
    bool done4[2];
    later l = {p, 2, NULL};
    pthread_t t = spawn(later_thread, &l);
    join(t);
    uint64_t t0 = now_ns();
    CHECK_ST(cfut_wait(fs4, 2, MS(30), CFUT_FIRST_EXCEPTION, done4, &n), CFUT_TIMEOUT);
    CHECK(now_ns() - t0 >= MS(30));
    CHECK(done4[0] && !done4[1]);
    /* FIRST_EXCEPTION with no exception behaves as ALL_COMPLETED */
    cfut_future *fs5[3] = {succ, c1, p};
    CHECK_ST(cfut_wait(fs5, 3, 0, CFUT_FIRST_EXCEPTION, NULL, &n), CFUT_OK);
    CHECK_EQ(n, 3);
    /* a failure from another thread wakes FIRST_EXCEPTION */
    cfut_future *p2 = fx_pending();
    gate go;
    gate_init(&go);
    later l2 = {p2, 1, &go};
    cfut_future *fs6[2] = {p2, blocked};
    t = spawn(later_thread, &l2);
    gate_open(&go);
    CHECK_ST(cfut_wait(fs6, 2, CFUT_SECONDS(20), CFUT_FIRST_EXCEPTION, done4, &n), CFUT_OK);
    CHECK(done4[0] && !done4[1]);
    join(t);

    gate_open(&g);
    cfut_future *all[] = {blocked, ok, raising, succ, c1, c2, failing, exc, p, p2};
    release_all(all, sizeof all / sizeof *all);
    cfut_executor_free(ex);
    gate_destroy(&g);
    gate_destroy(&go);
}

/* 111 test_all_completed; 112 test_timeout */
static void wait_all_completed_and_timeout(void) {
    cfut_executor *ex = new_pool(3);
    cfut_future *succ = fx_ok(42), *canc = fx_cancelled(), *exc = fx_failed(5, NULL);
    cfut_future *failing = submit(ex, fail_task, NULL);
    cfut_future *ok = submit(ex, ok_task, (void *)7);
    cfut_future *fs[5] = {succ, canc, exc, failing, ok};
    bool done[5];
    size_t n;
    CHECK_ST(cfut_wait(fs, 5, CFUT_SECONDS(20), CFUT_ALL_COMPLETED, done, &n), CFUT_OK);
    CHECK(done[0] && done[1] && done[2] && done[3] && done[4]);
    CHECK_EQ(n, 5);

    gate g;
    gate_init(&g);
    cfut_future *blocked = submit(ex, block_task, &g);
    cfut_future *fs2[4] = {exc, succ, canc, blocked};
    bool done2[4];
    uint64_t t0 = now_ns();
    CHECK_ST(cfut_wait(fs2, 4, MS(50), CFUT_ALL_COMPLETED, done2, &n), CFUT_TIMEOUT);
    uint64_t el = now_ns() - t0;
    CHECK_MSG(el >= MS(50), "wait(50ms) returned after %llu ns", (unsigned long long)el);
    CHECK_MSG(el < MS(HANG_MS), "wait(50ms) took %llu ns", (unsigned long long)el);
    CHECK(done2[0] && done2[1] && done2[2] && !done2[3]);
    CHECK_EQ(n, 3);
    /* timeout 0 polls */
    CHECK_ST(cfut_wait(fs2, 4, 0, CFUT_ALL_COMPLETED, done2, &n), CFUT_TIMEOUT);
    CHECK_EQ(n, 3);
    /* empty input: done at once in every mode */
    for (uint32_t rw = 0; rw < 3; rw++) {
        CHECK_ST(cfut_wait(NULL, 0, CFUT_FOREVER, rw, NULL, &n), CFUT_OK);
        CHECK_EQ(n, 0);
    }
    gate_open(&g);
    CHECK_ST(cfut_wait(fs2, 4, CFUT_FOREVER, CFUT_ALL_COMPLETED, done2, &n), CFUT_OK);
    CHECK_EQ(n, 4);
    cfut_future *all[] = {succ, canc, exc, failing, ok, blocked};
    release_all(all, 6);
    cfut_executor_free(ex);
    gate_destroy(&g);
}

/* 113 test_pending_calls_race (bpo-14406): 100 futures released while the wait installs its
 * waiters; ALL_COMPLETED returns. */
typedef struct opener {
    gate *g;
} opener;
static void *open_thread(void *p) {
    gate_open(((opener *)p)->g);
    return NULL;
}

static int32_t event_task(void *arg, cfut_result *out) {
    (void)out;
    return gate_wait(arg, HANG_MS) ? 0 : 1;
}

static void wait_pending_calls_race(void) {
    cfut_executor *ex = new_pool(5);
    for (int round = 0; round < 3; round++) {
        gate g;
        gate_init(&g);
        cfut_future *fs[100];
        for (int i = 0; i < 100; i++) {
            fs[i] = submit(ex, event_task, &g);
        }
        opener o = {&g};
        pthread_t t = spawn(open_thread, &o);
        size_t n = 0;
        CHECK_ST(cfut_wait(fs, 100, CFUT_SECONDS(60), CFUT_ALL_COMPLETED, NULL, &n), CFUT_OK);
        CHECK_EQ(n, 100);
        join(t);
        int ok = 0;
        for (int i = 0; i < 100; i++) {
            ok += cfut_future_result(fs[i], 0, NULL) == CFUT_OK;
        }
        CHECK_EQ(ok, 100);
        release_all(fs, 100);
        gate_destroy(&g);
    }
    cfut_executor_free(ex);
}

/* ---- as_completed ----------------------------------------------------------------------- */

/* 100 test_no_timeout: 3 fixtures + 2 submitted, all 5 yielded */
static void as_completed_no_timeout(void) {
    cfut_executor *ex = new_pool(3);
    cfut_future *fs[5] = {fx_failed(5, NULL), fx_cancelled(), fx_ok(42), NULL, NULL};
    fs[3] = submit(ex, ok_task, (void *)1);
    fs[4] = submit(ex, ok_task, (void *)2);
    cfut_as_completed *it = NULL;
    CHECK_ST(cfut_as_completed_new(fs, 5, CFUT_FOREVER, &it), CFUT_OK);
    bool seen[5] = {0};
    size_t idx;
    for (int i = 0; i < 5; i++) {
        CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_OK);
        if (idx < 5) {
            CHECK(!seen[idx]);
            seen[idx] = true;
            CHECK(cfut_future_done(fs[idx]));
        }
        if (i < 3) {
            CHECK_EQ(idx, (size_t)i); /* already-done ones first, in array order */
        }
    }
    CHECK(seen[0] && seen[1] && seen[2] && seen[3] && seen[4]);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_EXHAUSTED);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_EXHAUSTED);
    cfut_as_completed_free(it);
    release_all(fs, 5);
    cfut_executor_free(ex);
}

/* 101 test_future_times_out: timeout 0 and 100 ms, with a blocked task */
static void as_completed_times_out(void) {
    cfut_executor *ex = new_pool(3);
    gate g;
    gate_init(&g);
    cfut_future *blocked = submit(ex, block_task, &g);
    const uint64_t timeouts[2] = {0, MS(100)};
    for (int k = 0; k < 2; k++) {
        cfut_future *fs[4] = {fx_failed(5, NULL), fx_cancelled(), fx_ok(42), blocked};
        cfut_as_completed *it = NULL;
        uint64_t t0 = now_ns();
        CHECK_ST(cfut_as_completed_new(fs, 4, timeouts[k], &it), CFUT_OK);
        size_t idx = 99;
        for (size_t i = 0; i < 3; i++) {
            CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_OK);
            CHECK_EQ(idx, i);
        }
        idx = 99;
        CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_TIMEOUT);
        uint64_t el = now_ns() - t0;
        CHECK_EQ(idx, 99);
        CHECK_MSG(el >= timeouts[k], "as_completed timeout after %llu ns", (unsigned long long)el);
        CHECK_MSG(el < MS(HANG_MS), "as_completed timeout took %llu ns", (unsigned long long)el);
        /* still timed out on a later call */
        CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_TIMEOUT);
        cfut_as_completed_free(it);
        cfut_future_release(fs[0]);
        cfut_future_release(fs[1]);
        cfut_future_release(fs[2]);
    }
    /* a future completing after the deadline is still yielded by a later call */
    cfut_future *p = fx_pending();
    cfut_future *ps[2] = {p, blocked};
    cfut_as_completed *it = NULL;
    CHECK_ST(cfut_as_completed_new(ps, 2, 0, &it), CFUT_OK);
    size_t idx;
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_TIMEOUT);
    cfut_future_set_result(p, NULL, NULL);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_OK);
    CHECK_EQ(idx, 0);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_TIMEOUT);
    gate_open(&g);
    CHECK_ST(cfut_future_wait(blocked, CFUT_FOREVER), CFUT_OK);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_OK);
    CHECK_EQ(idx, 1);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_EXHAUSTED);
    cfut_as_completed_free(it);
    cfut_future_release(p);
    cfut_future_release(blocked);
    cfut_executor_free(ex);
    gate_destroy(&g);
}

/* 102 test_duplicate_futures */
static void as_completed_duplicates(void) {
    cfut_executor *ex = new_pool(2);
    cfut_future *f = submit(ex, ok_task, (void *)1);
    cfut_future *fs[3] = {f, f, f};
    cfut_as_completed *it = NULL;
    CHECK_ST(cfut_as_completed_new(fs, 3, CFUT_FOREVER, &it), CFUT_OK);
    size_t idx = 99;
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_OK);
    CHECK_EQ(idx, 0);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_EXHAUSTED);
    cfut_as_completed_free(it);
    /* duplicates of a pending future at later positions: the first index is reported */
    cfut_future *p = fx_pending(), *q = fx_ok(3);
    cfut_future *ps[4] = {q, p, q, p};
    CHECK_ST(cfut_as_completed_new(ps, 4, CFUT_FOREVER, &it), CFUT_OK);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_OK);
    CHECK_EQ(idx, 0);
    cfut_future_cancel(p);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_OK);
    CHECK_EQ(idx, 1);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_EXHAUSTED);
    cfut_as_completed_free(it);
    cfut_future_release(f);
    cfut_future_release(p);
    cfut_future_release(q);
    cfut_executor_free(ex);
}

/* 104 test_correct_timeout_exception_msg: [C_A_N, PENDING, RUNNING, SUCCESSFUL], timeout 0:
 * yields 0 and 3, then CFUT_TIMEOUT with 2 unfinished. Then completion order. */
static void as_completed_order(void) {
    cfut_future *fs[4] = {fx_cancelled(), fx_pending(), fx_running(), fx_ok(42)};
    cfut_as_completed *it = NULL;
    CHECK_ST(cfut_as_completed_new(fs, 4, 0, &it), CFUT_OK);
    size_t idx;
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_OK);
    CHECK_EQ(idx, 0);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_OK);
    CHECK_EQ(idx, 3);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_TIMEOUT);
    cfut_as_completed_free(it);
    release_all(fs, 4);

    /* completion order after the iterator was created */
    cfut_future *ps[4] = {fx_pending(), fx_pending(), fx_pending(), fx_ok(1)};
    CHECK_ST(cfut_as_completed_new(ps, 4, CFUT_SECONDS(20), &it), CFUT_OK);
    /* the iterator holds its own references */
    cfut_future *keep[4];
    for (int i = 0; i < 4; i++) {
        keep[i] = cfut_future_retain(ps[i]);
    }
    release_all(ps, 4);
    cfut_future_set_result(keep[2], NULL, NULL);
    cfut_future_cancel(keep[0]);
    cfut_future_set_error(keep[1], 1, NULL);
    const size_t want[4] = {3, 2, 0, 1};
    for (int i = 0; i < 4; i++) {
        CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_OK);
        CHECK_EQ(idx, want[i]);
    }
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_EXHAUSTED);
    cfut_as_completed_free(it);
    release_all(keep, 4);

    /* empty input: exhausted at once */
    CHECK_ST(cfut_as_completed_new(NULL, 0, 0, &it), CFUT_OK);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_EXHAUSTED);
    cfut_as_completed_free(it);

    /* freeing an iterator with futures never yielded */
    cfut_future *p = fx_pending();
    CHECK_ST(cfut_as_completed_new(&p, 1, CFUT_FOREVER, &it), CFUT_OK);
    cfut_as_completed_free(it);
    cfut_future_set_result(p, NULL, NULL);
    cfut_future_release(p);
}

/* completions from other threads while next() blocks */
static void *complete_many(void *p) {
    cfut_future **fs = p;
    for (int i = 0; i < 20; i++) {
        if (i % 3 == 0) {
            cfut_future_cancel(fs[i]);
        } else {
            cfut_future_set_result(fs[i], NULL, NULL);
        }
    }
    return NULL;
}

static void as_completed_blocking(void) {
    cfut_future *fs[20];
    for (int i = 0; i < 20; i++) {
        fs[i] = fx_pending();
    }
    cfut_as_completed *it = NULL;
    CHECK_ST(cfut_as_completed_new(fs, 20, CFUT_SECONDS(60), &it), CFUT_OK);
    pthread_t t = spawn(complete_many, fs);
    bool seen[20] = {0};
    size_t idx;
    int got = 0;
    for (int i = 0; i < 20; i++) {
        if (cfut_as_completed_next(it, &idx) == CFUT_OK && idx < 20 && !seen[idx]) {
            seen[idx] = true;
            got++;
        }
    }
    CHECK_EQ(got, 20);
    CHECK_ST(cfut_as_completed_next(it, &idx), CFUT_EXHAUSTED);
    join(t);
    cfut_as_completed_free(it);
    release_all(fs, 20);
}

void test_wait(void) {
    RUN(wait_20369);
    RUN(wait_first_completed);
    RUN(wait_first_exception);
    RUN(wait_all_completed_and_timeout);
    RUN(wait_pending_calls_race);
}

void test_as_completed(void) {
    RUN(as_completed_no_timeout);
    RUN(as_completed_times_out);
    RUN(as_completed_duplicates);
    RUN(as_completed_order);
    RUN(as_completed_blocking);
}
