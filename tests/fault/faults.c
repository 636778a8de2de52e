/* Fault injection: system calls failing under the library (through libfault.so, preloaded),
 * real rlimits, and worker processes misbehaving. Each case checks the documented status,
 * that every future completes, and that the pool is usable again or cleanly broken; a
 * watchdog ends the program if a case hangs. tests/fault/README.md has the table. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cfutures.h"

static int passed, failed;
static const char *current;

#define CHECK(c)                                                                        \
    do {                                                                                \
        if (c) {                                                                        \
            passed++;                                                                   \
        } else {                                                                        \
            failed++;                                                                   \
            fprintf(stderr, "  FAIL %s:%d [%s]: %s (last error: %s)\n", __FILE__, __LINE__, current, #c, \
                    cfut_last_error_message() ? cfut_last_error_message() : "-");       \
        }                                                                               \
    } while (0)
#define CHECK_ST(expr, want)                                                            \
    do {                                                                                \
        cfut_status s_ = (expr), w_ = (want);                                           \
        if (s_ == w_) {                                                                 \
            passed++;                                                                   \
        } else {                                                                        \
            failed++;                                                                   \
            fprintf(stderr, "  FAIL %s:%d [%s]: %s gave %s, want %s (last error: %s)\n", __FILE__, __LINE__, \
                    current, #expr, cfut_status_name(s_), cfut_status_name(w_),        \
                    cfut_last_error_message() ? cfut_last_error_message() : "-");       \
        }                                                                               \
    } while (0)

/* The observed outcome of each case, for the README table. */
static void observed(const char *what, const char *status) {
    printf("  %-58s %s\n", what, status);
}

/* ---- the interposer's controls ------------------------------------------------------ */

static int (*fault_set)(const char *, long, int, int);
static long (*fault_calls)(const char *);

static void arm(const char *name, long nth, int err, int every) {
    if (fault_set(name, nth, err, every) != 0) {
        fprintf(stderr, "libfault.so does not know %s\n", name);
        exit(2);
    }
}

static void disarm_all(void) {
    const char *all[] = {"pthread_create", "fork", "clone", "posix_spawn", "socketpair", "socket", "eventfd", "memfd_create", "poll"};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) fault_set(all[i], 0, 0, 0);
}

/* ---- tasks ------------------------------------------------------------------------ */

static atomic_int gate_open;
static int32_t t_value(void *arg, cfut_result *out) {
    (void)out;
    return (int32_t)(intptr_t)arg;
}
static int32_t t_gate(void *arg, cfut_result *out) {
    (void)arg, (void)out;
    for (int i = 0; i < 20000 && !atomic_load(&gate_open); i++) usleep(500);
    return 0;
}
static int32_t p_square(const void *in, size_t len, cfut_result *out) {
    long v = 0;
    if (len == sizeof v) memcpy(&v, in, sizeof v);
    v *= v;
    return cfut_result_set_bytes(out, &v, sizeof v) == CFUT_OK ? 0 : 1;
}
/* Writes garbage into the worker's channel (fd 3, see src/process_pool/launch.rs). */
static int32_t p_garbage(const void *in, size_t len, cfut_result *out) {
    (void)in, (void)len, (void)out;
    static const char junk[64] = "this is not a frame, this is not a frame, this is not a frame!";
    if (write(3, junk, sizeof junk) < 0) return 1;
    for (;;) pause();
}
/* A valid header announcing 100 bytes, 10 of them, then the channel closes. */
static int32_t p_half_frame(const void *in, size_t len, cfut_result *out) {
    (void)in, (void)len, (void)out;
    unsigned char f[42] = {0x43, 0x46, 0x55, 0x54, 12, 0, 0, 0};
    f[24] = 100;
    if (write(3, f, sizeof f) < 0) return 1;
    close(3);
    for (;;) pause();
}
/* A header announcing a payload past the protocol's limit. */
static int32_t p_absurd(const void *in, size_t len, cfut_result *out) {
    (void)in, (void)len, (void)out;
    unsigned char f[32] = {0x43, 0x46, 0x55, 0x54, 12, 0, 0, 0};
    f[31] = 0x40;
    if (write(3, f, sizeof f) < 0) return 1;
    for (;;) pause();
}
/* Sets a result copied from the big mapping of caller_sizes: the copy cannot be allocated. */
static const void *g_big;
static size_t g_big_len;
static int32_t t_set_big(void *arg, cfut_result *out) {
    (void)arg;
    cfut_status s = cfut_result_set_bytes(out, g_big, g_big_len);
    return s == CFUT_NO_MEMORY ? 0 : 100 + (int32_t)s;
}
static int32_t m_copy(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    memcpy(slot, item, 8);
    return 0;
}
static int32_t p_stop(const void *in, size_t len, cfut_result *out) {
    (void)in, (void)len, (void)out;
    raise(SIGSTOP);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------ */

static cfut_executor *thread_pool(uint32_t workers) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = workers;
    cfut_executor *ex = NULL;
    if (cfut_thread_pool_new(&o, &ex) != CFUT_OK) exit(3);
    return ex;
}

static cfut_status process_pool(uint32_t workers, uint32_t method, uint64_t timeout_ns, cfut_executor **ex) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = workers;
    o.start_method = method;
    o.task_timeout_ns = timeout_ns;
    return cfut_process_pool_new(&o, ex);
}

static long square_of(cfut_executor *ex, long v, cfut_status *st) {
    cfut_future *f = NULL;
    *st = cfut_executor_submit_bytes(ex, p_square, &v, sizeof v, &f);
    if (*st != CFUT_OK) return -1;
    const void *d = NULL;
    size_t n = 0;
    *st = cfut_future_result_bytes(f, CFUT_SECONDS(60), &d, &n);
    long r = -1;
    if (*st == CFUT_OK && n == sizeof r) memcpy(&r, d, sizeof r);
    if (*st == CFUT_TASK_FAILED || *st == CFUT_BROKEN || *st == CFUT_WORKER_DIED || *st == CFUT_TIMEOUT) {
        cfut_error e;
        cfut_future_error(f, 0, &e);
        *st = e.status;
    }
    cfut_future_release(f);
    return r;
}

static cfut_status error_of(cfut_future *f) {
    cfut_error e;
    cfut_status s = cfut_future_error(f, CFUT_SECONDS(60), &e);
    return s == CFUT_OK ? e.status : s;
}

/* ---- cases -------------------------------------------------------------------------- */

static void thread_create_fails_at_start(void) {
    current = "thread_create_fails_at_start";
    cfut_executor *ex = thread_pool(4);
    arm("pthread_create", 1, EAGAIN, 1);
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(ex, t_value, NULL, NULL, &f), CFUT_OK);
    CHECK_ST(error_of(f), CFUT_BROKEN);
    cfut_future_release(f);
    CHECK_ST(cfut_executor_submit(ex, t_value, NULL, NULL, NULL), CFUT_BROKEN);
    disarm_all();
    cfut_executor_free(ex);
    observed("pthread_create fails for a thread pool's first worker", "future CFUT_BROKEN, later submits CFUT_BROKEN");
    /* A new pool works once threads are back. */
    ex = thread_pool(4);
    CHECK_ST(cfut_executor_submit(ex, t_value, NULL, NULL, &f), CFUT_OK);
    CHECK_ST(cfut_future_wait(f, CFUT_SECONDS(60)), CFUT_OK);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static void thread_create_fails_mid_run(void) {
    current = "thread_create_fails_mid_run";
    cfut_executor *ex = thread_pool(4);
    atomic_store(&gate_open, 0);
    cfut_future *fs[8];
    CHECK_ST(cfut_executor_submit(ex, t_gate, NULL, NULL, &fs[0]), CFUT_OK); /* one worker, blocked */
    arm("pthread_create", 1, EAGAIN, 1);
    for (int i = 1; i < 8; i++) CHECK_ST(cfut_executor_submit(ex, t_value, NULL, NULL, &fs[i]), CFUT_OK);
    atomic_store(&gate_open, 1);
    size_t done = 0;
    CHECK_ST(cfut_wait(fs, 8, CFUT_SECONDS(60), CFUT_ALL_COMPLETED, NULL, &done), CFUT_OK);
    for (int i = 0; i < 8; i++) {
        CHECK_ST(error_of(fs[i]), CFUT_OK);
        cfut_future_release(fs[i]);
    }
    CHECK(fault_calls("pthread_create") >= 1);
    disarm_all();
    CHECK_ST(cfut_executor_submit(ex, t_value, NULL, NULL, &fs[0]), CFUT_OK);
    CHECK_ST(error_of(fs[0]), CFUT_OK);
    cfut_future_release(fs[0]);
    cfut_executor_free(ex);
    observed("pthread_create fails for later workers (mid-run)", "every future CFUT_OK on the workers it has");
}

static void process_pool_manager_thread_fails(void) {
    current = "process_pool_manager_thread_fails";
    cfut_executor *ex = NULL;
    arm("pthread_create", 1, EAGAIN, 1);
    CHECK_ST(process_pool(1, CFUT_START_SPAWN, 0, &ex), CFUT_NO_MEMORY);
    disarm_all();
    observed("pthread_create fails for a process pool's manager", "cfut_process_pool_new CFUT_NO_MEMORY");
}

/* A worker cannot be started: the pool breaks, its futures fail, it frees cleanly. */
static void spawn_fails(const char *call, uint32_t method, const char *label) {
    current = label;
    cfut_executor *ex = NULL;
    if (method == CFUT_START_SPAWN) {
        CHECK_ST(process_pool(1, method, 0, &ex), CFUT_OK);
        arm(call, 1, EAGAIN, 1);
    } else {
        /* The zygote forks the workers: its own fork is what fails (FORK) or cannot happen. */
        arm(call, 1, EAGAIN, 1);
        cfut_status s = process_pool(1, method, 0, &ex);
        if (s != CFUT_OK) {
            CHECK_ST(s, CFUT_BROKEN);
            disarm_all();
            observed(label, "cfut_process_pool_new CFUT_BROKEN");
            return;
        }
    }
    cfut_status st;
    square_of(ex, 3, &st);
    CHECK_ST(st, CFUT_BROKEN);
    long v = 1;
    CHECK_ST(cfut_executor_submit_bytes(ex, p_square, &v, sizeof v, NULL), CFUT_BROKEN);
    disarm_all();
    cfut_executor_free(ex);
    observed(label, "future CFUT_BROKEN, later submits CFUT_BROKEN, free returns");
}

static void socketpair_fails(void) {
    current = "socketpair_fails";
    cfut_executor *ex = NULL;
    CHECK_ST(process_pool(1, CFUT_START_SPAWN, 0, &ex), CFUT_OK);
    arm("socketpair", 1, EMFILE, 1);
    cfut_status st;
    square_of(ex, 3, &st);
    CHECK_ST(st, CFUT_BROKEN);
    disarm_all();
    cfut_executor_free(ex);
    observed("socketpair fails for a worker's channel (EMFILE)", "future CFUT_BROKEN, free returns");
}

static void eventfd_fails(void) {
    current = "eventfd_fails";
    arm("eventfd", 1, EMFILE, 1);
    cfut_cq *q = NULL;
    CHECK_ST(cfut_cq_new(&q), CFUT_NO_MEMORY);
    cfut_executor *ex = NULL;
    CHECK_ST(process_pool(1, CFUT_START_SPAWN, 0, &ex), CFUT_NO_MEMORY);
    disarm_all();
    CHECK_ST(cfut_cq_new(&q), CFUT_OK);
    cfut_cq_free(q);
    observed("eventfd fails (cfut_cq_new, a process pool's wake-up fd)", "CFUT_NO_MEMORY from both");
}

/* The manager's poll fails: a few times (it retries), then for good (the pool breaks). */
static void manager_poll_fails(void) {
    current = "manager_poll_fails";
    cfut_executor *ex = NULL;
    CHECK_ST(process_pool(1, CFUT_START_SPAWN, 0, &ex), CFUT_OK);
    cfut_status st;
    CHECK(square_of(ex, 5, &st) == 25);
    arm("poll", 1, ENOMEM, 0);
    CHECK(square_of(ex, 6, &st) == 36);
    CHECK_ST(st, CFUT_OK);
    /* For good, while workers start, run, crash and are reaped. */
    arm("poll", 1, ENOMEM, 1);
    for (long v = 1; v <= 20; v++) CHECK(square_of(ex, v, &st) == v * v);
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit_bytes(ex, p_garbage, NULL, 0, &f), CFUT_OK);
    CHECK_ST(error_of(f), CFUT_WORKER_DIED);
    cfut_future_release(f);
    CHECK(square_of(ex, 8, &st) == 64);
    CHECK(fault_calls("poll") > 20);
    cfut_executor_free(ex);
    disarm_all();
    observed("the manager's poll fails once (ENOMEM)", "retried: future CFUT_OK");
    observed("the manager's poll fails for good (ENOMEM)", "every descriptor checked each ms: futures CFUT_OK, a bad worker CFUT_WORKER_DIED, free returns");
}

static void nofile_exhausted(void) {
    current = "nofile_exhausted";
    struct rlimit old;
    getrlimit(RLIMIT_NOFILE, &old);
    cfut_executor *tp = thread_pool(2);
    cfut_executor *ex = NULL;
    CHECK_ST(process_pool(1, CFUT_START_SPAWN, 0, &ex), CFUT_OK);
    /* Use up every descriptor below a low limit. */
    struct rlimit low = {64, old.rlim_max};
    setrlimit(RLIMIT_NOFILE, &low);
    int held[64], n = 0;
    while (n < 64 && (held[n] = dup(0)) >= 0) n++;
    cfut_cq *q = NULL;
    CHECK_ST(cfut_cq_new(&q), CFUT_NO_MEMORY);
    cfut_executor *ex2 = NULL;
    CHECK_ST(process_pool(1, CFUT_START_SPAWN, 0, &ex2), CFUT_NO_MEMORY);
    cfut_status st;
    square_of(ex, 2, &st);
    CHECK_ST(st, CFUT_BROKEN);
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(tp, t_value, NULL, NULL, &f), CFUT_OK); /* threads need no fd */
    CHECK_ST(error_of(f), CFUT_OK);
    cfut_future_release(f);
    while (n > 0) close(held[--n]);
    setrlimit(RLIMIT_NOFILE, &old);
    cfut_executor_free(ex);
    CHECK_ST(process_pool(1, CFUT_START_SPAWN, 0, &ex), CFUT_OK);
    CHECK(square_of(ex, 4, &st) == 16);
    cfut_executor_free(ex);
    cfut_executor_free(tp);
    observed("RLIMIT_NOFILE exhausted: cfut_cq_new, cfut_process_pool_new", "CFUT_NO_MEMORY");
    observed("RLIMIT_NOFILE exhausted: a process pool starting a worker", "future CFUT_BROKEN; a new pool works after");
    observed("RLIMIT_NOFILE exhausted: a thread pool's task", "CFUT_OK");
}

/* Caller-controlled sizes are checked before anything is allocated or read. */
static void caller_sizes(void) {
    current = "caller_sizes";
    cfut_executor *tp = thread_pool(2);
    cfut_executor *pp = NULL;
    CHECK_ST(process_pool(1, CFUT_START_SPAWN, 0, &pp), CFUT_OK);
    char b[8] = {0};
    /* Longer than any object: refused before reading `b`. */
    CHECK_ST(cfut_executor_submit_bytes(tp, p_square, b, SIZE_MAX, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_submit_bytes(pp, p_square, b, SIZE_MAX / 2, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_submit_bytes(pp, p_square, b, (size_t)5 << 30, NULL), CFUT_INVALID_ARGUMENT);
    /* A copy that cannot be allocated: a 64 GiB readable mapping (never touched) under an
     * address-space limit. */
    size_t big = (size_t)64 << 30;
    void *m = mmap(NULL, big, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(m != MAP_FAILED);
    struct rlimit old, as;
    getrlimit(RLIMIT_AS, &old);
    as.rlim_cur = big + ((size_t)2 << 30);
    as.rlim_max = old.rlim_max;
    setrlimit(RLIMIT_AS, &as);
    CHECK_ST(cfut_executor_submit_bytes(tp, p_square, m, big, NULL), CFUT_NO_MEMORY);
    cfut_group *g = NULL;
    CHECK_ST(cfut_group_new(tp, 0, &g), CFUT_OK);
    CHECK_ST(cfut_group_submit_bytes(g, p_square, m, big, NULL), CFUT_NO_MEMORY);
    CHECK_ST(cfut_group_wait(g, CFUT_SECONDS(60), NULL), CFUT_OK);
    cfut_group_free(g);
    g_big = m, g_big_len = big;
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit(tp, t_set_big, NULL, NULL, &f), CFUT_OK);
    CHECK_ST(error_of(f), CFUT_OK); /* the task saw CFUT_NO_MEMORY and returned 0 */
    cfut_future_release(f);
    setrlimit(RLIMIT_AS, &old);
    munmap(m, big);
    /* Map sizes whose products overflow. */
    cfut_map *mp = NULL;
    CHECK_ST(cfut_executor_map(tp, m_copy, NULL, 0, b, SIZE_MAX / 2, 4, NULL, 0, NULL, &mp), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_map(tp, m_copy, NULL, 0, b, 2, 8, b, SIZE_MAX / 2, NULL, &mp), CFUT_INVALID_ARGUMENT);
    CHECK_ST(cfut_executor_map(pp, m_copy, b, SIZE_MAX, b, 1, 8, b, 8, NULL, &mp), CFUT_INVALID_ARGUMENT);
    cfut_executor_free(pp);
    cfut_executor_free(tp);
    observed("caller sizes over PTRDIFF_MAX / the 4 GiB message limit", "CFUT_INVALID_ARGUMENT");
    observed("a task input copy that cannot be allocated (RLIMIT_AS)", "CFUT_NO_MEMORY");
    observed("cfut_result_set_bytes copy that cannot be allocated", "CFUT_NO_MEMORY to the task");
    observed("map count * item_size / result_size / ctx_len overflowing", "CFUT_INVALID_ARGUMENT");
}

/* A worker writes garbage, a header past the limit, or half a frame then closes. */
static void worker_misbehaves(cfut_bytes_fn fn, const char *label) {
    current = label;
    cfut_executor *ex = NULL;
    CHECK_ST(process_pool(1, CFUT_START_SPAWN, 0, &ex), CFUT_OK);
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit_bytes(ex, fn, NULL, 0, &f), CFUT_OK);
    CHECK_ST(error_of(f), CFUT_WORKER_DIED);
    cfut_future_release(f);
    cfut_status st;
    CHECK(square_of(ex, 9, &st) == 81); /* replaced */
    cfut_executor_free(ex);
    observed(label, "future CFUT_WORKER_DIED, worker replaced");
}

static void worker_stopped(void) {
    current = "worker_stopped";
    cfut_executor *ex = NULL;
    CHECK_ST(process_pool(1, CFUT_START_SPAWN, CFUT_MILLISECONDS(300), &ex), CFUT_OK);
    cfut_future *f = NULL;
    CHECK_ST(cfut_executor_submit_bytes(ex, p_stop, NULL, 0, &f), CFUT_OK);
    CHECK_ST(error_of(f), CFUT_TIMEOUT);
    cfut_future_release(f);
    cfut_status st;
    CHECK(square_of(ex, 9, &st) == 81);
    cfut_executor_free(ex);
    observed("a worker stops (SIGSTOP) with a task timeout", "future CFUT_TIMEOUT, worker killed and replaced");
    /* Without a timeout: terminate (SIGTERM) must not leave shutdown waiting on it. */
    current = "worker_stopped_terminate";
    CHECK_ST(process_pool(1, CFUT_START_SPAWN, 0, &ex), CFUT_OK);
    CHECK_ST(cfut_executor_submit_bytes(ex, p_stop, NULL, 0, &f), CFUT_OK);
    for (int i = 0; i < 20000 && !cfut_future_running(f); i++) usleep(500);
    usleep(50000); /* let it stop (no event to wait for: the worker is stopped) */
    CHECK_ST(cfut_process_pool_terminate(ex, SIGTERM), CFUT_OK);
    CHECK_ST(error_of(f), CFUT_BROKEN);
    cfut_future_release(f);
    cfut_executor_free(ex);
    observed("a stopped worker, cfut_process_pool_terminate(SIGTERM) + free", "future CFUT_BROKEN, free returns");
}

/* ---- runner ------------------------------------------------------------------------ */

static void *watchdog(void *arg) {
    (void)arg;
    sleep(240);
    fprintf(stderr, "  HANG: case %s did not finish in 240 s\n", current);
    _exit(2);
}

int main(void) {
    fault_set = (int (*)(const char *, long, int, int))dlsym(RTLD_DEFAULT, "fault_set");
    fault_calls = (long (*)(const char *))dlsym(RTLD_DEFAULT, "fault_calls");
    if (!fault_set || !fault_calls) {
        fprintf(stderr, "run with LD_PRELOAD=libfault.so\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t w;
    pthread_create(&w, NULL, watchdog, NULL);
    pthread_detach(w);
    printf("faults injected and what was observed:\n");
    thread_create_fails_at_start();
    thread_create_fails_mid_run();
    process_pool_manager_thread_fails();
    spawn_fails("clone", CFUT_START_SPAWN, "clone fails for a SPAWN worker (EAGAIN)");
    spawn_fails("fork", CFUT_START_FORK, "fork fails for the FORK zygote (EAGAIN)");
    socketpair_fails();
    eventfd_fails();
    manager_poll_fails();
    nofile_exhausted();
    caller_sizes();
    worker_misbehaves(p_garbage, "a worker writes garbage to its channel");
    worker_misbehaves(p_absurd, "a worker announces a payload over the limit");
    worker_misbehaves(p_half_frame, "a worker closes its channel mid-frame");
    worker_stopped();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
