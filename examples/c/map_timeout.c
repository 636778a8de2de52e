/*
 * map_timeout.c: executor.map with a timeout that fires.
 *
 * Python:
 *     def square(item):
 *         if item == 5:
 *             time.sleep(10)          # this one hangs
 *         return item * item
 *
 *     for sq in executor.map(square, range(1, 11), chunksize=1, timeout=2):
 *         print(sq)                   # 1 4 9 16, then TimeoutError
 *
 * cfut_executor_map runs fn(ctx, &items[i], &results[i]) over a plain C array and yields
 * the items in input order. Its timeout covers the whole map and counts from the
 * cfut_executor_map call (as in Python). When it fires, cfut_map_next returns CFUT_TIMEOUT
 * and every item not yet started is cancelled; items already running cannot be
 * interrupted (a thread is never killed), so cfut_map_free waits for them.
 *
 * Scaled down to run in about a second: items take 50 ms, the "hung" items 5 and 6 take
 * 1 s, the timeout is 500 ms, and two workers keep the timeline predictable:
 *     0-100 ms   items 1-4 finish         -> printed
 *     100 ms     items 5 and 6 start and hang, 7-10 wait in the queue
 *     500 ms     timeout: 7-10 are cancelled, never run
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cfutures.h"

#define NITEMS 10
#define NOT_RUN INT64_MIN /* marks a result slot that no task wrote */

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

/* The map function: one int in, one int64 out. `ctx` is unused here (NULL). */
static int32_t square(const void *ctx, const void *item, void *result_slot) {
    (void)ctx;
    int n = *(const int *)item;
    sleep_ms(n == 5 || n == 6 ? 1000 : 50);
    *(int64_t *)result_slot = (int64_t)n * n;
    return 0;
}

static void check(cfut_status status, const char *what) {
    if (status != CFUT_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, cfut_status_name(status), cfut_status_str(status));
        exit(1);
    }
}

int main(void) {
    cfut_thread_pool_options popts;
    cfut_thread_pool_options_init(&popts);
    popts.max_workers = 2;
    cfut_executor *executor;
    check(cfut_thread_pool_new(&popts, &executor), "cfut_thread_pool_new");

    int items[NITEMS];
    int64_t results[NITEMS]; /* must outlive the map: running tasks write into it */
    for (int i = 0; i < NITEMS; i++) {
        items[i] = i + 1;
        results[i] = NOT_RUN;
    }

    cfut_map_options mopts;
    cfut_map_options_init(&mopts);
    mopts.chunksize = 1; /* one task per item, so one hung item blocks only itself */
    mopts.timeout_ns = CFUT_MILLISECONDS(500);

    double start = now_ms();
    cfut_map *map;
    check(cfut_executor_map(executor, square, NULL, 0, items, NITEMS, sizeof items[0], results,
                            sizeof results[0], &mopts, &map),
          "cfut_executor_map");

    /* Iterate like `for sq in it`. Each call blocks until the next item (in input order) is
     * ready, or the map's deadline passes. */
    int printed = 0;
    cfut_status s;
    size_t i;
    while ((s = cfut_map_next(map, &i, NULL)) == CFUT_OK) {
        printf("  %4.0f ms  square(%d) = %lld\n", now_ms() - start, items[i], (long long)results[i]);
        printed++;
    }
    if (s != CFUT_TIMEOUT) { /* anything else is unexpected in this demo */
        check(s, "cfut_map_next");
        fprintf(stderr, "expected the map to time out\n");
        return 1;
    }
    printf("  %4.0f ms  cfut_map_next -> %s: %s\n", now_ms() - start, cfut_status_name(s),
           cfut_status_str(s));
    /* After a timeout the map is over: further calls say so. */
    printf("  next call -> %s\n", cfut_status_name(cfut_map_next(map, &i, NULL)));

    /* Freeing the map waits for the items still running (5 and 6): they write into
     * `results`, so it must not go away under them. */
    cfut_map_free(map);
    printf("  %4.0f ms  map freed (waited for the items that were still running)\n",
           now_ms() - start);

    /* Which items ran? The cancelled ones never touched their result slot. */
    int ran_late = 0, cancelled = 0;
    for (int k = printed; k < NITEMS; k++) {
        if (results[k] == NOT_RUN) {
            printf("  item %2d: cancelled, never ran\n", items[k]);
            cancelled++;
        } else {
            printf("  item %2d: was already running, finished after the timeout (%lld, unused)\n",
                   items[k], (long long)results[k]);
            ran_late++;
        }
    }
    printf("%d results before the timeout, %d finished too late, %d cancelled\n", printed,
           ran_late, cancelled);

    cfut_executor_free(executor);
    /* The demo's claim: some results came in, then the timeout cancelled the rest. */
    return printed > 0 && cancelled > 0 ? 0 : 1;
}
