/* Completion queues (contract section 4): every watch yields its tag once (done, cancelled,
 * failed, released right after the watch), the fd is readable exactly while tags wait,
 * 8 threads watch while one drains, free with watches outstanding, bad input. The process
 * pool's crashed-worker case is in tests/process. */
#include "util.h"

#include <errno.h>
#include <poll.h>

/* poll for POLLIN on the queue's fd for up to timeout_ms, again after a signal (the fault
 * suite's interval timer interrupts every blocking call): 1 readable, 0 timed out. */
static int poll_in(cfut_cq *cq, long timeout_ms) {
    uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        struct pollfd p = {.fd = cfut_cq_fd(cq), .events = POLLIN};
        uint64_t now = now_ns();
        int left = now >= end ? 0 : (int)((end - now) / 1000000u);
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        return r == 1 && (p.revents & POLLIN);
    }
}

static bool readable(cfut_cq *cq) {
    return poll_in(cq, 0) == 1;
}

static int32_t empty_task(void *arg, cfut_result *out) {
    (void)arg;
    (void)out;
    return 0;
}

static int32_t gated_task(void *arg, cfut_result *out) {
    (void)out;
    return gate_wait(arg, HANG_MS) ? 0 : 1;
}

static void cq_bad_input(void) {
    cfut_cq *cq = NULL;
    CHECK_ST(cfut_cq_new(NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_cq_new(&cq), CFUT_OK);
    CHECK(cq != NULL);
    CHECK_EQ(cfut_cq_fd(NULL), -1);
    CHECK(cfut_cq_fd(cq) >= 0);
    cfut_future *f = fx_ok(1);
    CHECK_ST(cfut_cq_watch(NULL, f, 1), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_cq_watch(cq, NULL, 1), CFUT_INVALID_ARGUMENT);
    uint64_t tags[4] = {9, 9, 9, 9};
    CHECK_EQ(cfut_cq_drain(NULL, tags, 4), 0);
    CHECK_ST(cfut_cq_wait(NULL, 0), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_cq_wait(cq, 0), CFUT_TIMEOUT);
    CHECK_ST(cfut_cq_wait(cq, MS(1)), CFUT_TIMEOUT);
    CHECK_ST(cfut_cq_watch(cq, f, 5), CFUT_OK);
    CHECK_ST(cfut_cq_wait(cq, 0), CFUT_OK);
    CHECK_EQ(cfut_cq_drain(cq, NULL, 4), 0); /* refused: nothing taken */
    CHECK_EQ(cfut_cq_drain(cq, tags, 0), 0);
    CHECK(readable(cq));
    CHECK_EQ(cfut_cq_drain(cq, NULL, 0), 0);
    CHECK_EQ(cfut_cq_drain(cq, tags, 4), 1);
    CHECK_EQ(tags[0], 5);
    CHECK_EQ(tags[1], 9);
    cfut_future_release(f);
    cfut_cq_free(cq);
    cfut_cq_free(NULL);
}

/* Already done (ok, failed, cancelled) at once; pending ones when they end. */
static void cq_every_watch_yields_once(void) {
    cfut_cq *cq = NULL;
    CHECK_ST(cfut_cq_new(&cq), CFUT_OK);
    CHECK(!readable(cq));
    cfut_future *done[3] = {fx_ok(1), fx_failed(3, "boom"), fx_cancelled()};
    for (uint64_t i = 0; i < 3; i++) {
        CHECK_ST(cfut_cq_watch(cq, done[i], 10 + i), CFUT_OK);
        cfut_future_release(done[i]);
    }
    CHECK(readable(cq));
    uint64_t tags[8];
    CHECK_EQ(cfut_cq_drain(cq, tags, 8), 3);
    CHECK(tags[0] == 10 && tags[1] == 11 && tags[2] == 12);
    CHECK(!readable(cq));

    cfut_future *p = fx_pending(), *q = fx_pending(), *r = fx_pending();
    CHECK_ST(cfut_cq_watch(cq, p, 20), CFUT_OK);
    CHECK_ST(cfut_cq_watch(cq, q, 21), CFUT_OK);
    CHECK_ST(cfut_cq_watch(cq, r, 22), CFUT_OK);
    CHECK_ST(cfut_cq_watch(cq, r, 23), CFUT_OK); /* a second watch: a second tag */
    CHECK(!readable(cq));
    CHECK_ST(cfut_cq_wait(cq, 0), CFUT_TIMEOUT);
    CHECK(cfut_future_cancel(p));
    CHECK(cfut_future_cancel(p));
    CHECK(readable(cq));
    CHECK_EQ(cfut_cq_drain(cq, tags, 8), 1);
    CHECK_EQ(tags[0], 20);
    CHECK(!readable(cq));
    CHECK_ST(cfut_future_set_error(q, 7, "x"), CFUT_OK);
    CHECK_ST(cfut_future_set_result(r, NULL, NULL), CFUT_OK);
    CHECK_ST(cfut_future_set_result(r, NULL, NULL), CFUT_INVALID_STATE);
    CHECK(readable(cq));
    CHECK_EQ(cfut_cq_drain(cq, tags, 2), 2); /* a partial drain keeps the fd readable */
    CHECK(tags[0] == 21 && tags[1] == 22);
    CHECK(readable(cq));
    CHECK_EQ(cfut_cq_drain(cq, tags, 8), 1);
    CHECK_EQ(tags[0], 23);
    CHECK(!readable(cq));
    CHECK_EQ(cfut_cq_drain(cq, tags, 8), 0);
    cfut_future_release(p);
    cfut_future_release(q);
    cfut_future_release(r);
    cfut_cq_free(cq);
}

/* Pool futures released right after the watch; the loop polls the fd. */
static void cq_released_pool_futures(void) {
    enum { N = 500 };
    cfut_executor *ex = new_pool(4);
    cfut_cq *cq = NULL;
    CHECK_ST(cfut_cq_new(&cq), CFUT_OK);
    static unsigned char seen[N];
    memset(seen, 0, sizeof seen);
    for (uint64_t i = 0; i < N; i++) {
        cfut_future *f = NULL;
        CHECK_ST(cfut_executor_submit(ex, empty_task, NULL, NULL, &f), CFUT_OK);
        CHECK_ST(cfut_cq_watch(cq, f, i), CFUT_OK);
        cfut_future_release(f);
    }
    int got = 0, dup = 0, wakes = 0;
    uint64_t tags[64];
    while (got < N) {
        if (poll_in(cq, HANG_MS) != 1) {
            break;
        }
        wakes++;
        size_t n = cfut_cq_drain(cq, tags, 64);
        CHECK(n > 0); /* woken means something waits: no spurious readiness */
        for (size_t k = 0; k < n; k++) {
            if (tags[k] >= N || seen[tags[k]]++) {
                dup++;
            }
        }
        got += (int)n;
    }
    CHECK_EQ(got, N);
    CHECK_EQ(dup, 0);
    CHECK(wakes <= N);
    CHECK(!readable(cq));
    cfut_cq_free(cq);
    cfut_executor_free(ex);
}

/* Readable again after a drain emptied it; cfut_cq_wait wakes on a completion. */
static void cq_readable_again(void) {
    cfut_executor *ex = new_pool(1);
    cfut_cq *cq = NULL;
    CHECK_ST(cfut_cq_new(&cq), CFUT_OK);
    for (int round = 0; round < 3; round++) {
        cfut_future *f = NULL;
        gate g;
        gate_init(&g);
        CHECK_ST(cfut_executor_submit(ex, gated_task, &g, NULL, &f), CFUT_OK);
        CHECK_ST(cfut_cq_watch(cq, f, (uint64_t)round), CFUT_OK);
        CHECK(!readable(cq));
        CHECK_ST(cfut_cq_wait(cq, MS(5)), CFUT_TIMEOUT);
        gate_open(&g);
        CHECK_ST(cfut_cq_wait(cq, CFUT_SECONDS(20)), CFUT_OK);
        CHECK(readable(cq));
        uint64_t t = 99;
        CHECK_EQ(cfut_cq_drain(cq, &t, 1), 1);
        CHECK_EQ(t, (uint64_t)round);
        CHECK(!readable(cq));
        CHECK_ST(cfut_future_wait(f, CFUT_FOREVER), CFUT_OK);
        cfut_future_release(f);
        gate_destroy(&g);
    }
    cfut_cq_free(cq);
    cfut_executor_free(ex);
}

/* 8 threads watch (pool futures, already-done and cancelled ones) while this one drains. */
enum { WATCHERS = 8, PER_WATCHER = 1500 };
typedef struct watcher {
    cfut_executor *ex;
    cfut_cq *cq;
    uint64_t base;
    gate *start;
} watcher;

static void *watch_thread(void *p) {
    watcher *w = p;
    gate_wait(w->start, HANG_MS);
    for (uint64_t i = 0; i < PER_WATCHER; i++) {
        cfut_future *f = NULL;
        if (i % 5 == 0) {
            f = fx_ok(1);
        } else if (i % 5 == 1) {
            f = fx_pending();
        } else {
            cfut_executor_submit(w->ex, empty_task, NULL, NULL, &f);
        }
        cfut_cq_watch(w->cq, f, w->base + i);
        if (i % 5 == 1) {
            cfut_future_cancel(f); /* from the watching thread, after the watch */
        }
        cfut_future_release(f);
    }
    return NULL;
}

static void cq_eight_watchers_one_drainer(void) {
    enum { TOTAL = WATCHERS * PER_WATCHER };
    cfut_executor *ex = new_pool(4);
    cfut_cq *cq = NULL;
    CHECK_ST(cfut_cq_new(&cq), CFUT_OK);
    gate start;
    gate_init(&start);
    watcher w[WATCHERS];
    pthread_t t[WATCHERS];
    for (int i = 0; i < WATCHERS; i++) {
        w[i] = (watcher){ex, cq, (uint64_t)i * PER_WATCHER, &start};
        t[i] = spawn(watch_thread, &w[i]);
    }
    static unsigned char seen[TOTAL];
    memset(seen, 0, sizeof seen);
    gate_open(&start);
    int got = 0, dup = 0;
    uint64_t tags[128];
    while (got < TOTAL) {
        if (cfut_cq_wait(cq, CFUT_SECONDS(20)) != CFUT_OK) {
            break;
        }
        size_t n = cfut_cq_drain(cq, tags, 128);
        for (size_t k = 0; k < n; k++) {
            if (tags[k] >= TOTAL || seen[tags[k]]++) {
                dup++;
            }
        }
        got += (int)n;
    }
    for (int i = 0; i < WATCHERS; i++) {
        join(t[i]);
    }
    CHECK_EQ(got, TOTAL);
    CHECK_EQ(dup, 0);
    CHECK_EQ(cfut_cq_drain(cq, tags, 128), 0);
    CHECK(!readable(cq));
    gate_destroy(&start);
    cfut_cq_free(cq);
    cfut_executor_free(ex);
}

/* Free with watches outstanding: waiting tags are discarded, pending watches disarmed; the
 * futures complete later (ASAN / valgrind check nothing is used after free or leaked). */
static atomic_int cb_calls;
static void count_cb(cfut_future *f, void *arg) {
    (void)f;
    (void)arg;
    atomic_fetch_add(&cb_calls, 1);
}

static void cq_free_with_pending_watches(void) {
    cfut_executor *ex = new_pool(2);
    gate g;
    gate_init(&g);
    cfut_cq *cq = NULL;
    CHECK_ST(cfut_cq_new(&cq), CFUT_OK);
    cfut_future *running = NULL, *queued[4], *standalone = fx_pending(), *done = fx_ok(1);
    CHECK_ST(cfut_executor_submit(ex, gated_task, &g, NULL, &running), CFUT_OK);
    for (int i = 0; i < 4; i++) {
        CHECK_ST(cfut_executor_submit(ex, gated_task, &g, NULL, &queued[i]), CFUT_OK);
        CHECK_ST(cfut_cq_watch(cq, queued[i], (uint64_t)i), CFUT_OK);
        cfut_future_release(queued[i]);
    }
    CHECK_ST(cfut_cq_watch(cq, running, 10), CFUT_OK);
    CHECK_ST(cfut_cq_watch(cq, standalone, 11), CFUT_OK);
    CHECK_ST(cfut_cq_watch(cq, done, 12), CFUT_OK);
    atomic_store(&cb_calls, 0);
    CHECK_ST(cfut_future_add_done_callback(standalone, count_cb, NULL, NULL), CFUT_OK);
    cfut_cq_free(cq); /* tag 12 waits, six watches pending */
    gate_open(&g);
    CHECK_ST(cfut_future_wait(running, CFUT_SECONDS(20)), CFUT_OK);
    CHECK_ST(cfut_future_set_result(standalone, NULL, NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&cb_calls), 1); /* the future's own callbacks are untouched */
    /* a standalone future freed while still watched, never done */
    CHECK_ST(cfut_cq_new(&cq), CFUT_OK);
    cfut_future *orphan = fx_pending();
    CHECK_ST(cfut_cq_watch(cq, orphan, 1), CFUT_OK);
    cfut_future_release(orphan);
    CHECK_ST(cfut_cq_wait(cq, 0), CFUT_TIMEOUT);
    cfut_cq_free(cq);
    cfut_executor_free(ex); /* runs the queued tasks to the end */
    cfut_future_release(running);
    cfut_future_release(standalone);
    cfut_future_release(done);
    gate_destroy(&g);
}

void test_cq(void) {
    RUN(cq_bad_input);
    RUN(cq_every_watch_yields_once);
    RUN(cq_released_pool_futures);
    RUN(cq_readable_again);
    RUN(cq_eight_watchers_one_drainer);
    RUN(cq_free_with_pending_watches);
}
