/* cqbench: 100 000 empty tasks on 2 workers, at most WINDOW in flight, completed three ways:
 *
 *   cq      cfutures: an epoll loop on a completion queue's fd wakes, drains every finished
 *           tag (64 at a time), reads each result (never blocks), then refills the window
 *   result  cfutures: the same window, each future waited on in submission order with a
 *           blocking cfut_future_result
 *   uv      libuv: uv_queue_work on its own thread pool (UV_THREADPOOL_SIZE=2), the after-work
 *           callbacks running on uv_run's loop, which queues more
 *
 * Each task stores the time it ends; the loop records the time it learns of it, so
 * "completion-to-loop latency" is the same interval in all three. Prints "key value" lines
 * for benches/run.py: tasks_per_s, p50_us, p99_us, and for cfutures wakeups_per_task (loop
 * wake-ups per task: epoll_wait returns, or blocking waits). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <uv.h>

#include "cfutures.h"

enum { N = 100000, WINDOW = 1024, WORKERS = 2 };

static uint64_t done_ns[N];
static uint64_t lat_ns[N];
static size_t wakeups;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int32_t empty_task(void *arg, cfut_result *out) {
    (void)out;
    done_ns[(uintptr_t)arg] = now_ns();
    return 0;
}

static cfut_executor *pool2(void) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = WORKERS;
    cfut_executor *ex = NULL;
    if (cfut_thread_pool_new(&o, &ex) != CFUT_OK) {
        fprintf(stderr, "pool: %s\n", cfut_last_error_message());
        exit(1);
    }
    return ex;
}

static cfut_future *futs[N];

static void run_cq(void) {
    cfut_executor *ex = pool2();
    cfut_cq *cq = NULL;
    cfut_cq_new(&cq);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
    epoll_ctl(ep, EPOLL_CTL_ADD, cfut_cq_fd(cq), &ev);
    size_t submitted = 0, finished = 0;
    uint64_t tags[64];
    while (finished < N) {
        while (submitted < N && submitted - finished < WINDOW) {
            cfut_executor_submit(ex, empty_task, (void *)(uintptr_t)submitted, NULL, &futs[submitted]);
            cfut_cq_watch(cq, futs[submitted], submitted);
            submitted++;
        }
        /* As an event loop: sleep until the fd is readable, answer everything that waits
         * (draining until the queue is empty), then the handlers' new work is submitted. */
        struct epoll_event out;
        if (epoll_wait(ep, &out, 1, -1) != 1) {
            continue;
        }
        wakeups++;
        size_t n;
        while ((n = cfut_cq_drain(cq, tags, 64)) > 0) {
            uint64_t t = now_ns();
            for (size_t i = 0; i < n; i++) {
                uint64_t k = tags[i];
                if (cfut_future_result(futs[k], 0, NULL) != CFUT_OK) {
                    fprintf(stderr, "task %llu failed\n", (unsigned long long)k);
                    exit(1);
                }
                lat_ns[k] = t - done_ns[k];
                cfut_future_release(futs[k]);
            }
            finished += n;
        }
    }
    close(ep);
    cfut_cq_free(cq);
    cfut_executor_free(ex);
}

static void run_result(void) {
    cfut_executor *ex = pool2();
    size_t submitted = 0, finished = 0;
    while (finished < N) {
        while (submitted < N && submitted - finished < WINDOW) {
            cfut_executor_submit(ex, empty_task, (void *)(uintptr_t)submitted, NULL, &futs[submitted]);
            submitted++;
        }
        if (cfut_future_result(futs[finished], CFUT_FOREVER, NULL) != CFUT_OK) {
            fprintf(stderr, "task %zu failed\n", finished);
            exit(1);
        }
        lat_ns[finished] = now_ns() - done_ns[finished];
        wakeups++;
        cfut_future_release(futs[finished]);
        finished++;
    }
    cfut_executor_free(ex);
}

static uv_work_t works[N];
static size_t uv_submitted, uv_finished;

static void uv_work(uv_work_t *w) {
    done_ns[(uintptr_t)w->data] = now_ns();
}

static void uv_fill(uv_loop_t *loop);

static void uv_after(uv_work_t *w, int status) {
    (void)status;
    uint64_t t = now_ns();
    size_t k = (uintptr_t)w->data;
    lat_ns[k] = t - done_ns[k];
    uv_finished++;
    uv_fill(w->loop);
}

static void uv_fill(uv_loop_t *loop) {
    while (uv_submitted < N && uv_submitted - uv_finished < WINDOW) {
        works[uv_submitted].data = (void *)(uintptr_t)uv_submitted;
        uv_queue_work(loop, &works[uv_submitted], uv_work, uv_after);
        uv_submitted++;
    }
}

static void run_uv(void) {
    uv_loop_t *loop = uv_default_loop();
    uv_fill(loop);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    setenv("UV_THREADPOOL_SIZE", "2", 1); /* before libuv's pool starts: 2 workers, as ours */
    uint64_t t0 = now_ns();
    if (strcmp(mode, "cq") == 0) {
        run_cq();
    } else if (strcmp(mode, "result") == 0) {
        run_result();
    } else if (strcmp(mode, "uv") == 0) {
        run_uv();
    } else {
        fprintf(stderr, "usage: cqbench cq|result|uv\n");
        return 2;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    qsort(lat_ns, N, sizeof lat_ns[0], cmp_u64);
    printf("tasks_per_s %.0f\n", N / secs);
    printf("p50_us %.2f\n", (double)lat_ns[N / 2] / 1e3);
    printf("p99_us %.2f\n", (double)lat_ns[N * 99 / 100] / 1e3);
    if (wakeups) {
        printf("wakeups_per_task %.4f\n", (double)wakeups / N);
    }
    return 0;
}
