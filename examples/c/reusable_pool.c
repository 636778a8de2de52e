/*
 * reusable_pool.c: create one pool, use it for several batches, shut it down at the end.
 *
 * Python:
 *     def do_work(sleep_secs, i):
 *         time.sleep(sleep_secs)
 *         return f"foo-{i}"
 *
 *     executor = ThreadPoolExecutor()
 *     print("some map results:", list(executor.map(partial(do_work, 3.0), range(1, 10))))
 *     print("more map results:", list(executor.map(partial(do_work, 1.0), range(10, 20))))
 *     executor.shutdown()
 *
 * A `with` block shuts its pool down at the end, so a program that needs a pool again
 * and again keeps one around instead: threads are started once and reused, which saves
 * the cost of creating and joining them for every batch.
 *
 * Workers start lazily: a new pool has no threads at all, and a submit starts one only
 * when no worker is idle and fewer than cfut_executor_max_workers() exist. We count the
 * threads with the pool's initializer, which runs once on each new worker.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cfutures.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void check(cfut_status status, const char *what) {
    if (status != CFUT_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, cfut_status_name(status), cfut_status_str(status));
        exit(1);
    }
}

/* ---- counting worker threads --------------------------------------------------------- */

static atomic_int workers_started = 0; /* incremented once per new worker thread */
static _Thread_local int worker_id = -1; /* each worker thread's own number */

/* The pool's initializer: runs on each new worker before its first task. Returning
 * non-zero would break the pool (Python's BrokenThreadPool). */
static int32_t count_worker(void *arg) {
    (void)arg;
    worker_id = atomic_fetch_add(&workers_started, 1);
    return 0;
}

/* ---- the work -------------------------------------------------------------------------- */

/* A map result: fixed-size, because results live in one flat array we provide. */
struct work_result {
    char text[16]; /* "foo-<i>" */
    int worker;    /* which worker thread ran it */
};

/* do_work(sleep_secs, i): ctx is the bound sleep time (functools.partial), item is i. */
static int32_t do_work(const void *ctx, const void *item, void *result_slot) {
    unsigned sleep = *(const unsigned *)ctx;
    int i = *(const int *)item;
    struct work_result *r = result_slot;
    sleep_ms(sleep);
    snprintf(r->text, sizeof r->text, "foo-%d", i);
    r->worker = worker_id;
    return 0;
}

/* One batch: map do_work over first..last on the shared executor and print the results. */
static void run_batch(cfut_executor *executor, const char *label, unsigned sleep, int first,
                      int last) {
    enum { MAX_ITEMS = 32 };
    int items[MAX_ITEMS];
    struct work_result results[MAX_ITEMS];
    size_t n = 0;
    for (int i = first; i <= last && n < MAX_ITEMS; i++)
        items[n++] = i;

    double start = now_ms();
    cfut_map *map;
    check(cfut_executor_map(executor, do_work, &sleep, 0, items, n, sizeof items[0], results,
                            sizeof results[0], NULL, &map),
          "cfut_executor_map");
    /* Waiting for all of it is Python's list(executor.map(...)). */
    check(cfut_map_wait(map, NULL), "cfut_map_wait");
    cfut_map_free(map);

    printf("%s map results (%u ms each, %.0f ms in all):\n ", label, sleep, now_ms() - start);
    for (size_t k = 0; k < n; k++)
        printf(" %s@w%d", results[k].text, results[k].worker);
    printf("\n  worker threads started so far: %d\n", atomic_load(&workers_started));
}

/* A task for plain submit: returns the number of the worker that ran it. */
static int32_t which_worker(void *arg, cfut_result *out) {
    (void)arg;
    cfut_result_set_value(out, (void *)(intptr_t)worker_id, NULL);
    return 0;
}

int main(void) {
    cfut_thread_pool_options opts;
    cfut_thread_pool_options_init(&opts); /* max_workers 0: Python's default size */
    opts.thread_name_prefix = "reuse";    /* threads show up as reuse_0, reuse_1, ... */
    opts.initializer = count_worker;
    cfut_executor *executor;
    check(cfut_thread_pool_new(&opts, &executor), "cfut_thread_pool_new");

    uint32_t max = cfut_executor_max_workers(executor);
    printf("new pool: max_workers = %u (min(32, CPUs + 4)), worker threads started: %d\n", max,
           atomic_load(&workers_started));

    /* Batch 0: a single task needs a single thread. */
    cfut_future *f;
    check(cfut_executor_submit(executor, which_worker, NULL, NULL, &f), "cfut_executor_submit");
    void *w;
    check(cfut_future_result(f, CFUT_SECONDS(5), &w), "cfut_future_result");
    cfut_future_release(f);
    int after_one = atomic_load(&workers_started);
    printf("one submit ran on w%d; worker threads started: %d\n", (int)(intptr_t)w, after_one);

    /* Two batches on the same pool: more threads start only as far as they are needed,
     * and the second batch reuses them. */
    run_batch(executor, "some", 200, 1, 9);
    run_batch(executor, "more", 100, 10, 19);
    int total = atomic_load(&workers_started);

    /* Done with the pool: wait for its work and stop its threads. */
    check(cfut_executor_shutdown(executor, true, false), "cfut_executor_shutdown");
    /* A shut-down pool refuses new work (Python raises RuntimeError). */
    cfut_status s = cfut_executor_submit(executor, which_worker, NULL, NULL, NULL);
    printf("submit after shutdown -> %s (expected)\n", cfut_status_name(s));
    cfut_executor_free(executor);

    printf("%d worker threads served 1 + 9 + 10 tasks (at most %u allowed)\n", total, max);
    return after_one == 1 && total <= (int)max && s == CFUT_SHUTDOWN ? 0 : 1;
}
