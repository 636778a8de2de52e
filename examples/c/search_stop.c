/*
 * search_stop.c: many workers search; the first one that finds the answer stops the rest.
 *
 * Each task scans one slice of a large key space for the key whose hash is TARGET. Tasks
 * poll cfut_result_cancel_requested() every few thousand keys. The task that finds the
 * key records it and calls cfut_group_cancel(): slices not started yet are cancelled
 * (never run), running ones see the request within microseconds, acknowledge with
 * cfut_result_set_cancelled() and return. cfut_group_wait() then returns CFUT_CANCELLED
 * (the group was cancelled, nothing failed), and the answer is already in hand.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfutures.h"

#define SLICES 256
#define SLICE_SIZE (1u << 20) /* 256 M keys in all */

/* A cheap mixing function standing in for real work (a hash, a model, a solver). */
static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static const uint64_t SECRET = 37u * SLICE_SIZE + 123457u; /* lies in slice 37 */

struct search {
    cfut_group *group;
    uint64_t target;
    atomic_ullong found;   /* the key, or UINT64_MAX */
    atomic_int scanned;    /* slices scanned to the end */
    atomic_int stopped;    /* slices that stopped on the request */
};

struct slice {
    struct search *s;
    uint64_t begin;
};

static int32_t scan(void *arg, cfut_result *out) {
    struct slice *sl = arg;
    struct search *s = sl->s;
    for (uint64_t k = sl->begin; k < sl->begin + SLICE_SIZE; k++) {
        if ((k & 4095) == 0 && cfut_result_cancel_requested(out)) {
            atomic_fetch_add(&s->stopped, 1);
            cfut_result_set_cancelled(out); /* this slice ends CANCELLED */
            return 0;
        }
        if (mix(k) == s->target) {
            atomic_store(&s->found, k);
            cfut_group_cancel(s->group); /* stop everyone else */
            return 0;
        }
    }
    atomic_fetch_add(&s->scanned, 1);
    return 0;
}

static void check(cfut_status st, const char *what) {
    if (st != CFUT_OK) {
        fprintf(stderr, "%s: %s\n", what, cfut_status_name(st));
        exit(1);
    }
}

int main(void) {
    cfut_executor *ex = NULL;
    check(cfut_thread_pool_new(NULL, &ex), "cfut_thread_pool_new");
    static struct search s;
    s.target = mix(SECRET);
    atomic_store(&s.found, UINT64_MAX);
    check(cfut_group_new(ex, 0, &s.group), "cfut_group_new");

    int submitted = 0;
    for (int i = 0; i < SLICES; i++) {
        struct slice *sl = malloc(sizeof *sl);
        sl->s = &s;
        sl->begin = (uint64_t)i * SLICE_SIZE;
        cfut_status st = cfut_group_submit(s.group, scan, sl, free, NULL);
        if (st == CFUT_CANCELLED) {
            break; /* already found: the group takes no more work (sl was freed) */
        }
        check(st, "cfut_group_submit");
        submitted++;
    }
    cfut_status st = cfut_group_wait(s.group, CFUT_FOREVER, NULL);
    uint64_t key = atomic_load(&s.found);
    printf("group wait: %s\n", cfut_status_name(st));
    printf("found key %llu (hash %016llx)\n", (unsigned long long)key, (unsigned long long)s.target);
    printf("%d slices submitted of %d: %d scanned to the end, %d stopped on request, the rest never ran\n",
           submitted, SLICES, atomic_load(&s.scanned), atomic_load(&s.stopped));
    cfut_group_free(s.group);
    cfut_executor_free(ex);
    return key == SECRET && st == CFUT_CANCELLED ? 0 : 1;
}
