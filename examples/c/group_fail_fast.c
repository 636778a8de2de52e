/*
 * group_fail_fast.c: a task group that fails fast (Go's errgroup, Java's StructuredTaskScope).
 *
 * Twenty "downloads" run in a group created with CFUT_GROUP_CANCEL_ON_FAILURE. One of them
 * finds its file corrupt and fails. That first failure cancels the group: downloads still
 * queued never start, running ones see cfut_result_cancel_requested() and stop.
 * cfut_group_wait() reports the failure with its code and message; cfut_group_free() would
 * also have waited for every task, so nothing outlives the group.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cfutures.h"

#define FILES 20
#define CORRUPT 3

static atomic_int completed, stopped;

static void pause_ms(int ms) { /* stands in for network time */
    struct timespec t = {0, ms * 1000000L};
    nanosleep(&t, NULL);
}

static int32_t download(void *arg, cfut_result *out) {
    int id = (int)(intptr_t)arg;
    for (int chunk = 0; chunk < 20; chunk++) {
        if (cfut_result_cancel_requested(out)) {
            atomic_fetch_add(&stopped, 1);
            cfut_result_set_cancelled(out);
            return 0;
        }
        pause_ms(2);
        if (id == CORRUPT && chunk == 2) {
            cfut_result_set_error(out, 22, "file 3: checksum mismatch in chunk 2");
            return 22;
        }
    }
    atomic_fetch_add(&completed, 1);
    return 0;
}

int main(void) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = 4;
    cfut_executor *ex = NULL;
    cfut_group *g = NULL;
    if (cfut_thread_pool_new(&o, &ex) != CFUT_OK || cfut_group_new(ex, CFUT_GROUP_CANCEL_ON_FAILURE, &g) != CFUT_OK) {
        return 1;
    }
    for (intptr_t i = 0; i < FILES; i++) {
        cfut_status st = cfut_group_submit(g, download, (void *)i, NULL, NULL);
        if (st != CFUT_OK) {
            printf("download %d refused: %s\n", (int)i, cfut_status_name(st));
        }
    }
    cfut_error e;
    cfut_status st = cfut_group_wait(g, CFUT_FOREVER, &e);
    printf("group wait: %s, code %d, \"%s\"\n", cfut_status_name(st), e.code, e.message ? e.message : "");
    printf("%d downloads completed, %d stopped on request, %d never started\n", atomic_load(&completed),
           atomic_load(&stopped), FILES - 1 - atomic_load(&completed) - atomic_load(&stopped));
    int ok = st == CFUT_TASK_FAILED && e.code == 22 && atomic_load(&completed) < FILES - 1;
    cfut_group_free(g); /* the message in e was valid until here */
    cfut_executor_free(ex);
    return ok ? 0 : 1;
}
