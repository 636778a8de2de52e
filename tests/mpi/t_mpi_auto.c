/* An MPI pool in a program that never touches MPI itself (built with plain cc, not linked
 * with MPI): cfut_mpi_pool_new initialises MPI and finalises it when the pool ends, so
 * main simply returns (mpirun reports a rank that exits without MPI_Finalize as a failure).
 *
 *   mpirun -np 3 t_mpi_auto          the pool works; every rank exits 0
 *   t_mpi_auto --not-launched         started without mpirun: CFUT_UNSUPPORTED at once
 *   t_mpi_auto --no-plugin            a plugin path that does not exist: CFUT_UNSUPPORTED
 * Prints `N passed, N failed` (the root only, under mpirun). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cfutures.h"

static int32_t triple(const void *in, size_t len, cfut_result *out) {
    uint64_t x;
    if (len != sizeof x)
        return 22;
    memcpy(&x, in, sizeof x);
    x *= 3;
    cfut_result_set_bytes(out, &x, sizeof x);
    return 0;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int refused(const char *plugin, const char *want_in_message) {
    cfut_mpi_pool_options o;
    cfut_mpi_pool_options_init(&o);
    o.plugin_path = plugin;
    cfut_executor *ex = NULL;
    double t0 = now_s();
    cfut_status s = cfut_mpi_pool_new(&o, &ex);
    const char *m = cfut_last_error_message();
    int ok = s == CFUT_UNSUPPORTED && ex == NULL && m && strstr(m, want_in_message) && now_s() - t0 < 10;
    printf("%s: %s (%s)\n", ok ? "ok  " : "FAIL", cfut_status_name(s), m ? m : "no message");
    printf("%d passed, %d failed\n", ok, !ok);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--not-launched") == 0)
        return refused(NULL, "mpirun");
    if (argc > 1 && strcmp(argv[1], "--no-plugin") == 0)
        return refused("/nonexistent/dir/libcfutures_mpi.so", "make mpi");
    cfut_executor *ex = NULL;
    cfut_status s = cfut_mpi_pool_new(NULL, &ex);
    if (s != CFUT_OK) {
        fprintf(stderr, "cfut_mpi_pool_new: %s (%s)\n", cfut_status_name(s), cfut_last_error_message());
        return 1;
    }
    if (ex == NULL)
        return 0; /* a worker rank: served until the root freed its pool; MPI is finalised */
    int passed = 0, failed = 0;
    for (uint64_t i = 0; i < 32; i++) {
        cfut_future *f = NULL;
        const void *d = NULL;
        size_t n = 0;
        uint64_t v = 0;
        if (cfut_executor_submit_bytes(ex, triple, &i, sizeof i, &f) == CFUT_OK &&
            cfut_future_result_bytes(f, CFUT_SECONDS(60), &d, &n) == CFUT_OK && n == sizeof v)
            memcpy(&v, d, sizeof v);
        cfut_future_release(f);
        if (v == 3 * i)
            passed++;
        else
            failed++;
    }
    cfut_executor_free(ex); /* finalises MPI on the root */
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
