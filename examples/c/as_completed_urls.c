/*
 * as_completed_urls.c: handle results in the order they finish, not the order submitted.
 *
 * Python:
 *     futures = {executor.submit(get_request, url): url for url in urls}
 *     for fut in as_completed(futures):
 *         url = futures[fut]
 *         try:    print(f"Url: {url}, result: {fut.result()}")
 *         except Exception as e: print(f"Url: {url} failed: {e}")
 *
 * The "loads" are simulated with sleeps of different lengths (a sleeping thread behaves
 * like one waiting on the network), and one URL fails. C has no dict keyed by future; we
 * keep the futures in an array, and cfut_as_completed_next hands back an *index* into it,
 * which is also the index of the URL: that is our future -> URL map.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cfutures.h"

/* The task map: what each future stands for. */
struct page {
    const char *url;
    unsigned load_ms; /* how long the simulated download takes */
    int http_status;  /* 200, or an error status the "server" answers with */
};

static const struct page PAGES[] = {
    {"https://example.org/", 250, 200},
    {"https://example.org/slow-report.pdf", 450, 200},
    {"https://example.org/missing.html", 150, 404},
    {"https://example.org/logo.png", 50, 200},
    {"https://example.org/news", 350, 200},
    {"https://example.org/api/v1/items", 100, 200},
};
#define NPAGES (sizeof PAGES / sizeof PAGES[0])

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* monotonic: immune to clock changes */
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) { /* interrupted by a signal: sleep the rest */
    }
}

/* The task: "download" one page. `arg` points into PAGES (static, so no drop function). */
static int32_t load_url(void *arg, cfut_result *out) {
    const struct page *p = arg;
    sleep_ms(p->load_ms);
    if (p->http_status != 200) {
        /* Python's `raise`: a code plus a message the caller reads via cfut_future_error. */
        char msg[64];
        snprintf(msg, sizeof msg, "HTTP %d: not found", p->http_status);
        cfut_result_set_error(out, p->http_status, msg); /* the message is copied */
        return p->http_status;
    }
    /* The result is a short text. set_bytes copies it into the future, so a stack buffer
     * is fine and nobody has to free anything. */
    char body[64];
    int len = snprintf(body, sizeof body, "%u bytes", 1000 + 37 * p->load_ms);
    return cfut_result_set_bytes(out, body, (size_t)len + 1) == CFUT_OK ? 0 : 1;
}

static void check(cfut_status status, const char *what) {
    if (status != CFUT_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, cfut_status_name(status), cfut_status_str(status));
        exit(1);
    }
}

int main(void) {
    cfut_executor *executor;
    check(cfut_thread_pool_new(NULL, &executor), "cfut_thread_pool_new"); /* default size */

    double start = now_ms();
    cfut_future *futures[NPAGES];
    for (size_t i = 0; i < NPAGES; i++) {
        /* The cast drops `const` only to fit the void * parameter; the task only reads. */
        check(cfut_executor_submit(executor, load_url, (void *)&PAGES[i], NULL, &futures[i]),
              "cfut_executor_submit");
    }
    printf("submitted %zu loads; results in completion order:\n", NPAGES);

    /* A deadline for the whole loop, like as_completed(futures, timeout=2). */
    cfut_as_completed *it;
    check(cfut_as_completed_new(futures, NPAGES, CFUT_SECONDS(2), &it), "cfut_as_completed_new");

    int failures = 0;
    for (;;) {
        size_t i;
        cfut_status s = cfut_as_completed_next(it, &i);
        if (s == CFUT_EXHAUSTED) /* Python's StopIteration: every future was yielded */
            break;
        check(s, "cfut_as_completed_next"); /* CFUT_TIMEOUT would land here */

        /* The future is done, so a zero timeout (poll) is enough. */
        const void *body;
        s = cfut_future_result_bytes(futures[i], 0, &body, NULL);
        if (s == CFUT_OK) {
            printf("  %4.0f ms  %-36s -> %s\n", now_ms() - start, PAGES[i].url, (const char *)body);
        } else if (s == CFUT_TASK_FAILED) {
            /* Python's fut.exception(): how the task failed. */
            cfut_error err;
            check(cfut_future_error(futures[i], 0, &err), "cfut_future_error");
            printf("  %4.0f ms  %-36s -> FAILED (code %d: %s)\n", now_ms() - start, PAGES[i].url,
                   err.code, err.message ? err.message : "no message");
            failures++;
        } else {
            check(s, "cfut_future_result_bytes");
        }
    }
    printf("%zu loads finished, %d failed, in %.0f ms (the slowest alone takes 450 ms)\n",
           NPAGES, failures, now_ms() - start);

    /* Check the demo did what it claims: exactly one load should have failed. */
    int ok = failures == 1;

    cfut_as_completed_free(it);
    for (size_t i = 0; i < NPAGES; i++)
        cfut_future_release(futures[i]);
    cfut_executor_free(executor);
    return ok ? 0 : 1;
}
