/* The MPI pool's side of `make bench-mpi`: run as `mpirun -np 4 bench_mpi [none|process]`.
 * Prints one JSON object (root only): empty-task throughput, one-shot latency, a map of 1 M
 * items in chunks of 1000, and the idle CPU of every rank while the pool waits for work.
 * The program initialises MPI itself only to learn every rank's pid (for the idle CPU).
 * An optional third argument sets workers_per_rank (default: the rank's CPUs). */
#define _DEFAULT_SOURCE
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfutures.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int32_t noop(const void *in, size_t len, cfut_result *out) {
    (void)in, (void)len, (void)out;
    return 0;
}

static int32_t twice(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    int64_t x;
    memcpy(&x, item, sizeof x);
    x *= 2;
    memcpy(slot, &x, sizeof x);
    return 0;
}

/* utime + stime of a process, in seconds. */
static double cpu_of(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int me = getpid(), *pids = calloc((size_t)size, sizeof(int));
    MPI_Gather(&me, 1, MPI_INT, pids, 1, MPI_INT, 0, MPI_COMM_WORLD);
    int isolation = argc > 1 && strcmp(argv[1], "process") == 0 ? CFUT_MPI_ISOLATION_PROCESS : CFUT_MPI_ISOLATION_NONE;
    int tasks = argc > 2 ? atoi(argv[2]) : 200000;
    cfut_mpi_pool_options o;
    cfut_mpi_pool_options_init(&o);
    o.isolation = (uint32_t)isolation;
    o.workers_per_rank = argc > 3 ? (uint32_t)atoi(argv[3]) : 0;
    cfut_executor *ex = NULL;
    cfut_status s = cfut_mpi_pool_new(&o, &ex);
    if (s != CFUT_OK) {
        fprintf(stderr, "cfut_mpi_pool_new: %s (%s)\n", cfut_status_name(s), cfut_last_error_message());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (ex) {
        /* Warm up: every rank's workers started. */
        for (int i = 0; i < 200; i++) {
            cfut_future *f;
            cfut_executor_submit_bytes(ex, noop, NULL, 0, &f);
            cfut_future_wait(f, CFUT_FOREVER);
            cfut_future_release(f);
        }
        /* Idle CPU: nothing submitted for 3 s. */
        double c0[64], idle_s = 3.0;
        for (int r = 0; r < size && r < 64; r++)
            c0[r] = cpu_of(pids[r]);
        usleep((useconds_t)(idle_s * 1e6));
        double idle_max = 0, idle_root = 0;
        for (int r = 0; r < size && r < 64; r++) {
            double pct = (cpu_of(pids[r]) - c0[r]) / idle_s * 100;
            if (r == 0)
                idle_root = pct;
            else if (pct > idle_max)
                idle_max = pct;
        }
        /* Empty-task throughput: every future kept, then waited. */
        cfut_future **fs = malloc(sizeof *fs * (size_t)tasks);
        double t0 = now_s();
        for (int i = 0; i < tasks; i++)
            cfut_executor_submit_bytes(ex, noop, NULL, 0, &fs[i]);
        for (int i = 0; i < tasks; i++) {
            cfut_future_wait(fs[i], CFUT_FOREVER);
            cfut_future_release(fs[i]);
        }
        double thr = tasks / (now_s() - t0);
        free(fs);
        /* One-shot latency: submit, wait, repeat. */
        enum { LAT = 500 };
        double lat[LAT];
        for (int i = 0; i < LAT; i++) {
            cfut_future *f;
            double a = now_s();
            cfut_executor_submit_bytes(ex, noop, NULL, 0, &f);
            cfut_future_wait(f, CFUT_FOREVER);
            lat[i] = now_s() - a;
            cfut_future_release(f);
        }
        qsort(lat, LAT, sizeof lat[0], cmp_d);
        /* Map: 1 M items, chunks of 1000. */
        size_t n = 1000000;
        int64_t *items = malloc(n * sizeof *items), *res = malloc(n * sizeof *res);
        for (size_t i = 0; i < n; i++)
            items[i] = (int64_t)i;
        cfut_map_options mo;
        cfut_map_options_init(&mo);
        mo.chunksize = 1000;
        char ctx = 0;
        t0 = now_s();
        cfut_map *m = NULL;
        cfut_executor_map(ex, twice, &ctx, 1, items, n, sizeof *items, res, sizeof *res, &mo, &m);
        cfut_status ms = cfut_map_wait(m, NULL);
        double map_s = now_s() - t0;
        cfut_map_free(m);
        int ok = ms == CFUT_OK && res[n - 1] == 2 * (int64_t)(n - 1);
        printf("{\"impl\": \"cfutures-%s\", \"ranks\": %d, \"tasks\": %d, \"throughput\": %.1f, "
               "\"latency_p50_us\": %.1f, \"latency_p99_us\": %.1f, \"map_1m_s\": %.4f, \"map_ok\": %s, "
               "\"idle_cpu_worker_max_pct\": %.2f, \"idle_cpu_root_pct\": %.2f}\n",
               isolation == CFUT_MPI_ISOLATION_NONE ? "none" : "process", size, tasks, thr, lat[LAT / 2] * 1e6,
               lat[LAT * 99 / 100] * 1e6, map_s, ok ? "true" : "false", idle_max, idle_root);
        fflush(stdout);
        free(items);
        free(res);
        cfut_executor_free(ex);
    }
    free(pids);
    MPI_Finalize();
    return 0;
}
