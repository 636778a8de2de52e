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
 * it dies after 300 ms. */
enum { DIE_LATER = 1000001 };
static int32_t maybe_die(const void *in, size_t len, cfut_result *out) {
    uint64_t x = 0;
    memcpy(&x, in, len < sizeof x ? len : sizeof x);
    if (x == DIE_LATER)
        usleep(300000);
    if (x == 1 || x == DIE_LATER)
        kill(getpid(), SIGKILL);
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
    /* Tasks sent ahead to a rank that dies fail with it. A task that kills its rank after
     * 300 ms takes one of the two ranks left, then 200 quick tasks fill both ranks' room
     * (the root places them faster than a rank completes them), so some wait on the dying
     * rank behind it: with one slot per rank they can only be there as sent ahead. */
    enum { Q = 200 };
    uint64_t later = DIE_LATER;
    cfut_future *dying = NULL, *q[Q];
    cfut_executor_submit_bytes(ex, maybe_die, &later, sizeof later, &dying);
    for (uint64_t i = 0; i < Q; i++) {
        uint64_t x = 100 + i;
        cfut_executor_submit_bytes(ex, maybe_die, &x, sizeof x, &q[i]);
    }
    check(cfut_future_error(dying, CFUT_SECONDS(30), &e) == CFUT_OK && e.status == CFUT_WORKER_DIED,
          "a second rank dies: its task fails");
    int ok = 0, died = 0, other = 0;
    for (uint64_t i = 0; i < Q; i++) {
        const void *d = NULL;
        size_t n = 0;
        uint64_t v = 0;
        cfut_status rs = cfut_future_result_bytes(q[i], CFUT_SECONDS(30), &d, &n);
        cfut_error qe;
        if (rs == CFUT_OK && n == sizeof v && (memcpy(&v, d, sizeof v), v == 100 + i + 1000))
            ok++;
        else if (cfut_future_error(q[i], 0, &qe) == CFUT_OK && qe.status == CFUT_WORKER_DIED)
            died++;
        else
            other++;
        cfut_future_release(q[i]);
    }
    cfut_future_release(dying);
    printf("     (%d completed, %d failed with the rank)\n", ok, died);
    check(died > 0 && other == 0, "the tasks sent ahead to it fail with CFUT_WORKER_DIED, the others complete");
    cfut_executor_free(ex);
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}
