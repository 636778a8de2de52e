#define _GNU_SOURCE
/* A host for the "host killed" tests: starts a process pool, makes its workers busy (or
 * leaves them idle), prints the worker pids on stdout and waits to be killed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cfutures.h"

static int32_t sleepy(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len; (void)out;
    for (;;) pause();
    return 0;
}

static int32_t quick(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len; (void)out;
    return 0;
}

int main(int argc, char **argv) {
    int busy = argc > 1 && strcmp(argv[1], "busy") == 0;
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 2;
    if (argc > 2 && strcmp(argv[2], "forkserver") == 0) o.start_method = CFUT_START_FORKSERVER;
    if (argc > 2 && strcmp(argv[2], "fork") == 0) o.start_method = CFUT_START_FORK;
    cfut_executor *ex;
    if (cfut_process_pool_new(&o, &ex) != CFUT_OK) return 2;
    cfut_future *f[2];
    for (int i = 0; i < 2; i++) cfut_executor_submit_bytes(ex, busy ? sleepy : quick, NULL, 0, &f[i]);
    if (!busy) {
        for (int i = 0; i < 2; i++) cfut_future_wait(f[i], CFUT_SECONDS(10));
    } else {
        /* Both workers started and hold a task. */
        for (int t = 0; t < 1000; t++) {
            size_t n = 0;
            cfut_process_pool_worker_pids(ex, NULL, 0, &n);
            if (n == 2 && cfut_future_running(f[0]) && cfut_future_running(f[1])) break;
            usleep(10000);
        }
        usleep(100000);
    }
    int32_t pids[8];
    size_t n = 0;
    cfut_process_pool_worker_pids(ex, pids, 8, &n);
    for (size_t i = 0; i < n; i++) printf("%d\n", pids[i]);
    printf("ready\n");
    fflush(stdout);
    for (;;) pause();
}
