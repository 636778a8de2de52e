/* The check macros shared by the process-pool test programs (one translation unit each):
 * a failed check prints where and why and counts; the runner prints the totals. */
#ifndef CFUT_PROCESS_CHECK_H
#define CFUT_PROCESS_CHECK_H

#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <stdio.h>
#include <time.h>

#include "cfutures.h"

static int g_failed_checks;
static const char *g_test;

#define CHECK(c)                                                                          \
    do {                                                                                  \
        if (!(c)) {                                                                       \
            fprintf(stderr, "  FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, g_test, #c);    \
            g_failed_checks++;                                                            \
        }                                                                                 \
    } while (0)
#define CHECK_EQ(a, b)                                                                    \
    do {                                                                                  \
        long long _a = (long long)(a), _b = (long long)(b);                               \
        if (_a != _b) {                                                                   \
            fprintf(stderr, "  FAIL %s:%d [%s]: %s == %s (%lld != %lld)\n", __FILE__,       \
                    __LINE__, g_test, #a, #b, _a, _b);                                    \
            g_failed_checks++;                                                            \
        }                                                                                 \
    } while (0)
#define CHECK_STATUS(s, want)                                                             \
    do {                                                                                  \
        cfut_status _s = (s), _w = (want);                                                \
        if (_s != _w) {                                                                   \
            fprintf(stderr, "  FAIL %s:%d [%s]: %s gave %s, want %s (%s)\n", __FILE__,      \
                    __LINE__, g_test, #s, cfut_status_name(_s), cfut_status_name(_w),     \
                    cfut_last_error_message() ? cfut_last_error_message() : "");          \
            g_failed_checks++;                                                            \
        }                                                                                 \
    } while (0)

/* waitpid, again after a signal (tests/fault runs the suite under a 100 us itimer). */
/* usleep that sleeps its whole time when signals interrupt it (the fault suite runs these
 * programs under a SIGALRM every 100 us): polling loops keep their deadlines. */
static inline void sleep_us(long us) {
    struct timespec t = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static inline pid_t waitpid_eintr(pid_t pid, int *st, int flags) {
    pid_t r;
    do r = waitpid(pid, st, flags);
    while (r < 0 && errno == EINTR);
    return r;
}

static inline uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline double now_s(void) {
    return (double)now_ns() / 1e9;
}

#endif
