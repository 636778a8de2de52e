#include "util.h"

#include <errno.h>
#include <stdarg.h>

atomic_int t_passed;
atomic_int t_failed;
const char *t_current = "?";
bool t_verbose;

static pthread_mutex_t print_mu = PTHREAD_MUTEX_INITIALIZER;

void t_fail(const char *file, int line, const char *fmt, ...) {
    atomic_fetch_add(&t_failed, 1);
    pthread_mutex_lock(&print_mu);
    fprintf(stdout, "FAIL %s:%d [%s] ", file, line, t_current);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&print_mu);
}

token *tok_new(atomic_int *counter, long value) {
    token *t = malloc(sizeof *t);
    if (!t) {
        abort();
    }
    t->magic = TOKEN_MAGIC;
    t->counter = counter;
    t->value = value;
    return t;
}

void tok_drop(void *p) {
    token *t = p;
    if (!t) {
        t_fail(__FILE__, __LINE__, "tok_drop called with NULL");
        return;
    }
    if (t->magic != TOKEN_MAGIC) {
        t_fail(__FILE__, __LINE__, "tok_drop: token dropped twice or corrupt");
        return;
    }
    t->magic = 0xDEAD;
    atomic_fetch_add(t->counter, 1);
    free(t);
}

long tok_value(const void *p) {
    const token *t = p;
    return t && t->magic == TOKEN_MAGIC ? t->value : -1;
}

void count_drop(void *counter) {
    atomic_fetch_add((atomic_int *)counter, 1);
}

void gate_init(gate *g) {
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &a);
    pthread_condattr_destroy(&a);
    g->open = false;
    g->count = 0;
}

void gate_destroy(gate *g) {
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

void gate_open(gate *g) {
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static struct timespec deadline_after(long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

bool gate_wait(gate *g, long timeout_ms) {
    struct timespec ts = deadline_after(timeout_ms);
    pthread_mutex_lock(&g->mu);
    int rc = 0;
    while (!g->open && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    bool open = g->open;
    pthread_mutex_unlock(&g->mu);
    return open;
}

void gate_add(gate *g, int n) {
    pthread_mutex_lock(&g->mu);
    g->count += n;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

bool gate_wait_count(gate *g, int n, long timeout_ms) {
    struct timespec ts = deadline_after(timeout_ms);
    pthread_mutex_lock(&g->mu);
    int rc = 0;
    while (g->count < n && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    bool ok = g->count >= n;
    pthread_mutex_unlock(&g->mu);
    return ok;
}

int gate_count(gate *g) {
    pthread_mutex_lock(&g->mu);
    int c = g->count;
    pthread_mutex_unlock(&g->mu);
    return c;
}

uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

pthread_t spawn(thread_fn fn, void *arg) {
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) != 0) {
        fprintf(stdout, "FATAL: pthread_create failed\n");
        exit(3);
    }
    return t;
}

void join(pthread_t t) {
    pthread_join(t, NULL);
}

cfut_future *fx_pending(void) {
    cfut_future *f = NULL;
    if (cfut_future_new(&f) != CFUT_OK || !f) {
        fprintf(stdout, "FATAL: cfut_future_new failed\n");
        exit(3);
    }
    return f;
}

cfut_future *fx_running(void) {
    cfut_future *f = fx_pending();
    CHECK(cfut_future_set_running_or_notify_cancel(f));
    return f;
}

cfut_future *fx_cancelled(void) {
    cfut_future *f = fx_pending();
    CHECK(cfut_future_cancel(f));
    return f;
}

cfut_future *fx_ok(long v) {
    cfut_future *f = fx_pending();
    CHECK_ST(cfut_future_set_result(f, (void *)(intptr_t)v, NULL), CFUT_OK);
    return f;
}

cfut_future *fx_failed(int32_t code, const char *msg) {
    cfut_future *f = fx_pending();
    CHECK_ST(cfut_future_set_error(f, code, msg), CFUT_OK);
    return f;
}

cfut_executor *new_pool_with(uint32_t workers, bool inline_waits) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = workers;
    o.inline_waits = inline_waits;
    cfut_executor *ex = NULL;
    if (cfut_thread_pool_new(&o, &ex) != CFUT_OK) {
        fprintf(stdout, "FATAL: cfut_thread_pool_new\n");
        exit(3);
    }
    return ex;
}

cfut_executor *new_pool(uint32_t workers) {
    return new_pool_with(workers, true);
}

int32_t record_thread(void *arg, cfut_result *out) {
    (void)out;
    where *w = arg;
    w->thread = pthread_self();
    atomic_fetch_add(&w->runs, 1);
    return 0;
}
