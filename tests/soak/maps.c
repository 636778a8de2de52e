/* Process-pool maps in a loop (`make -C tests/soak maps`; see README.md, "RSS is not quite
 * flat"): argv[1] maps (default 40 000) of 300 items, random chunk sizes 1-40, half with
 * max_in_flight 4, a quarter dropped half-way, on 2 workers with max_tasks_per_child 40.
 * Every argv[2] maps (default 5 000) it prints glibc's heap counters and the resident
 * anonymous and file-backed kB. Run it under heaptrack for the live heap, or with
 * GLIBC_TUNABLES=glibc.malloc.tcache_count=0 to see the counters without the per-thread
 * caches. Every result is checked. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfutures.h"
#include "soak_util.h"

/* Resident kB of anonymous memory (heap, stacks) and of mapped files (code pages). */
static void rss_kb(long *anon, long *file) {
    char line[256];
    *anon = *file = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "RssAnon: %ld", anon);
        sscanf(line, "RssFile: %ld", file);
    }
    fclose(f);
}

int main(int argc, char **argv) {
    long total = argc > 1 ? atol(argv[1]) : 40000;
    long every = argc > 2 ? atol(argv[2]) : 5000;
    if (total < 1 || every < 1) {
        fprintf(stderr, "usage: maps [maps] [print every]\n");
        return 2;
    }
    cfut_process_pool_options po;
    cfut_process_pool_options_init(&po);
    po.max_workers = 2;
    po.max_tasks_per_child = 40;
    po.task_timeout_ns = CFUT_SECONDS(2);
    cfut_executor *pp;
    if (cfut_process_pool_new(&po, &pp) != CFUT_OK) return 2;

    printf("maps,uordblks_kb,fordblks_kb,arena_kb,rss_anon_kb,rss_file_kb\n");
    for (long r = 1; r <= total; r++) {
        if (!round_map(pp, true)) break;
        if (r % every == 0) {
            struct mallinfo2 mi = mallinfo2();
            long anon, file;
            rss_kb(&anon, &file);
            printf("%ld,%zu,%zu,%zu,%ld,%ld\n", r, mi.uordblks / 1024, mi.fordblks / 1024, mi.arena / 1024, anon, file);
            fflush(stdout);
        }
    }
    cfut_executor_free(pp);
    printf("%ld passed, %ld failed\n", g_passed, g_failed);
    return g_failed != 0;
}
