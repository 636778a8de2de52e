/* cfutures, empty tasks from C on the default thread pool: (1) 100 000 submits, then
 * cfut_future_result on each in order; (2) one-shot submit -> result latency, p50 over 20 000.
 * Prints "<case> cf <value>" (tasks/s, or seconds). With the argument "help": the pool has
 * inline_waits_any_thread (a waiting caller runs its pending tasks itself), printed as
 * "cf_help". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfutures.h"

#define N 100000
#define SHOTS 20000
#define REPS 7

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static int32_t empty(void *arg, cfut_result *out) {
    (void)arg;
    (void)out;
    return 0;
}

int main(int argc, char **argv) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.inline_waits_any_thread = argc > 1 && strcmp(argv[1], "help") == 0;
    const char *impl = o.inline_waits_any_thread ? "cf_help" : "cf";
    cfut_executor *ex;
    if (cfut_thread_pool_new(&o, &ex) != CFUT_OK) return 1;
    cfut_future **fs = malloc(N * sizeof *fs);
    double t[REPS + 1];
    for (int r = 0; r <= REPS; r++) {
        double s = now_s();
        for (int i = 0; i < N; i++)
            if (cfut_executor_submit(ex, empty, NULL, NULL, &fs[i]) != CFUT_OK) return 1;
        for (int i = 0; i < N; i++) {
            void *v;
            if (cfut_future_result(fs[i], CFUT_FOREVER, &v) != CFUT_OK) return 1;
            cfut_future_release(fs[i]);
        }
        t[r] = now_s() - s;
    }
    qsort(t + 1, REPS, sizeof *t, cmp); /* the first round warms the heap */
    printf("empty100k %s %.1f\n", impl, N / t[1 + REPS / 2]);
    double *lat = malloc(SHOTS * sizeof *lat);
    for (int i = 0; i < SHOTS; i++) {
        cfut_future *f;
        void *v;
        double s = now_s();
        cfut_executor_submit(ex, empty, NULL, NULL, &f);
        cfut_future_result(f, CFUT_FOREVER, &v);
        lat[i] = now_s() - s;
        cfut_future_release(f);
    }
    qsort(lat, SHOTS, sizeof *lat, cmp);
    printf("oneshot_p50 %s %.9f\n", impl, lat[SHOTS / 2]);
    cfut_executor_free(ex);
    free(fs);
    free(lat);
    return 0;
}
