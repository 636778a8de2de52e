/*
 * cfutures stress test.
 *
 * Phase A (pool of 4 workers): N tasks (default 1,000,000; argv[1] overrides) from 4
 * submitting threads, while another thread cancels random published futures. A mix of
 * fire-and-forget tasks, failing tasks, done-callbacks added right after submit (racing
 * the completion) and after completion (must run at once). Every task has its own slot of
 * atomic counters, checked at the end: each arg_drop, value_drop and callback arg_drop ran
 * exactly once, each callback exactly once, each future ended exactly once (ran XOR
 * cancelled, seen identically by all its callbacks and by result()).
 *
 * Maps run on the same pool meanwhile (random chunking, max_in_flight, timeouts, early
 * frees): in order, each item at most once, no chunk writing after cfut_map_free.
 *
 * Phase B, concurrently (a second pool, again and again): two threads submit while a
 * third shuts the pool down (with and without cancel_futures). A refused submit has
 * already dropped its arg; an accepted task runs exactly once or (cancel_futures) is
 * cancelled; every arg is dropped exactly once.
 *
 * A watchdog (alarm) turns a hang into a failure with a message. Prints one line per
 * failed check (the first few) and ends with "N passed, N failed".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfutures.h"

/* ---- checks ----------------------------------------------------------------------------- */

static atomic_long passed, failed;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (cond) {                                                                         \
            atomic_fetch_add_explicit(&passed, 1, memory_order_relaxed);                    \
        } else if (atomic_fetch_add(&failed, 1) < 30) {                                     \
            printf("FAIL stress.c:%d: %s: ", __LINE__, #cond);                              \
            printf(__VA_ARGS__);                                                            \
            printf("\n");                                                                   \
        }                                                                                   \
    } while (0)

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL watchdog: the stress test hung (did not finish before the alarm)\n";
    ssize_t w = write(1, msg, sizeof msg - 1);
    (void)w;
    _exit(2);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---- phase A: per-task slots ------------------------------------------------------------ */

static long n_tasks;
/* per-slot counters */
static atomic_uchar *ran, *arg_drops, *val_drops, *cb1_calls, *cb1_drops, *cb2_calls, *cb2_drops, *outcome;

enum { OUT_NONE = 0, OUT_FINISHED = 1, OUT_CANCELLED = 2 };

/* slot index <-> pointer (never NULL) */
#define P(i) ((void *)(uintptr_t)((i) + 1))
#define I(p) ((long)((uintptr_t)(p)-1))

static bool is_ff(long i) { return i % 8 == 3; }         /* fire-and-forget */
static bool fails(long i) { return i % 16 == 5; }        /* the task fails */
static bool has_cb1(long i) { return i % 2 == 0; }       /* callback added right after submit */
static bool has_cb2(long i) { return i % 3 == 0; }       /* callback added after completion */
static bool published(long i) { return i % 4 == 0 || i % 4 == 1; } /* offered to the canceller */

static void arg_drop(void *p) { atomic_fetch_add(&arg_drops[I(p)], 1); }
static void val_drop(void *p) { atomic_fetch_add(&val_drops[I(p)], 1); }
static void cb1_drop(void *p) { atomic_fetch_add(&cb1_drops[I(p)], 1); }
static void cb2_drop(void *p) { atomic_fetch_add(&cb2_drops[I(p)], 1); }

/* a little work, so that queues back up and cancels can land */
static void work(long n) {
    volatile long sink = 0;
    for (long k = 0; k < n; k++) {
        sink += k;
    }
}

static int32_t task(void *arg, cfut_result *out) {
    long i = I(arg);
    atomic_fetch_add(&ran[i], 1);
    work(i % 4 == 2 ? 600 : 20);
    if (fails(i)) {
        cfut_result_set_error(out, 77, "stress failure");
        return 0;
    }
    cfut_result_set_value(out, arg, val_drop);
    return 0;
}

static atomic_long cb_errors;

static void record_outcome(cfut_future *f, long i) {
    unsigned char want = cfut_future_cancelled(f) ? OUT_CANCELLED : OUT_FINISHED;
    unsigned char expected = OUT_NONE;
    if (!atomic_compare_exchange_strong(&outcome[i], &expected, want) && expected != want) {
        atomic_fetch_add(&cb_errors, 1); /* two callbacks saw different outcomes */
    }
    if (!cfut_future_done(f)) {
        atomic_fetch_add(&cb_errors, 1);
    }
}

static void cb1(cfut_future *f, void *arg) {
    atomic_fetch_add(&cb1_calls[I(arg)], 1);
    record_outcome(f, I(arg));
}

static void cb2(cfut_future *f, void *arg) {
    atomic_fetch_add(&cb2_calls[I(arg)], 1);
    record_outcome(f, I(arg));
}

/* the cancel ring: submitters publish retained futures, the canceller takes them */
#define RING 64
static _Atomic(cfut_future *) ring[RING];
static atomic_bool submitters_done;
static atomic_long cancels_ok, cancels_tried;

static void *canceller(void *p) {
    (void)p;
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    int idle = 0;
    while (!atomic_load(&submitters_done)) {
        cfut_future *f = atomic_exchange(&ring[xorshift(&seed) % RING], NULL);
        if (!f) {
            if (++idle % 64 == 0) {
                sched_yield();
            }
            continue;
        }
        idle = 0;
        atomic_fetch_add(&cancels_tried, 1);
        if (cfut_future_cancel(f)) {
            atomic_fetch_add(&cancels_ok, 1);
            /* cancelled: done, its callbacks have run on this thread */
            if (!cfut_future_cancelled(f) || !cfut_future_done(f)) {
                atomic_fetch_add(&cb_errors, 1);
            }
        }
        cfut_future_release(f);
    }
    return NULL;
}

typedef struct submitter {
    cfut_executor *ex;
    long begin, end;
    long bad;
} submitter;

#define WINDOW 256

static void *submit_loop(void *p) {
    submitter *s = p;
    uint64_t seed = (uint64_t)s->begin * 2654435761u + 1;
    cfut_future *fs[WINDOW];
    long idx[WINDOW];
    for (long base = s->begin; base < s->end; base += WINDOW) {
        int n = 0;
        for (long i = base; i < s->end && i < base + WINDOW; i++) {
            if (is_ff(i)) {
                cfut_status st = cfut_executor_submit(s->ex, task, P(i), arg_drop, NULL);
                if (st != CFUT_OK) {
                    s->bad++;
                }
                continue;
            }
            cfut_future *f = NULL;
            cfut_status st = cfut_executor_submit(s->ex, task, P(i), arg_drop, &f);
            if (st != CFUT_OK) {
                s->bad++;
                continue;
            }
            if (has_cb1(i) && cfut_future_add_done_callback(f, cb1, P(i), cb1_drop) != CFUT_OK) {
                s->bad++;
            }
            if (published(i)) {
                cfut_future *old = atomic_exchange(&ring[xorshift(&seed) % RING], cfut_future_retain(f));
                cfut_future_release(old);
            }
            fs[n] = f;
            idx[n] = i;
            n++;
        }
        /* collect the batch in one of several ways, racing completions and cancels */
        long batch = base / WINDOW;
        if (n > 0 && batch % 4 == 1) {
            bool done[WINDOW];
            size_t nd = 0;
            if (cfut_wait(fs, (size_t)n, CFUT_FOREVER, CFUT_ALL_COMPLETED, done, &nd) != CFUT_OK || nd != (size_t)n) {
                s->bad++;
            }
            for (int k = 0; k < n; k++) {
                s->bad += !done[k] || !cfut_future_done(fs[k]);
            }
        } else if (n > 0 && batch % 4 == 2) {
            cfut_as_completed *it = NULL;
            bool seen[WINDOW] = {0};
            if (cfut_as_completed_new(fs, (size_t)n, CFUT_FOREVER, &it) != CFUT_OK) {
                s->bad++;
            } else {
                size_t k;
                int got = 0;
                cfut_status st;
                while ((st = cfut_as_completed_next(it, &k)) == CFUT_OK) {
                    if (k >= (size_t)n || seen[k] || !cfut_future_done(fs[k])) {
                        s->bad++;
                    } else {
                        seen[k] = true;
                        got++;
                    }
                }
                s->bad += st != CFUT_EXHAUSTED || got != n;
                cfut_as_completed_free(it);
            }
        } else if (n > 0 && batch % 4 == 3) {
            bool done[WINDOW];
            size_t nd = 0;
            if (cfut_wait(fs, (size_t)n, CFUT_FOREVER, CFUT_FIRST_EXCEPTION, done, &nd) != CFUT_OK) {
                s->bad++;
            } else if (nd != (size_t)n) {
                /* returned early: a failed future must be among the done ones */
                bool failed_seen = false;
                for (int k = 0; k < n; k++) {
                    cfut_error e;
                    if (done[k] && cfut_future_error(fs[k], 0, &e) == CFUT_OK && e.status == CFUT_TASK_FAILED) {
                        failed_seen = true;
                    }
                }
                s->bad += !failed_seen;
            }
        }
        for (int k = 0; k < n; k++) {
            cfut_future *f = fs[k];
            long i = idx[k];
            if (cfut_future_wait(f, CFUT_FOREVER) != CFUT_OK) {
                s->bad++;
            }
            void *v = NULL;
            cfut_status st = cfut_future_result(f, 0, &v);
            if (st == CFUT_OK) {
                if (fails(i) || v != P(i)) {
                    s->bad++;
                }
            } else if (st == CFUT_TASK_FAILED) {
                cfut_error e;
                if (!fails(i) || cfut_future_error(f, 0, &e) != CFUT_OK || e.code != 77) {
                    s->bad++;
                }
            } else if (st == CFUT_CANCELLED) {
                if (!published(i)) {
                    s->bad++; /* nobody else could cancel it */
                }
            } else {
                s->bad++;
            }
            if (has_cb2(i)) {
                int before = atomic_load(&cb2_calls[i]);
                if (cfut_future_add_done_callback(f, cb2, P(i), cb2_drop) != CFUT_OK ||
                    atomic_load(&cb2_calls[i]) != before + 1) {
                    s->bad++; /* added after completion: must run at once */
                }
            }
            cfut_future_release(f);
        }
    }
    return NULL;
}

static void phase_a_check(void) {
    long bad_arg = 0, bad_ran = 0, bad_val = 0, bad_cb = 0, bad_out = 0, cancelled = 0, ran_total = 0;
    for (long i = 0; i < n_tasks; i++) {
        int r = ran[i], a = arg_drops[i], v = val_drops[i];
        int c1 = cb1_calls[i], d1 = cb1_drops[i], c2 = cb2_calls[i], d2 = cb2_drops[i], o = outcome[i];
        bad_arg += a != 1;
        bad_ran += r > 1 || (r == 0 && (is_ff(i) || !published(i)));
        ran_total += r;
        bad_val += v != (r == 1 && !fails(i) ? 1 : 0);
        if (!is_ff(i)) {
            int w1 = has_cb1(i), w2 = has_cb2(i);
            bad_cb += c1 != w1 || d1 != w1 || c2 != w2 || d2 != w2;
            if (w1 || w2) {
                bad_out += o != (r == 1 ? OUT_FINISHED : OUT_CANCELLED);
            }
        } else {
            bad_cb += c1 || d1 || c2 || d2;
        }
        cancelled += r == 0;
    }
    CHECK(bad_arg == 0, "%ld tasks whose arg_drop did not run exactly once", bad_arg);
    CHECK(bad_ran == 0, "%ld tasks that ran more than once or vanished", bad_ran);
    CHECK(bad_val == 0, "%ld values whose value_drop did not run exactly once", bad_val);
    CHECK(bad_cb == 0, "%ld futures whose callbacks / callback arg_drops did not run exactly once", bad_cb);
    CHECK(bad_out == 0, "%ld futures whose callbacks disagree with how they ended", bad_out);
    CHECK(cancelled == atomic_load(&cancels_ok), "%ld tasks never ran, %ld cancels succeeded", cancelled,
          atomic_load(&cancels_ok));
    CHECK(ran_total + cancelled == n_tasks, "%ld ran + %ld cancelled != %ld", ran_total, cancelled, n_tasks);
    CHECK(atomic_load(&cb_errors) == 0, "%ld callback inconsistencies", atomic_load(&cb_errors));
    printf("phase A: %ld tasks, %ld ran, %ld cancelled (of %ld cancel attempts)\n", n_tasks, ran_total, cancelled,
           atomic_load(&cancels_tried));
}

/* ---- phase B: shutdown racing submits on a second pool ---------------------------------- */

#define B_PER 1500
static atomic_uchar b_ran[2 * B_PER], b_drops[2 * B_PER];
static atomic_bool phase_a_running;

static void b_drop(void *p) { atomic_fetch_add(&b_drops[I(p)], 1); }
static int32_t b_task(void *arg, cfut_result *out) {
    (void)out;
    atomic_fetch_add(&b_ran[I(arg)], 1);
    work(3000);
    return 0;
}

typedef struct b_sub {
    cfut_executor *ex;
    int first;
    atomic_int *go;
    cfut_future *fs[B_PER];
    cfut_status st[B_PER];
    long bad;
} b_sub;

static void *b_submit(void *p) {
    b_sub *s = p;
    while (atomic_load(s->go) == 0) {
        sched_yield();
    }
    for (int k = 0; k < B_PER; k++) {
        long i = s->first + k;
        s->fs[k] = NULL;
        cfut_future **out = k % 2 ? &s->fs[k] : NULL; /* half fire-and-forget */
        s->st[k] = cfut_executor_submit(s->ex, b_task, P(i), b_drop, out);
        if (s->st[k] != CFUT_OK) {
            if (s->st[k] != CFUT_SHUTDOWN || atomic_load(&b_drops[i]) != 1) {
                s->bad++; /* refused: must be SHUTDOWN, with the arg already dropped */
            }
        }
    }
    return NULL;
}

static void *phase_b(void *p) {
    long *rounds_out = p;
    long rounds = 0, accepted = 0, refused = 0, b_cancelled = 0;
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = 2;
    o.thread_name_prefix = "stressB";
    /* at least 20 rounds, and more while phase A still runs */
    while (rounds < 20 || (atomic_load(&phase_a_running) && rounds < 2000)) {
        memset((void *)b_ran, 0, sizeof b_ran);
        memset((void *)b_drops, 0, sizeof b_drops);
        cfut_executor *ex = NULL;
        CHECK(cfut_thread_pool_new(&o, &ex) == CFUT_OK, "pool B");
        atomic_int go = 0;
        static b_sub subs[2];
        for (int t = 0; t < 2; t++) {
            subs[t].ex = ex;
            subs[t].first = t * B_PER;
            subs[t].go = &go;
            subs[t].bad = 0;
        }
        pthread_t th[2];
        pthread_create(&th[0], NULL, b_submit, &subs[0]);
        pthread_create(&th[1], NULL, b_submit, &subs[1]);
        bool cancel = rounds % 2 == 1;
        atomic_store(&go, 1);
        /* let the submitters get going for a varying while, then shut down under them */
        for (long spin = 0; spin < (rounds % 7) * 2000; spin++) {
            if (spin % 500 == 0) {
                sched_yield();
            }
        }
        CHECK(cfut_executor_shutdown(ex, rounds % 3 != 0, cancel) == CFUT_OK, "shutdown B");
        pthread_join(th[0], NULL);
        pthread_join(th[1], NULL);
        cfut_executor_free(ex); /* joins the workers */
        long bad = subs[0].bad + subs[1].bad;
        for (int t = 0; t < 2; t++) {
            for (int k = 0; k < B_PER; k++) {
                long i = subs[t].first + k;
                int r = b_ran[i], d = b_drops[i];
                cfut_future *f = subs[t].fs[k];
                if (subs[t].st[k] == CFUT_OK) {
                    accepted++;
                    bad += d != 1;
                    if (f) {
                        bool c = cfut_future_cancelled(f);
                        bad += !cfut_future_done(f) || r != (c ? 0 : 1) || (c && !cancel);
                        b_cancelled += c;
                        cfut_future_release(f);
                    } else {
                        bad += r > 1 || (r == 0 && !cancel);
                        b_cancelled += r == 0;
                    }
                } else {
                    refused++;
                    bad += r != 0 || d != 1 || f != NULL;
                }
            }
        }
        CHECK(bad == 0, "phase B round %ld: %ld inconsistent submits", rounds, bad);
        rounds++;
    }
    printf("phase B: %ld rounds, %ld accepted, %ld refused, %ld cancelled by shutdown\n", rounds, accepted, refused,
           b_cancelled);
    *rounds_out = rounds;
    return NULL;
}

/* ---- maps on pool A, concurrently with the submitters ----------------------------------------
 * Random chunk sizes, max_in_flight and (sometimes tiny) timeouts; each item computed at
 * most once, yielded in order with the right result; the results buffer is freed right
 * after cfut_map_free, so a chunk still writing after it would be a use after free (ASAN). */

#define MAP_N 4096

typedef struct map_ctx {
    atomic_uchar calls[MAP_N];
} map_ctx;

static int32_t square_fn(const void *ctx, const void *item, void *slot) {
    map_ctx *c = (map_ctx *)ctx;
    int v = *(const int *)item;
    atomic_fetch_add(&c->calls[v], 1);
    if (v % 97 == 13) {
        return 5; /* an item error */
    }
    *(long *)slot = (long)v * v;
    return 0;
}

typedef struct mapper {
    cfut_executor *ex;
    long maps, timeouts, bad;
} mapper;

static void *map_loop(void *p) {
    mapper *m = p;
    uint64_t seed = 0xC0FFEEull;
    int *items = malloc(MAP_N * sizeof *items);
    map_ctx *ctx = malloc(sizeof *ctx);
    for (int i = 0; i < MAP_N; i++) {
        items[i] = i;
    }
    while (!atomic_load(&submitters_done)) {
        long *res = malloc(MAP_N * sizeof *res);
        memset(ctx, 0, sizeof *ctx);
        const size_t chunks[4] = {0, 1, 7, 300};
        const size_t flights[3] = {0, 1, 3};
        cfut_map_options o;
        cfut_map_options_init(&o);
        o.chunksize = chunks[xorshift(&seed) % 4];
        o.max_in_flight = flights[xorshift(&seed) % 3];
        uint64_t r = xorshift(&seed) % 8;
        o.timeout_ns = r == 0 ? CFUT_MILLISECONDS(1) : r == 1 ? 0 : CFUT_FOREVER;
        cfut_map *mp = NULL;
        if (cfut_executor_map(m->ex, square_fn, ctx, 0, items, MAP_N, sizeof(int), res, sizeof(long), &o, &mp) !=
            CFUT_OK) {
            m->bad++;
            free(res);
            break;
        }
        size_t stop_at = xorshift(&seed) % 2 ? MAP_N : xorshift(&seed) % MAP_N; /* sometimes free early */
        for (size_t i = 0; i < stop_at; i++) {
            size_t idx = 99999;
            cfut_error e;
            cfut_status st = cfut_map_next(mp, &idx, &e);
            if (st == CFUT_TIMEOUT) {
                m->timeouts++;
                m->bad += o.timeout_ns == CFUT_FOREVER || cfut_map_next(mp, &idx, NULL) != CFUT_EXHAUSTED;
                break;
            }
            if (idx != i) {
                m->bad++;
                break;
            }
            if (st == CFUT_OK) {
                m->bad += res[i] != (long)i * (long)i || i % 97 == 13;
            } else {
                m->bad += st != CFUT_TASK_FAILED || e.code != 5 || i % 97 != 13;
            }
            if (i + 1 == MAP_N) {
                m->bad += cfut_map_next(mp, &idx, NULL) != CFUT_EXHAUSTED;
            }
        }
        cfut_map_free(mp);
        free(res); /* a late chunk write would now be a use after free */
        for (int i = 0; i < MAP_N; i++) {
            m->bad += atomic_load(&ctx->calls[i]) > 1;
        }
        m->maps++;
    }
    free(items);
    free(ctx);
    return NULL;
}

/* ---- main --------------------------------------------------------------------------------- */

static atomic_uchar *slots(void) {
    atomic_uchar *p = calloc((size_t)n_tasks, sizeof *p);
    if (!p) {
        printf("FAIL: out of memory\n");
        exit(3);
    }
    return p;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    n_tasks = argc > 1 ? atol(argv[1]) : 1000000;
    if (n_tasks < 1000) {
        n_tasks = 1000;
    }
    unsigned secs = 240;
    const char *env = getenv("CFUT_TEST_TIMEOUT");
    if (env && atoi(env) > 0) {
        secs = (unsigned)atoi(env);
    }
    signal(SIGALRM, on_alarm);
    alarm(secs);

    ran = slots();
    arg_drops = slots();
    val_drops = slots();
    cb1_calls = slots();
    cb1_drops = slots();
    cb2_calls = slots();
    cb2_drops = slots();
    outcome = slots();

    uint64_t t0 = now_ns();
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = 4;
    o.thread_name_prefix = "stressA";
    cfut_executor *ex = NULL;
    if (cfut_thread_pool_new(&o, &ex) != CFUT_OK) {
        printf("FAIL: cfut_thread_pool_new\n");
        return 1;
    }

    atomic_store(&phase_a_running, true);
    long b_rounds = 0;
    pthread_t bt, ct, mt, st[4];
    pthread_create(&bt, NULL, phase_b, &b_rounds);
    pthread_create(&ct, NULL, canceller, NULL);
    mapper mapr = {ex, 0, 0, 0};
    pthread_create(&mt, NULL, map_loop, &mapr);
    submitter subs[4];
    for (int t = 0; t < 4; t++) {
        subs[t].ex = ex;
        subs[t].begin = n_tasks * t / 4;
        subs[t].end = n_tasks * (t + 1) / 4;
        subs[t].bad = 0;
        pthread_create(&st[t], NULL, submit_loop, &subs[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(st[t], NULL);
        CHECK(subs[t].bad == 0, "submitter %d: %ld unexpected statuses or values", t, subs[t].bad);
    }
    atomic_store(&submitters_done, true);
    pthread_join(ct, NULL);
    pthread_join(mt, NULL);
    CHECK(mapr.bad == 0, "maps: %ld inconsistencies", mapr.bad);
    CHECK(mapr.maps > 0, "no map ran");
    printf("maps: %ld maps of %d items, %ld timed out\n", mapr.maps, MAP_N, mapr.timeouts);
    for (int r = 0; r < RING; r++) {
        cfut_future_release(atomic_exchange(&ring[r], NULL));
    }
    CHECK(cfut_executor_shutdown(ex, true, false) == CFUT_OK, "shutdown A");
    cfut_executor_free(ex);
    atomic_store(&phase_a_running, false);
    uint64_t ta = now_ns() - t0;
    phase_a_check();
    pthread_join(bt, NULL);
    printf("time: phase A %.2f s, total %.2f s\n", (double)ta / 1e9, (double)(now_ns() - t0) / 1e9);

    free((void *)ran);
    free((void *)arg_drops);
    free((void *)val_drops);
    free((void *)cb1_calls);
    free((void *)cb1_drops);
    free((void *)cb2_calls);
    free((void *)cb2_drops);
    free((void *)outcome);
    long p = atomic_load(&passed), f = atomic_load(&failed);
    printf("%ld passed, %ld failed\n", p, f);
    return f == 0 ? 0 : 1;
}
