/*
 * errors_submit_vs_map.c: how a failing task reaches you through submit and through map.
 *
 * Python:
 *     def get_request(url, sleep_time):
 *         time.sleep(sleep_time)
 *         if url == 5:
 *             raise Exception(f"Some exception in processing url {url}")
 *         return url
 *
 *     # submit: each future carries its own outcome
 *     for future in [executor.submit(get_request, url, 0.1) for url in urls]:
 *         try:    print(future.result())
 *         except Exception as e: print(e)          # 1 2 3 4 <error> 6 7 8 9
 *
 *     # map: the first exception ends the generator, 6..9 are lost
 *     for result in executor.map(partial(get_request, sleep_time=0.1), urls):
 *         print(result)                            # 1 2 3 4, then it raises
 *
 * In C a task "raises" by returning a non-zero code. Through submit, cfut_future_result
 * says CFUT_TASK_FAILED and cfut_future_error gives the code and message. Through
 * cfut_executor_map, cfut_map_next reports that one item as CFUT_TASK_FAILED (with its
 * code) and the iteration goes on: unlike Python, one failure does not lose the rest.
 * cfut_map_wait is the all-at-once form: it waits for every item, then names the first
 * failure.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cfutures.h"

#define NURLS 9
#define BAD_URL 5
#define ERR_BAD_URL 500 /* our "exception type": any non-zero int32 */

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

/* ---- submit: a cfut_task_fn, one future per url ---------------------------------------- */

static int32_t get_request_task(void *arg, cfut_result *out) {
    /* Small integers travel inside the pointer itself: nothing to allocate or free. */
    int url = (int)(intptr_t)arg;
    sleep_ms(100);
    if (url == BAD_URL) {
        char msg[64];
        snprintf(msg, sizeof msg, "Some exception in processing url %d", url);
        cfut_result_set_error(out, ERR_BAD_URL, msg);
        return ERR_BAD_URL;
    }
    cfut_result_set_value(out, (void *)(intptr_t)url, NULL); /* no drop: not a heap pointer */
    return 0;
}

static int demo_submit(cfut_executor *executor) {
    printf("submit + result():\n");
    cfut_future *futures[NURLS];
    for (int i = 0; i < NURLS; i++) {
        check(cfut_executor_submit(executor, get_request_task, (void *)(intptr_t)(i + 1), NULL,
                                   &futures[i]),
              "cfut_executor_submit");
    }

    int failed = 0;
    for (int i = 0; i < NURLS; i++) {
        void *value;
        cfut_status s = cfut_future_result(futures[i], CFUT_SECONDS(5), &value);
        if (s == CFUT_OK) {
            printf("  url %d -> %d\n", i + 1, (int)(intptr_t)value);
        } else if (s == CFUT_TASK_FAILED) {
            /* The "except" branch: fetch what the task reported. */
            cfut_error err;
            check(cfut_future_error(futures[i], 0, &err), "cfut_future_error");
            printf("  url %d -> %s, code %d: %s\n", i + 1, cfut_status_name(s), err.code,
                   err.message ? err.message : "(no message)");
            failed++;
        } else {
            check(s, "cfut_future_result"); /* timeout, cancelled...: not expected here */
        }
    }
    for (int i = 0; i < NURLS; i++)
        cfut_future_release(futures[i]);
    return failed;
}

/* ---- map: a cfut_map_fn over an int array ----------------------------------------------- */

static int32_t get_request_item(const void *ctx, const void *item, void *result_slot) {
    unsigned sleep_time_ms = *(const unsigned *)ctx; /* the partial()-bound argument */
    int url = *(const int *)item;
    sleep_ms(sleep_time_ms);
    if (url == BAD_URL)
        return ERR_BAD_URL; /* a map function reports a code only, no message */
    *(int *)result_slot = url;
    return 0;
}

static int demo_map(cfut_executor *executor) {
    printf("map + cfut_map_next():\n");
    int urls[NURLS], results[NURLS];
    for (int i = 0; i < NURLS; i++)
        urls[i] = i + 1;
    /* ctx plays the role of functools.partial: extra arguments shared by every item.
     * ctx_len 0 passes the pointer as is, so it must outlive the map (it does). */
    const unsigned sleep_time_ms = 100;

    cfut_map_options opts;
    cfut_map_options_init(&opts);
    opts.chunksize = 1; /* one task per url, like Python's map on a thread pool */
    cfut_map *map;
    check(cfut_executor_map(executor, get_request_item, &sleep_time_ms, 0, urls, NURLS,
                            sizeof urls[0], results, sizeof results[0], &opts, &map),
          "cfut_executor_map");

    int failed = 0;
    for (;;) {
        size_t i;
        cfut_error err;
        cfut_status s = cfut_map_next(map, &i, &err);
        if (s == CFUT_EXHAUSTED)
            break;
        if (s == CFUT_OK) {
            printf("  url %d -> %d\n", urls[i], results[i]);
        } else if (s == CFUT_TASK_FAILED) {
            /* This item failed; results[i] was never written. Keep iterating. */
            printf("  url %d -> %s, code %d (the map goes on)\n", urls[i], cfut_status_name(s),
                   err.code);
            failed++;
        } else {
            check(s, "cfut_map_next");
        }
    }
    cfut_map_free(map);
    return failed;
}

/* ---- map, all at once: Python's list(executor.map(...)) -------------------------------- */

static int demo_map_wait(cfut_executor *executor) {
    printf("map + cfut_map_wait() (all at once, like list(executor.map(...))):\n");
    int urls[NURLS], results[NURLS];
    for (int i = 0; i < NURLS; i++)
        urls[i] = i + 1;
    const unsigned sleep_time_ms = 20;
    cfut_map *map;
    /* NULL options: automatic chunk size, no timeout. */
    check(cfut_executor_map(executor, get_request_item, &sleep_time_ms, 0, urls, NURLS,
                            sizeof urls[0], results, sizeof results[0], NULL, &map),
          "cfut_executor_map");
    /* Waits for every item, then reports the first failure (if any) and where it was. */
    size_t first_failed;
    cfut_status s = cfut_map_wait(map, &first_failed);
    int failed = 0;
    if (s == CFUT_TASK_FAILED) {
        printf("  %s at url %d; the other results are in the array anyway\n",
               cfut_status_name(s), urls[first_failed]);
        failed = 1;
    } else {
        check(s, "cfut_map_wait");
    }
    cfut_map_free(map);
    return failed;
}

int main(void) {
    cfut_thread_pool_options opts;
    cfut_thread_pool_options_init(&opts);
    opts.max_workers = 13; /* the seed's choice; plenty for 9 sleeping tasks */
    cfut_executor *executor;
    check(cfut_thread_pool_new(&opts, &executor), "cfut_thread_pool_new");

    int submit_failed = demo_submit(executor);
    int map_failed = demo_map(executor);
    int wait_failed = demo_map_wait(executor);
    printf("submit: %d of %d failed; map: %d of %d failed, and every other result arrived\n",
           submit_failed, NURLS, map_failed, NURLS);

    cfut_executor_free(executor);
    return submit_failed == 1 && map_failed == 1 && wait_failed == 1 ? 0 : 1;
}
