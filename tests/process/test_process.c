/* The process-pool suite: CPython's ProcessPoolExecutor scenarios (cpython-spec.md 2.4,
 * 2.8, 2.10, adapted to C) and the crash matrix of the process-pool design study.
 * Every test runs under an alarm; after each one the fd count and the children of this
 * process must be back to where they were (no leaked descriptors, no zombies).
 *
 * Usage: test_process [name-substring]   Prints "N passed, N failed". */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfutures.h"
#include "check.h"

/* In libptasks.so (linked). */
int32_t lib_triple(const void *in, size_t len, cfut_result *out);
cfut_bytes_fn lib_hidden(void);

/* ------------------------------------------------------------------------------------ */
/* Harness */

static char g_dir[4096]; /* directory of this executable (for the .so files) */

static int count_fds(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while ((e = readdir(d))) n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the DIR's own descriptor */
}

/* Children of this process (any state); *zombies gets those in state Z. */
static int count_children(int *zombies) {
    int n = 0, z = 0;
    pid_t me = getpid();
    DIR *d = opendir("/proc");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = 0;
        char *p = strrchr(buf, ')');
        if (!p) continue;
        char state;
        int ppid;
        if (sscanf(p + 2, "%c %d", &state, &ppid) != 2) continue;
        if (ppid == me) {
            n++;
            z += state == 'Z';
        }
    }
    closedir(d);
    if (zombies) *zombies = z;
    return n;
}

static int pid_alive(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = 0;
    char *p = strrchr(buf, ')');
    return p && p[2] != 'Z' && p[2] != 'X';
}

static void on_alarm(int sig) {
    (void)sig;
    static const char m[] = "  TIMEOUT: test hung\n";
    write(2, m, sizeof m - 1);
    _exit(3);
}

/* ------------------------------------------------------------------------------------ */
/* Tasks (in the main executable) */

static long get_long(const void *in, size_t len) {
    long v = 0;
    if (len >= sizeof v) memcpy(&v, in, sizeof v);
    return v;
}

static int32_t t_square(const void *in, size_t len, cfut_result *out) {
    long v = get_long(in, len);
    v *= v;
    return cfut_result_set_bytes(out, &v, sizeof v) == CFUT_OK ? 0 : 99;
}

static int32_t t_pid(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len;
    long v = getpid();
    cfut_result_set_bytes(out, &v, sizeof v);
    return 0;
}

/* Sleeps `in` milliseconds, returns its pid. */
static int32_t t_sleep_ms(const void *in, size_t len, cfut_result *out) {
    sleep_us((useconds_t)get_long(in, len) * 1000);
    return t_pid(NULL, 0, out);
}

__attribute__((no_sanitize("undefined"))) static int32_t t_segv(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len; (void)out;
    volatile int *p = NULL;
    return *p;
}
static int32_t t_abort(const void *in, size_t len, cfut_result *out) { (void)in; (void)len; (void)out; abort(); }
static int32_t t_exit3(const void *in, size_t len, cfut_result *out) { (void)in; (void)len; (void)out; exit(3); }
static int32_t t_exit99(const void *in, size_t len, cfut_result *out) { (void)in; (void)len; (void)out; _exit(99); }
static int32_t t_exit0(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len;
    long v = 1;
    cfut_result_set_bytes(out, &v, sizeof v); /* set but never sent */
    _exit(0);
}
static int32_t t_loop(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len; (void)out;
    for (volatile unsigned long i = 0;; i++) {
    }
    return 0;
}
static int32_t t_fail(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len;
    cfut_result_set_error(out, 5, "boom in the worker");
    return 42;
}
static int32_t t_set_value(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len;
    static int x;
    cfut_result_set_value(out, &x, NULL);
    return 0;
}
static int32_t t_nothing(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len; (void)out;
    return 0;
}
/* Echoes its input. */
static int32_t t_echo(const void *in, size_t len, cfut_result *out) {
    return cfut_result_set_bytes(out, in, len) == CFUT_OK ? 0 : 98;
}
/* Returns a buffer of `in` bytes: byte i = (i * 7 + 3) & 0xff. */
static int32_t t_big_out(const void *in, size_t len, cfut_result *out) {
    size_t n = (size_t)get_long(in, len);
    unsigned char *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 7 + 3);
    cfut_result_set_bytes(out, b, n);
    free(b);
    return 0;
}
/* Sums its input bytes and returns the sum (checks large inputs arrived intact). */
static int32_t t_sum(const void *in, size_t len, cfut_result *out) {
    const unsigned char *p = in;
    unsigned long s = 0;
    for (size_t i = 0; i < len; i++) s += p[i] * (i % 251 + 1);
    cfut_result_set_bytes(out, &s, sizeof s);
    return 0;
}
/* i*3, or a crash when i % 97 == 13 (a segfault) or i % 89 == 7 (an abort). */
static int32_t t_mixed(const void *in, size_t len, cfut_result *out) {
    long i = get_long(in, len);
    if (i % 97 == 13) raise(SIGSEGV);
    if (i % 89 == 7) abort();
    long v = i * 3;
    cfut_result_set_bytes(out, &v, sizeof v);
    return 0;
}
/* Sets a result and then crashes (CPython: a crash while pickling the result). */
static int32_t t_crash_after_result(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len;
    long v = 7;
    cfut_result_set_bytes(out, &v, sizeof v);
    raise(SIGSEGV);
    return 0;
}

/* The descriptors open in the worker, as a bitmask of fds 0..62 (bit 63: any fd >= 63). */
static int32_t t_fd_mask(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len;
    DIR *d = opendir("/proc/self/fd");
    int self = dirfd(d);
    unsigned long long mask = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd == self) continue;
        mask |= fd < 63 ? 1ULL << fd : 1ULL << 63;
    }
    closedir(d);
    cfut_result_set_bytes(out, &mask, sizeof mask);
    return 0;
}
/* Forks a grandchild that sleeps (reporting its pid through a file), then spins forever. */
static int32_t t_grandchild_then_loop(const void *in, size_t len, cfut_result *out) {
    (void)out;
    char path[256];
    snprintf(path, sizeof path, "%.*s", (int)len, (const char *)in);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL); /* SIGTERM blocked: only SIGKILL works */
    pid_t g = fork();
    if (g == 0) {
        for (;;) pause();
    }
    FILE *f = fopen(path, "w");
    fprintf(f, "%d\n", (int)g);
    fclose(f);
    for (volatile unsigned long i = 0;; i++) {
    }
    return 0;
}
static int32_t t_close_channel(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len; (void)out;
    close(3);
    sleep(30);
    return 0;
}

static long g_init_value = -1;
static int32_t init_store(const void *in, size_t len, cfut_result *out) {
    (void)out;
    g_init_value = get_long(in, len);
    return 0;
}
static int32_t init_fail(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len;
    cfut_result_set_error(out, 17, "error in initializer");
    return 17;
}
static int32_t init_crash(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len; (void)out;
    raise(SIGSEGV);
    return 0;
}
static int32_t t_init_value(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len;
    cfut_result_set_bytes(out, &g_init_value, sizeof g_init_value);
    return 0;
}

/* Map functions: ctx is an int exponent; item and result are longs. */
static int32_t m_pow(const void *ctx, const void *item, void *slot) {
    int e = ctx ? *(const int *)ctx : 1;
    long b = *(const long *)item, r = 1;
    for (int i = 0; i < e; i++) r *= b;
    *(long *)slot = r;
    return 0;
}
/* 100 / item: item 0 fails with code 33 (ZeroDivisionError). */
static int32_t m_div(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    long b = *(const long *)item;
    if (b == 0) return 33;
    *(long *)slot = 100 / b;
    return 0;
}
static int32_t m_sleep(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    sleep_us((useconds_t)(*(const long *)item) * 1000);
    *(long *)slot = getpid();
    return 0;
}
static int32_t m_crash_on_7(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    if (*(const long *)item == 7) raise(SIGSEGV);
    *(long *)slot = *(const long *)item;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Helpers */

static cfut_executor *pool_opts(cfut_process_pool_options *o) {
    cfut_executor *ex = NULL;
    cfut_status s = cfut_process_pool_new(o, &ex);
    CHECK_STATUS(s, CFUT_OK);
    return ex;
}

static cfut_executor *pool(uint32_t workers) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = workers;
    return pool_opts(&o);
}

static cfut_future *submit_long(cfut_executor *ex, cfut_bytes_fn fn, long v) {
    cfut_future *f = NULL;
    CHECK_STATUS(cfut_executor_submit_bytes(ex, fn, &v, sizeof v, &f), CFUT_OK);
    return f;
}

/* The long result of f, or LONG_MIN with the status in *st. */
static long result_long(cfut_future *f, cfut_status *st) {
    const void *p = NULL;
    size_t n = 0;
    cfut_status s = cfut_future_result_bytes(f, CFUT_SECONDS(30), &p, &n);
    if (st) *st = s;
    if (s != CFUT_OK || n != sizeof(long)) return -999999;
    long v;
    memcpy(&v, p, sizeof v);
    return v;
}

static cfut_error error_of(cfut_future *f) {
    cfut_error e;
    memset(&e, 0, sizeof e);
    CHECK_STATUS(cfut_future_error(f, CFUT_SECONDS(30), &e), CFUT_OK);
    return e;
}

static size_t worker_pids(cfut_executor *ex, int32_t *pids, size_t cap) {
    size_t n = 0;
    CHECK_STATUS(cfut_process_pool_worker_pids(ex, pids, cap, &n), CFUT_OK);
    return n;
}

/* Waits until the pool reports `want` live workers (or 5 s). */
static size_t wait_workers(cfut_executor *ex, size_t want) {
    size_t n = 0;
    for (int i = 0; i < 500; i++) {
        n = worker_pids(ex, NULL, 0);
        if (n == want) break;
        sleep_us(10000);
    }
    return n;
}

/* ------------------------------------------------------------------------------------ */
/* Basic behaviour: submit, map, errors (2.2 on processes) */

static void test_submit(void) {
    cfut_executor *ex = pool(2);
    cfut_future *f = submit_long(ex, t_square, 16);
    cfut_status s;
    CHECK_EQ(result_long(f, &s), 256);
    cfut_future_release(f);
    /* The task ran in another process. */
    f = submit_long(ex, t_pid, 0);
    long pid = result_long(f, &s);
    CHECK(pid > 0 && pid != getpid());
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static void test_empty_and_no_value(void) {
    cfut_executor *ex = pool(1);
    cfut_future *f;
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_echo, NULL, 0, &f), CFUT_OK);
    const void *p = NULL;
    size_t n = 99;
    CHECK_STATUS(cfut_future_result_bytes(f, CFUT_SECONDS(10), &p, &n), CFUT_OK);
    CHECK(p != NULL);
    CHECK_EQ(n, 0);
    cfut_future_release(f);
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_nothing, NULL, 0, &f), CFUT_OK);
    void *v = (void *)1;
    CHECK_STATUS(cfut_future_result(f, CFUT_SECONDS(10), &v), CFUT_OK);
    CHECK(v == NULL);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static void test_task_error_propagates(void) { /* 2.4 #54, 2.10 #144 */
    cfut_executor *ex = pool(1);
    cfut_future *f = submit_long(ex, t_fail, 0);
    cfut_status s;
    result_long(f, &s);
    CHECK_STATUS(s, CFUT_TASK_FAILED);
    cfut_error e = error_of(f);
    CHECK_EQ(e.status, CFUT_TASK_FAILED);
    CHECK_EQ(e.code, 42);
    CHECK(e.message && strcmp(e.message, "boom in the worker") == 0);
    CHECK(e.payload == NULL);
    cfut_future_release(f);
    /* The pool is fine afterwards. */
    f = submit_long(ex, t_square, 3);
    CHECK_EQ(result_long(f, &s), 9);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static void test_pointer_apis_unsupported(void) {
    cfut_executor *ex = pool(1);
    /* set_value in a worker fails the task with code CFUT_UNSUPPORTED (2.10 #147). */
    cfut_future *f = submit_long(ex, t_set_value, 0);
    cfut_error e = error_of(f);
    CHECK_EQ(e.status, CFUT_TASK_FAILED);
    CHECK_EQ(e.code, CFUT_UNSUPPORTED);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static int32_t pfor_never(void *ctx, size_t b, size_t e) { (void)b; (void)e; ++*(int *)ctx; return 0; }

static void test_parallel_for_unsupported(void) { /* contract section 8 */
    cfut_executor *ex = pool(1);
    int calls = 0;
    CHECK_STATUS(cfut_parallel_for(ex, 0, 100, 0, pfor_never, &calls, NULL), CFUT_UNSUPPORTED);
    CHECK_STATUS(cfut_parallel_for(ex, 9, 1, 0, pfor_never, &calls, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(calls, 0);
    cfut_executor_free(ex);
}

static int g_drop_count;
static void count_drop(void *p) { (void)p; g_drop_count++; }
static int32_t never_run(void *arg, cfut_result *out) { (void)arg; (void)out; return 0; }

static void test_submit_pointer_drops_arg(void) {
    cfut_executor *ex = pool(1);
    g_drop_count = 0;
    cfut_future *f = NULL;
    CHECK_STATUS(cfut_executor_submit(ex, never_run, &g_drop_count, count_drop, &f), CFUT_UNSUPPORTED);
    CHECK_EQ(g_drop_count, 1);
    CHECK(f == NULL);
    CHECK(cfut_last_error_message() && strstr(cfut_last_error_message(), "submit_bytes"));
    cfut_executor_free(ex);
}

static void test_unlocatable_function(void) { /* 2.10 #138: fails at submit, pool fine */
    cfut_executor *ex = pool(1);
    static unsigned char not_code[64];
    cfut_future *f = NULL;
    CHECK_STATUS(cfut_executor_submit_bytes(ex, (cfut_bytes_fn)(void *)not_code, NULL, 0, &f), CFUT_UNSUPPORTED);
    CHECK(cfut_last_error_message() != NULL);
    unsigned char *heap = malloc(64);
    CHECK_STATUS(cfut_executor_submit_bytes(ex, (cfut_bytes_fn)(void *)heap, NULL, 0, &f), CFUT_UNSUPPORTED);
    free(heap);
    CHECK_STATUS(cfut_executor_submit_bytes(ex, NULL, NULL, 0, &f), CFUT_INVALID_ARGUMENT);
    f = submit_long(ex, t_square, 5);
    cfut_status s;
    CHECK_EQ(result_long(f, &s), 25);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static void test_bad_input(void) {
    cfut_executor *ex = NULL;
    CHECK_STATUS(cfut_process_pool_new(NULL, NULL), CFUT_INVALID_ARGUMENT);
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.struct_size = 3;
    CHECK_STATUS(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    cfut_process_pool_options_init(&o);
    o.on_worker_death = 9;
    CHECK_STATUS(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    cfut_process_pool_options_init(&o);
    o.start_method = 9;
    CHECK_STATUS(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    cfut_process_pool_options_init(&o);
    o.worker_exe = "/nonexistent/cfutures-worker";
    CHECK_STATUS(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    CHECK(cfut_last_error_message() && strstr(cfut_last_error_message(), "not an executable"));
    cfut_process_pool_options_init(&o);
    o.initializer = init_store;
    o.initializer_len = 8;
    CHECK_STATUS(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    o.initializer = NULL; /* checked whether or not an initializer is set */
    CHECK_STATUS(cfut_process_pool_new(&o, &ex), CFUT_INVALID_ARGUMENT);
    cfut_process_pool_options_init(NULL);
    size_t n;
    CHECK_STATUS(cfut_process_pool_terminate(NULL, 0), CFUT_INVALID_ARGUMENT);
    CHECK_STATUS(cfut_process_pool_worker_pids(NULL, NULL, 0, &n), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(cfut_process_pool_workers_started(NULL), 0);
    /* Process-pool functions on a thread pool. */
    cfut_executor *tp;
    CHECK_STATUS(cfut_thread_pool_new(NULL, &tp), CFUT_OK);
    CHECK_STATUS(cfut_process_pool_terminate(tp, 0), CFUT_UNSUPPORTED);
    CHECK_STATUS(cfut_process_pool_worker_pids(tp, NULL, 0, &n), CFUT_UNSUPPORTED);
    cfut_executor_free(tp);
    ex = pool(1);
    CHECK_STATUS(cfut_process_pool_terminate(ex, 4242), CFUT_INVALID_ARGUMENT);
    CHECK_STATUS(cfut_process_pool_worker_pids(ex, NULL, 1, &n), CFUT_INVALID_ARGUMENT);
    CHECK_STATUS(cfut_process_pool_worker_pids(ex, NULL, 0, NULL), CFUT_INVALID_ARGUMENT);
    long v = 1;
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_square, NULL, sizeof v, NULL), CFUT_INVALID_ARGUMENT);
    CHECK_EQ(cfut_executor_max_workers(ex), 1);
    cfut_executor_free(ex);
    /* Defaults: max_workers = CPUs. */
    CHECK_STATUS(cfut_process_pool_new(NULL, &ex), CFUT_OK);
    CHECK_EQ(cfut_executor_max_workers(ex), sysconf(_SC_NPROCESSORS_ONLN));
    cfut_executor_free(ex);
}

static void test_fire_and_forget(void) {
    cfut_executor *ex = pool(2);
    for (long i = 0; i < 20; i++) CHECK_STATUS(cfut_executor_submit_bytes(ex, t_square, &i, sizeof i, NULL), CFUT_OK);
    cfut_executor_free(ex); /* waits for all 20 */
}

/* ------------------------------------------------------------------------------------ */
/* Map on processes (2.2 #24/#25, 2.4 #53) */

static void check_map_pow(cfut_executor *ex, size_t chunksize, size_t count) {
    long *items = malloc(count * sizeof(long)), *res = calloc(count, sizeof(long));
    for (size_t i = 0; i < count; i++) items[i] = (long)i;
    int e = 2;
    cfut_map_options mo;
    cfut_map_options_init(&mo);
    mo.chunksize = chunksize;
    cfut_map *m;
    CHECK_STATUS(cfut_executor_map(ex, m_pow, &e, sizeof e, items, count, sizeof(long), res, sizeof(long), &mo, &m), CFUT_OK);
    size_t idx, expect = 0;
    cfut_status s;
    while ((s = cfut_map_next(m, &idx, NULL)) == CFUT_OK) {
        CHECK_EQ(idx, expect);
        CHECK_EQ(res[idx], (long)(idx * idx));
        expect++;
    }
    CHECK_STATUS(s, CFUT_EXHAUSTED);
    CHECK_EQ(expect, count);
    cfut_map_free(m);
    free(items);
    free(res);
}

static void test_map(void) {
    cfut_executor *ex = pool(2);
    check_map_pow(ex, 0, 10);
    check_map_pow(ex, 3, 10);
    check_map_pow(ex, 6, 40);
    check_map_pow(ex, 50, 40);
    check_map_pow(ex, 40, 40);
    check_map_pow(ex, 1, 100);
    check_map_pow(ex, 0, 100000);
    check_map_pow(ex, 1000, 100000);
    cfut_executor_free(ex);
}

static void test_map_exception_goes_on(void) {
    cfut_executor *ex = pool(2);
    long items[] = {5, 2, 0, 4, 1};
    long res[5] = {0};
    for (size_t cs = 1; cs <= 3; cs += 2) {
        cfut_map_options mo;
        cfut_map_options_init(&mo);
        mo.chunksize = cs;
        cfut_map *m;
        CHECK_STATUS(cfut_executor_map(ex, m_div, NULL, 0, items, 5, sizeof(long), res, sizeof(long), &mo, &m), CFUT_OK);
        size_t idx;
        cfut_error e;
        CHECK_STATUS(cfut_map_next(m, &idx, &e), CFUT_OK);
        CHECK_EQ(res[0], 20);
        CHECK_STATUS(cfut_map_next(m, &idx, &e), CFUT_OK);
        CHECK_EQ(res[1], 50);
        CHECK_STATUS(cfut_map_next(m, &idx, &e), CFUT_TASK_FAILED);
        CHECK_EQ(idx, 2);
        CHECK_EQ(e.code, 33);
        CHECK_STATUS(cfut_map_next(m, &idx, &e), CFUT_OK);
        CHECK_EQ(res[3], 25);
        CHECK_STATUS(cfut_map_next(m, &idx, &e), CFUT_OK);
        CHECK_EQ(res[4], 100);
        CHECK_STATUS(cfut_map_next(m, &idx, &e), CFUT_EXHAUSTED);
        cfut_map_free(m);
    }
    /* A bare context pointer cannot cross. */
    cfut_map *m;
    int x = 2;
    CHECK_STATUS(cfut_executor_map(ex, m_pow, &x, 0, items, 5, sizeof(long), res, sizeof(long), NULL, &m), CFUT_UNSUPPORTED);
    cfut_executor_free(ex);
}

static void test_map_timeout(void) { /* 2.2 #27 */
    cfut_executor *ex = pool(2);
    long items[] = {0, 0, 3000};
    long res[3];
    cfut_map_options mo;
    cfut_map_options_init(&mo);
    mo.chunksize = 1;
    mo.timeout_ns = CFUT_MILLISECONDS(500);
    cfut_map *m;
    CHECK_STATUS(cfut_executor_map(ex, m_sleep, NULL, 0, items, 3, sizeof(long), res, sizeof(long), &mo, &m), CFUT_OK);
    size_t idx, ok = 0;
    cfut_status s;
    double t0 = now_s();
    while ((s = cfut_map_next(m, &idx, NULL)) == CFUT_OK) ok++;
    CHECK_STATUS(s, CFUT_TIMEOUT);
    CHECK(ok <= 2);
    CHECK(now_s() - t0 < 2.5);
    CHECK_STATUS(cfut_map_next(m, &idx, NULL), CFUT_EXHAUSTED);
    /* Free waits for the running 3 s chunk: use terminate to end it quickly. */
    cfut_process_pool_terminate(ex, SIGKILL);
    cfut_map_free(m);
    cfut_executor_free(ex);
}

/* A chunk killed by the task timeout is reported as its worker's death, so CFUT_TIMEOUT from
 * the map keeps one meaning (the whole-map deadline), and later items still arrive. */
static void test_map_item_task_timeout(void) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 2;
    o.task_timeout_ns = CFUT_MILLISECONDS(300);
    cfut_executor *ex = pool_opts(&o);
    long items[] = {0, 0, 0, 60000, 0, 0};
    long res[6];
    cfut_map_options mo;
    cfut_map_options_init(&mo);
    mo.chunksize = 1;
    cfut_map *m;
    CHECK_STATUS(cfut_executor_map(ex, m_sleep, NULL, 0, items, 6, sizeof(long), res, sizeof(long), &mo, &m), CFUT_OK);
    size_t idx, ok = 0, died = 0;
    cfut_error e;
    cfut_status s;
    double t0 = now_s();
    while ((s = cfut_map_next(m, &idx, &e)) != CFUT_EXHAUSTED) {
        if (s == CFUT_OK) {
            ok++;
        } else {
            CHECK_STATUS(s, CFUT_WORKER_DIED);
            CHECK_EQ(idx, 3);
            CHECK_EQ(e.status, CFUT_WORKER_DIED);
            CHECK(e.message && strstr(e.message, "timeout"));
            died++;
        }
    }
    CHECK_EQ(ok, 5);
    CHECK_EQ(died, 1);
    CHECK(now_s() - t0 < 5.0);
    cfut_map_free(m);
    CHECK_STATUS(cfut_executor_map(ex, m_sleep, NULL, 0, items, 6, sizeof(long), res, sizeof(long), &mo, &m), CFUT_OK);
    CHECK_STATUS(cfut_map_wait(m, &idx), CFUT_WORKER_DIED);
    CHECK_EQ(idx, 3);
    cfut_map_free(m);
    cfut_executor_free(ex);
}

/* task_timeout_ns = 0 means no limit, as 0 does for max_tasks_per_child. */
static void test_task_timeout_zero_is_no_limit(void) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 1;
    o.task_timeout_ns = 0;
    cfut_executor *ex = pool_opts(&o);
    long item = 50, res = 0;
    cfut_map *m;
    CHECK_STATUS(cfut_executor_map(ex, m_sleep, NULL, 0, &item, 1, sizeof(long), &res, sizeof(long), NULL, &m), CFUT_OK);
    size_t idx;
    CHECK_STATUS(cfut_map_wait(m, &idx), CFUT_OK);
    CHECK(res > 0);
    cfut_map_free(m);
    cfut_executor_free(ex);
}

static void test_map_crash_fails_its_chunk_only(void) { /* 2.10 #152 with big items */
    cfut_executor *ex = pool(2);
    size_t count = 64;
    size_t isz = 1 << 20; /* 1 MiB items: a 64 MiB map in flight */
    unsigned char *items = calloc(count, isz);
    for (size_t i = 0; i < count; i++) *(long *)(items + i * isz) = (long)i;
    long *res = calloc(count, sizeof(long));
    cfut_map_options mo;
    cfut_map_options_init(&mo);
    mo.chunksize = 4;
    cfut_map *m;
    CHECK_STATUS(cfut_executor_map(ex, m_crash_on_7, NULL, 0, items, count, isz, res, sizeof(long), &mo, &m), CFUT_OK);
    size_t idx, ok = 0, died = 0;
    cfut_error e;
    cfut_status s;
    while ((s = cfut_map_next(m, &idx, &e)) != CFUT_EXHAUSTED) {
        if (s == CFUT_OK) {
            CHECK_EQ(res[idx], (long)idx);
            ok++;
        } else {
            CHECK_STATUS(s, CFUT_WORKER_DIED);
            CHECK(idx >= 4 && idx < 8);
            CHECK_EQ(e.code, -SIGSEGV);
            died++;
        }
    }
    CHECK_EQ(ok, count - 4);
    CHECK_EQ(died, 4);
    cfut_map_free(m);
    free(items);
    free(res);
    cfut_executor_free(ex);
}

/* ------------------------------------------------------------------------------------ */
/* Crashes (2.10 #142/#143/#145, study 3.13 #1-#8) */

static void check_death(cfut_bytes_fn fn, int code, const char *needle) {
    cfut_executor *ex = pool(2);
    cfut_future *ok1 = submit_long(ex, t_sleep_ms, 200);
    cfut_future *f = submit_long(ex, fn, 0);
    cfut_status s;
    result_long(f, &s);
    CHECK_STATUS(s, CFUT_WORKER_DIED);
    cfut_error e = error_of(f);
    CHECK_EQ(e.status, CFUT_WORKER_DIED);
    CHECK_EQ(e.code, code);
    CHECK(e.message && strstr(e.message, needle));
    if (e.message && !strstr(e.message, needle)) fprintf(stderr, "  message: %s\n", e.message);
    /* The other task in flight succeeds; the next task runs on a new worker. */
    CHECK(result_long(ok1, &s) > 0);
    CHECK_STATUS(s, CFUT_OK);
    cfut_future *g = submit_long(ex, t_square, 9);
    CHECK_EQ(result_long(g, &s), 81);
    CHECK(cfut_process_pool_workers_started(ex) <= 3);
    cfut_future_release(f);
    cfut_future_release(g);
    cfut_future_release(ok1);
    cfut_executor_free(ex);
}

/* Completion queue: every watch yields once whether the task finished, failed, crashed its
 * worker (segfault, abort, exit) or was cancelled while queued; futures released right after
 * the watch; the loop polls the queue's fd. */
static void test_cq_crashed_workers(void) {
    enum { N = 24 };
    cfut_executor *ex = pool(2);
    cfut_cq *cq = NULL;
    CHECK_STATUS(cfut_cq_new(&cq), CFUT_OK);
    cfut_bytes_fn fns[4] = {t_square, t_segv, t_abort, t_exit3};
    cfut_future *keep[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < N; i++) {
        cfut_future *f = submit_long(ex, fns[i % 4], i);
        CHECK_STATUS(cfut_cq_watch(cq, f, (uint64_t)i), CFUT_OK);
        if (i < 4) keep[i] = f;
        else cfut_future_release(f);
    }
    cfut_future *cancelled = submit_long(ex, t_sleep_ms, 1);
    int cancelled_now = cfut_future_cancel(cancelled); /* may already run: either way one tag */
    CHECK_STATUS(cfut_cq_watch(cq, cancelled, N), CFUT_OK);
    int seen[N + 1] = {0}, got = 0;
    uint64_t tags[8];
    while (got < N + 1) {
        struct pollfd p = {.fd = cfut_cq_fd(cq), .events = POLLIN};
        int r;
        do r = poll(&p, 1, 60000); /* EINTR: tests/fault runs this under a 100 us itimer */
        while (r < 0 && errno == EINTR);
        if (r != 1) break;
        size_t n = cfut_cq_drain(cq, tags, 8);
        CHECK(n > 0);
        for (size_t k = 0; k < n; k++) {
            CHECK(tags[k] <= N);
            if (tags[k] <= N) seen[tags[k]]++;
        }
        got += (int)n;
    }
    CHECK_EQ(got, N + 1);
    for (int i = 0; i <= N; i++) CHECK_EQ(seen[i], 1);
    CHECK_STATUS(cfut_cq_wait(cq, 0), CFUT_TIMEOUT);
    CHECK_EQ(error_of(keep[0]).status, CFUT_OK);
    for (int i = 1; i < 4; i++) CHECK_EQ(error_of(keep[i]).status, CFUT_WORKER_DIED);
    if (cancelled_now) CHECK(cfut_future_cancelled(cancelled));
    for (int i = 0; i < 4; i++) cfut_future_release(keep[i]);
    cfut_future_release(cancelled);
    cfut_cq_free(cq);
    cfut_executor_free(ex);
}

static void test_segfault(void) { check_death(t_segv, -SIGSEGV, "killed by signal 11 (SIGSEGV)"); }
static void test_abort(void) { check_death(t_abort, -SIGABRT, "signal 6 (SIGABRT)"); }
static void test_exit3(void) { check_death(t_exit3, 3, "exited with code 3 without a result"); }
static void test_exit0_without_result(void) { check_death(t_exit0, 0, "exited with code 0 without a result"); }
static void test_exit99(void) { check_death(t_exit99, 99, "exited with code 99"); } /* 2.4 #55 */
static void test_crash_after_setting_result(void) { check_death(t_crash_after_result, -SIGSEGV, "SIGSEGV"); }

static void test_timeout_kills_infinite_loop(void) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 2;
    o.task_timeout_ns = CFUT_MILLISECONDS(200);
    cfut_executor *ex = pool_opts(&o);
    cfut_future *ok = submit_long(ex, t_sleep_ms, 50);
    double t0 = now_s();
    cfut_future *f = submit_long(ex, t_loop, 0);
    CHECK_STATUS(cfut_future_wait(f, CFUT_SECONDS(10)), CFUT_OK);
    double dt = now_s() - t0;
    CHECK(dt >= 0.19 && dt < 2.0); /* 200 ms plus detection, with slack for a loaded machine */
    CHECK(cfut_future_done(f));
    void *v;
    CHECK_STATUS(cfut_future_result(f, 0, &v), CFUT_TIMEOUT); /* done, and its outcome is TIMEOUT */
    cfut_error e = error_of(f);
    CHECK_EQ(e.status, CFUT_TIMEOUT);
    CHECK(e.message && strstr(e.message, "timeout of 200 ms"));
    cfut_status s;
    CHECK(result_long(ok, &s) > 0);
    /* The pool goes on, with a replacement worker. */
    cfut_future *g = submit_long(ex, t_square, 4);
    CHECK_EQ(result_long(g, &s), 16);
    CHECK(worker_pids(ex, NULL, 0) <= 2);
    cfut_future_release(f);
    cfut_future_release(g);
    cfut_future_release(ok);
    cfut_executor_free(ex);
}

static void test_external_kill_idle(void) { /* study #7 */
    cfut_executor *ex = pool(1);
    cfut_future *f = submit_long(ex, t_pid, 0);
    cfut_status s;
    long pid = result_long(f, &s);
    cfut_future_release(f);
    int32_t pids[4];
    CHECK_EQ(worker_pids(ex, pids, 4), 1);
    CHECK_EQ(pids[0], pid);
    kill((pid_t)pid, SIGKILL);
    for (int i = 0; i < 200 && worker_pids(ex, NULL, 0) != 0; i++) sleep_us(5000);
    CHECK_EQ(worker_pids(ex, NULL, 0), 0);
    f = submit_long(ex, t_pid, 0);
    long pid2 = result_long(f, &s);
    CHECK_STATUS(s, CFUT_OK);
    CHECK(pid2 != pid && pid2 > 0);
    CHECK_EQ(cfut_process_pool_workers_started(ex), 2);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static void test_external_kill_busy(void) { /* study #8, 2.4 #51 */
    cfut_executor *ex = pool(1);
    cfut_future *f = submit_long(ex, t_sleep_ms, 10000);
    cfut_future *pending = submit_long(ex, t_square, 6);
    int32_t pid = 0;
    for (int i = 0; i < 500 && !(cfut_future_running(f) && worker_pids(ex, &pid, 1) == 1); i++) sleep_us(10000);
    sleep_us(50000);
    double t0 = now_s();
    kill(pid, SIGKILL);
    cfut_error e = error_of(f);
    CHECK(now_s() - t0 < 1.0);
    CHECK_EQ(e.status, CFUT_WORKER_DIED);
    CHECK_EQ(e.code, -SIGKILL);
    CHECK(e.message && strstr(e.message, "SIGKILL"));
    cfut_status s;
    CHECK_EQ(result_long(pending, &s), 36); /* not lost */
    cfut_future_release(f);
    cfut_future_release(pending);
    cfut_executor_free(ex);
}

static void test_break_pool_mode(void) { /* 2.4 #51/#52, 2.10 #142 with CPython semantics */
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 1;
    o.on_worker_death = CFUT_BREAK_POOL;
    cfut_executor *ex = pool_opts(&o);
    cfut_future *f = submit_long(ex, t_segv, 0);
    cfut_future *p1 = submit_long(ex, t_square, 2), *p2 = submit_long(ex, t_square, 3);
    cfut_status s;
    result_long(f, &s);
    CHECK_STATUS(s, CFUT_BROKEN);
    cfut_error e = error_of(f);
    CHECK_EQ(e.code, -SIGSEGV);
    CHECK(e.message && strstr(e.message, "SIGSEGV"));
    result_long(p1, &s);
    CHECK_STATUS(s, CFUT_BROKEN);
    result_long(p2, &s);
    CHECK_STATUS(s, CFUT_BROKEN);
    cfut_error e1 = error_of(p1), e2 = error_of(p2);
    CHECK(e1.message && e2.message && e1.message != e2.message); /* each its own error */
    cfut_future *g = NULL;
    long v = 1;
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_square, &v, sizeof v, &g), CFUT_BROKEN);
    CHECK(cfut_last_error_message() && strstr(cfut_last_error_message(), "not usable"));
    /* terminate on a broken pool is fine (2.4 #73). */
    CHECK_STATUS(cfut_process_pool_terminate(ex, SIGTERM), CFUT_OK);
    cfut_future_release(f);
    cfut_future_release(p1);
    cfut_future_release(p2);
    cfut_executor_free(ex);

    /* An idle worker's death breaks it too, as in CPython. */
    ex = pool_opts(&o);
    f = submit_long(ex, t_pid, 0);
    long pid = result_long(f, &s);
    cfut_future_release(f);
    kill((pid_t)pid, SIGKILL);
    for (int i = 0; i < 200; i++) {
        if (cfut_executor_submit_bytes(ex, t_square, &v, sizeof v, NULL) == CFUT_BROKEN) break;
        sleep_us(5000);
    }
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_square, &v, sizeof v, NULL), CFUT_BROKEN);
    cfut_executor_free(ex);
}

static void test_many_tasks_with_crashes(void) {
    enum { N = 10000 };
    cfut_executor *ex = pool(2);
    cfut_future **fs = malloc(N * sizeof *fs);
    double t0 = now_s();
    for (long i = 0; i < N; i++) fs[i] = submit_long(ex, t_mixed, i);
    long ok = 0, died = 0, wrong = 0;
    for (long i = 0; i < N; i++) {
        cfut_status s;
        long v = result_long(fs[i], &s);
        int crash = i % 97 == 13 || i % 89 == 7;
        if (crash) {
            died += s == CFUT_WORKER_DIED;
        } else {
            ok += s == CFUT_OK;
            wrong += s != CFUT_OK || v != i * 3;
        }
        cfut_future_release(fs[i]);
    }
    long crashes = 0;
    for (long i = 0; i < N; i++) crashes += i % 97 == 13 || i % 89 == 7;
    CHECK_EQ(wrong, 0);
    CHECK_EQ(died, crashes);
    CHECK_EQ(ok + died, N);
    fprintf(stderr, "  (10000 tasks, %ld crashes, %.2f s, %llu workers started)\n", crashes, now_s() - t0,
            (unsigned long long)cfut_process_pool_workers_started(ex));
    free(fs);
    cfut_executor_free(ex);
}

/* ------------------------------------------------------------------------------------ */
/* Payloads, task locations */

static void test_large_payloads(void) {
    cfut_executor *ex = pool(2);
    size_t n = 64u << 20;
    unsigned char *big = malloc(n);
    unsigned long want = 0;
    for (size_t i = 0; i < n; i++) {
        big[i] = (unsigned char)(i * 13 + 1);
        want += big[i] * (i % 251 + 1);
    }
    /* In: 64 MiB; out: 64 MiB; and both at once (echo), two at a time. */
    cfut_future *fin, *fout, *fecho[2];
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_sum, big, n, &fin), CFUT_OK);
    fout = submit_long(ex, t_big_out, (long)n);
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_echo, big, n, &fecho[0]), CFUT_OK);
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_echo, big, n / 2 + 1, &fecho[1]), CFUT_OK);
    const void *p;
    size_t len;
    CHECK_STATUS(cfut_future_result_bytes(fin, CFUT_SECONDS(60), &p, &len), CFUT_OK);
    CHECK_EQ(len, sizeof(unsigned long));
    CHECK(len == sizeof want && *(const unsigned long *)p == want);
    CHECK_STATUS(cfut_future_result_bytes(fout, CFUT_SECONDS(60), &p, &len), CFUT_OK);
    CHECK_EQ(len, n);
    int bad = 0;
    for (size_t i = 0; i < len; i++) bad |= ((const unsigned char *)p)[i] != (unsigned char)(i * 7 + 3);
    CHECK(!bad);
    CHECK_STATUS(cfut_future_result_bytes(fecho[0], CFUT_SECONDS(60), &p, &len), CFUT_OK);
    CHECK(len == n && memcmp(p, big, n) == 0);
    CHECK_STATUS(cfut_future_result_bytes(fecho[1], CFUT_SECONDS(60), &p, &len), CFUT_OK);
    CHECK(len == n / 2 + 1 && memcmp(p, big, n / 2 + 1) == 0);
    /* Sizes around buffer boundaries. */
    size_t sizes[] = {1, 65535, 65536, 65537, 1 << 20, (1 << 20) + 1};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        cfut_future *f;
        CHECK_STATUS(cfut_executor_submit_bytes(ex, t_echo, big, sizes[k], &f), CFUT_OK);
        CHECK_STATUS(cfut_future_result_bytes(f, CFUT_SECONDS(60), &p, &len), CFUT_OK);
        CHECK(len == sizes[k] && memcmp(p, big, len) == 0);
        cfut_future_release(f);
    }
    cfut_future_release(fin);
    cfut_future_release(fout);
    cfut_future_release(fecho[0]);
    cfut_future_release(fecho[1]);
    free(big);
    cfut_executor_free(ex);
}

static void test_shared_library_tasks(void) {
    cfut_executor *ex = pool(2);
    cfut_status s;
    /* A function of a linked library, and an unexported one reached by address. */
    cfut_future *f = submit_long(ex, lib_triple, 7);
    CHECK_EQ(result_long(f, &s), 21);
    cfut_future_release(f);
    f = submit_long(ex, lib_hidden(), 7);
    CHECK_EQ(result_long(f, &s), -7);
    cfut_future_release(f);
    /* A library loaded with dlopen: the worker loads it too. */
    char path[8192];
    snprintf(path, sizeof path, "%s/libptasks_dl.so", g_dir);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL);
    if (h) {
        cfut_bytes_fn fn = (cfut_bytes_fn)dlsym(h, "lib_triple");
        cfut_bytes_fn (*hid)(void) = (cfut_bytes_fn(*)(void))dlsym(h, "lib_hidden");
        CHECK(fn && fn != lib_triple);
        f = submit_long(ex, fn, 5);
        CHECK_EQ(result_long(f, &s), 15);
        cfut_future_release(f);
        f = submit_long(ex, hid(), 5);
        CHECK_EQ(result_long(f, &s), -5);
        cfut_future_release(f);
        dlclose(h);
    }
    cfut_executor_free(ex);
}

static void test_library_rebuilt_on_disk(void) { /* study #23: build-id mismatch */
    char a[4096], b[4096], tmp[256], cmd[40000];
    snprintf(a, sizeof a, "%s/libptasks_dl.so", g_dir);
    snprintf(b, sizeof b, "%s/libptasks_v2.so", g_dir);
    snprintf(tmp, sizeof tmp, "/tmp/cfut_skew_%d.so", getpid());
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", a, tmp);
    CHECK(system(cmd) == 0);
    void *h = dlopen(tmp, RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL);
    if (!h) return;
    cfut_bytes_fn fn = (cfut_bytes_fn)dlsym(h, "lib_triple");
    /* Replace the file (a new inode) with another build before any worker loads it. */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s.new' && mv '%s.new' '%s'", b, tmp, tmp, tmp);
    CHECK(system(cmd) == 0);
    cfut_executor *ex = pool(1);
    cfut_future *f = submit_long(ex, fn, 5);
    cfut_error e = error_of(f);
    CHECK_EQ(e.status, CFUT_TASK_FAILED);
    CHECK_EQ(e.code, CFUT_UNSUPPORTED);
    CHECK(e.message && strstr(e.message, "build-id"));
    cfut_future_release(f);
    cfut_status s;
    f = submit_long(ex, t_square, 3); /* the worker survived */
    CHECK_EQ(result_long(f, &s), 9);
    CHECK_EQ(cfut_process_pool_workers_started(ex), 1);
    cfut_future_release(f);
    cfut_executor_free(ex);
    dlclose(h);
    unlink(tmp);
}

static void test_worker_exe_other_program(void) {
    /* Workers running another program (preloaded with libcfutures): library tasks work,
     * main-executable tasks are refused at submit. */
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 1;
    char exe[8192];
    snprintf(exe, sizeof exe, "%s/host_child", g_dir);
    o.worker_exe = exe;
    cfut_executor *ex = pool_opts(&o);
    cfut_future *f = NULL;
    long v = 4;
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_square, &v, sizeof v, &f), CFUT_UNSUPPORTED);
    CHECK(cfut_last_error_message() && strstr(cfut_last_error_message(), "main executable"));
    cfut_status s;
    f = submit_long(ex, lib_triple, 4);
    CHECK_EQ(result_long(f, &s), 12);
    cfut_future_release(f);
    cfut_executor_free(ex);
    /* Any dynamically linked program works, libcfutures being preloaded into it. */
    o.worker_exe = "/bin/true";
    ex = pool_opts(&o);
    f = submit_long(ex, lib_triple, 4);
    CHECK_EQ(result_long(f, &s), 12);
    cfut_future_release(f);
    cfut_executor_free(ex);
    /* A (static) program that exits at once: the pool breaks, submits fail (2.4 #66). */
    snprintf(exe, sizeof exe, "%s/exit1_static", g_dir);
    o.worker_exe = exe;
    ex = pool_opts(&o);
    f = submit_long(ex, lib_triple, 4);
    cfut_error e = error_of(f);
    CHECK_EQ(e.status, CFUT_BROKEN);
    CHECK(e.message && strstr(e.message, "could not start"));
    CHECK_STATUS(cfut_executor_submit_bytes(ex, lib_triple, &v, sizeof v, NULL), CFUT_BROKEN);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

/* A worker_exe that never loads the library (static) and never exits: nothing may hang.
 * FORKSERVER: the server never answers, so the pool breaks within the answer timeout.
 * SPAWN: the worker never becomes ready; shutdown(cancel_futures) still returns. */
static void test_worker_exe_never_ready(void) {
    char exe[PATH_MAX];
    snprintf(exe, sizeof exe, "%s/pause_static", g_dir);
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 1;
    o.worker_exe = exe;
    o.start_method = CFUT_START_FORKSERVER;
    cfut_executor *ex = pool_opts(&o);
    double t0 = now_s();
    cfut_future *f = submit_long(ex, lib_triple, 4);
    cfut_error e = error_of(f);
    CHECK_EQ(e.status, CFUT_BROKEN);
    CHECK(e.message && strstr(e.message, "did not answer"));
    CHECK(now_s() - t0 < 10.0);
    cfut_future_release(f);
    cfut_executor_free(ex);

    o.start_method = CFUT_START_SPAWN;
    ex = pool_opts(&o);
    f = submit_long(ex, lib_triple, 4);
    sleep_us(100000); /* the worker is started and stays unready */
    t0 = now_s();
    CHECK_STATUS(cfut_executor_shutdown(ex, true, true), CFUT_OK);
    CHECK(now_s() - t0 < 5.0);
    CHECK(cfut_future_cancelled(f));
    cfut_future_release(f);
    cfut_executor_free(ex);
}

/* ------------------------------------------------------------------------------------ */
/* Pool management (2.4) */

static void test_saturation(void) { /* 2.4 #57 */
    cfut_executor *ex = pool(4);
    cfut_future *fs[24];
    for (int i = 0; i < 24; i++) fs[i] = submit_long(ex, t_sleep_ms, 30);
    for (int i = 0; i < 24; i++) {
        cfut_status s;
        result_long(fs[i], &s);
        CHECK_STATUS(s, CFUT_OK);
        cfut_future_release(fs[i]);
    }
    CHECK_EQ(cfut_process_pool_workers_started(ex), 4);
    cfut_executor_free(ex);
}

static void test_idle_reuse(void) { /* 2.4 #58/#59 */
    cfut_executor *ex = pool(4);
    cfut_status s;
    for (int i = 0; i < 5; i++) {
        cfut_future *f = submit_long(ex, t_square, i);
        CHECK_EQ(result_long(f, &s), i * i);
        cfut_future_release(f);
    }
    CHECK_EQ(cfut_process_pool_workers_started(ex), 1);
    cfut_executor_free(ex);
    /* Interleaved waited and unwaited jobs need at most 3 workers at once; slow starts
     * (sanitizers, a loaded machine) may add a spare: allow 5 of 8. */
    ex = pool(8);
    for (int i = 0; i < 10; i++) {
        cfut_future *a = submit_long(ex, t_square, i);
        cfut_future *b = submit_long(ex, t_square, i);
        result_long(a, &s);
        cfut_future_release(a);
        cfut_future_release(b);
    }
    CHECK(cfut_process_pool_workers_started(ex) <= 5);
    cfut_executor_free(ex);
}

static void test_max_tasks_per_child(void) { /* 2.4 #60, #62 (gh-115634) */
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 1;
    o.max_tasks_per_child = 3;
    cfut_executor *ex = pool_opts(&o);
    long pids[4];
    cfut_status s;
    for (int i = 0; i < 4; i++) {
        cfut_future *f = submit_long(ex, t_pid, 0);
        pids[i] = result_long(f, &s);
        cfut_future_release(f);
    }
    CHECK(pids[0] == pids[1] && pids[1] == pids[2]);
    CHECK(pids[3] != pids[2]);
    CHECK(wait_workers(ex, 1) == 1);
    cfut_executor_free(ex);
    uint32_t cfg[2][3] = {{1, 2, 6}, {2, 2, 8}};
    for (int c = 0; c < 2; c++) {
        o.max_workers = cfg[c][0];
        o.max_tasks_per_child = cfg[c][1];
        ex = pool_opts(&o);
        cfut_future *fs[8];
        for (uint32_t i = 0; i < cfg[c][2]; i++) fs[i] = submit_long(ex, t_square, i);
        for (uint32_t i = 0; i < cfg[c][2]; i++) {
            CHECK_EQ(result_long(fs[i], &s), (long)(i * i));
            cfut_future_release(fs[i]);
        }
        cfut_executor_free(ex);
    }
    /* max_workers=1, max_tasks=2, 10 tasks: the pid changes every 2 tasks (study #16). */
    o.max_workers = 1;
    o.max_tasks_per_child = 2;
    ex = pool_opts(&o);
    cfut_future *fs[10];
    for (int i = 0; i < 10; i++) fs[i] = submit_long(ex, t_pid, 0);
    long p[10];
    for (int i = 0; i < 10; i++) {
        p[i] = result_long(fs[i], &s);
        cfut_future_release(fs[i]);
    }
    for (int i = 0; i < 10; i += 2) {
        CHECK(p[i] == p[i + 1]);
        if (i) CHECK(p[i] != p[i - 1]);
    }
    CHECK_EQ(cfut_process_pool_workers_started(ex), 5);
    cfut_executor_free(ex);
}

static void test_max_tasks_early_shutdown(void) { /* 2.4 #67 */
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 3;
    o.max_tasks_per_child = 1;
    cfut_executor *ex = pool_opts(&o);
    cfut_future *fs[6];
    for (int i = 0; i < 6; i++) fs[i] = submit_long(ex, t_square, i);
    CHECK_STATUS(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    cfut_status s;
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(result_long(fs[i], &s), i * i);
        cfut_future_release(fs[i]);
    }
    cfut_executor_free(ex);
}

static void test_gh132969(void) { /* 2.8 #132/#133 */
    for (uint32_t w = 2; w <= 4; w += 2) {
        cfut_process_pool_options o;
        cfut_process_pool_options_init(&o);
        o.max_workers = w;
        o.max_tasks_per_child = 1;
        cfut_executor *ex = pool_opts(&o);
        cfut_future *bad = submit_long(ex, t_fail, 0);
        cfut_future *good = submit_long(ex, t_square, 1);
        CHECK_STATUS(cfut_executor_shutdown(ex, false, false), CFUT_OK);
        cfut_status s;
        CHECK_EQ(result_long(good, &s), 1);
        result_long(bad, &s);
        CHECK_STATUS(s, CFUT_TASK_FAILED);
        cfut_future_release(bad);
        cfut_future_release(good);
        cfut_executor_free(ex);
    }
}

static void test_initializer(void) { /* 2.9 #134/#135 on processes */
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 2;
    long seed = 4242;
    o.initializer = init_store;
    o.initializer_input = &seed;
    o.initializer_len = sizeof seed;
    cfut_executor *ex = pool_opts(&o);
    seed = 0; /* copied at creation */
    cfut_future *fs[6];
    for (int i = 0; i < 6; i++) fs[i] = submit_long(ex, t_init_value, 0);
    cfut_status s;
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(result_long(fs[i], &s), 4242);
        cfut_future_release(fs[i]);
    }
    cfut_executor_free(ex);

    cfut_bytes_fn bad[2] = {init_fail, init_crash};
    for (int k = 0; k < 2; k++) {
        o.initializer = bad[k];
        ex = pool_opts(&o);
        cfut_future *f = submit_long(ex, t_square, 2), *g = submit_long(ex, t_square, 3);
        cfut_error e = error_of(f);
        CHECK_EQ(e.status, CFUT_BROKEN);
        if (k == 0) {
            CHECK_EQ(e.code, 17);
            CHECK(e.message && strstr(e.message, "error in initializer"));
        } else {
            CHECK_EQ(e.code, -SIGSEGV);
        }
        CHECK_EQ(error_of(g).status, CFUT_BROKEN);
        long v = 1;
        CHECK_STATUS(cfut_executor_submit_bytes(ex, t_square, &v, sizeof v, NULL), CFUT_BROKEN);
        cfut_future_release(f);
        cfut_future_release(g);
        cfut_executor_free(ex);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Shutdown (2.8), terminate/kill (2.4 #69-#75), deadlocks (2.10 #150) */

static void test_run_after_shutdown(void) { /* 2.8 #114 */
    cfut_executor *ex = pool(1);
    CHECK_STATUS(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    CHECK_STATUS(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    long v = 1;
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_square, &v, sizeof v, NULL), CFUT_SHUTDOWN);
    cfut_map *m;
    long r;
    CHECK_STATUS(cfut_executor_map(ex, m_pow, NULL, 0, &v, 1, sizeof v, &r, sizeof r, NULL, &m), CFUT_SHUTDOWN);
    cfut_executor_free(ex);
}

static void test_hang_issue12364(void) { /* 2.8 #117 */
    cfut_executor *ex = pool(2);
    cfut_future *fs[50];
    for (int i = 0; i < 50; i++) fs[i] = submit_long(ex, t_square, i);
    CHECK_STATUS(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    cfut_status s;
    for (int i = 0; i < 50; i++) {
        CHECK_EQ(result_long(fs[i], &s), i * i);
        cfut_future_release(fs[i]);
    }
    cfut_executor_free(ex);
}

static void test_cancel_futures(void) { /* 2.8 #118 */
    cfut_executor *ex = pool(5);
    cfut_future *fs[50];
    for (int i = 0; i < 50; i++) fs[i] = submit_long(ex, t_sleep_ms, 50);
    /* Workers start on demand: wait until one task runs (CPython's call queue makes some
     * futures RUNNING at once; here a future runs once a worker has it). */
    for (int i = 0; i < 1000 && !cfut_future_running(fs[0]); i++) sleep_us(1000);
    CHECK_STATUS(cfut_executor_shutdown(ex, true, true), CFUT_OK);
    int cancelled = 0, ok = 0;
    for (int i = 0; i < 50; i++) {
        if (cfut_future_cancelled(fs[i])) {
            cancelled++;
        } else {
            cfut_status s;
            result_long(fs[i], &s);
            CHECK_STATUS(s, CFUT_OK);
            ok++;
        }
        cfut_future_release(fs[i]);
    }
    CHECK(cancelled > 20);
    CHECK(ok >= 1);
    cfut_executor_free(ex);
}

static void test_shutdown_no_wait(void) { /* 2.8 #119/#131 */
    cfut_executor *ex = pool(2);
    cfut_future *fs[8];
    for (int i = 0; i < 8; i++) fs[i] = submit_long(ex, t_sleep_ms, 20);
    double t0 = now_s();
    CHECK_STATUS(cfut_executor_shutdown(ex, false, false), CFUT_OK);
    CHECK(now_s() - t0 < 0.5); /* returns without waiting */
    cfut_status s;
    for (int i = 0; i < 8; i++) {
        CHECK(result_long(fs[i], &s) > 0);
        cfut_future_release(fs[i]);
    }
    cfut_executor_free(ex);
}

static void test_hang_gh94440(void) { /* 2.8 #120 */
    cfut_executor *ex = pool(1);
    cfut_future *a = submit_long(ex, t_square, 3);
    cfut_status s;
    CHECK_EQ(result_long(a, &s), 9);
    cfut_future *b = submit_long(ex, t_sleep_ms, 1000);
    cfut_future_cancel(b);
    double t0 = now_s();
    CHECK_STATUS(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    CHECK(now_s() - t0 < 5);
    cfut_future_release(a);
    cfut_future_release(b);
    cfut_executor_free(ex);
}

static void test_processes_terminate(void) { /* 2.8 #128/#129 */
    cfut_executor *ex = pool(3);
    cfut_future *fs[3];
    for (int i = 0; i < 3; i++) fs[i] = submit_long(ex, t_sleep_ms, 200);
    CHECK_EQ(wait_workers(ex, 3), 3);
    int32_t pids[3];
    CHECK_EQ(worker_pids(ex, pids, 3), 3);
    CHECK_EQ(count_children(NULL), 3);
    CHECK_STATUS(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    for (int i = 0; i < 3; i++) {
        CHECK(!pid_alive(pids[i]));
        CHECK_EQ(error_of(fs[i]).status, CFUT_OK);
        cfut_future_release(fs[i]);
    }
    int z;
    CHECK_EQ(count_children(&z), 0);
    CHECK_EQ(worker_pids(ex, NULL, 0), 0);
    cfut_executor_free(ex);
}

static void test_terminate_and_kill_workers(void) { /* 2.4 #69-#75 */
    int sigs[2] = {SIGTERM, SIGKILL};
    for (int k = 0; k < 2; k++) {
        cfut_executor *ex = pool(2);
        cfut_future *run = submit_long(ex, t_sleep_ms, 20000);
        cfut_future *run2 = submit_long(ex, t_loop, 0);
        cfut_future *pend = submit_long(ex, t_square, 5);
        for (int i = 0; i < 500 && !(cfut_future_running(run) && cfut_future_running(run2)); i++) sleep_us(10000);
        CHECK_EQ(wait_workers(ex, 2), 2);
        int32_t pids[2];
        worker_pids(ex, pids, 2);
        double t0 = now_s();
        CHECK_STATUS(cfut_process_pool_terminate(ex, sigs[k]), CFUT_OK);
        CHECK_STATUS(cfut_process_pool_terminate(ex, sigs[k]), CFUT_OK);
        CHECK(cfut_future_cancelled(pend));
        cfut_error e = error_of(run);
        CHECK_EQ(e.status, CFUT_BROKEN);
        CHECK_EQ(error_of(run2).status, CFUT_BROKEN);
        long v = 1;
        CHECK_STATUS(cfut_executor_submit_bytes(ex, t_square, &v, sizeof v, NULL), CFUT_SHUTDOWN);
        CHECK_STATUS(cfut_executor_shutdown(ex, true, false), CFUT_OK);
        CHECK(now_s() - t0 < 2);
        CHECK(!pid_alive(pids[0]) && !pid_alive(pids[1]));
        cfut_future_release(run);
        cfut_future_release(run2);
        cfut_future_release(pend);
        cfut_executor_free(ex);
    }
    /* No worker started yet: a no-op (2.4 #74). */
    cfut_executor *ex = pool(2);
    CHECK_STATUS(cfut_process_pool_terminate(ex, SIGKILL), CFUT_OK);
    CHECK_EQ(cfut_process_pool_workers_started(ex), 0);
    cfut_executor_free(ex);
}

static void test_shutdown_while_worker_crashes(void) { /* 2.10 #150 */
    cfut_executor *ex = pool(2);
    cfut_future *f = submit_long(ex, t_sleep_ms, 100);
    cfut_future *c = NULL;
    /* A task that dies 0.1 s into shutdown(wait=true). */
    long ms = 100;
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_sleep_ms, &ms, sizeof ms, NULL), CFUT_OK);
    c = submit_long(ex, t_exit3, 0);
    double t0 = now_s();
    CHECK_STATUS(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    CHECK(now_s() - t0 < 5);
    CHECK_EQ(error_of(c).status, CFUT_WORKER_DIED);
    CHECK_EQ(error_of(f).status, CFUT_OK);
    cfut_future_release(f);
    cfut_future_release(c);
    cfut_executor_free(ex);
}

static int g_cb_status = -1;
static cfut_executor *g_cb_ex;
static void cb_shutdown(cfut_future *f, void *arg) {
    (void)f; (void)arg;
    g_cb_status = (int)cfut_executor_shutdown(g_cb_ex, true, false);
}

static void test_shutdown_from_callback_would_deadlock(void) {
    cfut_executor *ex = pool(1);
    g_cb_ex = ex;
    g_cb_status = -1;
    cfut_future *f = submit_long(ex, t_sleep_ms, 50);
    cfut_future_add_done_callback(f, cb_shutdown, NULL, NULL);
    cfut_future_wait(f, CFUT_SECONDS(10));
    for (int i = 0; i < 100 && g_cb_status < 0; i++) sleep_us(1000);
    CHECK_EQ(g_cb_status, CFUT_WOULD_DEADLOCK);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

/* A done-callback runs on the manager thread: a blocking wait there on a future that is not
 * done would stall the pool forever, so it returns CFUT_WOULD_DEADLOCK at once; polling and
 * waiting on a done future still work. */
typedef struct cb_waits {
    cfut_future *other;
    cfut_status blocking, poll, own, bytes, err, all, first;
    bool all_flags_ok;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool ran;
} cb_waits;

static void cb_wait_other(cfut_future *f, void *arg) {
    cb_waits *w = arg;
    cfut_error e;
    const void *d;
    size_t n;
    w->blocking = cfut_future_result(w->other, CFUT_FOREVER, NULL);
    w->poll = cfut_future_wait(w->other, 0);
    w->bytes = cfut_future_result_bytes(w->other, CFUT_SECONDS(1), &d, &n);
    w->err = cfut_future_error(w->other, CFUT_SECONDS(1), &e);
    w->own = cfut_future_wait(f, CFUT_FOREVER);
    cfut_future *both[2] = {f, w->other};
    bool flags[2] = {false, true};
    size_t n_done = 9;
    w->all = cfut_wait(both, 2, CFUT_FOREVER, CFUT_ALL_COMPLETED, flags, &n_done);
    w->all_flags_ok = flags[0] && !flags[1] && n_done == 1;
    w->first = cfut_wait(both, 2, CFUT_FOREVER, CFUT_FIRST_COMPLETED, NULL, NULL);
    pthread_mutex_lock(&w->mu);
    w->ran = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

static void test_callback_wait_would_deadlock(void) {
    cfut_executor *ex = pool(2);
    cb_waits w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    w.other = submit_long(ex, t_sleep_ms, 1000);
    cfut_future *f = submit_long(ex, t_sleep_ms, 20);
    CHECK_STATUS(cfut_future_add_done_callback(f, cb_wait_other, &w, NULL), CFUT_OK);
    pthread_mutex_lock(&w.mu);
    while (!w.ran) pthread_cond_wait(&w.cond, &w.mu);
    pthread_mutex_unlock(&w.mu);
    CHECK_STATUS(w.blocking, CFUT_WOULD_DEADLOCK);
    CHECK_STATUS(w.poll, CFUT_TIMEOUT);
    CHECK_STATUS(w.bytes, CFUT_WOULD_DEADLOCK);
    CHECK_STATUS(w.err, CFUT_WOULD_DEADLOCK);
    CHECK_STATUS(w.own, CFUT_OK);
    CHECK_STATUS(w.all, CFUT_WOULD_DEADLOCK);
    CHECK(w.all_flags_ok);
    CHECK_STATUS(w.first, CFUT_OK); /* f is done: the condition holds without blocking */
    CHECK(!cfut_future_done(w.other)); /* the 1 s task was not held up, just not waited for */
    cfut_status s;
    CHECK_EQ(result_long(w.other, &s) > 0, true);
    cfut_future_release(w.other);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static void test_wait_and_as_completed(void) { /* 2.7 on processes */
    cfut_executor *ex = pool(2);
    cfut_future *fs[3];
    fs[0] = submit_long(ex, t_sleep_ms, 1);
    fs[1] = submit_long(ex, t_segv, 0);
    fs[2] = submit_long(ex, t_sleep_ms, 1500);
    size_t done = 0;
    CHECK_STATUS(cfut_wait(fs, 3, CFUT_SECONDS(10), CFUT_FIRST_EXCEPTION, NULL, &done), CFUT_OK);
    CHECK(cfut_future_done(fs[1]));
    CHECK(!cfut_future_done(fs[2]));
    cfut_as_completed *it;
    CHECK_STATUS(cfut_as_completed_new(fs, 3, CFUT_SECONDS(10), &it), CFUT_OK);
    size_t idx, n = 0;
    while (cfut_as_completed_next(it, &idx) == CFUT_OK) n++;
    CHECK_EQ(n, 3);
    cfut_as_completed_free(it);
    for (int i = 0; i < 3; i++) cfut_future_release(fs[i]);
    cfut_executor_free(ex);
}

/* ------------------------------------------------------------------------------------ */
/* The host: its threads, its death */

static atomic_int g_spin_stop;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static void *busy_thread(void *arg) {
    (void)arg;
    while (!atomic_load(&g_spin_stop)) {
        pthread_mutex_lock(&g_mu); /* a lock often held at any instant */
        void *p = malloc(1000);
        free(p);
        pthread_mutex_unlock(&g_mu);
    }
    return NULL;
}

static void multithreaded_host(uint32_t method) {
    atomic_store(&g_spin_stop, 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, busy_thread, NULL);
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 2;
    o.start_method = method;
    cfut_executor *ex = pool_opts(&o);
    cfut_status s;
    for (long i = 0; i < 200; i++) {
        cfut_future *f = submit_long(ex, t_square, i);
        CHECK_EQ(result_long(f, &s), i * i);
        cfut_future_release(f);
    }
    cfut_executor_free(ex);
    atomic_store(&g_spin_stop, 1);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
}

static void test_multithreaded_host(void) { multithreaded_host(CFUT_START_SPAWN); }

static void *make_pool_thread(void *arg) {
    cfut_executor **ex = arg;
    *ex = pool(2);
    return NULL;
}

static void test_pool_created_by_short_lived_thread(void) { /* study #11 (PDEATHSIG pitfall) */
    cfut_executor *ex = NULL;
    pthread_t t;
    pthread_create(&t, NULL, make_pool_thread, &ex);
    pthread_join(t, NULL);
    cfut_future *f = submit_long(ex, t_sleep_ms, 300);
    cfut_status s;
    CHECK(result_long(f, &s) > 0);
    CHECK_STATUS(s, CFUT_OK);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

/* A child forked after the pool's creation: the inherited pool refuses work, the parent's
 * running future fails Broken when the child waits on it, shutdown and free return at once,
 * and a new pool in the child works. The parent's pool is untouched. */
static int inherited_pool_child(cfut_executor *ex, cfut_future *running) {
    cfut_future *f = NULL;
    long v = 4;
    if (cfut_executor_submit_bytes(ex, t_square, &v, sizeof v, &f) != CFUT_UNSUPPORTED) return 10;
    if (cfut_future_wait(running, CFUT_SECONDS(5)) != CFUT_OK) return 11;
    cfut_error e;
    if (cfut_future_error(running, 0, &e) != CFUT_OK || e.status != CFUT_BROKEN) return 12;
    if (cfut_executor_shutdown(ex, true, false) != CFUT_OK) return 13;
    cfut_executor_free(ex);
    cfut_executor *fresh = NULL;
    if (cfut_process_pool_new(NULL, &fresh) != CFUT_OK) return 14;
    cfut_future *g = NULL;
    if (cfut_executor_submit_bytes(fresh, t_square, &v, sizeof v, &g) != CFUT_OK) return 15;
    const void *p = NULL;
    size_t n = 0;
    if (cfut_future_result_bytes(g, CFUT_SECONDS(30), &p, &n) != CFUT_OK || n != sizeof(long)) return 16;
    long r;
    memcpy(&r, p, sizeof r);
    if (r != 16) return 17;
    cfut_future_release(g);
    cfut_executor_free(fresh);
    return 0;
}

static void test_inherited_pool_in_forked_child(void) {
    cfut_executor *ex = pool(1);
    cfut_future *running = submit_long(ex, t_sleep_ms, 500);
    pid_t child = fork();
    if (child == 0) _exit(inherited_pool_child(ex, running));
    int st = 0;
    CHECK(waitpid_eintr(child, &st, 0) == child);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    cfut_status s;
    CHECK(result_long(running, &s) > 0);
    CHECK_STATUS(s, CFUT_OK);
    cfut_future_release(running);
    cfut_executor_free(ex);
}

static void host_killed(const char *mode, const char *method) {
    char exe[8192];
    snprintf(exe, sizeof exe, "%s/host_child", g_dir);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    pid_t child = fork();
    if (child == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execl(exe, exe, mode, method, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    FILE *in = fdopen(pfd[0], "r");
    char line[64];
    pid_t pids[8];
    int n = 0;
    for (;;) {
        errno = 0;
        if (!fgets(line, sizeof line, in)) {
            if (errno != EINTR) break;
            clearerr(in); /* a signal (tests/fault's itimer): read on */
            continue;
        }
        if (strncmp(line, "ready", 5) == 0) break;
        if (n < 8) pids[n++] = atoi(line);
    }
    fclose(in);
    CHECK_EQ(n, 2);
    for (int i = 0; i < n; i++) CHECK(pid_alive(pids[i]));
    kill(child, SIGKILL);
    int st;
    waitpid_eintr(child, &st, 0);
    double t0 = now_s();
    int alive = n;
    while (alive && now_s() - t0 < 1.0) {
        alive = 0;
        for (int i = 0; i < n; i++) alive += pid_alive(pids[i]);
        sleep_us(5000);
    }
    CHECK_EQ(alive, 0);
}

static void test_host_killed_workers_busy(void) { host_killed("busy", "spawn"); }  /* study #10 */
static void test_host_killed_workers_idle(void) { host_killed("idle", "spawn"); }  /* study #9 */
static void test_host_killed_forkserver_busy(void) { host_killed("busy", "forkserver"); }
static void test_host_killed_fork_busy(void) { host_killed("busy", "fork"); }

static void test_host_forks_after_pool_creation(void) { /* study #12 */
    cfut_executor *ex = pool(1);
    cfut_status s;
    cfut_future *f = submit_long(ex, t_square, 3);
    CHECK_EQ(result_long(f, &s), 9);
    cfut_future_release(f);
    pid_t child = fork();
    if (child == 0) {
        long v = 2;
        cfut_future *g = NULL;
        int rc = cfut_executor_submit_bytes(ex, t_square, &v, sizeof v, &g) == CFUT_UNSUPPORTED ? 0 : 1;
        rc |= cfut_last_error_message() && strstr(cfut_last_error_message(), "parent") ? 0 : 2;
        cfut_executor_free(ex); /* returns at once: the pool is the parent's */
        _exit(rc);
    }
    int st = 0;
    waitpid_eintr(child, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    f = submit_long(ex, t_square, 4); /* the parent's pool is unaffected */
    CHECK_EQ(result_long(f, &s), 16);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static void test_workers_inherit_no_fds(void) { /* study 3.11: fds 0, 1, 2 and 3 only */
    uint32_t methods[3] = {CFUT_START_SPAWN, CFUT_START_FORKSERVER, CFUT_START_FORK};
    int extra = open("/dev/null", O_RDONLY); /* not close-on-exec: must not leak either */
    for (int m = 0; m < 3; m++) {
        cfut_process_pool_options o;
        cfut_process_pool_options_init(&o);
        o.max_workers = 1;
        o.start_method = methods[m];
        cfut_executor *ex = pool_opts(&o);
        cfut_future *f = submit_long(ex, t_fd_mask, 0);
        cfut_status s;
        long mask = result_long(f, &s);
        CHECK_STATUS(s, CFUT_OK);
        if (mask != 0xf) fprintf(stderr, "  method %u: worker fds mask %#lx\n", methods[m], mask);
        CHECK_EQ(mask, 0xf);
        cfut_future_release(f);
        cfut_executor_free(ex);
    }
    close(extra);
}

static void test_timeout_kills_task_process_group(void) { /* study #6 */
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 1;
    o.task_timeout_ns = CFUT_MILLISECONDS(300);
    cfut_executor *ex = pool_opts(&o);
    char path[64];
    snprintf(path, sizeof path, "/tmp/cfut_grandchild_%d", getpid());
    unlink(path);
    cfut_future *f;
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_grandchild_then_loop, path, strlen(path), &f), CFUT_OK);
    CHECK_EQ(error_of(f).status, CFUT_TIMEOUT);
    cfut_future_release(f);
    FILE *in = fopen(path, "r");
    int g = 0;
    if (in) {
        CHECK(fscanf(in, "%d", &g) == 1);
        fclose(in);
    }
    CHECK(g > 0);
    for (int i = 0; i < 100 && g > 0 && pid_alive(g); i++) sleep_us(10000);
    CHECK(g > 0 && !pid_alive(g));
    unlink(path);
    cfut_status s;
    f = submit_long(ex, t_square, 5);
    CHECK_EQ(result_long(f, &s), 25);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static void test_task_closes_channel(void) { /* study #13 */
    cfut_executor *ex = pool(1);
    cfut_future *f = submit_long(ex, t_close_channel, 0);
    double t0 = now_s();
    cfut_error e = error_of(f);
    CHECK(now_s() - t0 < 2);
    CHECK_EQ(e.status, CFUT_WORKER_DIED);
    cfut_future_release(f);
    cfut_status s;
    f = submit_long(ex, t_square, 6);
    CHECK_EQ(result_long(f, &s), 36);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static void test_host_ignores_sigchld(void) { /* study #20: children reaped by the kernel */
    struct sigaction old, ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGCHLD, &ign, &old);
    cfut_executor *ex = pool(2);
    cfut_status s;
    cfut_future *f = submit_long(ex, t_square, 7);
    CHECK_EQ(result_long(f, &s), 49);
    cfut_future_release(f);
    f = submit_long(ex, t_segv, 0);
    cfut_error e = error_of(f);
    CHECK_EQ(e.status, CFUT_WORKER_DIED); /* the status itself may be lost */
    cfut_future_release(f);
    f = submit_long(ex, t_square, 8);
    CHECK_EQ(result_long(f, &s), 64);
    cfut_future_release(f);
    cfut_executor_free(ex);
    sigaction(SIGCHLD, &old, NULL);
}

/* ------------------------------------------------------------------------------------ */
/* FORK start method */

static long g_set_by_main;
static int32_t t_read_global(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len;
    cfut_result_set_bytes(out, &g_set_by_main, sizeof g_set_by_main);
    return 0;
}

static void test_fork_start_method(void) {
    g_set_by_main = 777;
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 2;
    o.start_method = CFUT_START_FORK;
    o.max_tasks_per_child = 5;
    cfut_executor *ex = pool_opts(&o);
    g_set_by_main = 1; /* after the fork: workers see 777 */
    cfut_status s;
    cfut_future *f = submit_long(ex, t_read_global, 0);
    CHECK_EQ(result_long(f, &s), 777);
    cfut_future_release(f);
    for (long i = 0; i < 40; i++) {
        f = submit_long(ex, t_square, i);
        CHECK_EQ(result_long(f, &s), i * i);
        cfut_future_release(f);
    }
    /* Crashes, timeouts and libraries work the same. */
    f = submit_long(ex, t_abort, 0);
    cfut_error e = error_of(f);
    CHECK_EQ(e.status, CFUT_WORKER_DIED);
    CHECK_EQ(e.code, -SIGABRT);
    cfut_future_release(f);
    /* _exit: a forked worker's exit() would run the host's atexit handlers (a FORK hazard). */
    f = submit_long(ex, t_exit99, 0);
    CHECK_EQ(error_of(f).code, 99);
    cfut_future_release(f);
    f = submit_long(ex, lib_triple, 2);
    CHECK_EQ(result_long(f, &s), 6);
    cfut_future_release(f);
    check_map_pow(ex, 7, 1000);
    cfut_executor_free(ex);
    g_set_by_main = 0;
}

static void test_fork_multithreaded_host(void) { multithreaded_host(CFUT_START_FORK); }

/* FORKSERVER: a fresh server process forks the workers. */
/* True once `pid` is no longer among the pool's workers (reaped by its manager), within 10 s. */
static int wait_worker_gone(cfut_executor *ex, int32_t pid) {
    for (double t0 = now_s(); now_s() - t0 < 10;) {
        int32_t pids[16];
        size_t n = 0;
        if (cfut_process_pool_worker_pids(ex, pids, 16, &n) != CFUT_OK) return 0;
        int gone = 1;
        for (size_t i = 0; i < n && i < 16; i++) gone &= pids[i] != pid;
        if (gone) return 1;
        sleep_us(1000);
    }
    return 0;
}

static void test_forkserver(void) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 2;
    o.start_method = CFUT_START_FORKSERVER;
    long seed = 31;
    o.initializer = init_store;
    o.initializer_input = &seed;
    o.initializer_len = sizeof seed;
    o.max_tasks_per_child = 7;
    cfut_executor *ex = pool_opts(&o);
    cfut_status s;
    cfut_future *f = submit_long(ex, t_init_value, 0);
    CHECK_EQ(result_long(f, &s), 31);
    cfut_future_release(f);
    f = submit_long(ex, t_pid, 0);
    long pid = result_long(f, &s);
    CHECK(pid > 0 && pid != getpid());
    cfut_future_release(f);
    for (long i = 0; i < 30; i++) {
        f = submit_long(ex, t_square, i);
        CHECK_EQ(result_long(f, &s), i * i);
        cfut_future_release(f);
    }
    cfut_bytes_fn deaths[3] = {t_segv, t_abort, t_exit3};
    int codes[3] = {-SIGSEGV, -SIGABRT, 3};
    for (int k = 0; k < 3; k++) {
        f = submit_long(ex, deaths[k], 0);
        cfut_error e = error_of(f);
        CHECK_EQ(e.status, CFUT_WORKER_DIED);
        CHECK_EQ(e.code, codes[k]);
        cfut_future_release(f);
    }
    f = submit_long(ex, lib_triple, 3);
    CHECK_EQ(result_long(f, &s), 9);
    cfut_future_release(f);
    check_map_pow(ex, 10, 2000);
    /* An idle worker killed from outside is replaced. (Killed before it is ready, a
     * worker counts as one that cannot start, which breaks the pool: kill one known to
     * have run a task.) */
    f = submit_long(ex, t_pid, 0);
    pid = result_long(f, &s);
    cfut_future_release(f);
    kill((pid_t)pid, SIGKILL);
    CHECK(wait_worker_gone(ex, (int32_t)pid));
    f = submit_long(ex, t_square, 11);
    CHECK_EQ(result_long(f, &s), 121);
    cfut_future_release(f);
    cfut_executor_free(ex);

    o.initializer = NULL;
    o.initializer_len = 0;
    o.task_timeout_ns = CFUT_MILLISECONDS(100);
    ex = pool_opts(&o);
    f = submit_long(ex, t_loop, 0);
    CHECK_EQ(error_of(f).status, CFUT_TIMEOUT);
    cfut_future_release(f);
    f = submit_long(ex, t_square, 12);
    CHECK_EQ(result_long(f, &s), 144);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

static void test_forkserver_multithreaded_host(void) { multithreaded_host(CFUT_START_FORKSERVER); }

static void test_fork_timeout_and_kill(void) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 1;
    o.start_method = CFUT_START_FORK;
    o.task_timeout_ns = CFUT_MILLISECONDS(100);
    cfut_executor *ex = pool_opts(&o);
    cfut_future *f = submit_long(ex, t_loop, 0);
    CHECK_EQ(error_of(f).status, CFUT_TIMEOUT);
    cfut_future_release(f);
    cfut_status s;
    f = submit_long(ex, t_square, 8);
    CHECK_EQ(result_long(f, &s), 64);
    cfut_future_release(f);
    f = submit_long(ex, t_pid, 0);
    long pid = result_long(f, &s);
    cfut_future_release(f);
    kill((pid_t)pid, SIGKILL); /* idle worker killed from outside */
    /* Once the pool has reaped it (its pid leaves the list), a task goes to a new worker. */
    CHECK(wait_worker_gone(ex, (int32_t)pid));
    f = submit_long(ex, t_square, 9);
    CHECK_EQ(result_long(f, &s), 81);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

/* ------------------------------------------------------------------------------------ */
/* Issue 15: survivors of terminate, the host's signal set-up, huge sizes, names */


static cfut_executor *pool_method(uint32_t method, uint32_t workers) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = workers;
    o.start_method = method;
    return pool_opts(&o);
}

/* From now on this worker ignores SIGTERM; returns its pid. */
static int32_t t_ignore_term(const void *in, size_t len, cfut_result *out) {
    signal(SIGTERM, SIG_IGN);
    return t_pid(in, len, out);
}
static int32_t t_exit7(const void *in, size_t len, cfut_result *out) { (void)in; (void)len; (void)out; _exit(7); }

/* Writes a frame header announcing a 2^50-byte result straight into the worker's channel. */
static int32_t t_bogus_frame(const void *in, size_t len, cfut_result *out) {
    (void)in; (void)len; (void)out;
    unsigned char h[32] = {0};
    uint32_t magic = 0x54554643u, kind = 12;
    uint64_t id = 1, arg = 0, n = (uint64_t)1 << 50;
    memcpy(h, &magic, 4);
    memcpy(h + 4, &kind, 4);
    memcpy(h + 8, &id, 8);
    memcpy(h + 16, &arg, 8);
    memcpy(h + 24, &n, 8);
    if (write(3, h, sizeof h) != (ssize_t)sizeof h) return 1;
    for (;;) pause();
}

static void wait_running(cfut_future *f) {
    for (int i = 0; i < 1000 && !cfut_future_running(f); i++) sleep_us(5000);
    CHECK(cfut_future_running(f));
}

/* Bug 1: a worker whose task ignores SIGTERM outlives terminate(SIGTERM); once the task
 * returns it must quit, so that free returns. Busy and idle survivors. */
static void terminate_survivor(uint32_t method) {
    for (int busy = 0; busy < 2; busy++) {
        cfut_executor *ex = pool_method(method, 1);
        cfut_status s;
        cfut_future *f = submit_long(ex, t_ignore_term, 0);
        long pid = result_long(f, &s);
        CHECK_STATUS(s, CFUT_OK);
        cfut_future_release(f);
        cfut_future *g = NULL;
        if (busy) {
            g = submit_long(ex, t_sleep_ms, 300);
            wait_running(g);
        }
        CHECK_STATUS(cfut_process_pool_terminate(ex, SIGTERM), CFUT_OK);
        if (g) {
            cfut_error e = error_of(g);
            CHECK_EQ(e.status, CFUT_BROKEN);
            CHECK_EQ(e.code, -SIGTERM);
            cfut_future_release(g);
        }
        double t0 = now_s();
        cfut_executor_free(ex); /* hung forever before the fix */
        CHECK(now_s() - t0 < 10);
        CHECK(!pid_alive((pid_t)pid));
    }
}
static void test_terminate_survivor_spawn(void) { terminate_survivor(CFUT_START_SPAWN); }
static void test_terminate_survivor_forkserver(void) { terminate_survivor(CFUT_START_FORKSERVER); }
static void test_terminate_survivor_fork(void) { terminate_survivor(CFUT_START_FORK); }

/* Bug 2: whatever the host did to its signals, deaths are reported with their exit code
 * and terminate's signals reach the workers. */
static void signals_behave(uint32_t method, int sigchld_ignored) {
    cfut_executor *ex = pool_method(method, 1);
    cfut_future *f = submit_long(ex, t_exit7, 0);
    cfut_error e = error_of(f);
    CHECK_EQ(e.status, CFUT_WORKER_DIED);
    if (sigchld_ignored && method == CFUT_START_SPAWN && getenv("CFUT_PROCESS_NO_PIDFD")) {
        /* The kernel reaps the host's own children at once, and without a pidfd held
         * before the exit nothing keeps the status (documented). */
        CHECK(e.message && strstr(e.message, "collected by someone else"));
    } else {
        CHECK_EQ(e.code, 7);
        CHECK(e.message && strstr(e.message, "exited with code 7"));
    }
    cfut_future_release(f);
    int sigs[2] = {SIGTERM, SIGKILL};
    for (int k = 0; k < 2; k++) {
        if (k == 1) ex = pool_method(method, 1);
        f = submit_long(ex, t_sleep_ms, 20000);
        wait_running(f);
        int32_t pid = 0;
        CHECK_EQ(worker_pids(ex, &pid, 1), 1);
        CHECK_STATUS(cfut_process_pool_terminate(ex, sigs[k]), CFUT_OK);
        CHECK_EQ(error_of(f).status, CFUT_BROKEN);
        cfut_future_release(f);
        double t0 = now_s();
        cfut_executor_free(ex); /* a task surviving SIGTERM would hold this 20 s */
        CHECK(now_s() - t0 < 5);
        CHECK(!pid_alive(pid));
    }
}

static void host_ignores_sigchld(uint32_t method) {
    struct sigaction old, ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGCHLD, &ign, &old);
    signals_behave(method, 1);
    sigaction(SIGCHLD, &old, NULL);
}
static void test_sigchld_ignored_spawn(void) { host_ignores_sigchld(CFUT_START_SPAWN); }
static void test_sigchld_ignored_forkserver(void) { host_ignores_sigchld(CFUT_START_FORKSERVER); }
static void test_sigchld_ignored_fork(void) { host_ignores_sigchld(CFUT_START_FORK); }

static void host_blocks_sigterm(uint32_t method) {
    for (int ignore = 0; ignore < 2; ignore++) {
        sigset_t term, old_mask;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        struct sigaction old, ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        if (ignore) sigaction(SIGTERM, &ign, &old);
        else pthread_sigmask(SIG_BLOCK, &term, &old_mask);
        signals_behave(method, 0);
        if (ignore) sigaction(SIGTERM, &old, NULL);
        else pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    }
}
static void test_sigterm_blocked_spawn(void) { host_blocks_sigterm(CFUT_START_SPAWN); }
static void test_sigterm_blocked_forkserver(void) { host_blocks_sigterm(CFUT_START_FORKSERVER); }
static void test_sigterm_blocked_fork(void) { host_blocks_sigterm(CFUT_START_FORK); }

static int32_t m_never(const void *ctx, const void *item, void *slot) {
    (void)ctx; (void)item; (void)slot;
    return 1;
}

/* Bug 3: sizes no message can carry get a status and a message, never an abort; the
 * buffers passed are small: the library must not touch past them. */
static void huge_sizes(uint32_t method) {
    cfut_executor *ex = pool_method(method, 1);
    const size_t huge = (size_t)1 << 40;
    long buf[4] = {1, 2, 3, 4}, res[4];
    cfut_map *m = NULL;
    CHECK_STATUS(cfut_executor_map(ex, m_never, buf, 8, buf, 1, huge, res, 8, NULL, &m), CFUT_INVALID_ARGUMENT);
    CHECK(cfut_last_error_message() && strstr(cfut_last_error_message(), "more than a process-pool message can carry"));
    CHECK_STATUS(cfut_executor_map(ex, m_never, buf, 8, buf, 1, 8, res, huge, NULL, &m), CFUT_INVALID_ARGUMENT);
    CHECK(cfut_last_error_message() && strstr(cfut_last_error_message(), "results"));
    CHECK_STATUS(cfut_executor_map(ex, m_never, buf, huge, buf, 1, 8, res, 8, NULL, &m), CFUT_INVALID_ARGUMENT);
    CHECK(cfut_last_error_message() && strstr(cfut_last_error_message(), "ctx_len"));
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_square, buf, huge, NULL), CFUT_INVALID_ARGUMENT);
    CHECK(cfut_last_error_message() && strstr(cfut_last_error_message(), "input"));
    /* A worker announcing an absurd result is failed alone; the pool goes on. */
    cfut_future *f = submit_long(ex, t_bogus_frame, 0);
    cfut_error e = error_of(f);
    CHECK_EQ(e.status, CFUT_WORKER_DIED);
    CHECK(e.message && strstr(e.message, "longer than the protocol allows"));
    cfut_future_release(f);
    cfut_status s;
    f = submit_long(ex, t_square, 9);
    CHECK_EQ(result_long(f, &s), 81);
    cfut_future_release(f);
    cfut_executor_free(ex);
}
static void test_huge_sizes_spawn(void) { huge_sizes(CFUT_START_SPAWN); }
static void test_huge_sizes_forkserver(void) { huge_sizes(CFUT_START_FORKSERVER); }
static void test_huge_sizes_fork(void) { huge_sizes(CFUT_START_FORK); }

/* The one child of this process that is not a worker (the fork zygote or server). */
static pid_t only_child(void) {
    pid_t me = getpid(), found = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = 0;
        char *p = strrchr(buf, ')');
        int ppid;
        char state;
        if (p && sscanf(p + 2, "%c %d", &state, &ppid) == 2 && ppid == me && state != 'Z') found = atoi(e->d_name);
    }
    closedir(d);
    return found;
}

/* Bug 4: the pool's messages name the mechanism the start method uses. */
static void zygote_named(uint32_t method, const char *name) {
    cfut_executor *ex = pool_method(method, 1);
    cfut_status s;
    cfut_future *f = submit_long(ex, t_square, 3);
    CHECK_EQ(result_long(f, &s), 9);
    cfut_future_release(f);
    pid_t z = only_child(); /* workers are the zygote's children, not ours */
    CHECK(z > 0);
    kill(z, SIGKILL);
    long v = 2;
    for (int i = 0; i < 500 && (s = cfut_executor_submit_bytes(ex, t_square, &v, sizeof v, NULL)) == CFUT_OK; i++) sleep_us(10000);
    CHECK_STATUS(s, CFUT_BROKEN);
    const char *m = cfut_last_error_message();
    CHECK(m && strstr(m, name));
    cfut_executor_free(ex);
}
static void test_names_fork_server(void) { zygote_named(CFUT_START_FORKSERVER, "the fork server died"); }
static void test_names_fork_zygote(void) { zygote_named(CFUT_START_FORK, "the fork zygote died"); }

/* Runs plain_main with CFUT_WORKER_FD=3 naming `fd` (-1: /dev/null), from a grandchild
 * when `grandchild` (so the socket's creator is not the program's parent). Returns its exit
 * status and whether its main ran. */
static int run_plain_main(int fd, int grandchild, int *main_ran) {
    int out[2];
    CHECK(pipe(out) == 0);
    pid_t child = fork();
    if (child == 0) {
        if (grandchild && fork() != 0) {
            int st = 0;
            waitpid_eintr(-1, &st, 0);
            _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100);
        }
        int src = fd >= 0 ? fd : open("/dev/null", O_RDWR);
        dup2(src, 3);
        dup2(out[1], 1);
        char exe[8192];
        snprintf(exe, sizeof exe, "%s/plain_main", g_dir);
        setenv("CFUT_WORKER_FD", "3", 1);
        execl(exe, "plain_main", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char buf[256] = {0};
    ssize_t n = 0, k;
    while (n < (ssize_t)sizeof buf - 1 && ((k = read(out[0], buf + n, sizeof buf - 1 - n)) > 0 || (k < 0 && errno == EINTR)))
        if (k > 0) n += k;
    close(out[0]);
    int st = 0;
    CHECK(waitpid_eintr(child, &st, 0) == child);
    *main_ran = strstr(buf, "main ran") != NULL;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

static void test_stray_worker_env(void) {
    /* A forged CFUT_WORKER_FD that names no socket, or a socket someone other than the
     * parent made: the program runs as itself instead of serving frames. */
    int ran = 0;
    CHECK_EQ(run_plain_main(-1, 0, &ran), 0);
    CHECK(ran);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    ran = 0;
    CHECK_EQ(run_plain_main(sv[1], 1, &ran), 0);
    CHECK(ran);
    close(sv[0]);
    close(sv[1]);
}

/* ------------------------------------------------------------------------------------ */

struct test {
    const char *name;
    void (*fn)(void);
};


/* ------------------------------------------------------------------------------------ */
/* Flow control, stats and the unobserved-error hook on processes (contract 5 and 6) */

static cfut_executor_stats proc_stats(cfut_executor *ex) {
    cfut_executor_stats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    CHECK_STATUS(cfut_executor_stats_get(ex, &s), CFUT_OK);
    return s;
}

/* Polls until `running` tasks run (a generous deadline: workers are processes). */
static int wait_stats_running(cfut_executor *ex, uint64_t running) {
    uint64_t until = now_ns() + 30ull * 1000000000u;
    while (now_ns() < until) {
        if (proc_stats(ex).running == running) return 1;
        sleep_us(2000);
    }
    return 0;
}

static void test_flow_reject_and_stats(void) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 1;
    o.max_queued = 2;
    o.when_full = CFUT_WHEN_FULL_REJECT;
    cfut_executor *ex = pool_opts(&o);
    cfut_future *busy = submit_long(ex, t_sleep_ms, 300);
    CHECK(wait_stats_running(ex, 1));
    cfut_future *q1 = submit_long(ex, t_square, 3), *q2 = submit_long(ex, t_fail, 0);
    long v = 4;
    cfut_future *f = NULL;
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_square, &v, sizeof v, &f), CFUT_QUEUE_FULL);
    CHECK(f == NULL);
    uint64_t t0 = now_ns();
    CHECK_STATUS(cfut_executor_try_submit_bytes(ex, t_square, &v, sizeof v, 20 * 1000000ull, &f), CFUT_QUEUE_FULL);
    CHECK(now_ns() - t0 >= 15 * 1000000ull);
    cfut_executor_stats s = proc_stats(ex);
    CHECK_EQ(s.queued, 2);
    CHECK_EQ(s.running, 1);
    CHECK_EQ(s.rejected, 2);
    CHECK_EQ(s.peak_queued, 2);
    CHECK_EQ(s.workers, 1);
    CHECK_STATUS(cfut_future_result(busy, CFUT_FOREVER, NULL), CFUT_OK);
    CHECK_STATUS(cfut_future_result(q1, CFUT_FOREVER, NULL), CFUT_OK);
    CHECK_STATUS(cfut_future_result(q2, CFUT_FOREVER, NULL), CFUT_TASK_FAILED);
    /* Room again: try_submit with a timeout gets in. */
    CHECK_STATUS(cfut_executor_try_submit_bytes(ex, t_square, &v, sizeof v, CFUT_FOREVER, &f), CFUT_OK);
    CHECK_STATUS(cfut_future_result(f, CFUT_FOREVER, NULL), CFUT_OK);
    CHECK_STATUS(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    s = proc_stats(ex);
    CHECK_EQ(s.submitted, 4);
    CHECK_EQ(s.completed, 3);
    CHECK_EQ(s.failed, 1);
    CHECK_EQ(s.cancelled, 0);
    CHECK_EQ(s.queued, 0);
    CHECK_EQ(s.running, 0);
    CHECK_EQ(s.workers, 0);
    cfut_future_release(busy);
    cfut_future_release(q1);
    cfut_future_release(q2);
    cfut_future_release(f);
    cfut_executor_free(ex);
}

/* BLOCK with a bounded queue: a map of many chunks goes through (chunks wait for room). */
static void test_flow_map_within_bound(void) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 2;
    o.max_queued = 2;
    o.when_full = CFUT_WHEN_FULL_REJECT;
    cfut_executor *ex = pool_opts(&o);
    check_map_pow(ex, 1, 40);
    cfut_executor_stats s = proc_stats(ex);
    CHECK(s.peak_queued <= 2);
    CHECK_EQ(s.submitted, 40);
    CHECK_EQ(s.rejected, 0);
    cfut_executor_free(ex);
}

/* A submit from the manager thread (a done-callback) never waits for room: a full queue
 * gives QUEUE_FULL at once even with an unlimited timeout (or OK if room came meanwhile). */
typedef struct manager_submit {
    cfut_executor *ex;
    cfut_status st;
    uint64_t ns;
    atomic_int done;
} manager_submit;

static void submit_from_callback(cfut_future *f, void *arg) {
    (void)f;
    manager_submit *m = arg;
    long v = 2;
    cfut_future *g = NULL;
    uint64_t t0 = now_ns();
    m->st = cfut_executor_try_submit_bytes(m->ex, t_square, &v, sizeof v, CFUT_FOREVER, &g);
    m->ns = now_ns() - t0;
    cfut_future_release(g);
    atomic_store(&m->done, 1);
}

static void test_flow_manager_never_waits(void) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = 1;
    o.max_queued = 1;
    cfut_executor *ex = pool_opts(&o);
    cfut_future *busy = submit_long(ex, t_sleep_ms, 100);
    CHECK(wait_stats_running(ex, 1));
    cfut_future *queued = submit_long(ex, t_square, 3);
    manager_submit m = {.ex = ex, .st = CFUT_PANIC};
    CHECK_STATUS(cfut_future_add_done_callback(busy, submit_from_callback, &m, NULL), CFUT_OK);
    CHECK_STATUS(cfut_future_result(busy, CFUT_FOREVER, NULL), CFUT_OK);
    CHECK_STATUS(cfut_future_result(queued, CFUT_FOREVER, NULL), CFUT_OK);
    uint64_t until = now_ns() + 30ull * 1000000000u;
    while (!atomic_load(&m.done) && now_ns() < until) sleep_us(1000);
    CHECK(atomic_load(&m.done));
    CHECK(m.st == CFUT_QUEUE_FULL || m.st == CFUT_OK);
    CHECK(m.ns < 5ull * 1000000000u);
    cfut_future_release(busy);
    cfut_future_release(queued);
    cfut_executor_free(ex);
}

static atomic_int g_unobserved[8];
static void count_unobserved(void *arg, const cfut_error *e) {
    (void)arg;
    if (e->status < 8) atomic_fetch_add(&g_unobserved[e->status], 1);
}

/* A fire-and-forget task whose worker dies reports once, with WORKER_DIED; a read failure
 * never; cancelled ones never. The dead worker is replaced (worker_restarts). */
static void test_unobserved_worker_death(void) {
    for (int i = 0; i < 8; i++) atomic_store(&g_unobserved[i], 0);
    cfut_set_unobserved_error_hook(count_unobserved, NULL);
    cfut_executor *ex = pool(1);
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_segv, NULL, 0, NULL), CFUT_OK);
    cfut_future *read = submit_long(ex, t_fail, 0);
    CHECK_STATUS(cfut_future_result(read, CFUT_FOREVER, NULL), CFUT_TASK_FAILED);
    cfut_future_release(read);
    CHECK_STATUS(cfut_executor_submit_bytes(ex, t_fail, NULL, 0, NULL), CFUT_OK);
    cfut_future *ok = submit_long(ex, t_square, 5);
    CHECK_STATUS(cfut_future_result(ok, CFUT_FOREVER, NULL), CFUT_OK);
    cfut_future_release(ok);
    cfut_future *slow = submit_long(ex, t_sleep_ms, 200), *pending = submit_long(ex, t_fail, 0);
    CHECK(cfut_future_cancel(pending));
    cfut_future_release(pending);
    CHECK_STATUS(cfut_future_result(slow, CFUT_FOREVER, NULL), CFUT_OK);
    cfut_future_release(slow);
    cfut_executor_free(ex);
    cfut_set_unobserved_error_hook(NULL, NULL);
    CHECK_EQ(atomic_load(&g_unobserved[CFUT_WORKER_DIED]), 1);
    CHECK_EQ(atomic_load(&g_unobserved[CFUT_TASK_FAILED]), 1);
    CHECK_EQ(atomic_load(&g_unobserved[CFUT_CANCELLED]), 0);
}

static void test_stats_worker_restarts(void) {
    cfut_executor *ex = pool(1);
    cfut_future *dead = submit_long(ex, t_segv, 0);
    CHECK_STATUS(cfut_future_result(dead, CFUT_FOREVER, NULL), CFUT_WORKER_DIED);
    cfut_future_release(dead);
    cfut_future *ok = submit_long(ex, t_square, 5);
    CHECK_STATUS(cfut_future_result(ok, CFUT_FOREVER, NULL), CFUT_OK);
    cfut_future_release(ok);
    CHECK_STATUS(cfut_executor_shutdown(ex, true, false), CFUT_OK);
    cfut_executor_stats s = proc_stats(ex);
    CHECK_EQ(s.worker_restarts, 1);
    CHECK_EQ(s.submitted, 2);
    CHECK_EQ(s.failed, 1);
    CHECK_EQ(s.completed, 1);
    cfut_executor_free(ex);
}

static const struct test TESTS[] = {
    {"submit", test_submit},
    {"empty_and_no_value", test_empty_and_no_value},
    {"task_error_propagates", test_task_error_propagates},
    {"pointer_apis_unsupported", test_pointer_apis_unsupported},
    {"parallel_for_unsupported", test_parallel_for_unsupported},
    {"submit_pointer_drops_arg", test_submit_pointer_drops_arg},
    {"unlocatable_function", test_unlocatable_function},
    {"bad_input", test_bad_input},
    {"fire_and_forget", test_fire_and_forget},
    {"map", test_map},
    {"map_exception_goes_on", test_map_exception_goes_on},
    {"map_timeout", test_map_timeout},
    {"map_crash_fails_its_chunk_only", test_map_crash_fails_its_chunk_only},
    {"segfault", test_segfault},
    {"abort", test_abort},
    {"cq_crashed_workers", test_cq_crashed_workers},
    {"exit3", test_exit3},
    {"exit0_without_result", test_exit0_without_result},
    {"exit99", test_exit99},
    {"crash_after_setting_result", test_crash_after_setting_result},
    {"timeout_kills_infinite_loop", test_timeout_kills_infinite_loop},
    {"external_kill_idle", test_external_kill_idle},
    {"external_kill_busy", test_external_kill_busy},
    {"break_pool_mode", test_break_pool_mode},
    {"many_tasks_with_crashes", test_many_tasks_with_crashes},
    {"large_payloads", test_large_payloads},
    {"shared_library_tasks", test_shared_library_tasks},
    {"library_rebuilt_on_disk", test_library_rebuilt_on_disk},
    {"worker_exe_other_program", test_worker_exe_other_program},
    {"saturation", test_saturation},
    {"idle_reuse", test_idle_reuse},
    {"worker_exe_never_ready", test_worker_exe_never_ready},
    {"map_item_task_timeout", test_map_item_task_timeout},
    {"task_timeout_zero_is_no_limit", test_task_timeout_zero_is_no_limit},
    {"max_tasks_per_child", test_max_tasks_per_child},
    {"max_tasks_early_shutdown", test_max_tasks_early_shutdown},
    {"gh132969", test_gh132969},
    {"initializer", test_initializer},
    {"run_after_shutdown", test_run_after_shutdown},
    {"hang_issue12364", test_hang_issue12364},
    {"cancel_futures", test_cancel_futures},
    {"shutdown_no_wait", test_shutdown_no_wait},
    {"hang_gh94440", test_hang_gh94440},
    {"processes_terminate", test_processes_terminate},
    {"terminate_and_kill_workers", test_terminate_and_kill_workers},
    {"shutdown_while_worker_crashes", test_shutdown_while_worker_crashes},
    {"shutdown_from_callback_would_deadlock", test_shutdown_from_callback_would_deadlock},
    {"callback_wait_would_deadlock", test_callback_wait_would_deadlock},
    {"wait_and_as_completed", test_wait_and_as_completed},
    {"multithreaded_host", test_multithreaded_host},
    {"pool_created_by_short_lived_thread", test_pool_created_by_short_lived_thread},
    {"inherited_pool_in_forked_child", test_inherited_pool_in_forked_child},
    {"host_killed_workers_busy", test_host_killed_workers_busy},
    {"host_killed_workers_idle", test_host_killed_workers_idle},
    {"host_forks_after_pool_creation", test_host_forks_after_pool_creation},
    {"workers_inherit_no_fds", test_workers_inherit_no_fds},
    {"timeout_kills_task_process_group", test_timeout_kills_task_process_group},
    {"task_closes_channel", test_task_closes_channel},
    {"host_ignores_sigchld", test_host_ignores_sigchld},
    {"fork_start_method", test_fork_start_method},
    {"fork_multithreaded_host", test_fork_multithreaded_host},
    {"fork_timeout_and_kill", test_fork_timeout_and_kill},
    {"forkserver", test_forkserver},
    {"forkserver_multithreaded_host", test_forkserver_multithreaded_host},
    {"host_killed_forkserver_busy", test_host_killed_forkserver_busy},
    {"host_killed_fork_busy", test_host_killed_fork_busy},
    {"terminate_survivor_spawn", test_terminate_survivor_spawn},
    {"terminate_survivor_forkserver", test_terminate_survivor_forkserver},
    {"terminate_survivor_fork", test_terminate_survivor_fork},
    {"sigchld_ignored_spawn", test_sigchld_ignored_spawn},
    {"sigchld_ignored_forkserver", test_sigchld_ignored_forkserver},
    {"sigchld_ignored_fork", test_sigchld_ignored_fork},
    {"sigterm_blocked_spawn", test_sigterm_blocked_spawn},
    {"sigterm_blocked_forkserver", test_sigterm_blocked_forkserver},
    {"sigterm_blocked_fork", test_sigterm_blocked_fork},
    {"huge_sizes_spawn", test_huge_sizes_spawn},
    {"huge_sizes_forkserver", test_huge_sizes_forkserver},
    {"huge_sizes_fork", test_huge_sizes_fork},
    {"names_fork_server", test_names_fork_server},
    {"names_fork_zygote", test_names_fork_zygote},
    {"stray_worker_env", test_stray_worker_env},
    {"flow_reject_and_stats", test_flow_reject_and_stats},
    {"flow_map_within_bound", test_flow_map_within_bound},
    {"flow_manager_never_waits", test_flow_manager_never_waits},
    {"unobserved_worker_death", test_unobserved_worker_death},
    {"stats_worker_restarts", test_stats_worker_restarts},
};

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    self[k > 0 ? k : 0] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(g_dir, sizeof g_dir, "%s", self);
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);

    int passed = 0, failed = 0;
    int fds0 = count_fds();
    for (size_t i = 0; i < sizeof TESTS / sizeof *TESTS; i++) {
        if (only && !strstr(TESTS[i].name, only)) continue;
        g_test = TESTS[i].name;
        int before = g_failed_checks;
        double t0 = now_s();
        alarm(120);
        TESTS[i].fn();
        alarm(0);
        /* Workers are reaped by the time the pool is freed: no children, no zombies. */
        int zombies = 0, children = count_children(&zombies);
        CHECK_EQ(children, 0);
        CHECK_EQ(zombies, 0);
        CHECK_EQ(count_fds(), fds0);
        int ok = g_failed_checks == before;
        printf("%s %-40s %6.2f s\n", ok ? "ok  " : "FAIL", TESTS[i].name, now_s() - t0);
        fflush(stdout);
        ok ? passed++ : failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
