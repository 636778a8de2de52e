/*
 * Fork safety of the thread pool (issue 15 item 3). Host threads hammer a pool while the
 * main thread forks repeatedly. Each child checks that a new pool works, that the
 * inherited pool refuses submits with CFUT_UNSUPPORTED and shuts down and frees at once,
 * and that futures queued or running in the parent at fork time end (CFUT_BROKEN) instead
 * of hanging. The parent kills a child that does not exit within 10 s and counts it as a
 * failure. Prints "N passed, N failed"; CFUT_FORK_ROUNDS sets the number of forks.
 *
 * Under AddressSanitizer the hammer threads pause around each fork: GCC's libsanitizer has
 * no fork handler for its own allocator, so a child forked while another thread is inside
 * it blocks forever in the sanitizer (seen: a new thread stuck in the sanitizer's region
 * lock before running any of our code). The plain build forks under full load.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfutures.h"

static int passed, failed;
#define CHECK(c) ((c) ? (void)passed++ : (void)(failed++, fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c)))

static atomic_bool stop;
#if defined(__SANITIZE_ADDRESS__)
#define QUIET_FORKS 1
#else
#define QUIET_FORKS 0
#endif
static atomic_int warm_hammers; /* hammers past their first iterations (threads and workers started) */
static pthread_rwlock_t fork_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP; /* the forking writer is not starved */
static cfut_executor *shared_pool;

static int32_t square(void *arg, cfut_result *out) {
    (void)out;
    intptr_t x = (intptr_t)arg;
    return (int32_t)((x * x) % 2); /* 0 for even inputs, 1 (a failure code) for odd */
}

/* Blocks its worker until the parent opens the gate (after all forks). */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open, blocker_running;
static int32_t blocker(void *arg, cfut_result *out) {
    (void)arg; (void)out;
    pthread_mutex_lock(&gate_mu);
    blocker_running = true;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open) pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    return 0;
}

static void *hammer(void *arg) {
    (void)arg;
    for (intptr_t i = 0; !atomic_load(&stop); i++) {
        if (QUIET_FORKS) pthread_rwlock_rdlock(&fork_lock);
        cfut_future *f;
        if (cfut_executor_submit(shared_pool, square, (void *)i, NULL, &f) != CFUT_OK) {
            if (QUIET_FORKS) pthread_rwlock_unlock(&fork_lock);
            continue;
        }
        if (i % 3 == 0) {
            cfut_future_wait(f, CFUT_FOREVER);
        } else {
            void *v;
            cfut_future_result(f, CFUT_FOREVER, &v);
        }
        cfut_future_release(f);
        if (QUIET_FORKS) pthread_rwlock_unlock(&fork_lock);
        if (i == 50) atomic_fetch_add(&warm_hammers, 1);
    }
    return NULL;
}

/* Exit codes name the first failed step. */
static int child(cfut_future *running, cfut_future *queued) {
    cfut_executor *fresh;
    if (cfut_thread_pool_new(NULL, &fresh) != CFUT_OK) return 10;
    for (intptr_t i = 0; i < 20; i++) {
        cfut_future *f;
        if (cfut_executor_submit(fresh, square, (void *)(2 * i), NULL, &f) != CFUT_OK) return 11;
        void *v;
        cfut_status st = cfut_future_result(f, CFUT_SECONDS(5), &v);
        if (st != CFUT_OK) {
            fprintf(stderr, "child: task %d of a fresh pool: %s\n", (int)i, cfut_status_name(st));
            return 12;
        }
        cfut_future_release(f);
    }
    if (cfut_executor_shutdown(fresh, true, false) != CFUT_OK) return 13;
    cfut_executor_free(fresh);

    cfut_future *f = NULL;
    if (cfut_executor_submit(shared_pool, square, (void *)2, NULL, &f) != CFUT_UNSUPPORTED) return 20;
    if (cfut_future_wait(running, CFUT_SECONDS(5)) != CFUT_OK) return 21;
    void *v;
    if (cfut_future_result(running, 0, &v) != CFUT_BROKEN) return 22;
    if (cfut_future_wait(queued, CFUT_SECONDS(5)) != CFUT_OK) return 23;
    if (cfut_future_result(queued, 0, &v) != CFUT_BROKEN) return 24;
    if (cfut_executor_shutdown(shared_pool, true, false) != CFUT_OK) return 25;
    cfut_executor_free(shared_pool);
    return 0;
}

/* Reaps `pid`, killing it after 10 s; returns its exit code, or -1 for a hang/crash. */
static int reap(pid_t pid) {
    struct timespec tick = {0, 1000000};
    for (int ms = 0; ms < 10000; ms++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0 && errno != EINTR) return -1;
        nanosleep(&tick, NULL); /* a poll interval for the timeout, not synchronisation */
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fprintf(stderr, "child %d hung: killed after 10 s\n", (int)pid);
    return -1;
}

int main(void) {
    const char *env = getenv("CFUT_FORK_ROUNDS");
    int rounds = env ? atoi(env) : 40;
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = 4;
    CHECK(cfut_thread_pool_new(&o, &shared_pool) == CFUT_OK);

    /* One future running (the blocker) and one queued behind it on a one-worker pool. */
    cfut_executor *single;
    o.max_workers = 1;
    CHECK(cfut_thread_pool_new(&o, &single) == CFUT_OK);
    cfut_future *running, *queued;
    CHECK(cfut_executor_submit(single, blocker, NULL, NULL, &running) == CFUT_OK);
    CHECK(cfut_executor_submit(single, square, (void *)4, NULL, &queued) == CFUT_OK);
    pthread_mutex_lock(&gate_mu);
    while (!blocker_running) pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);

    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, hammer, NULL);
    /* Under ASAN, no thread may be starting (the sanitizer allocates then) at a fork. */
    while (QUIET_FORKS && atomic_load(&warm_hammers) < 3) sched_yield();
    int ok = 0;
    for (int i = 0; i < rounds; i++) {
        fflush(NULL);
        if (QUIET_FORKS) pthread_rwlock_wrlock(&fork_lock);
        pid_t pid = fork();
        if (pid == 0) _exit(child(running, queued)); /* _exit: the parent's state is not ours to tear down */
        if (QUIET_FORKS) pthread_rwlock_unlock(&fork_lock);
        CHECK(pid > 0);
        if (pid < 0) break;
        int rc = reap(pid);
        if (rc != 0) fprintf(stderr, "fork round %d: child exited with %d\n", i, rc);
        ok += rc == 0;
    }
    CHECK(ok == rounds);

    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    pthread_mutex_lock(&gate_mu);
    gate_open = true;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    void *v;
    CHECK(cfut_future_result(running, CFUT_SECONDS(10), &v) == CFUT_OK); /* the parent's pools are unaffected */
    CHECK(cfut_future_result(queued, CFUT_SECONDS(10), &v) == CFUT_OK);
    cfut_future_release(running);
    cfut_future_release(queued);
    cfut_executor_free(single);
    cfut_executor_free(shared_pool);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
