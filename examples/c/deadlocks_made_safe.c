/*
 * deadlocks_made_safe.c: the two deadlocks of the concurrent.futures documentation, which
 * hang in Python, end here.
 *
 * Python (hangs: the only worker waits for a task that needs a worker):
 *     def wait_on_future():
 *         f = executor.submit(pow, 5, 2)
 *         print(f.result())
 *     executor = ThreadPoolExecutor(max_workers=1)
 *     executor.submit(wait_on_future)
 *
 * cfutures: a worker that waits on a pending task of its own pool runs that task itself,
 * so the nested result is there at once.
 *
 * Python (hangs: a waits for b, b waits for a):
 *     def wait_on_b(): time.sleep(5); print(b.result()); return 5
 *     def wait_on_a(): time.sleep(5); print(a.result()); return 6
 *     executor = ThreadPoolExecutor(max_workers=2)
 *     a = executor.submit(wait_on_b)
 *     b = executor.submit(wait_on_a)
 *
 * cfutures: the wait that would close the cycle returns CFUT_WOULD_DEADLOCK instead.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfutures.h"

static void check(cfut_status status, const char *what) {
    if (status != CFUT_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, cfut_status_name(status), cfut_status_str(status));
        exit(1);
    }
}

/* ---- 1. a task that submits to its own one-worker pool and waits ---- */

static int32_t square(void *arg, cfut_result *out) {
    long *v = malloc(sizeof *v);
    *v = (long)(intptr_t)arg * (long)(intptr_t)arg;
    cfut_result_set_value(out, v, free);
    return 0;
}

static int32_t wait_on_future(void *arg, cfut_result *out) {
    (void)out;
    cfut_executor *executor = arg;
    cfut_future *f;
    check(cfut_executor_submit(executor, square, (void *)(intptr_t)5, NULL, &f), "submit");
    void *value;
    /* The pool's only worker is this one: it runs `square` right here and returns. */
    check(cfut_future_result(f, CFUT_SECONDS(5), &value), "nested result");
    printf("wait_on_future: %ld\n", *(long *)value);
    cfut_future_release(f);
    return 0;
}

/* ---- 2. two tasks waiting on each other ---- */

static cfut_future *_Atomic a, *_Atomic b;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t both_submitted = PTHREAD_COND_INITIALIZER;

/* Python's time.sleep(5) lets the main thread assign both globals; here we wait for it. */
static void wait_until_submitted(void) {
    pthread_mutex_lock(&mu);
    while (atomic_load(&a) == NULL || atomic_load(&b) == NULL) {
        pthread_cond_wait(&both_submitted, &mu);
    }
    pthread_mutex_unlock(&mu);
}

static int32_t wait_on_other(void *arg, cfut_result *out) {
    const char *me = arg;
    wait_until_submitted();
    cfut_future *other = me[0] == 'a' ? atomic_load(&b) : atomic_load(&a);
    cfut_status s = cfut_future_wait(other, CFUT_FOREVER);
    printf("%s: waiting on the other task returned %s\n", me, cfut_status_name(s));
    if (s == CFUT_WOULD_DEADLOCK) {
        cfut_result_set_error(out, 1, "the other task waits on this one");
        return 1;
    }
    return 0;
}

int main(void) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o); /* inline_waits = true */
    o.max_workers = 1;
    cfut_executor *executor;
    check(cfut_thread_pool_new(&o, &executor), "pool");
    cfut_future *f;
    check(cfut_executor_submit(executor, wait_on_future, executor, NULL, &f), "submit");
    check(cfut_future_wait(f, CFUT_SECONDS(5)), "wait_on_future");
    cfut_future_release(f);
    cfut_executor_free(executor);

    o.max_workers = 2;
    check(cfut_thread_pool_new(&o, &executor), "pool");
    cfut_future *fa, *fb;
    check(cfut_executor_submit(executor, wait_on_other, "a", NULL, &fa), "submit a");
    check(cfut_executor_submit(executor, wait_on_other, "b", NULL, &fb), "submit b");
    pthread_mutex_lock(&mu);
    atomic_store(&a, fa);
    atomic_store(&b, fb);
    pthread_cond_broadcast(&both_submitted);
    pthread_mutex_unlock(&mu);
    cfut_future *both[2] = {fa, fb};
    check(cfut_wait(both, 2, CFUT_SECONDS(5), CFUT_ALL_COMPLETED, NULL, NULL), "both done");
    int failed = 0;
    for (int i = 0; i < 2; i++) {
        cfut_error e;
        check(cfut_future_error(both[i], 0, &e), "error");
        printf("%s ended with %s%s%s\n", i ? "b" : "a", cfut_status_name(e.status), e.message ? ": " : "",
               e.message ? e.message : "");
        failed += e.status != CFUT_OK;
    }
    cfut_future_release(fa);
    cfut_future_release(fb);
    cfut_executor_free(executor);
    if (failed < 1) {
        fprintf(stderr, "expected one side to get CFUT_WOULD_DEADLOCK\n");
        return 1;
    }
    return 0;
}
