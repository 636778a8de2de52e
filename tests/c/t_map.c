/* cpython-spec §1.6 map, §2.2 (24, 25, 27, 31, 37, 38), §2.3 (43, 49): chunked map on the
 * thread pool, in order, going on after an item error, timeouts cancelling the rest,
 * max_in_flight, copied contexts. */
#include "util.h"

static cfut_map_options opts(size_t chunksize, uint64_t timeout_ns, size_t max_in_flight) {
    cfut_map_options o;
    cfut_map_options_init(&o);
    o.chunksize = chunksize;
    o.timeout_ns = timeout_ns;
    o.max_in_flight = max_in_flight;
    return o;
}

typedef struct pair {
    long a, b;
} pair;

/* ctx: counts calls when not NULL */
static int32_t pow_fn(const void *ctx, const void *item, void *slot) {
    const pair *p = item;
    long r = 1;
    for (long i = 0; i < p->b; i++) {
        r *= p->a;
    }
    *(long *)slot = r;
    if (ctx) {
        atomic_fetch_add((atomic_int *)ctx, 1);
    }
    return 0;
}

/* 24 test_map: pow over range(10), range(10) with chunksize 1, 3 and automatic */
static void map_in_order(void) {
    cfut_executor *ex = new_pool(5);
    pair items[10];
    for (int i = 0; i < 10; i++) {
        items[i] = (pair){i, i};
    }
    const size_t sizes[3] = {1, 3, 0};
    for (int k = 0; k < 3; k++) {
        long results[10];
        memset(results, 0, sizeof results);
        atomic_int calls = 0;
        cfut_map_options o = opts(sizes[k], CFUT_FOREVER, 0);
        cfut_map *m = NULL;
        CHECK_ST(cfut_executor_map(ex, pow_fn, &calls, 0, items, 10, sizeof(pair), results, sizeof(long), &o, &m),
                 CFUT_OK);
        size_t cs = cfut_map_chunksize(m);
        if (sizes[k]) {
            CHECK_EQ(cs, sizes[k]);
        } else {
            CHECK(cs >= 1 && cs <= 10);
        }
        for (size_t i = 0; i < 10; i++) {
            size_t idx = 999;
            cfut_error e;
            CHECK_ST(cfut_map_next(m, &idx, &e), CFUT_OK);
            CHECK_EQ(idx, i);
            CHECK_ST(e.status, CFUT_OK);
            long want = 1;
            for (size_t j = 0; j < i; j++) {
                want *= (long)i;
            }
            CHECK_EQ(results[i], want);
        }
        size_t idx = 999;
        CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
        CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
        CHECK_EQ(idx, 999);
        CHECK_EQ(atomic_load(&calls), 10);
        CHECK_ST(cfut_map_wait(m, NULL), CFUT_OK);
        cfut_map_free(m);
    }
    /* map_wait without iterating; automatic chunks over many items */
    enum { N = 1000 };
    pair *big = malloc(N * sizeof *big);
    long *res = calloc(N, sizeof *res);
    for (int i = 0; i < N; i++) {
        big[i] = (pair){i % 7, 2};
    }
    cfut_map *m = NULL;
    CHECK_ST(cfut_executor_map(ex, pow_fn, NULL, 0, big, N, sizeof(pair), res, sizeof(long), NULL, &m), CFUT_OK);
    size_t cs = cfut_map_chunksize(m);
    CHECK(cs >= 1 && cs <= N);
    size_t bad = 12345;
    CHECK_ST(cfut_map_wait(m, &bad), CFUT_OK);
    CHECK_EQ(bad, 12345);
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        wrong += res[i] != (long)(i % 7) * (i % 7);
    }
    CHECK_EQ(wrong, 0);
    CHECK_ST(cfut_map_next(m, &bad, NULL), CFUT_EXHAUSTED);
    cfut_map_free(m);
    free(big);
    free(res);
    cfut_executor_free(ex);
}

/* 25 test_map_exception ([main] semantics, gh-108518): divide, item 2 divides by zero; the
 * map goes on after the error. */
static int32_t div_fn(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    const pair *p = item;
    if (p->b == 0) {
        return 100; /* ZeroDivisionError */
    }
    ((pair *)slot)->a = p->a / p->b;
    ((pair *)slot)->b = p->a % p->b;
    return 0;
}

static void map_exception(void) {
    cfut_executor *ex = new_pool(5);
    pair items[4] = {{1, 2}, {1, 3}, {1, 0}, {1, 5}};
    const size_t sizes[3] = {1, 3, 0};
    for (int k = 0; k < 3; k++) {
        pair res[4];
        memset(res, 0, sizeof res);
        cfut_map_options o = opts(sizes[k], CFUT_FOREVER, 0);
        cfut_map *m = NULL;
        CHECK_ST(cfut_executor_map(ex, div_fn, NULL, 0, items, 4, sizeof(pair), res, sizeof(pair), &o, &m), CFUT_OK);
        for (size_t i = 0; i < 4; i++) {
            size_t idx = 999;
            cfut_error e;
            memset(&e, 0, sizeof e);
            cfut_status st = cfut_map_next(m, &idx, &e);
            CHECK_EQ(idx, i);
            if (i == 2) {
                CHECK_ST(st, CFUT_TASK_FAILED);
                CHECK_ST(e.status, CFUT_TASK_FAILED);
                CHECK_EQ(e.code, 100);
            } else {
                CHECK_ST(st, CFUT_OK);
                CHECK(res[i].a == 0 && res[i].b == 1);
            }
        }
        size_t idx;
        CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
        CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
        cfut_map_free(m);

        /* map_wait: the first failure, after every item is done */
        m = NULL;
        CHECK_ST(cfut_executor_map(ex, div_fn, NULL, 0, items, 4, sizeof(pair), res, sizeof(pair), &o, &m), CFUT_OK);
        size_t first = 999;
        CHECK_ST(cfut_map_wait(m, &first), CFUT_TASK_FAILED);
        CHECK_EQ(first, 2);
        CHECK(res[3].a == 0 && res[3].b == 1);
        cfut_map_free(m);
    }
    cfut_executor_free(ex);
}

/* ---- timeouts --------------------------------------------------------------------------- */

typedef struct blockctx {
    gate g;
    atomic_int calls;
} blockctx;

/* item 1 blocks until the gate opens */
static int32_t maybe_block_fn(const void *ctx, const void *item, void *slot) {
    (void)slot;
    blockctx *c = (blockctx *)ctx;
    atomic_fetch_add(&c->calls, 1);
    if (*(const int *)item == 1) {
        gate_add(&c->g, 1);
        return gate_wait(&c->g, HANG_MS) ? 0 : 1;
    }
    return 0;
}

/* 27 test_map_timeout: map(sleep, [0, 0, 6], timeout=5) in C: the third item blocks. */
static void map_timeout(void) {
    cfut_executor *ex = new_pool(5);
    blockctx c = {0};
    gate_init(&c.g);
    int items[3] = {0, 0, 1};
    cfut_map_options o = opts(1, MS(200), 0);
    cfut_map *m = NULL;
    uint64_t t0 = now_ns();
    CHECK_ST(cfut_executor_map(ex, maybe_block_fn, &c, 0, items, 3, sizeof(int), NULL, 0, &o, &m), CFUT_OK);
    int oks = 0;
    cfut_status st;
    size_t idx;
    while ((st = cfut_map_next(m, &idx, NULL)) == CFUT_OK) {
        CHECK_EQ(idx, (size_t)oks);
        oks++;
    }
    uint64_t el = now_ns() - t0;
    CHECK_ST(st, CFUT_TIMEOUT);
    CHECK_MSG(oks <= 2, "%d results before the timeout", oks);
    CHECK_MSG(el >= MS(200), "map timeout after %llu ns", (unsigned long long)el);
    CHECK_MSG(el < MS(HANG_MS), "map timeout after %llu ns", (unsigned long long)el);
    CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
    CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
    gate_open(&c.g);
    cfut_map_free(m);

    /* map_wait reports the timeout too */
    gate_destroy(&c.g);
    gate_init(&c.g);
    o = opts(1, MS(50), 0);
    m = NULL;
    t0 = now_ns();
    CHECK_ST(cfut_executor_map(ex, maybe_block_fn, &c, 0, items, 3, sizeof(int), NULL, 0, &o, &m), CFUT_OK);
    CHECK_ST(cfut_map_wait(m, NULL), CFUT_TIMEOUT);
    CHECK(now_ns() - t0 >= MS(50));
    CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
    gate_open(&c.g);
    cfut_map_free(m);
    cfut_executor_free(ex);
    gate_destroy(&c.g);
}

static int32_t block_task(void *arg, cfut_result *out) {
    (void)out;
    gate *g = arg;
    gate_add(g, 1);
    return gate_wait(g, HANG_MS) ? 0 : 1;
}

/* 49 test_executor_map_current_future_cancel (gh-95166): max_workers=1 saturated; map with
 * timeout 0 → CFUT_TIMEOUT, and the awaited and remaining items never start. */
static void map_timeout_cancels_current(void) {
    for (int cs = 1; cs <= 2; cs++) {
        cfut_executor *ex = new_pool(1);
        gate g;
        gate_init(&g);
        cfut_future *blocker = NULL;
        CHECK_ST(cfut_executor_submit(ex, block_task, &g, NULL, &blocker), CFUT_OK);
        CHECK(gate_wait_count(&g, 1, HANG_MS));
        atomic_int calls = 0;
        pair items[3] = {{2, 2}, {3, 3}, {4, 4}};
        long res[3] = {0};
        cfut_map_options o = opts((size_t)cs, 0, 0);
        cfut_map *m = NULL;
        CHECK_ST(cfut_executor_map(ex, pow_fn, &calls, 0, items, 3, sizeof(pair), res, sizeof(long), &o, &m), CFUT_OK);
        size_t idx;
        CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_TIMEOUT);
        CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
        gate_open(&g);
        CHECK_ST(cfut_future_result(blocker, CFUT_FOREVER, NULL), CFUT_OK);
        CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
        CHECK_EQ(atomic_load(&calls), 0);
        CHECK(res[0] == 0 && res[1] == 0 && res[2] == 0);
        cfut_map_free(m);
        cfut_future_release(blocker);
        cfut_executor_free(ex);
        gate_destroy(&g);
    }
}

/* 43 test_map_submits_without_iteration (bpo-11777) */
static void map_without_iteration(void) {
    cfut_executor *ex = new_pool(2);
    atomic_int calls = 0;
    pair items[10];
    long res[10] = {0};
    for (int i = 0; i < 10; i++) {
        items[i] = (pair){2, i};
    }
    cfut_map *m = NULL;
    cfut_map_options o = opts(1, CFUT_FOREVER, 0);
    CHECK_ST(cfut_executor_map(ex, pow_fn, &calls, 0, items, 10, sizeof(pair), res, sizeof(long), &o, &m), CFUT_OK);
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    CHECK_EQ(atomic_load(&calls), 10);
    CHECK_EQ(res[9], 512);
    /* the items can still be read after shutdown */
    size_t idx;
    for (size_t i = 0; i < 10; i++) {
        CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_OK);
        CHECK_EQ(idx, i);
    }
    cfut_map_free(m);
    cfut_executor_free(ex);
}

/* 31/37 max_in_flight (buffersize): bounded submissions */
typedef struct flight {
    gate g;
    atomic_int started;
    bool block;
} flight;

static int32_t flight_fn(const void *ctx, const void *item, void *slot) {
    flight *f = (flight *)ctx;
    atomic_fetch_add(&f->started, 1);
    *(int *)slot = *(const int *)item * 10;
    if (f->block) {
        gate_add(&f->g, 1);
        return gate_wait(&f->g, HANG_MS) ? 0 : 1;
    }
    return 0;
}

static void map_max_in_flight(void) {
    cfut_executor *ex = new_pool(4);
    int items[20], res[20];
    for (int i = 0; i < 20; i++) {
        items[i] = i;
    }
    /* 37 test_map_buffersize_when_buffer_is_full: without consumption only 2 start */
    {
        flight fl = {.block = true};
        gate_init(&fl.g);
        cfut_map_options o = opts(1, CFUT_FOREVER, 2);
        cfut_map *m = NULL;
        CHECK_ST(cfut_executor_map(ex, flight_fn, &fl, 0, items, 20, sizeof(int), res, sizeof(int), &o, &m), CFUT_OK);
        CHECK(gate_wait_count(&fl.g, 2, HANG_MS));
        gate_open(&fl.g);
        cfut_map_free(m); /* cancels what was not submitted/started, waits for the rest */
        CHECK_EQ(atomic_load(&fl.started), 2);
        gate_destroy(&fl.g);
    }
    /* 31 test_map_buffersize: in order, and never more than max_in_flight chunks queued or
     * running: while item i is read, its chunk is done and at most max_in_flight after it
     * have started. */
    const size_t flights[4] = {1, 2, 4, 8};
    for (int k = 0; k < 4; k++) {
        for (size_t cs = 1; cs <= 3; cs += 2) {
            flight fl = {.block = false};
            gate_init(&fl.g);
            memset(res, 0, sizeof res);
            cfut_map_options o = opts(cs, CFUT_FOREVER, flights[k]);
            cfut_map *m = NULL;
            CHECK_ST(cfut_executor_map(ex, flight_fn, &fl, 0, items, 20, sizeof(int), res, sizeof(int), &o, &m),
                     CFUT_OK);
            for (size_t i = 0; i < 20; i++) {
                size_t idx = 999;
                CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_OK);
                CHECK_EQ(idx, i);
                CHECK_EQ(res[i], (int)i * 10);
                size_t limit = (i / cs + 1 + flights[k]) * cs;
                int started = atomic_load(&fl.started);
                CHECK_MSG((size_t)started <= limit, "max_in_flight %zu chunksize %zu: %d started at item %zu",
                          flights[k], cs, started, i);
            }
            size_t idx;
            CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
            CHECK_EQ(atomic_load(&fl.started), 20);
            cfut_map_free(m);
            gate_destroy(&fl.g);
        }
    }
    cfut_executor_free(ex);
}

/* ctx_len > 0: the context is copied at the call; ctx_len == 0 passes the pointer itself */
typedef struct mulctx {
    long mul;
    const void *self;
} mulctx;

static int32_t mul_fn(const void *ctx, const void *item, void *slot) {
    const mulctx *c = ctx;
    *(long *)slot = c->mul * *(const int *)item;
    if (c->self && c->self != ctx) {
        return 5; /* ctx_len == 0 must pass the caller's pointer */
    }
    return 0;
}

static void map_context(void) {
    cfut_executor *ex = new_pool(1);
    gate g;
    gate_init(&g);
    cfut_future *blocker = NULL;
    CHECK_ST(cfut_executor_submit(ex, block_task, &g, NULL, &blocker), CFUT_OK);
    CHECK(gate_wait_count(&g, 1, HANG_MS));
    int items[5] = {1, 2, 3, 4, 5};
    long res[5] = {0}, res2[5] = {0};
    mulctx c = {3, NULL};
    cfut_map *m = NULL, *m2 = NULL;
    CHECK_ST(cfut_executor_map(ex, mul_fn, &c, sizeof c, items, 5, sizeof(int), res, sizeof(long), NULL, &m), CFUT_OK);
    c.mul = 1000; /* too late: the map has its own copy */
    mulctx c2 = {7, &c2};
    CHECK_ST(cfut_executor_map(ex, mul_fn, &c2, 0, items, 5, sizeof(int), res2, sizeof(long), NULL, &m2), CFUT_OK);
    gate_open(&g);
    CHECK_ST(cfut_map_wait(m, NULL), CFUT_OK);
    CHECK_ST(cfut_map_wait(m2, NULL), CFUT_OK);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(res[i], 3 * (i + 1));
        CHECK_EQ(res2[i], 7 * (i + 1));
    }
    cfut_map_free(m);
    cfut_map_free(m2);
    cfut_future_release(blocker);
    cfut_executor_free(ex);
    gate_destroy(&g);
}

/* result_size 0: NULL results allowed, the slot is NULL; count 0: exhausted at once */
static int32_t null_slot_fn(const void *ctx, const void *item, void *slot) {
    (void)item;
    atomic_fetch_add((atomic_int *)ctx, 1);
    return slot == NULL ? 0 : 1;
}

static void map_edge_cases(void) {
    cfut_executor *ex = new_pool(2);
    atomic_int calls = 0;
    char items[7] = "abcdefg";
    cfut_map *m = NULL;
    CHECK_ST(cfut_executor_map(ex, null_slot_fn, &calls, 0, items, 7, 1, NULL, 0, NULL, &m), CFUT_OK);
    CHECK_ST(cfut_map_wait(m, NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&calls), 7);
    cfut_map_free(m);
    /* result_size 0 passes a NULL slot even when results is not NULL (issue: it passed
     * results + i * 0) */
    long unused[7];
    m = NULL;
    CHECK_ST(cfut_executor_map(ex, null_slot_fn, &calls, 0, items, 7, 1, unused, 0, NULL, &m), CFUT_OK);
    CHECK_ST(cfut_map_wait(m, NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&calls), 14);
    cfut_map_free(m);
    /* a huge context copy fails cleanly instead of aborting in the allocator */
    m = NULL;
    CHECK_ST(cfut_executor_map(ex, null_slot_fn, items, SIZE_MAX - 15, items, 7, 1, NULL, 0, NULL, &m), CFUT_NO_MEMORY);
    CHECK(m == NULL);
    /* count 0 (items may be NULL) */
    m = NULL;
    CHECK_ST(cfut_executor_map(ex, null_slot_fn, &calls, 0, NULL, 0, 0, NULL, 0, NULL, &m), CFUT_OK);
    size_t idx = 77;
    CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
    CHECK_EQ(idx, 77);
    CHECK_ST(cfut_map_wait(m, NULL), CFUT_OK);
    cfut_map_free(m);
    CHECK_EQ(atomic_load(&calls), 14);
    /* freeing a map never iterated waits for its running chunks */
    long res[4];
    pair its[4] = {{2, 1}, {2, 2}, {2, 3}, {2, 4}};
    m = NULL;
    CHECK_ST(cfut_executor_map(ex, pow_fn, &calls, 0, its, 4, sizeof(pair), res, sizeof(long), NULL, &m), CFUT_OK);
    cfut_map_free(m);
    cfut_executor_free(ex);
}

/* shutdown(cancel_futures) cancels a map's queued chunks: they come out as CFUT_CANCELLED */
static void map_cancelled_by_shutdown(void) {
    cfut_executor *ex = new_pool(1);
    gate g;
    gate_init(&g);
    cfut_future *blocker = NULL;
    CHECK_ST(cfut_executor_submit(ex, block_task, &g, NULL, &blocker), CFUT_OK);
    CHECK(gate_wait_count(&g, 1, HANG_MS));
    atomic_int calls = 0;
    pair items[5] = {{1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}};
    long res[5];
    cfut_map_options o = opts(1, CFUT_FOREVER, 0);
    cfut_map *m = NULL;
    CHECK_ST(cfut_executor_map(ex, pow_fn, &calls, 0, items, 5, sizeof(pair), res, sizeof(long), &o, &m), CFUT_OK);
    CHECK_ST(cfut_executor_shutdown(ex, false, true), CFUT_OK);
    gate_open(&g);
    for (size_t i = 0; i < 5; i++) {
        size_t idx = 999;
        cfut_error e;
        CHECK_ST(cfut_map_next(m, &idx, &e), CFUT_CANCELLED);
        CHECK_EQ(idx, i);
        CHECK_ST(e.status, CFUT_CANCELLED);
    }
    size_t idx;
    CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
    /* map after shutdown: refused, nothing written */
    cfut_map *m2 = (cfut_map *)0x1;
    CHECK_ST(cfut_executor_map(ex, pow_fn, &calls, 0, items, 5, sizeof(pair), res, sizeof(long), &o, &m2),
             CFUT_SHUTDOWN);
    CHECK(m2 == (cfut_map *)0x1);
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    CHECK_EQ(atomic_load(&calls), 0);
    cfut_map_free(m);
    cfut_future_release(blocker);
    cfut_executor_free(ex);
    gate_destroy(&g);
}

/* 38 test_shutdown_race_issue12456: map of workers+1 items, then shutdown at once */
static void map_shutdown_race(void) {
    for (int round = 0; round < 10; round++) {
        cfut_executor *ex = new_pool(5);
        atomic_int calls = 0;
        pair items[6] = {{2, 0}, {2, 1}, {2, 2}, {2, 3}, {2, 4}, {2, 5}};
        long res[6] = {0};
        cfut_map *m = NULL;
        cfut_map_options o = opts(1, CFUT_FOREVER, 0);
        CHECK_ST(cfut_executor_map(ex, pow_fn, &calls, 0, items, 6, sizeof(pair), res, sizeof(long), &o, &m), CFUT_OK);
        CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
        CHECK_EQ(atomic_load(&calls), 6);
        CHECK_ST(cfut_map_wait(m, NULL), CFUT_OK);
        CHECK_EQ(res[5], 32);
        cfut_map_free(m);
        cfut_executor_free(ex);
    }
}

/* A shutdown while a bounded map is iterated: chunks that can no longer be submitted come
 * out as CFUT_SHUTDOWN, in order; the map also survives its executor being freed. */
static void map_refused_mid_iteration(void) {
    for (int how = 0; how < 2; how++) {
        cfut_executor *ex = new_pool(2);
        atomic_int calls = 0;
        pair items[6] = {{2, 1}, {2, 2}, {2, 3}, {2, 4}, {2, 5}, {2, 6}};
        long res[6] = {0};
        cfut_map_options o = opts(1, CFUT_FOREVER, 2);
        cfut_map *m = NULL;
        CHECK_ST(cfut_executor_map(ex, pow_fn, &calls, 0, items, 6, sizeof(pair), res, sizeof(long), &o, &m), CFUT_OK);
        size_t idx = 99;
        CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_OK);
        CHECK_EQ(idx, 0);
        CHECK_EQ(res[0], 2);
        if (how == 0) {
            CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
        } else {
            cfut_executor_free(ex); /* the map handle stays usable */
            ex = NULL;
        }
        int ok = 1, refused = 0;
        for (size_t i = 1; i < 6; i++) {
            cfut_error e;
            cfut_status st = cfut_map_next(m, &idx, &e);
            CHECK_EQ(idx, i);
            if (st == CFUT_OK) {
                CHECK(refused == 0); /* submitted chunks form a prefix */
                CHECK_EQ(res[i], 1L << (i + 1));
                ok++;
            } else {
                CHECK_ST(st, CFUT_SHUTDOWN);
                CHECK_ST(e.status, CFUT_SHUTDOWN);
                refused++;
            }
        }
        CHECK_EQ(ok, 3); /* chunk 0, and chunks 1 and 2 submitted when chunk 0 was found done */
        CHECK_ST(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
        CHECK_EQ(atomic_load(&calls), ok);
        cfut_map_free(m);
        cfut_executor_free(ex);
    }
}

/* A map racing a shutdown from another thread: either it was accepted whole (every item
 * runs and succeeds) or it returns CFUT_SHUTDOWN and nothing of it keeps running. */
typedef struct map_race {
    cfut_executor *ex;
    gate *go;
    atomic_int calls;
    int calls_at_return;
    cfut_status st;
    cfut_map *m;
    pair items[64];
    long res[64];
} map_race;

static void *map_race_thread(void *p) {
    map_race *r = p;
    gate_wait(r->go, HANG_MS);
    cfut_map_options o = opts(1, CFUT_FOREVER, 0);
    r->st = cfut_executor_map(r->ex, pow_fn, &r->calls, 0, r->items, 64, sizeof(pair), r->res, sizeof(long), &o, &r->m);
    r->calls_at_return = atomic_load(&r->calls);
    return NULL;
}

static void map_races_shutdown(void) {
    int accepted = 0, refused = 0;
    for (int round = 0; round < 20; round++) {
        cfut_executor *ex = new_pool(2);
        gate go;
        gate_init(&go);
        map_race *r = calloc(1, sizeof *r);
        r->ex = ex;
        r->go = &go;
        for (int i = 0; i < 64; i++) {
            r->items[i] = (pair){3, 2};
        }
        pthread_t t = spawn(map_race_thread, r);
        gate_open(&go);
        CHECK_ST(cfut_executor_shutdown(ex, round % 2 == 0, false), CFUT_OK);
        join(t);
        CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK); /* every worker has exited */
        if (r->st == CFUT_OK) {
            accepted++;
            CHECK_ST(cfut_map_wait(r->m, NULL), CFUT_OK);
            CHECK_EQ(atomic_load(&r->calls), 64);
            CHECK_EQ(r->res[63], 9);
            cfut_map_free(r->m);
        } else {
            refused++;
            CHECK_ST(r->st, CFUT_SHUTDOWN);
            CHECK_EQ(atomic_load(&r->calls), r->calls_at_return);
        }
        cfut_executor_free(ex);
        free(r);
        gate_destroy(&go);
    }
    CHECK_EQ(accepted + refused, 20);
}

void test_map(void) {
    RUN(map_in_order);
    RUN(map_exception);
    RUN(map_timeout);
    RUN(map_timeout_cancels_current);
    RUN(map_without_iteration);
    RUN(map_max_in_flight);
    RUN(map_context);
    RUN(map_edge_cases);
    RUN(map_cancelled_by_shutdown);
    RUN(map_shutdown_race);
    RUN(map_refused_mid_iteration);
    RUN(map_races_shutdown);
}
