/* A rank that dies, under ULFM (Open MPI 5 run with `mpirun --with-ft ulfm`): its task
 * fails with CFUT_WORKER_DIED within a fraction of a second and the pool goes on with the
 * other ranks. Built with plain cc (the pool loads MPI through the plugin built with the
 * ULFM MPI's mpicc: CFUT_TEST_MPI_PLUGIN). The root prints `N passed, N failed`. */
#define _DEFAULT_SOURCE
#include <signal.h>
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

/* Input 1: the whole rank dies (isolation NONE runs tasks in the rank itself); DIE_LATER:
 * it dies after 300 ms; SLOW: takes a second. */
enum { DIE_LATER = 1000001, SLOW = 1000002 };
static int32_t maybe_die(const void *in, size_t len, cfut_result *out) {
    uint64_t x = 0;
    memcpy(&x, in, len < sizeof x ? len : sizeof x);
    if (x == DIE_LATER)
        usleep(300000);
    if (x == 1 || x == DIE_LATER)
        kill(getpid(), SIGKILL);
    if (x == SLOW)
        sleep(1);
    x += 1000;
    cfut_result_set_bytes(out, &x, sizeof x);
    return 0;
}

static int passed, failed;
static void check(int ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    fflush(stdout);
    ok ? passed++ : failed++;
}

int main(void) {
    cfut_mpi_pool_options o;
    cfut_mpi_pool_options_init(&o);
    o.isolation = CFUT_MPI_ISOLATION_NONE;
    o.workers_per_rank = 1;
    o.plugin_path = getenv("CFUT_TEST_MPI_PLUGIN");
    cfut_executor *ex = NULL;
    cfut_status s = cfut_mpi_pool_new(&o, &ex);
    if (s != CFUT_OK) {
        fprintf(stderr, "cfut_mpi_pool_new: %s (%s)\n", cfut_status_name(s), cfut_last_error_message());
        return 1;
    }
    if (!ex)
        return 0;
    check(cfut_mpi_pool_survives_rank_death(ex), "the plugin reports ULFM");
    uint32_t slots_before = cfut_executor_max_workers(ex);
    uint64_t one = 1;
    cfut_future *f = NULL;
    double t0 = now_s();
    cfut_executor_submit_bytes(ex, maybe_die, &one, sizeof one, &f);
    cfut_error e;
    cfut_status st = cfut_future_error(f, CFUT_SECONDS(30), &e);
    double dt = now_s() - t0;
    check(st == CFUT_OK && e.status == CFUT_WORKER_DIED, "the dead rank's task fails with CFUT_WORKER_DIED");
    printf("     (%s after %.0f ms: %s)\n", cfut_status_name(e.status), dt * 1e3, e.message ? e.message : "");
    check(dt < 2.0, "reported within 2 s of the submit");
    cfut_future_release(f);
    int good = 0;
    for (uint64_t i = 2; i < 40; i++) {
        const void *d = NULL;
        size_t n = 0;
        uint64_t v = 0;
        if (cfut_executor_submit_bytes(ex, maybe_die, &i, sizeof i, &f) == CFUT_OK &&
            cfut_future_result_bytes(f, CFUT_SECONDS(30), &d, &n) == CFUT_OK && n == sizeof v)
            memcpy(&v, d, sizeof v);
        good += v == i + 1000;
        cfut_future_release(f);
    }
    check(good == 38, "the pool goes on with the other ranks");
    check(cfut_executor_max_workers(ex) == slots_before - 1, "the pool has one rank's slot fewer (max_workers)");
    cfut_executor_stats stats = {.struct_size = sizeof stats};
    check(cfut_executor_stats_get(ex, &stats) == CFUT_OK && stats.workers == slots_before - 1,
          "stats show the lost rank (workers)");
    check(stats.submitted == 39 && stats.completed == 38 && stats.failed == 1 && stats.queued == 0 && stats.running == 0,
          "stats count the tasks (39 submitted, 38 completed, 1 failed)");
    /* A task sent ahead to a rank that dies fails with it. Two ranks are left: the dying
     * task takes one, a slow task the other, so the third goes ahead to the first (ties go
     * round the ranks), all within the 300 ms before the death. */
    uint64_t in[3] = {DIE_LATER, SLOW, 100};
    cfut_future *g[3];
    for (int i = 0; i < 3; i++)
        cfut_executor_submit_bytes(ex, maybe_die, &in[i], sizeof in[i], &g[i]);
    cfut_error e2, e3;
    check(cfut_future_error(g[0], CFUT_SECONDS(30), &e) == CFUT_OK && e.status == CFUT_WORKER_DIED,
          "a second rank dies: its task fails");
    check(cfut_future_error(g[2], CFUT_SECONDS(30), &e3) == CFUT_OK && e3.status == CFUT_WORKER_DIED,
          "the task sent ahead to it fails with CFUT_WORKER_DIED");
    printf("     (%s: %s)\n", cfut_status_name(e3.status), e3.message ? e3.message : "");
    check(cfut_future_error(g[1], CFUT_SECONDS(30), &e2) == CFUT_OK && e2.status == CFUT_OK,
          "the slow task on the other rank completes");
    for (int i = 0; i < 3; i++)
        cfut_future_release(g[i]);
    cfut_executor_free(ex);
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}
