/* The parallel-loop benchmark's workloads, shared by the C and C++ programs (the Rust and Go
 * peers spell the same formulas). Each program prints "<workload> <impl> <seconds>" lines:
 * the median of REPS timed runs after one warm-up, arrays reset outside the timed region.
 *
 *   sq1m, sq10m  a[i] = a[i] * a[i] in place, int64, 1 M / 10 M items (a[i] = i before each run)
 *   sum10m       the sum of 10 M int64 (a reduction; the array is set once, not before each run)
 *   tri          out[i] = work(i, i): item i costs i units, 6000 items (static halves: 1/4 vs 3/4)
 *   spike        out[i] = work(i, 1000) for 1 item in 100 (by a hash of i), else work(i, 1); 1 M items
 */
#ifndef PFOR_WORK_H
#define PFOR_WORK_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_SMALL 1000000u
#define N_LARGE 10000000u
#define N_TRI 6000u
#define N_SPIKE 1000000u
#define REPS 9

/* One unit of work: a xorshift-multiply step (dependent and non-linear: no compiler folds a run of them). */
static inline uint64_t work(uint64_t x, uint64_t units) {
    for (uint64_t u = 0; u < units; u++) x = (x ^ (x >> 31)) * 0xBF58476D1CE4E5B9ull;
    return x;
}

static inline uint64_t spike_units(uint64_t i) { return ((i * 0x9E3779B97F4A7C15ull) >> 40) % 100 == 0 ? 1000 : 1; }

static inline double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static inline void reset(int64_t *a, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] = (int64_t)i;
}

static inline int check_squares(const int64_t *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != (int64_t)i * (int64_t)i) return 0;
    return 1;
}

static inline int check_tri(const uint64_t *out) {
    for (uint64_t i = 0; i < N_TRI; i += 97)
        if (out[i] != work(i, i)) return 0;
    return 1;
}

static inline int check_spike(const uint64_t *out) {
    for (uint64_t i = 0; i < N_SPIKE; i += 997)
        if (out[i] != work(i, spike_units(i))) return 0;
    return 1;
}

/* Runs `body` REPS + 1 times (the first one untimed), resetting with `setup` before each,
 * and prints the median; aborts if `ok` fails after the last run. */
#define MEASURE(workload, impl, setup, body, ok)                                       \
    do {                                                                               \
        double t_[REPS];                                                               \
        for (int r_ = -1; r_ < REPS; r_++) {                                           \
            setup;                                                                     \
            double s_ = now_s();                                                       \
            body;                                                                      \
            double e_ = now_s() - s_;                                                  \
            if (r_ >= 0) t_[r_] = e_;                                                  \
        }                                                                              \
        if (!(ok)) {                                                                   \
            fprintf(stderr, "%s %s: wrong result\n", workload, impl);                 \
            exit(1);                                                                   \
        }                                                                              \
        printf("%s %s %.9f\n", workload, impl, median(t_, REPS));                      \
        fflush(stdout);                                                                \
    } while (0)

#endif
