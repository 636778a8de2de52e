/* A crash that the pool survives: one task dereferences NULL, another calls abort(),
 * a third exit(3)s. Each fails alone with CFUT_WORKER_DIED (the message names the signal
 * or exit code), every other task completes, and the pool goes on with new workers.
 * (CPython's ProcessPoolExecutor would break the whole pool: BrokenProcessPool.) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfutures.h"

/* in = a long: 13 crashes, 17 aborts, 19 exits; else returns in * in. */
static int32_t risky(const void *in, size_t len, cfut_result *out) {
    long v;
    if (len != sizeof v) return 22;
    memcpy(&v, in, sizeof v);
    if (v == 13) {
        volatile int *p = NULL;
        *p = 1; /* SIGSEGV: this worker process dies */
    }
    if (v == 17) abort();
    if (v == 19) exit(3);
    v *= v;
    cfut_result_set_bytes(out, &v, sizeof v);
    return 0;
}

int main(void) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 2;
    cfut_executor *ex;
    if (cfut_process_pool_new(&o, &ex) != CFUT_OK) {
        fprintf(stderr, "cfut_process_pool_new: %s\n", cfut_last_error_message());
        return 1;
    }
    enum { N = 24 };
    cfut_future *fs[N];
    for (long i = 0; i < N; i++) cfut_executor_submit_bytes(ex, risky, &i, sizeof i, &fs[i]);
    int ok = 0, died = 0;
    for (long i = 0; i < N; i++) {
        const void *p;
        size_t n;
        cfut_status s = cfut_future_result_bytes(fs[i], CFUT_SECONDS(30), &p, &n);
        if (s == CFUT_OK) {
            ok++;
        } else {
            cfut_error e;
            cfut_future_error(fs[i], 0, &e);
            printf("task %2ld: %s (code %d): %s\n", i, cfut_status_name(s), e.code, e.message);
            died += s == CFUT_WORKER_DIED;
        }
        cfut_future_release(fs[i]);
    }
    printf("%d tasks succeeded, %d failed alone; %llu worker processes were started in all\n", ok, died,
           (unsigned long long)cfut_process_pool_workers_started(ex));
    /* The pool is still usable. */
    long v = 12;
    cfut_future *f;
    cfut_executor_submit_bytes(ex, risky, &v, sizeof v, &f);
    const void *p;
    size_t n;
    cfut_status s = cfut_future_result_bytes(f, CFUT_SECONDS(30), &p, &n);
    printf("afterwards: 12 * 12 = %ld (%s)\n", s == CFUT_OK ? *(const long *)p : -1, cfut_status_name(s));
    cfut_future_release(f);
    cfut_executor_free(ex);
    return (ok == N - 3 && died == 3 && s == CFUT_OK) ? 0 : 1;
}
