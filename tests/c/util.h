/*
 * Shared helpers for the cfutures C conformance suite: checks, drop counters, gates
 * (a flag + mutex + condition variable), thread helpers and time.
 */
#ifndef CFUT_TEST_UTIL_H
#define CFUT_TEST_UTIL_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfutures.h"

uint64_t now_ns(void);

/* ---- checks ------------------------------------------------------------------------ */

extern atomic_int t_passed;
extern atomic_int t_failed;
extern const char *t_current; /* name of the running test */
extern bool t_verbose;        /* CFUT_TEST_VERBOSE=1: one line per test */

void t_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (cond) {                                                                         \
            atomic_fetch_add(&t_passed, 1);                                                 \
        } else {                                                                            \
            t_fail(__FILE__, __LINE__, "%s", #cond);                                        \
        }                                                                                   \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                \
    do {                                                                                    \
        if (cond) {                                                                         \
            atomic_fetch_add(&t_passed, 1);                                                 \
        } else {                                                                            \
            t_fail(__FILE__, __LINE__, __VA_ARGS__);                                        \
        }                                                                                   \
    } while (0)

/* Compares two statuses and prints both names on failure. */
#define CHECK_ST(expr, want)                                                                \
    do {                                                                                    \
        cfut_status got_ = (expr);                                                          \
        cfut_status want_ = (want);                                                         \
        if (got_ == want_) {                                                                \
            atomic_fetch_add(&t_passed, 1);                                                 \
        } else {                                                                            \
            t_fail(__FILE__, __LINE__, "%s: got %s, want %s", #expr, cfut_status_name(got_), \
                   cfut_status_name(want_));                                                \
        }                                                                                   \
    } while (0)

#define CHECK_EQ(a, b)                                                                      \
    do {                                                                                    \
        long long a_ = (long long)(a), b_ = (long long)(b);                                 \
        if (a_ == b_) {                                                                     \
            atomic_fetch_add(&t_passed, 1);                                                 \
        } else {                                                                            \
            t_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);           \
        }                                                                                   \
    } while (0)

/* Runs one test function with its name recorded for failure messages. */
#define RUN(fn)                                                                             \
    do {                                                                                    \
        t_current = #fn;                                                                    \
        int before_ = atomic_load(&t_passed);                                               \
        uint64_t t0_ = now_ns();                                                            \
        fn();                                                                               \
        if (t_verbose) {                                                                    \
            printf("  %-40s %6d checks %8.1f ms\n", #fn, atomic_load(&t_passed) - before_,  \
                   (double)(now_ns() - t0_) / 1e6);                                         \
        }                                                                                   \
    } while (0)

/* ---- drop counting ------------------------------------------------------------------- */

/* A heap token whose drop function counts into `counter` and poisons itself, so a second
 * drop is reported (and caught by ASAN / valgrind as a use after free). */
typedef struct token {
    uint32_t magic;
    atomic_int *counter;
    long value;
} token;

#define TOKEN_MAGIC 0x70CE4u

token *tok_new(atomic_int *counter, long value);
void tok_drop(void *p); /* the cfut_drop_fn for tokens */
long tok_value(const void *p);

/* A drop function that only counts: the pointer is an atomic_int counter itself. */
void count_drop(void *counter);

/* ---- pools ------------------------------------------------------------------------ */

/* A thread pool of `workers` threads (0 = the default), inline waits as given; exits the
 * program (code 3) if it cannot be created: nothing else could be tested. */
cfut_executor *new_pool_with(uint32_t workers, bool inline_waits);
/* new_pool_with(workers, true): the defaults. */
cfut_executor *new_pool(uint32_t workers);

/* ---- gates: a one-shot event ------------------------------------------------------- */

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int count; /* a counter waited on with gate_wait_count */
} gate;

void gate_init(gate *g);
void gate_destroy(gate *g);
void gate_open(gate *g);
/* Waits until open; false after `timeout_ms` (a hang guard, never a synchronisation). */
bool gate_wait(gate *g, long timeout_ms);
void gate_add(gate *g, int n); /* count += n, wakes waiters */
/* Waits until count >= n; false after timeout_ms. */
bool gate_wait_count(gate *g, int n, long timeout_ms);
int gate_count(gate *g);

/* ---- where a task ran ------------------------------------------------------------- */

typedef struct where {
    pthread_t thread; /* the thread of the last run */
    atomic_int runs;
} where;

/* A cfut_task_fn that records its thread in `arg` (a `where`) and counts its runs. */
int32_t record_thread(void *arg, cfut_result *out);

/* ---- threads and time ------------------------------------------------------------ */

uint64_t now_ns(void);
#define MS(n) ((uint64_t)(n) * 1000000ull)

typedef void *(*thread_fn)(void *);
pthread_t spawn(thread_fn fn, void *arg);
void join(pthread_t t);

/* Generous upper bound for anything that "should return quickly": the machine is shared. */
#define HANG_MS 20000

/* ---- pre-built futures (CPython's util.py fixtures) ------------------------------------- */

cfut_future *fx_pending(void);
cfut_future *fx_running(void);
cfut_future *fx_cancelled(void);
cfut_future *fx_ok(long v); /* FINISHED with value (void*)v, no drop */
cfut_future *fx_failed(int32_t code, const char *msg);

/* Test groups. */
void test_status_and_version(void);
void test_bad_input(void);
void test_futures(void);
void test_executor(void);
void test_map(void);
void test_wait(void);
void test_as_completed(void);
void test_shutdown(void);
void test_init(void);
void test_cancel(void);
void test_group(void);
void test_inline(void);
void test_cq(void);
void test_parallel_for(void);
void test_flow(void);
void test_life(void);

#endif
