/* Flow control and stats (contract sections 5 and 6): a bounded queue rejects the fifth
 * pending task and leaves its arg with the caller, BLOCK waits for room, CALLER_RUNS runs
 * on the submitting thread, a worker's own submit never blocks, try_submit times out, maps
 * stay within the bound, four submitting threads never queue more than max_queued, and the
 * counters equal what the test counted. */
#include "util.h"

#include <stddef.h>

static cfut_executor *bounded_pool(uint32_t workers, uint32_t max_queued, uint32_t when_full) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = workers;
    o.max_queued = max_queued;
    o.when_full = when_full;
    cfut_executor *ex = NULL;
    CHECK_ST(cfut_thread_pool_new(&o, &ex), CFUT_OK);
    return ex;
}

static cfut_executor_stats stats_of(cfut_executor *ex) {
    cfut_executor_stats s;
    memset(&s, 0xab, sizeof s);
    s.struct_size = sizeof s;
    CHECK_ST(cfut_executor_stats_get(ex, &s), CFUT_OK);
    return s;
}

/* A task that says it started, then waits for its gate. */
typedef struct blocker {
    gate started;
    gate release;
} blocker;

static void blocker_init(blocker *b) {
    gate_init(&b->started);
    gate_init(&b->release);
}

static void blocker_destroy(blocker *b) {
    gate_destroy(&b->started);
    gate_destroy(&b->release);
}

static int32_t blocking_task(void *arg, cfut_result *out) {
    (void)out;
    blocker *b = arg;
    gate_add(&b->started, 1);
    return gate_wait(&b->release, HANG_MS) ? 0 : 1;
}

static atomic_int ran;
static int32_t counting_task(void *arg, cfut_result *out) {
    (void)arg;
    (void)out;
    atomic_fetch_add(&ran, 1);
    return 0;
}

static int32_t failing_task(void *arg, cfut_result *out) {
    (void)arg;
    (void)out;
    return 5;
}

static int32_t bytes_task(const void *in, size_t len, cfut_result *out) {
    (void)in;
    (void)len;
    (void)out;
    return 0;
}

/* The checked-by case: max_queued = 4, REJECT: one task runs, four wait, the fifth pending
 * task is refused with QUEUE_FULL and the caller still owns its arg. */
static void flow_reject_fifth(void) {
    cfut_executor *ex = bounded_pool(1, 4, CFUT_WHEN_FULL_REJECT);
    blocker b;
    blocker_init(&b);
    cfut_future *fs[5] = {0};
    CHECK_ST(cfut_executor_submit(ex, blocking_task, &b, NULL, &fs[0]), CFUT_OK);
    CHECK(gate_wait_count(&b.started, 1, HANG_MS));
    atomic_int drops = 0;
    for (int i = 1; i < 5; i++) {
        CHECK_ST(cfut_executor_submit(ex, counting_task, tok_new(&drops, i), tok_drop, &fs[i]), CFUT_OK);
    }
    token *fifth = tok_new(&drops, 5);
    cfut_future *f5 = (cfut_future *)0x1;
    CHECK_ST(cfut_executor_submit(ex, counting_task, fifth, tok_drop, &f5), CFUT_QUEUE_FULL);
    CHECK(f5 == (cfut_future *)0x1); /* untouched */
    CHECK_EQ(atomic_load(&drops), 0);
    CHECK_EQ(tok_value(fifth), 5); /* still ours, alive */
    CHECK_ST(cfut_executor_try_submit(ex, counting_task, fifth, tok_drop, 0, NULL), CFUT_QUEUE_FULL);
    CHECK_ST(cfut_executor_try_submit_bytes(ex, bytes_task, "x", 1, 0, NULL), CFUT_QUEUE_FULL);
    CHECK_EQ(atomic_load(&drops), 0);
    cfut_executor_stats s = stats_of(ex);
    CHECK_EQ(s.queued, 4);
    CHECK_EQ(s.running, 1);
    CHECK_EQ(s.rejected, 3);
    CHECK_EQ(s.peak_queued, 4);
    CHECK_EQ(s.workers, 1);
    gate_open(&b.release);
    for (int i = 0; i < 5; i++) {
        CHECK_ST(cfut_future_result(fs[i], MS(HANG_MS), NULL), CFUT_OK);
        cfut_future_release(fs[i]);
    }
    CHECK_EQ(atomic_load(&drops), 4);
    /* Room again: the kept request goes in now (and its drop runs once, after the task). */
    cfut_future *again = NULL;
    CHECK_ST(cfut_executor_try_submit(ex, counting_task, fifth, tok_drop, MS(HANG_MS), &again), CFUT_OK);
    CHECK_ST(cfut_future_result(again, MS(HANG_MS), NULL), CFUT_OK);
    cfut_future_release(again);
    cfut_executor_free(ex);
    CHECK_EQ(atomic_load(&drops), 5);
    blocker_destroy(&b);
}

/* BLOCK: a submit to a full queue waits until a worker takes a task. */
typedef struct blocked_submit {
    cfut_executor *ex;
    atomic_int done;
    cfut_status st;
} blocked_submit;

static void *submit_thread(void *arg) {
    blocked_submit *bs = arg;
    bs->st = cfut_executor_submit(bs->ex, counting_task, NULL, NULL, NULL);
    atomic_store(&bs->done, 1);
    return NULL;
}

static void flow_block_waits_for_room(void) {
    cfut_executor *ex = bounded_pool(1, 1, CFUT_WHEN_FULL_BLOCK);
    blocker b;
    blocker_init(&b);
    CHECK_ST(cfut_executor_submit(ex, blocking_task, &b, NULL, NULL), CFUT_OK);
    CHECK(gate_wait_count(&b.started, 1, HANG_MS));
    CHECK_ST(cfut_executor_submit(ex, counting_task, NULL, NULL, NULL), CFUT_OK); /* fills it */
    blocked_submit bs = {.ex = ex, .done = 0, .st = CFUT_PANIC};
    pthread_t t = spawn(submit_thread, &bs);
    /* Still waiting a while later (nothing can make room while the worker is held). */
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    CHECK_EQ(atomic_load(&bs.done), 0);
    gate_open(&b.release);
    join(t);
    CHECK_ST(bs.st, CFUT_OK);
    cfut_executor_stats s = stats_of(ex);
    CHECK_EQ(s.rejected, 0);
    cfut_executor_free(ex);
    blocker_destroy(&b);
}

/* try_submit waits at most its timeout, whatever when_full says. */
static void flow_try_submit_timeout(void) {
    cfut_executor *ex = bounded_pool(1, 1, CFUT_WHEN_FULL_BLOCK);
    blocker b;
    blocker_init(&b);
    CHECK_ST(cfut_executor_submit(ex, blocking_task, &b, NULL, NULL), CFUT_OK);
    CHECK(gate_wait_count(&b.started, 1, HANG_MS));
    CHECK_ST(cfut_executor_submit(ex, counting_task, NULL, NULL, NULL), CFUT_OK);
    atomic_int drops = 0;
    token *t = tok_new(&drops, 1);
    uint64_t t0 = now_ns();
    CHECK_ST(cfut_executor_try_submit(ex, counting_task, t, tok_drop, MS(100), NULL), CFUT_QUEUE_FULL);
    uint64_t took = now_ns() - t0;
    CHECK_MSG(took >= MS(95) && took < MS(HANG_MS), "try_submit took %llu ms", (unsigned long long)(took / 1000000));
    t0 = now_ns();
    CHECK_ST(cfut_executor_try_submit_bytes(ex, bytes_task, NULL, 0, MS(50), NULL), CFUT_QUEUE_FULL);
    took = now_ns() - t0;
    CHECK_MSG(took >= MS(45) && took < MS(HANG_MS), "try_submit_bytes took %llu ms", (unsigned long long)(took / 1000000));
    CHECK_EQ(atomic_load(&drops), 0);
    tok_drop(t); /* still ours */
    CHECK_EQ(atomic_load(&drops), 1);
    gate_open(&b.release);
    /* Unbounded pools always have room. */
    cfut_executor *unb = new_pool(1);
    CHECK_ST(cfut_executor_try_submit(unb, counting_task, NULL, NULL, 0, NULL), CFUT_OK);
    cfut_executor_free(unb);
    cfut_executor_free(ex);
    blocker_destroy(&b);
}

/* CALLER_RUNS: a full queue runs the task on the submitting thread. */

static void flow_caller_runs(void) {
    cfut_executor *ex = bounded_pool(1, 1, CFUT_WHEN_FULL_CALLER_RUNS);
    blocker b;
    blocker_init(&b);
    CHECK_ST(cfut_executor_submit(ex, blocking_task, &b, NULL, NULL), CFUT_OK);
    CHECK(gate_wait_count(&b.started, 1, HANG_MS));
    CHECK_ST(cfut_executor_submit(ex, counting_task, NULL, NULL, NULL), CFUT_OK);
    where w = {.runs = 0};
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(ex, record_thread, &w, NULL, &f), CFUT_OK);
    CHECK(cfut_future_done(f)); /* ran before the submit returned */
    CHECK(atomic_load(&w.runs) == 1 && pthread_equal(w.thread, pthread_self()));
    CHECK_ST(cfut_future_result(f, 0, NULL), CFUT_OK);
    cfut_future_release(f);
    cfut_executor_stats s = stats_of(ex);
    CHECK_EQ(s.rejected, 0);
    CHECK_EQ(s.submitted, 3);
    CHECK_EQ(s.completed, 1);
    gate_open(&b.release);
    cfut_executor_shutdown(ex, true, false);
    s = stats_of(ex);
    CHECK_EQ(s.submitted, 3);
    CHECK_EQ(s.completed, 3);
    cfut_executor_free(ex);
    blocker_destroy(&b);
}

/* A worker's submit to its own full pool never blocks: BLOCK runs the task inline there,
 * try_submit gives QUEUE_FULL at once. */
typedef struct own_submit {
    cfut_executor *ex;
    gate queue_full;
    pthread_t inner_thread;
    pthread_t outer_thread;
    cfut_status submit_st, try_st;
    bool inner_done;
    uint64_t try_ns;
} own_submit;

static int32_t inner_record(void *arg, cfut_result *out) {
    (void)out;
    own_submit *o = arg;
    o->inner_thread = pthread_self();
    return 0;
}

static int32_t outer_task(void *arg, cfut_result *out) {
    (void)out;
    own_submit *o = arg;
    o->outer_thread = pthread_self();
    if (!gate_wait(&o->queue_full, HANG_MS)) {
        return 1;
    }
    cfut_future *f = NULL;
    o->submit_st = cfut_executor_submit(o->ex, inner_record, o, NULL, &f);
    o->inner_done = f && cfut_future_done(f);
    cfut_future_release(f);
    uint64_t t0 = now_ns();
    o->try_st = cfut_executor_try_submit(o->ex, inner_record, o, NULL, MS(HANG_MS), NULL);
    o->try_ns = now_ns() - t0;
    return 0;
}

static void flow_worker_submit_never_blocks(void) {
    cfut_executor *ex = bounded_pool(1, 1, CFUT_WHEN_FULL_BLOCK);
    own_submit o = {.ex = ex, .submit_st = CFUT_PANIC, .try_st = CFUT_PANIC};
    gate_init(&o.queue_full);
    cfut_future *outer = NULL;
    CHECK_ST(cfut_executor_submit(ex, outer_task, &o, NULL, &outer), CFUT_OK);
    /* Fill the queue behind the running outer task (its worker is the only one). */
    CHECK_ST(cfut_executor_submit(ex, counting_task, NULL, NULL, NULL), CFUT_OK);
    gate_open(&o.queue_full);
    CHECK_ST(cfut_future_result(outer, MS(HANG_MS), NULL), CFUT_OK);
    CHECK_ST(o.submit_st, CFUT_OK);
    CHECK(o.inner_done);
    CHECK(pthread_equal(o.inner_thread, o.outer_thread));
    CHECK_ST(o.try_st, CFUT_QUEUE_FULL);
    CHECK_MSG(o.try_ns < MS(HANG_MS / 2), "a worker's try_submit waited %llu ms", (unsigned long long)(o.try_ns / 1000000));
    cfut_future_release(outer);
    cfut_executor_free(ex);
    gate_destroy(&o.queue_full);
}

/* Four threads submit into a bounded queue: never more than max_queued wait. */
#define SUBMITTERS 4
#define PER_SUBMITTER 500

typedef struct storm {
    cfut_executor *ex;
    gate done;
    atomic_int errors;
} storm;

static int32_t storm_task(void *arg, cfut_result *out) {
    (void)out;
    gate_add(&((storm *)arg)->done, 1);
    return 0;
}

static void *storm_thread(void *arg) {
    storm *s = arg;
    for (int i = 0; i < PER_SUBMITTER; i++) {
        if (cfut_executor_submit(s->ex, storm_task, s, NULL, NULL) != CFUT_OK) {
            atomic_fetch_add(&s->errors, 1);
        }
    }
    return NULL;
}

static void flow_four_submitters_within_bound(void) {
    storm s = {.ex = bounded_pool(2, 8, CFUT_WHEN_FULL_BLOCK), .errors = 0};
    gate_init(&s.done);
    pthread_t t[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++) {
        t[i] = spawn(storm_thread, &s);
    }
    for (int i = 0; i < SUBMITTERS; i++) {
        join(t[i]);
    }
    CHECK(gate_wait_count(&s.done, SUBMITTERS * PER_SUBMITTER, HANG_MS));
    CHECK_ST(cfut_executor_shutdown(s.ex, true, false), CFUT_OK);
    cfut_executor_stats st = stats_of(s.ex);
    CHECK_EQ(atomic_load(&s.errors), 0);
    CHECK_MSG(st.peak_queued <= 8 && st.peak_queued >= 1, "peak_queued %llu", (unsigned long long)st.peak_queued);
    CHECK_EQ(st.submitted, SUBMITTERS * PER_SUBMITTER);
    CHECK_EQ(st.completed, SUBMITTERS * PER_SUBMITTER);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(st.running, 0);
    CHECK_EQ(st.rejected, 0);
    cfut_executor_free(s.ex);
    gate_destroy(&s.done);
}

/* A map with more chunks than the bound neither fails nor deadlocks (REJECT included). */
static int32_t square(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    *(long *)slot = *(const long *)item * *(const long *)item;
    return 0;
}

static void flow_map_within_bound(void) {
    cfut_executor *ex = bounded_pool(2, 2, CFUT_WHEN_FULL_REJECT);
    long items[100], results[100];
    for (int i = 0; i < 100; i++) {
        items[i] = i;
        results[i] = -1;
    }
    cfut_map_options mo = {.struct_size = sizeof mo, .chunksize = 1, .timeout_ns = CFUT_FOREVER, .max_in_flight = 0};
    cfut_map *m = NULL;
    CHECK_ST(cfut_executor_map(ex, square, NULL, 0, items, 100, sizeof(long), results, sizeof(long), &mo, &m), CFUT_OK);
    size_t bad = 99;
    CHECK_ST(cfut_map_wait(m, &bad), CFUT_OK);
    cfut_map_free(m);
    bool all = true;
    for (int i = 0; i < 100; i++) {
        all = all && results[i] == (long)i * i;
    }
    CHECK(all);
    cfut_executor_stats s = stats_of(ex);
    CHECK(s.peak_queued <= 2);
    CHECK_EQ(s.rejected, 0);
    CHECK_EQ(s.submitted, 100);
    cfut_executor_free(ex);
}

/* A group on a bounded REJECT pool waits for room: none of its tasks is refused. */
static void flow_group_waits_for_room(void) {
    cfut_executor *ex = bounded_pool(1, 1, CFUT_WHEN_FULL_REJECT);
    cfut_group *g = NULL;
    CHECK_ST(cfut_group_new(ex, 0, &g), CFUT_OK);
    atomic_store(&ran, 0);
    for (int i = 0; i < 20; i++) {
        CHECK_ST(cfut_group_submit(g, counting_task, NULL, NULL, NULL), CFUT_OK);
    }
    CHECK_ST(cfut_group_wait(g, MS(HANG_MS), NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&ran), 20);
    cfut_group_free(g);
    cfut_executor_stats s = stats_of(ex);
    CHECK_EQ(s.rejected, 0);
    CHECK(s.peak_queued <= 1);
    cfut_executor_free(ex);
}

/* The counters equal what the test did: ok, failed, cancelled while queued, rejected. */
static void stats_match_counts(void) {
    cfut_executor *ex = bounded_pool(2, 64, CFUT_WHEN_FULL_REJECT);
    cfut_executor_stats s = stats_of(ex);
    CHECK_EQ(s.workers, 0);
    CHECK_EQ(s.submitted + s.completed + s.failed + s.cancelled + s.rejected + s.queued + s.running, 0);
    blocker b;
    blocker_init(&b);
    for (int i = 0; i < 2; i++) {
        CHECK_ST(cfut_executor_submit(ex, blocking_task, &b, NULL, NULL), CFUT_OK);
    }
    CHECK(gate_wait_count(&b.started, 2, HANG_MS));
    cfut_future *fs[40];
    for (int i = 0; i < 40; i++) { /* 20 ok, 10 failing, 10 to cancel */
        CHECK_ST(cfut_executor_submit(ex, i < 30 && i % 3 == 2 ? failing_task : counting_task, NULL, NULL, &fs[i]), CFUT_OK);
    }
    int cancelled = 0;
    for (int i = 30; i < 40; i++) {
        cancelled += cfut_future_cancel(fs[i]);
    }
    CHECK_EQ(cancelled, 10);
    s = stats_of(ex);
    CHECK_EQ(s.running, 2);
    CHECK_EQ(s.queued, 40);
    CHECK_EQ(s.peak_queued, 40);
    CHECK_EQ(s.workers, 2);
    gate_open(&b.release);
    for (int i = 0; i < 40; i++) {
        cfut_future_wait(fs[i], MS(HANG_MS));
        cfut_future_release(fs[i]);
    }
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    s = stats_of(ex);
    CHECK_EQ(s.submitted, 42);
    CHECK_EQ(s.completed, 2 + 20);
    CHECK_EQ(s.failed, 10);
    CHECK_EQ(s.cancelled, 10);
    CHECK_EQ(s.queued, 0);
    CHECK_EQ(s.running, 0);
    CHECK_EQ(s.rejected, 0);
    CHECK_EQ(s.worker_restarts, 0);
    cfut_executor_free(ex);
    blocker_destroy(&b);
}

/* shutdown(cancel_futures) counts the tasks it cancels. */
static void stats_shutdown_cancel(void) {
    cfut_executor *ex = new_pool(1);
    blocker b;
    blocker_init(&b);
    CHECK_ST(cfut_executor_submit(ex, blocking_task, &b, NULL, NULL), CFUT_OK);
    CHECK(gate_wait_count(&b.started, 1, HANG_MS));
    for (int i = 0; i < 7; i++) {
        CHECK_ST(cfut_executor_submit(ex, counting_task, NULL, NULL, NULL), CFUT_OK);
    }
    CHECK_ST(cfut_executor_shutdown(ex, false, true), CFUT_OK);
    gate_open(&b.release);
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    cfut_executor_stats s = stats_of(ex);
    CHECK_EQ(s.submitted, 8);
    CHECK_EQ(s.completed, 1);
    CHECK_EQ(s.cancelled, 7);
    CHECK_EQ(s.queued, 0);
    cfut_executor_free(ex);
    blocker_destroy(&b);
}

static void flow_bad_input(void) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    CHECK_EQ(o.max_queued, 0);
    CHECK_EQ(o.when_full, CFUT_WHEN_FULL_BLOCK);
    CHECK(o.on_worker_exit == NULL && o.on_worker_exit_arg == NULL);
    CHECK_EQ(o.idle_timeout_ns, 0);
    cfut_executor *ex = NULL;
    o.when_full = 3;
    CHECK_ST(cfut_thread_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    CHECK(ex == NULL);
    /* The first 0.2 size (ending with inline_waits): the new fields are not read, even if
     * the padding after inline_waits holds garbage. */
    cfut_thread_pool_options_init(&o);
    o.max_workers = 1;
    o.max_queued = 1;          /* inside that struct's tail padding */
    o.when_full = 12345;       /* beyond it */
    o.struct_size = (uint32_t)((offsetof(cfut_thread_pool_options, inline_waits) + 1 + 7) / 8 * 8);
    CHECK_ST(cfut_thread_pool_new(&o, &ex), CFUT_OK);
    blocker b;
    blocker_init(&b);
    CHECK_ST(cfut_executor_submit(ex, blocking_task, &b, NULL, NULL), CFUT_OK);
    CHECK(gate_wait_count(&b.started, 1, HANG_MS));
    for (int i = 0; i < 3; i++) { /* unbounded: every one fits */
        CHECK_ST(cfut_executor_try_submit(ex, counting_task, NULL, NULL, 0, NULL), CFUT_OK);
    }
    gate_open(&b.release);
    cfut_executor_free(ex);
    blocker_destroy(&b);
    /* try_submit's bad input drops arg (only QUEUE_FULL keeps it with the caller). */
    atomic_int drops = 0;
    CHECK_ST(cfut_executor_try_submit(NULL, counting_task, tok_new(&drops, 1), tok_drop, 0, NULL), CFUT_INVALID_ARGUMENT);
    ex = new_pool(1);
    CHECK_ST(cfut_executor_try_submit(ex, NULL, tok_new(&drops, 2), tok_drop, 0, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(atomic_load(&drops), 2);
    CHECK_ST(cfut_executor_try_submit_bytes(NULL, bytes_task, NULL, 0, 0, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_try_submit_bytes(ex, NULL, NULL, 0, 0, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_try_submit_bytes(ex, bytes_task, NULL, 3, 0, NULL), CFUT_INVALID_ARGUMENT);
    cfut_executor_stats s;
    s.struct_size = sizeof s;
    CHECK_ST(cfut_executor_stats_get(NULL, &s), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_stats_get(ex, NULL), CFUT_INVALID_ARGUMENT);
    s.struct_size = 8;
    CHECK_ST(cfut_executor_stats_get(ex, &s), CFUT_INVALID_ARGUMENT);
    cfut_executor_free(ex);
#ifdef CFUT_START_SPAWN
    cfut_process_pool_options po;
    cfut_process_pool_options_init(&po);
    CHECK_EQ(po.max_queued, 0);
    CHECK_EQ(po.when_full, CFUT_WHEN_FULL_BLOCK);
    po.when_full = CFUT_WHEN_FULL_CALLER_RUNS;
    ex = NULL;
    CHECK_ST(cfut_process_pool_new(&po, &ex), CFUT_INVALID_ARGUMENT);
    CHECK(ex == NULL);
    po.when_full = 9;
    CHECK_ST(cfut_process_pool_new(&po, &ex), CFUT_INVALID_ARGUMENT);
#endif
}

void test_flow(void) {
    RUN(flow_bad_input);
    RUN(flow_reject_fifth);
    RUN(flow_block_waits_for_room);
    RUN(flow_try_submit_timeout);
    RUN(flow_caller_runs);
    RUN(flow_worker_submit_never_blocks);
    RUN(flow_four_submitters_within_bound);
    RUN(flow_map_within_bound);
    RUN(flow_group_waits_for_room);
    RUN(stats_match_counts);
    RUN(stats_shutdown_cancel);
}
