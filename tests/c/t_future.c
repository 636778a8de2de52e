/* cpython-spec §1.2, §1.3, §2.1 (test_future.py): the future state machine, callbacks,
 * result / error with timeouts, multiple set. Standalone futures, no executor. */
#include "util.h"

/* ---- callbacks -------------------------------------------------------------------------- */

typedef struct cb_rec {
    atomic_int calls;
    pthread_t thread;
    cfut_status result_st;
    void *value;
    cfut_status error_st;
    cfut_error err;
    char msg[64];
    bool cancelled, done;
    int order[8];
    atomic_int norder;
} cb_rec;

typedef struct cb_arg {
    cb_rec *rec;
    int id;
} cb_arg;

static void record_cb(cfut_future *f, void *arg) {
    cb_arg *a = arg;
    cb_rec *r = a->rec;
    atomic_fetch_add(&r->calls, 1);
    r->thread = pthread_self();
    r->done = cfut_future_done(f);
    r->cancelled = cfut_future_cancelled(f);
    r->value = NULL;
    r->result_st = cfut_future_result(f, 0, &r->value);
    memset(&r->err, 0, sizeof r->err);
    r->error_st = cfut_future_error(f, 0, &r->err);
    r->msg[0] = 0;
    if (r->error_st == CFUT_OK && r->err.message) {
        snprintf(r->msg, sizeof r->msg, "%s", r->err.message);
    }
    int k = atomic_fetch_add(&r->norder, 1);
    if (k < 8) {
        r->order[k] = a->id;
    }
}

static atomic_int cbarg_drops;
static void cbarg_drop(void *p) {
    atomic_fetch_add(&cbarg_drops, 1);
    free(p);
}

static cb_arg *mk(cb_rec *r, int id) {
    cb_arg *a = malloc(sizeof *a);
    a->rec = r;
    a->id = id;
    return a;
}

/* 1. test_done_callback_with_result */
static void done_callback_with_result(void) {
    cb_rec r = {0};
    atomic_store(&cbarg_drops, 0);
    cfut_future *f = fx_pending();
    CHECK_ST(cfut_future_add_done_callback(f, record_cb, mk(&r, 0), cbarg_drop), CFUT_OK);
    CHECK_EQ(atomic_load(&r.calls), 0);
    CHECK_EQ(atomic_load(&cbarg_drops), 0);
    CHECK_ST(cfut_future_set_result(f, (void *)(intptr_t)5, NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&r.calls), 1);
    CHECK(r.done);
    CHECK(pthread_equal(r.thread, pthread_self()));
    CHECK_ST(r.result_st, CFUT_OK);
    CHECK_EQ((intptr_t)r.value, 5);
    CHECK_EQ(atomic_load(&cbarg_drops), 1);
    cfut_future_release(f);
    CHECK_EQ(atomic_load(&r.calls), 1);
    CHECK_EQ(atomic_load(&cbarg_drops), 1);
}

/* 2. test_done_callback_with_exception */
static void done_callback_with_exception(void) {
    cb_rec r = {0};
    atomic_store(&cbarg_drops, 0);
    cfut_future *f = fx_pending();
    CHECK_ST(cfut_future_add_done_callback(f, record_cb, mk(&r, 0), cbarg_drop), CFUT_OK);
    CHECK_ST(cfut_future_set_error(f, 42, "test"), CFUT_OK);
    CHECK_EQ(atomic_load(&r.calls), 1);
    CHECK_ST(r.result_st, CFUT_TASK_FAILED);
    CHECK_ST(r.error_st, CFUT_OK);
    CHECK_ST(r.err.status, CFUT_TASK_FAILED);
    CHECK_EQ(r.err.code, 42);
    CHECK(strcmp(r.msg, "test") == 0);
    cfut_future_release(f);
    CHECK_EQ(atomic_load(&cbarg_drops), 1);
}

/* 3. test_done_callback_with_cancel */
static void done_callback_with_cancel(void) {
    cb_rec r = {0};
    atomic_store(&cbarg_drops, 0);
    cfut_future *f = fx_pending();
    CHECK_ST(cfut_future_add_done_callback(f, record_cb, mk(&r, 0), cbarg_drop), CFUT_OK);
    CHECK(cfut_future_cancel(f));
    CHECK_EQ(atomic_load(&r.calls), 1);
    CHECK(r.cancelled);
    CHECK(r.done);
    CHECK(pthread_equal(r.thread, pthread_self()));
    CHECK_ST(r.result_st, CFUT_CANCELLED);
    CHECK_ST(r.error_st, CFUT_CANCELLED);
    /* a second cancel does not re-run callbacks */
    CHECK(cfut_future_cancel(f));
    CHECK_EQ(atomic_load(&r.calls), 1);
    cfut_future_release(f);
    CHECK_EQ(atomic_load(&cbarg_drops), 1);
}

/* 5, 6, 7. test_done_callback_already_{successful,failed,cancelled}: invoked at once, on
 * the adding thread, before add_done_callback returns. */
static void done_callback_already_done(void) {
    cfut_future *fs[3] = {fx_ok(5), fx_failed(7, "test"), fx_cancelled()};
    cfut_status want_result[3] = {CFUT_OK, CFUT_TASK_FAILED, CFUT_CANCELLED};
    for (int i = 0; i < 3; i++) {
        cb_rec r = {0};
        atomic_store(&cbarg_drops, 0);
        CHECK_ST(cfut_future_add_done_callback(fs[i], record_cb, mk(&r, i), cbarg_drop), CFUT_OK);
        CHECK_EQ(atomic_load(&r.calls), 1);
        CHECK_EQ(atomic_load(&cbarg_drops), 1);
        CHECK(pthread_equal(r.thread, pthread_self()));
        CHECK_ST(r.result_st, want_result[i]);
        if (i == 0) {
            CHECK_EQ((intptr_t)r.value, 5);
        }
        if (i == 1) {
            CHECK_EQ(r.err.code, 7);
            CHECK(strcmp(r.msg, "test") == 0);
        }
        if (i == 2) {
            CHECK(r.cancelled);
        }
        cfut_future_release(fs[i]);
        CHECK_EQ(atomic_load(&r.calls), 1);
    }
}

/* §1.3: callbacks run in the order added, exactly once; each arg dropped once. */
static void callbacks_in_order_exactly_once(void) {
    for (int how = 0; how < 3; how++) {
        cb_rec r = {0};
        atomic_store(&cbarg_drops, 0);
        cfut_future *f = fx_pending();
        if (how == 1) {
            CHECK(cfut_future_set_running_or_notify_cancel(f));
        }
        for (int i = 0; i < 5; i++) {
            CHECK_ST(cfut_future_add_done_callback(f, record_cb, mk(&r, i), cbarg_drop), CFUT_OK);
        }
        CHECK_EQ(atomic_load(&r.calls), 0);
        if (how == 0) {
            CHECK_ST(cfut_future_set_result(f, NULL, NULL), CFUT_OK);
        } else if (how == 1) {
            CHECK_ST(cfut_future_set_error(f, 1, NULL), CFUT_OK);
        } else {
            CHECK(cfut_future_cancel(f));
        }
        CHECK_EQ(atomic_load(&r.calls), 5);
        for (int i = 0; i < 5; i++) {
            CHECK_EQ(r.order[i], i);
        }
        CHECK_EQ(atomic_load(&cbarg_drops), 5);
        /* further completions change nothing */
        CHECK(cfut_future_set_result(f, NULL, NULL) == CFUT_INVALID_STATE);
        CHECK(cfut_future_set_error(f, 3, NULL) == CFUT_INVALID_STATE);
        cfut_future_cancel(f);
        CHECK_EQ(atomic_load(&r.calls), 5);
        /* added after completion: runs at once, after the earlier ones */
        CHECK_ST(cfut_future_add_done_callback(f, record_cb, mk(&r, 5), cbarg_drop), CFUT_OK);
        CHECK_EQ(atomic_load(&r.calls), 6);
        CHECK_EQ(r.order[5], 5);
        cfut_future_release(f);
        CHECK_EQ(atomic_load(&cbarg_drops), 6);
    }
}

/* A callback on a future that is freed without ever completing never runs; its arg is
 * dropped exactly once when the future goes. */
static void callback_never_run_is_dropped(void) {
    cb_rec r = {0};
    atomic_store(&cbarg_drops, 0);
    cfut_future *f = fx_pending();
    CHECK_ST(cfut_future_add_done_callback(f, record_cb, mk(&r, 0), cbarg_drop), CFUT_OK);
    CHECK_ST(cfut_future_add_done_callback(f, record_cb, mk(&r, 1), cbarg_drop), CFUT_OK);
    cfut_future *g = cfut_future_retain(f);
    CHECK(g == f);
    cfut_future_release(f);
    CHECK_EQ(atomic_load(&cbarg_drops), 0); /* still one reference */
    cfut_future_release(g);
    CHECK_EQ(atomic_load(&cbarg_drops), 2);
    CHECK_EQ(atomic_load(&r.calls), 0);
}

/* §1.3: a callback that adds a callback to its (now done) future: the new one runs at once. */
typedef struct nested {
    atomic_int outer, inner;
} nested;
static void nested_inner(cfut_future *f, void *arg) {
    (void)f;
    atomic_fetch_add(&((nested *)arg)->inner, 1);
}
static void nested_outer(cfut_future *f, void *arg) {
    nested *n = arg;
    atomic_fetch_add(&n->outer, 1);
    CHECK_ST(cfut_future_add_done_callback(f, nested_inner, n, NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&n->inner), 1);
    /* no library lock is held while a callback runs: the future is usable from inside */
    CHECK_ST(cfut_future_set_result(f, NULL, NULL), CFUT_INVALID_STATE);
    CHECK_ST(cfut_future_set_error(f, 1, NULL), CFUT_INVALID_STATE);
    CHECK(!cfut_future_cancel(f));
    CHECK(!cfut_future_set_running_or_notify_cancel(f));
    CHECK_ST(cfut_future_wait(f, CFUT_FOREVER), CFUT_OK);
    CHECK_ST(cfut_future_result(f, CFUT_FOREVER, NULL), CFUT_OK);
    cfut_future_release(cfut_future_retain(f));
}
static void nested_callback(void) {
    nested n = {0};
    cfut_future *f = fx_pending();
    CHECK_ST(cfut_future_add_done_callback(f, nested_outer, &n, NULL), CFUT_OK);
    CHECK_ST(cfut_future_set_result(f, NULL, NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&n.outer), 1);
    CHECK_EQ(atomic_load(&n.inner), 1);
    cfut_future_release(f);
}

/* A callback may own (and release) the last reference to its future: the usual C
 * "free it when done" pattern. ASAN / valgrind check the library does not touch it after. */
static atomic_int released_in_cb;
static void release_cb(cfut_future *f, void *arg) {
    CHECK(f == arg);
    CHECK(cfut_future_done(f));
    atomic_fetch_add(&released_in_cb, 1);
    cfut_future_release(arg);
}

typedef struct owner {
    cfut_future *f;
    int how;
} owner;

static void *complete_and_release(void *p) {
    owner *o = p;
    if (o->how == 0) {
        CHECK_ST(cfut_future_set_result(o->f, NULL, NULL), CFUT_OK);
    } else {
        CHECK(cfut_future_cancel(o->f));
    }
    cfut_future_release(o->f);
    return NULL;
}

static void release_in_callback(void) {
    atomic_store(&released_in_cb, 0);
    /* already done: the callback runs at once and frees the future */
    cfut_future *f = fx_ok(1);
    CHECK_ST(cfut_future_add_done_callback(f, release_cb, f, NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&released_in_cb), 1);
    /* completed / cancelled later by another thread holding its own reference */
    for (int how = 0; how < 2; how++) {
        f = fx_pending();
        owner o = {cfut_future_retain(f), how};
        nested n2 = {0};
        CHECK_ST(cfut_future_add_done_callback(f, release_cb, f, NULL), CFUT_OK); /* our reference goes */
        CHECK_ST(cfut_future_add_done_callback(o.f, nested_inner, &n2, NULL), CFUT_OK);
        pthread_t t = spawn(complete_and_release, &o);
        join(t);
        CHECK_EQ(atomic_load(&n2.inner), 1);
    }
    CHECK_EQ(atomic_load(&released_in_cb), 3);
}

/* ---- states: 10-14, 17 ------------------------------------------------------------- */

enum { S_PENDING, S_RUNNING, S_CANCELLED, S_FAILED, S_OK, S_N };
static const char *state_names[S_N] = {"PENDING", "RUNNING", "CANCELLED", "FAILED", "OK"};

static cfut_future *make_state(int s) {
    switch (s) {
    case S_PENDING: return fx_pending();
    case S_RUNNING: return fx_running();
    case S_CANCELLED: return fx_cancelled();
    case S_FAILED: return fx_failed(5, "OSError");
    default: return fx_ok(42);
    }
}

/* 10 test_cancel, 11 test_cancelled, 12 test_done, 13 test_running */
static void cancel_and_predicates(void) {
    /*                         PENDING RUNNING CANCELLED FAILED OK */
    const bool cancel_ret[S_N] = {true, false, true, false, false};
    const bool cancelled[S_N] = {false, false, true, false, false};
    const bool done[S_N] = {false, false, true, true, true};
    const bool running[S_N] = {false, true, false, false, false};
    for (int s = 0; s < S_N; s++) {
        cfut_future *f = make_state(s);
        CHECK_MSG(cfut_future_cancelled(f) == cancelled[s], "cancelled() for %s", state_names[s]);
        CHECK_MSG(cfut_future_done(f) == done[s], "done() for %s", state_names[s]);
        CHECK_MSG(cfut_future_running(f) == running[s], "running() for %s", state_names[s]);
        CHECK_MSG(cfut_future_cancel(f) == cancel_ret[s], "cancel() for %s", state_names[s]);
        /* the state after cancel(): pending became cancelled, the rest unchanged */
        bool now_cancelled = cancelled[s] || s == S_PENDING;
        CHECK_MSG(cfut_future_cancelled(f) == now_cancelled, "cancelled() after cancel for %s", state_names[s]);
        CHECK_MSG(cfut_future_running(f) == running[s], "running() after cancel for %s", state_names[s]);
        CHECK_MSG(cfut_future_done(f) == (done[s] || s == S_PENDING), "done() after cancel for %s",
                  state_names[s]);
        cfut_future_release(f);
    }
}

/* §1.2 set_running_or_notify_cancel transitions */
static void set_running_or_notify_cancel(void) {
    const bool ret[S_N] = {true, false, false, false, false};
    for (int s = 0; s < S_N; s++) {
        cfut_future *f = make_state(s);
        CHECK_MSG(cfut_future_set_running_or_notify_cancel(f) == ret[s], "set_running for %s", state_names[s]);
        if (s == S_PENDING) {
            CHECK(cfut_future_running(f));
            CHECK(!cfut_future_done(f));
            CHECK(!cfut_future_cancel(f));
        }
        cfut_future_release(f);
    }
    /* set_result / set_error straight from PENDING (no RUNNING needed) */
    cfut_future *f = fx_pending();
    CHECK_ST(cfut_future_set_result(f, (void *)1, NULL), CFUT_OK);
    CHECK(!cfut_future_set_running_or_notify_cancel(f));
    cfut_future_release(f);
}

/* 14 test_result_with_timeout, 17 test_exception_with_timeout: timeout 0 */
static void result_and_error_with_timeout_zero(void) {
    const cfut_status want_result[S_N] = {CFUT_TIMEOUT, CFUT_TIMEOUT, CFUT_CANCELLED, CFUT_TASK_FAILED, CFUT_OK};
    const cfut_status want_error[S_N] = {CFUT_TIMEOUT, CFUT_TIMEOUT, CFUT_CANCELLED, CFUT_OK, CFUT_OK};
    for (int s = 0; s < S_N; s++) {
        cfut_future *f = make_state(s);
        void *v = (void *)0x1234;
        cfut_status st = cfut_future_result(f, 0, &v);
        CHECK_MSG(st == want_result[s], "result(0) for %s: %s", state_names[s], cfut_status_name(st));
        if (s == S_OK) {
            CHECK_EQ((intptr_t)v, 42);
        } else {
            CHECK_MSG(v == (void *)0x1234, "result(0) wrote value_out on %s", state_names[s]);
        }
        cfut_error e;
        memset(&e, 0xAB, sizeof e);
        st = cfut_future_error(f, 0, &e);
        CHECK_MSG(st == want_error[s], "error(0) for %s: %s", state_names[s], cfut_status_name(st));
        if (s == S_FAILED) {
            CHECK_ST(e.status, CFUT_TASK_FAILED);
            CHECK_EQ(e.code, 5);
            CHECK(e.message && strcmp(e.message, "OSError") == 0);
            CHECK(e.payload == NULL);
            /* the same stored error each time */
            cfut_error e2;
            CHECK_ST(cfut_future_error(f, 0, &e2), CFUT_OK);
            CHECK(e2.message == e.message);
        } else if (s == S_OK) {
            CHECK_ST(e.status, CFUT_OK);
            CHECK_EQ(e.code, 0);
            CHECK(e.message == NULL);
            CHECK(e.payload == NULL);
        }
        CHECK_ST(cfut_future_wait(f, 0), (s == S_PENDING || s == S_RUNNING) ? CFUT_TIMEOUT : CFUT_OK);
        /* a short timeout on an unfinished future: lower bound on the elapsed time */
        if (s == S_PENDING || s == S_RUNNING) {
            uint64_t t0 = now_ns();
            CHECK_ST(cfut_future_result(f, MS(30), NULL), CFUT_TIMEOUT);
            uint64_t el = now_ns() - t0;
            CHECK_MSG(el >= MS(30), "result(30ms) returned after %llu ns", (unsigned long long)el);
            CHECK_MSG(el < MS(HANG_MS), "result(30ms) took %llu ns", (unsigned long long)el);
            t0 = now_ns();
            CHECK_ST(cfut_future_wait(f, MS(20)), CFUT_TIMEOUT);
            CHECK(now_ns() - t0 >= MS(20));
            t0 = now_ns();
            CHECK_ST(cfut_future_error(f, MS(20), &e), CFUT_TIMEOUT);
            CHECK(now_ns() - t0 >= MS(20));
        }
        cfut_future_release(f);
    }
}

/* ---- blocking result / error from another thread: 15, 16, 18 --------------------------- */

typedef struct completer {
    cfut_future *f;
    int how; /* 0 set_result, 1 cancel, 2 set_error */
    gate *started;
} completer;

static void *complete_thread(void *p) {
    completer *c = p;
    if (c->started) {
        gate_wait(c->started, HANG_MS);
    }
    switch (c->how) {
    case 0: CHECK_ST(cfut_future_set_result(c->f, (void *)(intptr_t)42, NULL), CFUT_OK); break;
    case 1: CHECK(cfut_future_cancel(c->f)); break;
    default: CHECK_ST(cfut_future_set_error(c->f, 9, "OSError"), CFUT_OK); break;
    }
    return NULL;
}

static void blocking_result_and_error(void) {
    /* 15 test_result_with_success */
    {
        cfut_future *f = fx_pending();
        completer c = {f, 0, NULL};
        pthread_t t = spawn(complete_thread, &c);
        void *v = NULL;
        CHECK_ST(cfut_future_result(f, CFUT_SECONDS(20), &v), CFUT_OK);
        CHECK_EQ((intptr_t)v, 42);
        join(t);
        cfut_future_release(f);
    }
    /* a timeout so large its deadline overflows still waits (and wakes) */
    {
        cfut_future *f = fx_pending();
        completer c = {f, 0, NULL};
        pthread_t t = spawn(complete_thread, &c);
        void *v = NULL;
        CHECK_ST(cfut_future_result(f, UINT64_MAX - 1, &v), CFUT_OK);
        CHECK_EQ((intptr_t)v, 42);
        CHECK_ST(cfut_wait(&f, 1, UINT64_MAX - 1, CFUT_ALL_COMPLETED, NULL, NULL), CFUT_OK);
        join(t);
        cfut_future_release(f);
    }
    /* 16 test_result_with_cancel (and a blocked wait without limit) */
    {
        cfut_future *f = fx_pending();
        completer c = {f, 1, NULL};
        pthread_t t = spawn(complete_thread, &c);
        CHECK_ST(cfut_future_result(f, CFUT_FOREVER, NULL), CFUT_CANCELLED);
        join(t);
        cfut_future_release(f);
    }
    /* 18 test_exception_with_success */
    {
        cfut_future *f = fx_running();
        completer c = {f, 2, NULL};
        pthread_t t = spawn(complete_thread, &c);
        cfut_error e = {0};
        CHECK_ST(cfut_future_error(f, CFUT_SECONDS(20), &e), CFUT_OK);
        CHECK_ST(e.status, CFUT_TASK_FAILED);
        CHECK_EQ(e.code, 9);
        CHECK(e.message && strcmp(e.message, "OSError") == 0);
        join(t);
        cfut_future_release(f);
    }
    /* several waiters of all kinds are all woken by one completion */
    for (int how = 0; how < 3; how++) {
        cfut_future *f = fx_pending();
        gate g;
        gate_init(&g);
        completer c = {f, how, &g};
        pthread_t t = spawn(complete_thread, &c);
        gate_open(&g);
        CHECK_ST(cfut_future_wait(f, CFUT_FOREVER), CFUT_OK);
        CHECK(cfut_future_done(f));
        join(t);
        cfut_future_release(f);
        gate_destroy(&g);
    }
}

/* ---- 19, 20: multiple set ------------------------------------------------------------ */

static void multiple_set(void) {
    atomic_int drops = 0;
    /* 19 test_multiple_set_result */
    cfut_future *f = fx_pending();
    token *first = tok_new(&drops, 1), *second = tok_new(&drops, 2);
    CHECK_ST(cfut_future_set_result(f, first, tok_drop), CFUT_OK);
    CHECK_ST(cfut_future_set_result(f, second, tok_drop), CFUT_INVALID_STATE);
    CHECK_EQ(atomic_load(&drops), 1); /* the rejected value is dropped at once */
    void *v = NULL;
    CHECK_ST(cfut_future_result(f, 0, &v), CFUT_OK);
    CHECK(v == first);
    CHECK_EQ(tok_value(v), 1);
    CHECK_ST(cfut_future_set_error(f, 1, "x"), CFUT_INVALID_STATE);
    CHECK_ST(cfut_future_result(f, 0, &v), CFUT_OK);
    CHECK(v == first);
    cfut_future_release(f);
    CHECK_EQ(atomic_load(&drops), 2);

    /* 20 test_multiple_set_exception */
    f = fx_pending();
    CHECK_ST(cfut_future_set_error(f, 11, "first"), CFUT_OK);
    CHECK_ST(cfut_future_set_error(f, 12, "second"), CFUT_INVALID_STATE);
    token *t3 = tok_new(&drops, 3);
    CHECK_ST(cfut_future_set_result(f, t3, tok_drop), CFUT_INVALID_STATE);
    CHECK_EQ(atomic_load(&drops), 3);
    cfut_error e;
    CHECK_ST(cfut_future_error(f, 0, &e), CFUT_OK);
    CHECK_EQ(e.code, 11);
    CHECK(e.message && strcmp(e.message, "first") == 0);
    cfut_future_release(f);

    /* a cancelled future refuses both (InvalidStateError) */
    f = fx_cancelled();
    CHECK_ST(cfut_future_set_result(f, tok_new(&drops, 4), tok_drop), CFUT_INVALID_STATE);
    CHECK_EQ(atomic_load(&drops), 4);
    CHECK_ST(cfut_future_set_error(f, 1, NULL), CFUT_INVALID_STATE);
    CHECK_ST(cfut_future_result(f, 0, NULL), CFUT_CANCELLED);
    cfut_future_release(f);
}

/* value_drop runs exactly once, when the last reference goes; the value is borrowed until
 * then. result_bytes on a pointer value is (pointer, 0); on "nothing set" (NULL, 0). */
static void value_ownership_and_refcount(void) {
    atomic_int drops = 0;
    cfut_future *f = fx_pending();
    token *t = tok_new(&drops, 77);
    CHECK_ST(cfut_future_set_result(f, t, tok_drop), CFUT_OK);
    cfut_future *g = cfut_future_retain(f);
    cfut_future *h = cfut_future_retain(g);
    CHECK(g == f && h == f);
    cfut_future_release(f);
    cfut_future_release(g);
    CHECK_EQ(atomic_load(&drops), 0);
    const void *data = NULL;
    size_t len = 99;
    CHECK_ST(cfut_future_result_bytes(h, 0, &data, &len), CFUT_OK);
    CHECK(data == t);
    CHECK_EQ(len, 0);
    CHECK_EQ(tok_value(data), 77);
    CHECK_ST(cfut_future_result_bytes(h, 0, NULL, NULL), CFUT_OK);
    cfut_future_release(h);
    CHECK_EQ(atomic_load(&drops), 1);

    /* a value without a drop function stays the caller's */
    f = fx_ok(123);
    CHECK_ST(cfut_future_result_bytes(f, 0, &data, &len), CFUT_OK);
    CHECK_EQ((intptr_t)data, 123);
    cfut_future_release(f);

    /* result_bytes on the other outcomes: same statuses as result */
    f = fx_failed(3, NULL);
    data = (const void *)0x1;
    len = 7;
    CHECK_ST(cfut_future_result_bytes(f, 0, &data, &len), CFUT_TASK_FAILED);
    CHECK(data == (const void *)0x1 && len == 7);
    cfut_error e;
    CHECK_ST(cfut_future_error(f, 0, &e), CFUT_OK);
    CHECK(e.message == NULL);
    cfut_future_release(f);
    f = fx_cancelled();
    CHECK_ST(cfut_future_result_bytes(f, 0, &data, &len), CFUT_CANCELLED);
    cfut_future_release(f);
    f = fx_pending();
    CHECK_ST(cfut_future_result_bytes(f, 0, &data, &len), CFUT_TIMEOUT);
    /* a pending future released with a value never set: nothing to drop */
    cfut_future_release(f);
}

/* A running future can be completed from another thread while several threads read its
 * state: predicates stay consistent (done never goes back; a done future keeps its value). */
typedef struct snap_ctx {
    cfut_future *f;
    atomic_bool stop;
    atomic_int bad;
} snap_ctx;

static void *snap_reader(void *p) {
    snap_ctx *c = p;
    bool seen_done = false;
    while (!atomic_load(&c->stop)) {
        bool d = cfut_future_done(c->f);
        if (seen_done && !d) {
            atomic_fetch_add(&c->bad, 1);
        }
        if (d) {
            void *v = NULL;
            if (cfut_future_result(c->f, 0, &v) != CFUT_OK || (intptr_t)v != 42) {
                atomic_fetch_add(&c->bad, 1);
            }
            seen_done = true;
        }
    }
    return NULL;
}

/* 21 test_get_snapshot analogue */
static void snapshot_consistency(void) {
    for (int round = 0; round < 5; round++) {
        snap_ctx c = {.f = fx_running()};
        pthread_t r[4];
        for (int i = 0; i < 4; i++) {
            r[i] = spawn(snap_reader, &c);
        }
        CHECK_ST(cfut_future_set_result(c.f, (void *)42, NULL), CFUT_OK);
        /* let the readers observe the done state once */
        CHECK_ST(cfut_future_wait(c.f, CFUT_FOREVER), CFUT_OK);
        atomic_store(&c.stop, true);
        for (int i = 0; i < 4; i++) {
            join(r[i]);
        }
        CHECK_EQ(atomic_load(&c.bad), 0);
        cfut_future_release(c.f);
    }
}

void test_futures(void) {
    RUN(done_callback_with_result);
    RUN(done_callback_with_exception);
    RUN(done_callback_with_cancel);
    RUN(done_callback_already_done);
    RUN(callbacks_in_order_exactly_once);
    RUN(callback_never_run_is_dropped);
    RUN(nested_callback);
    RUN(release_in_callback);
    RUN(cancel_and_predicates);
    RUN(set_running_or_notify_cancel);
    RUN(result_and_error_with_timeout_zero);
    RUN(blocking_result_and_error);
    RUN(multiple_set);
    RUN(value_ownership_and_refcount);
    RUN(snapshot_consistency);
}
