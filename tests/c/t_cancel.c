/*
 * Cooperative cancellation (cfut_future_request_cancel, cfut_result_cancel_requested,
 * cfut_result_set_cancelled) and task groups (cfut_group_*) on thread pools.
 */
#include "util.h"

#include <unistd.h>

/* ---- cancellation ------------------------------------------------------------------------ */

typedef struct poller {
    gate started;
    gate called; /* the done-callback ran (it runs after waiters wake) */
    atomic_ullong stopped_at; /* now_ns() when the task saw the request */
    atomic_int callbacks;
    bool acknowledge;
} poller;

static int32_t poll_until_asked(void *arg, cfut_result *out) {
    poller *p = arg;
    gate_open(&p->started);
    uint64_t give_up = now_ns() + MS(HANG_MS);
    while (!cfut_result_cancel_requested(out)) {
        if (now_ns() > give_up) {
            return 99;
        }
    }
    atomic_store(&p->stopped_at, now_ns());
    if (p->acknowledge) {
        CHECK_ST(cfut_result_set_cancelled(out), CFUT_OK);
        return 7; /* ignored: an acknowledged task ends CANCELLED whatever it returns */
    }
    return 0;
}

static void count_cb(cfut_future *f, void *arg) {
    (void)f;
    atomic_fetch_add(&((poller *)arg)->callbacks, 1);
    gate_open(&((poller *)arg)->called);
}

/* A running task that polls stops within a bound of the request and ends CANCELLED. */
static void running_task_stops_on_request(void) {
    cfut_executor *ex = new_pool(2);
    for (int ack = 1; ack >= 0; ack--) {
        poller p = {.acknowledge = ack};
        gate_init(&p.started);
        gate_init(&p.called);
        cfut_future *f = NULL;
        CHECK_ST(cfut_executor_submit(ex, poll_until_asked, &p, NULL, &f), CFUT_OK);
        CHECK_ST(cfut_future_add_done_callback(f, count_cb, &p, NULL), CFUT_OK);
        CHECK(gate_wait(&p.started, HANG_MS));
        CHECK(cfut_future_running(f));
        uint64_t t0 = now_ns();
        CHECK(!cfut_future_request_cancel(f)); /* running: only asked */
        CHECK(!cfut_future_cancel(f));         /* CPython's cancel() leaves it running */
        CHECK_ST(cfut_future_wait(f, MS(HANG_MS)), CFUT_OK);
        uint64_t lat = atomic_load(&p.stopped_at) - t0;
        CHECK_MSG(lat < MS(500), "the task saw the request after %.3f ms", lat / 1e6);
        if (t_verbose) {
            printf("    request seen after %.1f us (thread pool)\n", lat / 1e3);
        }
        CHECK(gate_wait(&p.called, HANG_MS));
        CHECK_EQ(atomic_load(&p.callbacks), 1);
        if (ack) {
            CHECK(cfut_future_cancelled(f));
            CHECK_ST(cfut_future_result(f, 0, NULL), CFUT_CANCELLED);
            cfut_error e;
            CHECK_ST(cfut_future_error(f, 0, &e), CFUT_CANCELLED);
        } else {
            CHECK(!cfut_future_cancelled(f)); /* ignored the request: finished normally */
            CHECK_ST(cfut_future_result(f, 0, NULL), CFUT_OK);
        }
        CHECK(cfut_future_request_cancel(f) == (bool)ack); /* done: left alone */
        cfut_future_release(f);
        cfut_executor_free(ex); /* joins the workers: no callback still runs on p */
        ex = new_pool(2);
        CHECK_EQ(atomic_load(&p.callbacks), 1);
        gate_destroy(&p.started);
        gate_destroy(&p.called);
    }
    cfut_executor_free(ex);
}

static int32_t blocker(void *arg, cfut_result *out) {
    (void)out;
    gate *g = arg;
    gate_wait(g, HANG_MS);
    return 0;
}

static int32_t never_runs(void *arg, cfut_result *out) {
    (void)arg;
    (void)out;
    return 0;
}

/* Pending: cancelled at once, arg dropped once. Done: untouched. Bad input. */
static void request_cancel_pending_done_and_bad_input(void) {
    cfut_executor *ex = new_pool(1);
    gate g;
    gate_init(&g);
    cfut_future *busy = NULL, *queued = NULL;
    atomic_int drops = 0;
    CHECK_ST(cfut_executor_submit(ex, blocker, &g, NULL, &busy), CFUT_OK);
    CHECK_ST(cfut_executor_submit(ex, never_runs, tok_new(&drops, 1), tok_drop, &queued), CFUT_OK);
    CHECK(cfut_future_request_cancel(queued));
    CHECK(cfut_future_cancelled(queued) && cfut_future_done(queued));
    CHECK_EQ(atomic_load(&drops), 1);
    CHECK(cfut_future_request_cancel(queued)); /* already cancelled */
    gate_open(&g);
    CHECK_ST(cfut_future_result(busy, MS(HANG_MS), NULL), CFUT_OK);
    CHECK(!cfut_future_request_cancel(busy));
    CHECK(!cfut_future_cancelled(busy));
    cfut_future_release(busy);
    cfut_future_release(queued);
    gate_destroy(&g);
    cfut_executor_free(ex);

    CHECK(!cfut_future_request_cancel(NULL));
    CHECK(!cfut_result_cancel_requested(NULL));
    CHECK_ST(cfut_result_set_cancelled(NULL), CFUT_INVALID_ARGUMENT);
    /* A standalone future: nobody runs it, a request only sets its flag. */
    cfut_future *f = NULL;
    CHECK_ST(cfut_future_new(&f), CFUT_OK);
    CHECK(cfut_future_set_running_or_notify_cancel(f));
    CHECK(!cfut_future_request_cancel(f));
    CHECK(cfut_future_running(f));
    CHECK_ST(cfut_future_set_result(f, NULL, NULL), CFUT_OK);
    cfut_future_release(f);
}

/* A task may acknowledge without a request: its value is dropped, it ends CANCELLED. */
static int32_t ack_unasked(void *arg, cfut_result *out) {
    CHECK(!cfut_result_cancel_requested(out));
    cfut_result_set_value(out, arg, tok_drop);
    CHECK_ST(cfut_result_set_cancelled(out), CFUT_OK);
    return 0;
}

static void acknowledge_without_request(void) {
    cfut_executor *ex = new_pool(1);
    atomic_int drops = 0;
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(ex, ack_unasked, tok_new(&drops, 3), NULL, &f), CFUT_OK);
    CHECK_ST(cfut_future_wait(f, MS(HANG_MS)), CFUT_OK);
    CHECK(cfut_future_cancelled(f));
    CHECK_EQ(atomic_load(&drops), 1);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

/* Requests racing completion: each future ends exactly one way, every drop runs once. */
typedef struct racer {
    atomic_int *value_drops, *ran;
    int spins;
} racer;

static void racer_drop(void *p) {
    free(p);
}

static int32_t race_task(void *arg, cfut_result *out) {
    racer *r = arg;
    atomic_fetch_add(r->ran, 1);
    for (int i = 0; i < r->spins; i++) {
        if (cfut_result_cancel_requested(out)) {
            cfut_result_set_cancelled(out);
            break;
        }
    }
    cfut_result_set_value(out, tok_new(r->value_drops, 1), tok_drop);
    return 0;
}

static void count_any(cfut_future *f, void *arg) {
    (void)f;
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void cancel_races_completion(void) {
    enum { N = 3000 };
    cfut_executor *ex = new_pool(4);
    atomic_int value_drops = 0, callbacks = 0, ran = 0;
    static cfut_future *fs[N];
    int cancelled = 0, finished = 0;
    for (int i = 0; i < N; i++) {
        racer *r = malloc(sizeof *r);
        r->value_drops = &value_drops;
        r->ran = &ran;
        r->spins = (i * 37) % 20000;
        CHECK_ST(cfut_executor_submit(ex, race_task, r, racer_drop, &fs[i]), CFUT_OK);
        CHECK_ST(cfut_future_add_done_callback(fs[i], count_any, &callbacks, NULL), CFUT_OK);
        /* after 0-60 us the task is pending, running or done, depending on timing */
        uint64_t until = now_ns() + (uint64_t)(i * 7919) % 60000;
        while (now_ns() < until) {
        }
        if (i % 3 != 2) {
            cfut_future_request_cancel(fs[i]);
        }
    }
    for (int i = 0; i < N; i++) {
        CHECK_ST(cfut_future_wait(fs[i], MS(HANG_MS)), CFUT_OK);
        bool c = cfut_future_cancelled(fs[i]);
        void *v = NULL;
        cfut_status st = cfut_future_result(fs[i], 0, &v);
        CHECK(c ? st == CFUT_CANCELLED : (st == CFUT_OK && tok_value(v) == 1));
        cancelled += c;
        finished += !c;
    }
    CHECK_EQ(cancelled + finished, N);
    for (int i = 0; i < N; i++) {
        cfut_future_release(fs[i]);
    }
    cfut_executor_free(ex);
    /* Callbacks run after waiters wake, on the completing worker: count them once the
     * workers are joined. */
    CHECK_EQ(atomic_load(&callbacks), N);
    /* every task that ran set one value (kept or dropped with its cancelled future) */
    CHECK_EQ(atomic_load(&value_drops), atomic_load(&ran));
    if (t_verbose) {
        printf("    %d cancelled (%d before starting), %d finished\n", cancelled, N - atomic_load(&ran), finished);
    }
}

/* A map whose timeout passes asks its running chunks to stop before their next item. */
static atomic_int items_run;
static int32_t slow_item(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    (void)item;
    (void)slot;
    atomic_fetch_add(&items_run, 1);
    usleep(2000); /* the work: 2 ms per item */
    return 0;
}

static void map_timeout_stops_running_chunks(void) {
    cfut_executor *ex = new_pool(2);
    enum { N = 400 };
    static int items[N];
    cfut_map_options o;
    cfut_map_options_init(&o);
    o.chunksize = 200; /* two chunks of 400 ms each */
    o.timeout_ns = MS(30);
    cfut_map *m = NULL;
    atomic_store(&items_run, 0);
    uint64_t t0 = now_ns();
    CHECK_ST(cfut_executor_map(ex, slow_item, NULL, 0, items, N, sizeof(int), NULL, 0, &o, &m), CFUT_OK);
    CHECK_ST(cfut_map_wait(m, NULL), CFUT_TIMEOUT);
    cfut_map_free(m);
    uint64_t took = now_ns() - t0;
    int ran = atomic_load(&items_run);
    CHECK_MSG(ran < N, "all %d items ran although the map timed out", ran);
    if (t_verbose) {
        printf("    map timed out: %d of %d items ran, free after %.1f ms\n", ran, N, took / 1e6);
    }
    cfut_executor_free(ex);
}

/* cfut_future_on_cancel_request: the hook runs once on a request; its arg drops once. */
static void hook_count(void *arg) {
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void cancel_request_hooks(void) {
    cfut_future *f = NULL;
    CHECK_ST(cfut_future_new(&f), CFUT_OK);
    atomic_int calls = 0, drops = 0, drops2 = 0;
    CHECK_ST(cfut_future_on_cancel_request(f, hook_count, &calls, NULL), CFUT_OK);
    CHECK(cfut_future_set_running_or_notify_cancel(f));
    CHECK_ST(cfut_future_on_cancel_request(f, hook_count, &calls, NULL), CFUT_OK);
    CHECK(!cfut_future_request_cancel(f));
    CHECK(!cfut_future_request_cancel(f));
    CHECK_EQ(atomic_load(&calls), 2);
    /* after the request: runs at once */
    CHECK_ST(cfut_future_on_cancel_request(f, hook_count, &calls, NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&calls), 3);
    CHECK_ST(cfut_future_set_result(f, NULL, NULL), CFUT_OK);
    cfut_future_release(f);
    /* completes first: never called, dropped once */
    CHECK_ST(cfut_future_new(&f), CFUT_OK);
    CHECK_ST(cfut_future_on_cancel_request(f, hook_count, &calls, NULL), CFUT_OK);
    CHECK_ST(cfut_future_on_cancel_request(f, hook_count, tok_new(&drops, 1), tok_drop), CFUT_OK);
    CHECK_ST(cfut_future_set_result(f, NULL, NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&drops), 1);
    CHECK_ST(cfut_future_on_cancel_request(f, hook_count, tok_new(&drops2, 1), tok_drop), CFUT_OK);
    CHECK_EQ(atomic_load(&drops2), 1); /* done: dropped at once */
    cfut_future_release(f);
    CHECK_EQ(atomic_load(&calls), 3);
    CHECK_ST(cfut_future_on_cancel_request(NULL, hook_count, tok_new(&drops, 2), tok_drop), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(atomic_load(&drops), 2);
    CHECK_ST(cfut_future_new(&f), CFUT_OK);
    CHECK_ST(cfut_future_on_cancel_request(f, NULL, tok_new(&drops, 3), tok_drop), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(atomic_load(&drops), 3);
    atomic_int pending_drop = 0;
    CHECK_ST(cfut_future_on_cancel_request(f, hook_count, tok_new(&pending_drop, 1), tok_drop), CFUT_OK);
    cfut_future_release(f); /* freed without completing: a pending hook's arg drops */
    CHECK_EQ(atomic_load(&pending_drop), 1);
}

void test_cancel(void) {
    RUN(cancel_request_hooks);
    RUN(running_task_stops_on_request);
    RUN(request_cancel_pending_done_and_bad_input);
    RUN(acknowledge_without_request);
    RUN(cancel_races_completion);
    RUN(map_timeout_stops_running_chunks);
}

/* ---- groups -------------------------------------------------------------------------------- */

typedef struct tree {
    cfut_group *g;
    int depth;
    atomic_int *count;
} tree;

static void tree_drop(void *p) {
    free(p);
}

/* Submits two children into its own group until `depth` is 0. */
static int32_t tree_task(void *arg, cfut_result *out) {
    (void)out;
    tree *t = arg;
    atomic_fetch_add(t->count, 1);
    if (t->depth > 0) {
        for (int i = 0; i < 2; i++) {
            tree *c = malloc(sizeof *c);
            *c = (tree){t->g, t->depth - 1, t->count};
            CHECK_ST(cfut_group_submit(t->g, tree_task, c, tree_drop, NULL), CFUT_OK);
        }
    }
    return 0;
}

static void group_waits_for_children(void) {
    cfut_executor *ex = new_pool(3);
    cfut_group *g = NULL;
    CHECK_ST(cfut_group_new(ex, 0, &g), CFUT_OK);
    atomic_int count = 0;
    tree *root = malloc(sizeof *root);
    *root = (tree){g, 9, &count};
    CHECK_ST(cfut_group_submit(g, tree_task, root, tree_drop, NULL), CFUT_OK);
    cfut_error e = {.status = 12345};
    CHECK_ST(cfut_group_wait(g, MS(HANG_MS), &e), CFUT_OK);
    CHECK_EQ(e.status, 12345); /* untouched */
    CHECK_EQ(atomic_load(&count), (1 << 10) - 1);
    CHECK_ST(cfut_group_wait(g, 0, NULL), CFUT_OK);
    cfut_group_free(g);
    cfut_executor_free(ex);
}

typedef struct failfast {
    atomic_int ran, stopped;
} failfast;

static int32_t fail_task(void *arg, cfut_result *out) {
    (void)arg;
    cfut_result_set_error(out, 42, "needle not found: disk on fire");
    return 42;
}

/* ~50 us of work, polling for a cancellation request. */
static int32_t work_task(void *arg, cfut_result *out) {
    failfast *s = arg;
    atomic_fetch_add(&s->ran, 1);
    uint64_t end = now_ns() + 50000;
    while (now_ns() < end) {
        if (cfut_result_cancel_requested(out)) {
            atomic_fetch_add(&s->stopped, 1);
            cfut_result_set_cancelled(out);
            return 0;
        }
    }
    return 0;
}

static void cancel_on_failure_10000(void) {
    enum { N = 10000 };
    cfut_executor *ex = new_pool(4);
    cfut_group *g = NULL;
    CHECK_ST(cfut_group_new(ex, CFUT_GROUP_CANCEL_ON_FAILURE, &g), CFUT_OK);
    failfast s = {0};
    int refused = 0;
    uint64_t t0 = now_ns();
    for (int i = 0; i < N; i++) {
        cfut_status st = i == 10 ? cfut_group_submit(g, fail_task, NULL, NULL, NULL)
                                 : cfut_group_submit(g, work_task, &s, NULL, NULL);
        if (st == CFUT_CANCELLED) {
            refused++;
        } else {
            CHECK_ST(st, CFUT_OK);
        }
    }
    cfut_error e;
    CHECK_ST(cfut_group_wait(g, MS(HANG_MS), &e), CFUT_TASK_FAILED);
    uint64_t took = now_ns() - t0;
    CHECK_EQ(e.status, CFUT_TASK_FAILED);
    CHECK_EQ(e.code, 42);
    CHECK(e.message && strcmp(e.message, "needle not found: disk on fire") == 0);
    int ran = atomic_load(&s.ran);
    CHECK_MSG(ran < N - 1, "every task ran (%d)", ran);
    CHECK_ST(cfut_group_submit(g, work_task, &s, NULL, NULL), CFUT_CANCELLED);
    printf("    cancel-on-failure group of %d: %d ran (%d stopped on request), %d cancelled before starting, "
           "%d refused at submit; %.1f ms\n",
           N, ran, atomic_load(&s.stopped), N - 1 - ran - refused, refused, took / 1e6);
    /* the message stays valid until the group is freed */
    CHECK(strcmp(e.message, "needle not found: disk on fire") == 0);
    cfut_group_free(g);
    cfut_executor_free(ex);
}

typedef struct spinner {
    gate started;
    atomic_int running, ended;
} spinner;

static int32_t spin_until_asked(void *arg, cfut_result *out) {
    spinner *s = arg;
    atomic_fetch_add(&s->running, 1);
    gate_add(&s->started, 1);
    uint64_t give_up = now_ns() + MS(HANG_MS);
    while (!cfut_result_cancel_requested(out) && now_ns() < give_up) {
    }
    atomic_fetch_add(&s->ended, 1);
    return 0; /* not acknowledged: the task ends normally */
}

static void group_cancel_and_timeout(void) {
    cfut_executor *ex = new_pool(2);
    cfut_group *g = NULL;
    CHECK_ST(cfut_group_new(ex, 0, &g), CFUT_OK);
    spinner s = {0};
    gate_init(&s.started);
    atomic_int drops = 0;
    for (int i = 0; i < 2; i++) {
        CHECK_ST(cfut_group_submit(g, spin_until_asked, &s, NULL, NULL), CFUT_OK);
    }
    cfut_future *queued = NULL;
    CHECK_ST(cfut_group_submit(g, never_runs, tok_new(&drops, 1), tok_drop, &queued), CFUT_OK);
    CHECK(gate_wait_count(&s.started, 2, HANG_MS));
    CHECK_ST(cfut_group_wait(g, MS(20), NULL), CFUT_TIMEOUT);
    CHECK_ST(cfut_group_wait(g, 0, NULL), CFUT_TIMEOUT);
    cfut_group_cancel(g);
    CHECK_ST(cfut_group_wait(g, MS(HANG_MS), NULL), CFUT_CANCELLED);
    CHECK_EQ(atomic_load(&s.ended), 2);
    CHECK(cfut_future_cancelled(queued));
    CHECK_EQ(atomic_load(&drops), 1);
    CHECK_ST(cfut_group_submit(g, never_runs, tok_new(&drops, 2), tok_drop, NULL), CFUT_CANCELLED);
    CHECK_EQ(atomic_load(&drops), 2);
    CHECK_ST(cfut_group_submit_bytes(g, NULL, NULL, 0, NULL), CFUT_INVALID_ARGUMENT);
    cfut_future_release(queued);
    cfut_group_free(g);
    gate_destroy(&s.started);
    cfut_executor_free(ex);
}

/* Free from outside: running tasks are asked to stop and waited for. */
static void group_free_from_outside(void) {
    cfut_executor *ex = new_pool(3);
    cfut_group *g = NULL;
    CHECK_ST(cfut_group_new(ex, 0, &g), CFUT_OK);
    spinner s = {0};
    gate_init(&s.started);
    for (int i = 0; i < 3; i++) {
        CHECK_ST(cfut_group_submit(g, spin_until_asked, &s, NULL, NULL), CFUT_OK);
    }
    atomic_int drops = 0;
    for (int i = 0; i < 5; i++) {
        CHECK_ST(cfut_group_submit(g, never_runs, tok_new(&drops, i), tok_drop, NULL), CFUT_OK);
    }
    CHECK(gate_wait_count(&s.started, 3, HANG_MS));
    cfut_group_free(g);
    CHECK_EQ(atomic_load(&s.ended), 3); /* no task outlives its group */
    CHECK_EQ(atomic_load(&drops), 5);
    gate_destroy(&s.started);
    cfut_executor_free(ex);
}

/* Free from inside one of the group's tasks: returns at once, the group goes with its last task. */
typedef struct inside {
    cfut_group *g;
    gate freed, release_sibling;
    atomic_int later_submit;
    atomic_int wait_status;
} inside;

static int32_t sibling(void *arg, cfut_result *out) {
    inside *in = arg;
    gate_wait(&in->release_sibling, HANG_MS);
    /* the group was freed by another task: the handle is still valid for its tasks */
    atomic_store(&in->later_submit, (int)cfut_group_submit(in->g, never_runs, NULL, NULL, NULL));
    (void)out;
    return 0;
}

static int32_t freer(void *arg, cfut_result *out) {
    (void)out;
    inside *in = arg;
    atomic_store(&in->wait_status, (int)cfut_group_wait(in->g, MS(HANG_MS), NULL));
    cfut_group_free(in->g); /* must not wait for itself */
    gate_open(&in->freed);
    return 0;
}

static void group_free_from_inside(void) {
    cfut_executor *ex = new_pool(2);
    inside in = {0};
    gate_init(&in.freed);
    gate_init(&in.release_sibling);
    CHECK_ST(cfut_group_new(ex, 0, &in.g), CFUT_OK);
    cfut_future *fs = NULL, *ff = NULL;
    CHECK_ST(cfut_group_submit(in.g, sibling, &in, NULL, &fs), CFUT_OK);
    CHECK_ST(cfut_group_submit(in.g, freer, &in, NULL, &ff), CFUT_OK);
    CHECK(gate_wait(&in.freed, HANG_MS));
    CHECK_ST(cfut_future_wait(ff, MS(HANG_MS)), CFUT_OK);
    CHECK_EQ(atomic_load(&in.wait_status), CFUT_WOULD_DEADLOCK);
    gate_open(&in.release_sibling);
    CHECK_ST(cfut_future_wait(fs, MS(HANG_MS)), CFUT_OK);
    CHECK_EQ(atomic_load(&in.later_submit), CFUT_CANCELLED);
    cfut_future_release(fs);
    cfut_future_release(ff);
    cfut_executor_free(ex); /* the group went with its last task (leak checkers confirm) */
    gate_destroy(&in.freed);
    gate_destroy(&in.release_sibling);
}

/* Free from outside while tasks keep submitting children: every child is refused or runs,
 * every argument drops once, and free returns once the last task ended. */
typedef struct breeder {
    cfut_group *g;
    atomic_int *drops, *refused, *ran;
} breeder;

static void breeder_drop(void *p) {
    breeder *b = p;
    atomic_fetch_add(b->drops, 1);
    free(b);
}

static int32_t breed(void *arg, cfut_result *out) {
    (void)out;
    breeder *b = arg;
    atomic_fetch_add(b->ran, 1);
    for (int i = 0; i < 2; i++) {
        breeder *c = malloc(sizeof *c);
        *c = *b;
        if (cfut_group_submit(b->g, breed, c, breeder_drop, NULL) != CFUT_OK) {
            atomic_fetch_add(b->refused, 1);
            return 0;
        }
    }
    return 0;
}

static void group_free_races_children(void) {
    for (int round = 0; round < 20; round++) {
        cfut_executor *ex = new_pool(3);
        atomic_int drops = 0, refused = 0, ran = 0;
        cfut_group *g = NULL;
        CHECK_ST(cfut_group_new(ex, 0, &g), CFUT_OK);
        breeder *root = malloc(sizeof *root);
        *root = (breeder){g, &drops, &refused, &ran};
        CHECK_ST(cfut_group_submit(g, breed, root, breeder_drop, NULL), CFUT_OK);
        uint64_t until = now_ns() + (uint64_t)(round % 5) * 200000;
        while (now_ns() < until) {
        }
        cfut_group_free(g);
        int dropped = atomic_load(&drops);
        cfut_executor_free(ex);
        CHECK_EQ(atomic_load(&drops), dropped); /* nothing ran or dropped after free */
        CHECK(dropped >= atomic_load(&ran));
    }
}

static int32_t bytes_echo(const void *in, size_t len, cfut_result *out) {
    return (int32_t)cfut_result_set_bytes(out, in, len);
}

static void group_bad_input(void) {
    cfut_executor *ex = new_pool(1);
    cfut_group *g = NULL;
    CHECK_ST(cfut_group_new(NULL, 0, &g), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_group_new(ex, 0, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_group_new(ex, 2, &g), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_group_new(ex, 0x80000000u | CFUT_GROUP_CANCEL_ON_FAILURE, &g), CFUT_INVALID_ARGUMENT);
    CHECK(g == NULL);
    atomic_int drops = 0;
    CHECK_ST(cfut_group_submit(NULL, never_runs, tok_new(&drops, 1), tok_drop, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(atomic_load(&drops), 1);
    CHECK_ST(cfut_group_submit_bytes(NULL, bytes_echo, "x", 1, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_group_wait(NULL, 0, NULL), CFUT_INVALID_ARGUMENT);
    cfut_group_cancel(NULL);
    cfut_group_free(NULL);
    CHECK_ST(cfut_group_new(ex, 0, &g), CFUT_OK);
    CHECK_ST(cfut_group_submit(g, NULL, tok_new(&drops, 2), tok_drop, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(atomic_load(&drops), 2);
    CHECK_ST(cfut_group_submit_bytes(g, bytes_echo, NULL, 3, NULL), CFUT_INVALID_ARGUMENT);
    cfut_future *f = NULL;
    CHECK_ST(cfut_group_submit_bytes(g, bytes_echo, "abc", 3, &f), CFUT_OK);
    CHECK_ST(cfut_group_wait(g, MS(HANG_MS), NULL), CFUT_OK);
    const void *d = NULL;
    size_t n = 0;
    CHECK_ST(cfut_future_result_bytes(f, 0, &d, &n), CFUT_OK);
    CHECK(n == 3 && memcmp(d, "abc", 3) == 0);
    cfut_future_release(f);
    CHECK_ST(cfut_group_wait(g, 0, NULL), CFUT_OK); /* empty group */
    cfut_executor_shutdown(ex, true, false);
    CHECK_ST(cfut_group_submit(g, never_runs, tok_new(&drops, 3), tok_drop, NULL), CFUT_SHUTDOWN);
    CHECK_EQ(atomic_load(&drops), 3);
    CHECK_ST(cfut_group_wait(g, 0, NULL), CFUT_OK);
    cfut_group_free(g);
    cfut_executor_free(ex);
}

void test_group(void) {
    RUN(group_waits_for_children);
    RUN(cancel_on_failure_10000);
    RUN(group_cancel_and_timeout);
    RUN(group_free_from_outside);
    RUN(group_free_from_inside);
    RUN(group_free_races_children);
    RUN(group_bad_input);
}
