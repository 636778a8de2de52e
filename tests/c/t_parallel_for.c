/* Parallel loops (contract section 8): exact coverage (each index once, ranges no shorter
 * than the grain), zero-length and one-item ranges, ranges near SIZE_MAX, failures (first
 * code back, no new ranges after), the caller working (alone when every worker is busy),
 * nested loops from ranges and from tasks, many threads calling at once, bad input and a
 * shut-down pool. The process pool's CFUT_UNSUPPORTED is in tests/process. */
#include "util.h"

#include <sched.h>

static int cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

/* ---- coverage ------------------------------------------------------------------------- */

typedef struct cover {
    size_t begin, end, grain;
    atomic_uchar *hits; /* one per index of [begin, end) */
    atomic_int calls, short_ranges, outside;
} cover;

static int32_t cover_range(void *ctx, size_t b, size_t e) {
    cover *c = ctx;
    atomic_fetch_add(&c->calls, 1);
    if (b >= e || b < c->begin || e > c->end) {
        atomic_fetch_add(&c->outside, 1);
        return 0;
    }
    if (c->grain > 0 && e != c->end && e - b < c->grain) {
        atomic_fetch_add(&c->short_ranges, 1);
    }
    for (size_t i = b; i < e; i++) {
        atomic_fetch_add_explicit(&c->hits[i - c->begin], 1, memory_order_relaxed);
    }
    return 0;
}

/* Runs one loop and checks every index was run exactly once. */
static void check_cover(cfut_executor *ex, size_t begin, size_t end, size_t grain) {
    cover c = {.begin = begin, .end = end, .grain = grain};
    c.hits = calloc(end - begin + 1, 1);
    cfut_error err = {.status = 99, .code = 99};
    CHECK_ST(cfut_parallel_for(ex, begin, end, grain, cover_range, &c, &err), CFUT_OK);
    CHECK(err.status == CFUT_OK && err.code == 0);
    size_t bad = 0;
    for (size_t i = 0; i < end - begin; i++) {
        bad += atomic_load(&c.hits[i]) != 1;
    }
    CHECK_MSG(bad == 0, "[%zu, %zu) grain %zu: %zu indices not run exactly once", begin, end, grain, bad);
    CHECK_EQ(atomic_load(&c.outside), 0);
    CHECK_EQ(atomic_load(&c.short_ranges), 0);
    CHECK(atomic_load(&c.calls) >= 1);
    free(c.hits);
}

static void pfor_covers_each_index_once(void) {
    static const uint32_t workers[] = {1, 2, 4, 0};
    static const size_t sizes[] = {1, 2, 3, 7, 1000, 65537, 1u << 20};
    static const size_t grains[] = {0, 1, 3, 4096, (size_t)1 << 40};
    for (size_t w = 0; w < sizeof workers / sizeof *workers; w++) {
        cfut_executor *ex = new_pool(workers[w]);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++) {
                check_cover(ex, 11, 11 + sizes[s], grains[g]);
            }
        }
        cfut_executor_free(ex);
    }
}

/* ---- empty, one item, near SIZE_MAX --------------------------------------------------- */

enum { MAX_RANGES = 4096 };

typedef struct ranges {
    pthread_mutex_t mu;
    size_t n;
    size_t b[MAX_RANGES], e[MAX_RANGES];
    bool overflowed;
} ranges;

static int32_t record_range(void *ctx, size_t b, size_t e) {
    ranges *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->n < MAX_RANGES) {
        r->b[r->n] = b;
        r->e[r->n] = e;
        r->n++;
    } else {
        r->overflowed = true;
    }
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* The recorded ranges, sorted, tile [begin, end) with no gap or overlap. */
static bool tiles(ranges *r, size_t begin, size_t end) {
    if (r->overflowed || r->n == 0) {
        return false;
    }
    for (size_t i = 1; i < r->n; i++) { /* insertion sort by begin: a few thousand at most */
        size_t b = r->b[i], e = r->e[i], j = i;
        for (; j > 0 && r->b[j - 1] > b; j--) {
            r->b[j] = r->b[j - 1];
            r->e[j] = r->e[j - 1];
        }
        r->b[j] = b;
        r->e[j] = e;
    }
    if (r->b[0] != begin || r->e[r->n - 1] != end) {
        return false;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (r->b[i] >= r->e[i] || (i > 0 && r->e[i - 1] != r->b[i])) {
            return false;
        }
    }
    return true;
}

static ranges *ranges_new(void) {
    ranges *r = calloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void ranges_free(ranges *r) {
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void pfor_edges(void) {
    cfut_executor *ex = new_pool(2);
    ranges *r = ranges_new();
    /* empty: OK, fn never called, even at SIZE_MAX */
    CHECK_ST(cfut_parallel_for(ex, 5, 5, 0, record_range, r, NULL), CFUT_OK);
    CHECK_ST(cfut_parallel_for(ex, SIZE_MAX, SIZE_MAX, 1, record_range, r, NULL), CFUT_OK);
    CHECK_ST(cfut_parallel_for(ex, 0, 0, SIZE_MAX, record_range, r, NULL), CFUT_OK);
    CHECK_EQ(r->n, 0);
    /* one item: one call with exactly it */
    const size_t one[][2] = {{0, 1}, {41, 42}, {SIZE_MAX - 1, SIZE_MAX}};
    for (int i = 0; i < 3; i++) {
        r->n = 0;
        CHECK_ST(cfut_parallel_for(ex, one[i][0], one[i][1], 0, record_range, r, NULL), CFUT_OK);
        CHECK(r->n == 1 && r->b[0] == one[i][0] && r->e[0] == one[i][1]);
    }
    /* near SIZE_MAX: ranges are recorded, not walked */
    const size_t huge[][3] = {
        {0, SIZE_MAX, SIZE_MAX / 3},         {1, SIZE_MAX, (size_t)1 << 60},
        {SIZE_MAX - 1000, SIZE_MAX, 0},      {SIZE_MAX - 1000, SIZE_MAX, 7},
        {SIZE_MAX / 2, SIZE_MAX, SIZE_MAX},  {SIZE_MAX - 3, SIZE_MAX, 2},
    };
    for (int i = 0; i < 6; i++) {
        r->n = 0;
        r->overflowed = false;
        CHECK_ST(cfut_parallel_for(ex, huge[i][0], huge[i][1], huge[i][2], record_range, r, NULL), CFUT_OK);
        CHECK_MSG(tiles(r, huge[i][0], huge[i][1]), "case %d: %zu ranges do not tile the loop", i, r->n);
    }
    /* the whole of size_t with the adaptive split: O(threads * log n) ranges */
    r->n = 0;
    r->overflowed = false;
    CHECK_ST(cfut_parallel_for(ex, 0, SIZE_MAX, 0, record_range, r, NULL), CFUT_OK);
    CHECK_MSG(tiles(r, 0, SIZE_MAX), "[0, SIZE_MAX): %zu ranges do not tile the loop", r->n);
    ranges_free(r);
    cfut_executor_free(ex);
}

/* ---- failures ------------------------------------------------------------------------- */

static int32_t gated_task(void *arg, cfut_result *out) {
    (void)out;
    return gate_wait(arg, HANG_MS) ? 0 : 1;
}


typedef struct failing {
    atomic_int calls;
    atomic_int after; /* ranges started after the failing one returned */
    atomic_bool failed;
    size_t fail_at;
} failing;

static int32_t fail_once(void *ctx, size_t b, size_t e) {
    failing *f = ctx;
    atomic_fetch_add(&f->calls, 1);
    if (atomic_load(&f->failed)) {
        atomic_fetch_add(&f->after, 1);
    }
    if (f->fail_at >= b && f->fail_at < e) {
        atomic_store(&f->failed, true);
        return 77;
    }
    return 0;
}

static int32_t fail_all(void *ctx, size_t b, size_t e) {
    (void)ctx;
    (void)e;
    return -(int32_t)(b % 5) - 1;
}

static void pfor_failures(void) {
    cfut_executor *ex = new_pool(4);
    for (int round = 0; round < 20; round++) {
        failing f = {.fail_at = (size_t)round * 49999};
        cfut_error err = {0};
        CHECK_ST(cfut_parallel_for(ex, 0, 1000000, 1, fail_once, &f, &err), CFUT_TASK_FAILED);
        CHECK(err.status == CFUT_TASK_FAILED && err.code == 77 && err.message == NULL && err.payload == NULL);
        CHECK(atomic_load(&f.failed));
    }
    /* one thread at work (the only worker is busy): not one range starts after the failure */
    cfut_executor *one = new_pool(1);
    gate g;
    gate_init(&g);
    cfut_future *blocker = NULL;
    CHECK_ST(cfut_executor_submit(one, gated_task, &g, NULL, &blocker), CFUT_OK);
    failing f = {.fail_at = 500000};
    CHECK_ST(cfut_parallel_for(one, 0, 1000000, 1, fail_once, &f, NULL), CFUT_TASK_FAILED);
    if (cpus() >= 2) {
        CHECK(atomic_load(&f.calls) > 1); /* the failing range was not the first (alone: one range) */
    }
    CHECK_EQ(atomic_load(&f.after), 0);
    gate_open(&g);
    CHECK_ST(cfut_future_wait(blocker, CFUT_SECONDS(20)), CFUT_OK);
    cfut_future_release(blocker);
    cfut_executor_free(one);
    gate_destroy(&g);
    /* every range fails: one of their codes comes back; NULL error_out is fine */
    cfut_error err = {0};
    CHECK_ST(cfut_parallel_for(ex, 0, 10000, 1, fail_all, NULL, &err), CFUT_TASK_FAILED);
    CHECK(err.code <= -1 && err.code >= -5);
    CHECK_ST(cfut_parallel_for(ex, 0, 10000, 1, fail_all, NULL, NULL), CFUT_TASK_FAILED);
    /* the pool is fine afterwards */
    check_cover(ex, 0, 100000, 0);
    cfut_executor_free(ex);
}

/* ---- who runs the ranges -------------------------------------------------------------- */

typedef struct who {
    pthread_t caller;
    atomic_int on_caller, elsewhere;
    gate started; /* counts ranges begun */
} who;

static int32_t note_thread(void *ctx, size_t b, size_t e) {
    who *w = ctx;
    (void)b;
    (void)e;
    atomic_fetch_add(pthread_equal(pthread_self(), w->caller) ? &w->on_caller : &w->elsewhere, 1);
    gate_add(&w->started, 1);
    /* hold the range until the other one started (a bound, not a synchronisation: alone,
     * the caller runs both after the wait) */
    gate_wait_count(&w->started, 2, HANG_MS);
    return 0;
}

static void pfor_workers_and_caller_share(void) {
    if (cpus() < 2) {
        return; /* one thread takes part on one CPU */
    }
    cfut_executor *ex = new_pool(2);
    who w = {.caller = pthread_self()};
    gate_init(&w.started);
    CHECK_ST(cfut_parallel_for(ex, 0, 2, 1, note_thread, &w, NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&w.on_caller), 1);
    CHECK_EQ(atomic_load(&w.elsewhere), 1);
    gate_destroy(&w.started);
    cfut_executor_free(ex);
}

static int32_t count_on_caller(void *ctx, size_t b, size_t e) {
    who *w = ctx;
    atomic_fetch_add(pthread_equal(pthread_self(), w->caller) ? &w->on_caller : &w->elsewhere, (int)(e - b));
    return 0;
}

/* Every worker is busy: the caller runs the whole loop and returns. */
static void pfor_caller_alone_when_workers_busy(void) {
    cfut_executor *ex = new_pool(1);
    gate g;
    gate_init(&g);
    cfut_future *blocker = NULL;
    CHECK_ST(cfut_executor_submit(ex, gated_task, &g, NULL, &blocker), CFUT_OK);
    who w = {.caller = pthread_self()};
    CHECK_ST(cfut_parallel_for(ex, 0, 100000, 0, count_on_caller, &w, NULL), CFUT_OK);
    CHECK_EQ(atomic_load(&w.on_caller) + atomic_load(&w.elsewhere), 100000);
    gate_open(&g);
    CHECK_ST(cfut_future_wait(blocker, CFUT_SECONDS(20)), CFUT_OK);
    cfut_future_release(blocker);
    cfut_executor_free(ex);
    gate_destroy(&g);
}

/* ---- nesting -------------------------------------------------------------------------- */

enum { NEST = 48 };

typedef struct nest {
    cfut_executor *ex;
    atomic_int hits[NEST * NEST];
    atomic_int inner_failed;
} nest;

typedef struct inner_ctx {
    nest *n;
    size_t row;
} inner_ctx;

static int32_t inner_range(void *ctx, size_t b, size_t e) {
    inner_ctx *c = ctx;
    for (size_t j = b; j < e; j++) {
        atomic_fetch_add(&c->n->hits[c->row * NEST + j], 1);
    }
    return 0;
}

static int32_t outer_range(void *ctx, size_t b, size_t e) {
    nest *n = ctx;
    for (size_t i = b; i < e; i++) {
        inner_ctx c = {n, i};
        if (cfut_parallel_for(n->ex, 0, NEST, 0, inner_range, &c, NULL) != CFUT_OK) {
            atomic_fetch_add(&n->inner_failed, 1);
        }
    }
    return 0;
}

static void check_nest(nest *n) {
    int bad = 0;
    for (int i = 0; i < NEST * NEST; i++) {
        bad += atomic_load(&n->hits[i]) != 1;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(atomic_load(&n->inner_failed), 0);
}

static int32_t nest_task(void *arg, cfut_result *out) {
    (void)out;
    nest *n = arg;
    return cfut_parallel_for(n->ex, 0, NEST, 1, outer_range, n, NULL) == CFUT_OK ? 0 : 1;
}

static void pfor_nested(void) {
    static const uint32_t workers[] = {1, 2, 3};
    for (int w = 0; w < 3; w++) {
        nest *n = calloc(1, sizeof *n);
        n->ex = new_pool(workers[w]);
        CHECK_ST(cfut_parallel_for(n->ex, 0, NEST, 1, outer_range, n, NULL), CFUT_OK);
        check_nest(n);
        /* from a task on the pool: with one worker it is the only thread of its pool */
        memset(n->hits, 0, sizeof n->hits);
        cfut_future *f = NULL;
        CHECK_ST(cfut_executor_submit(n->ex, nest_task, n, NULL, &f), CFUT_OK);
        CHECK_ST(cfut_future_wait(f, CFUT_SECONDS(60)), CFUT_OK);
        cfut_error err;
        CHECK_ST(cfut_future_error(f, 0, &err), CFUT_OK);
        CHECK_EQ(err.status, CFUT_OK);
        cfut_future_release(f);
        check_nest(n);
        cfut_executor_free(n->ex);
        free(n);
    }
}

/* ---- many threads at once ------------------------------------------------------------- */

typedef struct caller {
    cfut_executor *ex;
    int id;
} caller;

static void *call_many(void *p) {
    caller *c = p;
    for (int round = 0; round < 12; round++) {
        check_cover(c->ex, (size_t)c->id * 100000, (size_t)c->id * 100000 + 20000 + (size_t)round * 131,
                    (size_t)round % 4);
    }
    return NULL;
}

static void pfor_many_callers(void) {
    cfut_executor *ex = new_pool(3);
    caller cs[8];
    pthread_t ts[8];
    for (int i = 0; i < 8; i++) {
        cs[i] = (caller){ex, i};
        ts[i] = spawn(call_many, &cs[i]);
    }
    for (int i = 0; i < 8; i++) {
        join(ts[i]);
    }
    cfut_executor_free(ex);
}

/* ---- bad input, shutdown -------------------------------------------------------------- */

static int32_t never(void *ctx, size_t b, size_t e) {
    (void)b;
    (void)e;
    atomic_fetch_add((atomic_int *)ctx, 1);
    return 0;
}

static void pfor_bad_input_and_shutdown(void) {
    atomic_int calls = 0;
    cfut_executor *ex = new_pool(2);
    cfut_error err = {.status = 99, .code = 5};
    CHECK_ST(cfut_parallel_for(NULL, 0, 10, 0, never, &calls, &err), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_parallel_for(ex, 0, 10, 0, NULL, &calls, &err), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_parallel_for(ex, 10, 9, 0, never, &calls, &err), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_parallel_for(ex, SIZE_MAX, 0, 0, never, &calls, &err), CFUT_INVALID_ARGUMENT);
    CHECK(err.status == 99 && err.code == 5); /* untouched */
    CHECK_EQ(atomic_load(&calls), 0);
    CHECK_ST(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    CHECK_ST(cfut_parallel_for(ex, 0, 10, 0, never, &calls, &err), CFUT_SHUTDOWN);
    CHECK_ST(cfut_parallel_for(ex, 3, 3, 0, never, &calls, &err), CFUT_OK);
    CHECK_EQ(atomic_load(&calls), 0);
    cfut_executor_free(ex);
}

void test_parallel_for(void) {
    RUN(pfor_bad_input_and_shutdown);
    RUN(pfor_covers_each_index_once);
    RUN(pfor_edges);
    RUN(pfor_failures);
    RUN(pfor_workers_and_caller_share);
    RUN(pfor_caller_alone_when_workers_busy);
    RUN(pfor_nested);
    RUN(pfor_many_callers);
}
