/* OpenMP peer (gcc -fopenmp), written as its users write it: `#pragma omp parallel for`
 * with schedule(static) and schedule(dynamic) (default chunk 1 for dynamic would be unfair
 * to it on the fine-grained rows, so those use the common schedule(dynamic, 1024);
 * the uneven rows use schedule(dynamic) as tutorials do) and reduction(+) for the sum. */
#include <omp.h>

#include "work.h"

static int64_t *A;
static uint64_t *O;

static void sq_static(size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) A[i] = A[i] * A[i];
}
static void sq_dynamic(size_t n) {
#pragma omp parallel for schedule(dynamic, 1024)
    for (size_t i = 0; i < n; i++) A[i] = A[i] * A[i];
}
static int64_t sum_static(size_t n) {
    int64_t s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s)
    for (size_t i = 0; i < n; i++) s += A[i];
    return s;
}
static int64_t sum_dynamic(size_t n) {
    int64_t s = 0;
#pragma omp parallel for schedule(dynamic, 1024) reduction(+ : s)
    for (size_t i = 0; i < n; i++) s += A[i];
    return s;
}
static void tri_static(void) {
#pragma omp parallel for schedule(static)
    for (uint64_t i = 0; i < N_TRI; i++) O[i] = work(i, i);
}
static void tri_dynamic(void) {
#pragma omp parallel for schedule(dynamic)
    for (uint64_t i = 0; i < N_TRI; i++) O[i] = work(i, i);
}
static void spike_static(void) {
#pragma omp parallel for schedule(static)
    for (uint64_t i = 0; i < N_SPIKE; i++) O[i] = work(i, spike_units(i));
}
static void spike_dynamic(void) {
#pragma omp parallel for schedule(dynamic, 1024)
    for (uint64_t i = 0; i < N_SPIKE; i++) O[i] = work(i, spike_units(i));
}

int main(void) {
    A = malloc(N_LARGE * sizeof *A);
    O = malloc(N_SPIKE * sizeof *O);
    int64_t s = 0;
    const int64_t want = (int64_t)N_LARGE * (N_LARGE - 1) / 2;
    MEASURE("sq1m", "omp_static", reset(A, N_SMALL), sq_static(N_SMALL), check_squares(A, N_SMALL));
    MEASURE("sq1m", "omp_dynamic", reset(A, N_SMALL), sq_dynamic(N_SMALL), check_squares(A, N_SMALL));
    MEASURE("sq10m", "omp_static", reset(A, N_LARGE), sq_static(N_LARGE), check_squares(A, N_LARGE));
    MEASURE("sq10m", "omp_dynamic", reset(A, N_LARGE), sq_dynamic(N_LARGE), check_squares(A, N_LARGE));
    reset(A, N_LARGE);
    MEASURE("sum10m", "omp_static", (void)0, s = sum_static(N_LARGE), s == want);
    MEASURE("sum10m", "omp_dynamic", (void)0, s = sum_dynamic(N_LARGE), s == want);
    MEASURE("tri", "omp_static", (void)0, tri_static(), check_tri(O));
    MEASURE("tri", "omp_dynamic", (void)0, tri_dynamic(), check_tri(O));
    MEASURE("spike", "omp_static", (void)0, spike_static(), check_spike(O));
    MEASURE("spike", "omp_dynamic", (void)0, spike_dynamic(), check_spike(O));
    free(A);
    free(O);
    return 0;
}
