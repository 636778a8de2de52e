/* One Monte Carlo estimate of pi, written once against cfut_executor_*, run on a thread
 * pool, a process pool or every rank of an MPI job by changing only the constructor:
 *
 *     ./montecarlo threads
 *     ./montecarlo processes
 *     mpirun -np 4 ./montecarlo mpi          (or: srun -n 64 ./montecarlo mpi)
 *
 * Each item is one batch of samples with its own seed (a counter-based generator), so the
 * answer does not depend on which worker, process or rank ran which batch: all three
 * print the same line. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cfutures.h"

struct params {
    uint64_t samples_per_batch;
};

/* splitmix64: a tiny counter-based generator, the same sequence on every machine. */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* One batch: item = its seed, result = how many samples fell inside the quarter circle. */
static int32_t batch(const void *ctx, const void *item, void *result) {
    const struct params *p = ctx;
    uint64_t seed, hits = 0;
    memcpy(&seed, item, sizeof seed);
    for (uint64_t i = 0; i < p->samples_per_batch; i++) {
        double x = (double)(splitmix64(&seed) >> 11) * 0x1.0p-53;
        double y = (double)(splitmix64(&seed) >> 11) * 0x1.0p-53;
        hits += x * x + y * y <= 1.0;
    }
    memcpy(result, &hits, sizeof hits);
    return 0;
}

enum { BATCHES = 512 };

/* The part that does not care where tasks run. */
static int estimate(cfut_executor *ex) {
    static uint64_t seeds[BATCHES], hits[BATCHES];
    struct params p = {20000};
    for (uint64_t i = 0; i < BATCHES; i++)
        seeds[i] = i * UINT64_C(0x2545F4914F6CDD1D) + 1;
    cfut_map *m = NULL;
    cfut_status s = cfut_executor_map(ex, batch, &p, sizeof p, seeds, BATCHES, sizeof(uint64_t), hits,
                                      sizeof(uint64_t), NULL, &m);
    if (s == CFUT_OK)
        s = cfut_map_wait(m, NULL);
    cfut_map_free(m);
    if (s != CFUT_OK) {
        fprintf(stderr, "map: %s\n", cfut_status_name(s));
        return 1;
    }
    uint64_t total = 0;
    for (int i = 0; i < BATCHES; i++)
        total += hits[i];
    uint64_t n = (uint64_t)BATCHES * p.samples_per_batch;
    printf("pi ~= %.9f (%" PRIu64 " of %" PRIu64 " samples inside)\n", 4.0 * (double)total / (double)n, total, n);
    return 0;
}

int main(int argc, char **argv) {
    const char *kind = argc > 1 ? argv[1] : "threads";
    cfut_executor *ex = NULL;
    cfut_status s;
    if (strcmp(kind, "threads") == 0) {
        s = cfut_thread_pool_new(NULL, &ex);
    } else if (strcmp(kind, "processes") == 0) {
        s = cfut_process_pool_new(NULL, &ex);
    } else if (strcmp(kind, "mpi") == 0) {
        s = cfut_mpi_pool_new(NULL, &ex); /* collective: every rank calls it */
        if (s == CFUT_OK && ex == NULL)
            return 0; /* a worker rank: it served tasks until the root was done */
    } else {
        fprintf(stderr, "usage: %s threads|processes|mpi\n", argv[0]);
        return 2;
    }
    if (s != CFUT_OK) {
        fprintf(stderr, "%s pool: %s (%s)\n", kind, cfut_status_name(s), cfut_last_error_message());
        return 1;
    }
    int rc = estimate(ex);
    cfut_executor_free(ex);
    return rc;
}
