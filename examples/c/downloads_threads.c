/*
 * downloads_threads.c: I/O-bound work on many threads versus one after the other.
 *
 * Python:
 *     def download_one(url):
 *         ...read the url, save it to disk...
 *         return f"Finished downloading {fname}"
 *
 *     def download_all(urls):                           # sequential: ~22.8 s
 *         return [download_one(url) for url in urls]
 *
 *     def download_all(urls):                           # threaded:    ~5.0 s
 *         with ThreadPoolExecutor(max_workers=13) as executor:
 *             return executor.map(download_one, urls, timeout=60)
 *
 * A download spends its time waiting for the network, not computing, so while one
 * thread waits the others can wait too: N threads overlap up to N waits. We simulate each
 * download with a 50-70 ms sleep (a sleeping thread uses no CPU, just like one blocked on
 * a socket), so the speed-up here does not depend on how many CPU cores the machine has.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfutures.h"

#define NFILES 40
#define NWORKERS 20 /* I/O-bound: many more threads than cores is fine */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void check(cfut_status status, const char *what) {
    if (status != CFUT_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, cfut_status_name(status), cfut_status_str(status));
        exit(1);
    }
}

/* One file to fetch: its name and how long the simulated transfer takes. */
struct file {
    char name[24];
    unsigned transfer_ms;
};

/* The result of one download: a fixed-size message in the caller's results array. */
struct message {
    char text[48];
};

/* A cfut_map_fn: the same function serves the sequential loop and the thread pool. */
static int32_t download_one(const void *ctx, const void *item, void *result_slot) {
    (void)ctx;
    const struct file *f = item;
    sleep_ms(f->transfer_ms); /* "read the url, save it to disk" */
    struct message *m = result_slot;
    /* The precision bounds the name by its array, which also tells the compiler so. */
    snprintf(m->text, sizeof m->text, "Finished downloading %.*s", (int)sizeof f->name, f->name);
    return 0;
}

int main(void) {
    struct file files[NFILES];
    unsigned total_ms = 0;
    for (int i = 0; i < NFILES; i++) {
        snprintf(files[i].name, sizeof files[i].name, "f1040-%02d.pdf", i);
        files[i].transfer_ms = 50 + (unsigned)(i * 7) % 21; /* 50..70 ms, varied */
        total_ms += files[i].transfer_ms;
    }

    /* ---- sequential: download_all = [download_one(url) for url in urls] ---- */
    static struct message seq[NFILES]; /* static: keep big arrays off the stack */
    printf("sequential: %d downloads, one after another...\n", NFILES);
    fflush(stdout); /* show the line now, not after the 2 s it takes */
    double t0 = now_ms();
    for (int i = 0; i < NFILES; i++) {
        if (download_one(NULL, &files[i], &seq[i]) != 0) {
            fprintf(stderr, "download %s failed\n", files[i].name);
            return 1;
        }
    }
    double seq_ms = now_ms() - t0;

    /* ---- threaded: executor.map(download_one, urls, timeout=60) ---- */
    cfut_thread_pool_options popts;
    cfut_thread_pool_options_init(&popts);
    popts.max_workers = NWORKERS;
    cfut_executor *executor;
    check(cfut_thread_pool_new(&popts, &executor), "cfut_thread_pool_new");

    cfut_map_options mopts;
    cfut_map_options_init(&mopts);
    /* One download per task. Chunking several downloads into one task would make them
     * wait one after another inside it: good for tiny CPU work, bad for waiting. */
    mopts.chunksize = 1;
    mopts.timeout_ns = CFUT_SECONDS(60);

    static struct message par[NFILES];
    printf("threaded: the same %d downloads on %d threads:\n", NFILES, NWORKERS);
    t0 = now_ms(); /* the timing includes starting the worker threads */
    cfut_map *map;
    check(cfut_executor_map(executor, download_one, NULL, 0, files, NFILES, sizeof files[0], par,
                            sizeof par[0], &mopts, &map),
          "cfut_executor_map");
    /* Results come back in input order, as Python's map does. */
    for (;;) {
        size_t i;
        cfut_status s = cfut_map_next(map, &i, NULL);
        if (s == CFUT_EXHAUSTED)
            break;
        check(s, "cfut_map_next");
        if (i < 3 || i == NFILES - 1) { /* print a few, not all 40 */
            printf("  %s\n", par[i].text);
        } else if (i == 3) {
            printf("  ...\n");
        }
    }
    double par_ms = now_ms() - t0;
    cfut_map_free(map);
    cfut_executor_free(executor);

    /* Both ways must produce the same messages. */
    for (int i = 0; i < NFILES; i++) {
        if (strcmp(seq[i].text, par[i].text) != 0) {
            fprintf(stderr, "result %d differs: '%s' vs '%s'\n", i, seq[i].text, par[i].text);
            return 1;
        }
    }

    int rounds = (NFILES + NWORKERS - 1) / NWORKERS;
    printf("%d downloads of 50-70 ms (%u ms of waiting in all)\n", NFILES, total_ms);
    printf("  sequential:           %6.0f ms\n", seq_ms);
    printf("  %2d threads (map):     %6.0f ms\n", NWORKERS, par_ms);
    printf("  speed-up:             %6.1fx\n", seq_ms / par_ms);
    printf("With %d threads the %d downloads wait in about %d rounds of at most 70 ms, so the\n"
           "best case is about %d ms; waiting overlaps, however few cores the machine has.\n",
           NWORKERS, NFILES, rounds, rounds * 70);
    return 0;
}
