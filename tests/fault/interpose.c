/* libfault.so: an LD_PRELOAD interposer that makes system calls fail on demand, for the
 * fault-injection tests (tests/fault/README.md).
 *
 * Intercepted: pthread_create, fork, clone, posix_spawn, socketpair, socket, eventfd,
 * memfd_create, poll, ppoll, epoll_wait. Each counts its calls; an armed one fails its Nth
 * call from the arming (or every call from the Nth on) with the given errno.
 *
 * Control:
 *   - FAULT_SPEC="name=N:errno[+],..." at load ("+": every call from the Nth on);
 *   - from a test program: fault_set("name", N, errno, every) (N = 0 disarms) and
 *     fault_calls("name"), looked up with dlsym(RTLD_DEFAULT, ...);
 *   - FAULT_ITIMER_US=n: SIGALRM every n microseconds to the whole process, with a handler
 *     installed without SA_RESTART, so every blocking call may return EINTR. The handler
 *     counts deliveries: fault_calls("SIGALRM"), reported at exit. The program's own
 *     alarm(), signal(SIGALRM) and sigaction(SIGALRM) are then ignored. Only in the host process: worker processes
 *     (CFUT_WORKER_FD set) get it with FAULT_ITIMER_WORKERS=1. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum { F_PTHREAD_CREATE, F_FORK, F_CLONE, F_POSIX_SPAWN, F_SOCKETPAIR, F_SOCKET, F_EVENTFD, F_MEMFD_CREATE,
       F_POLL, F_PPOLL, F_EPOLL_WAIT, F_SIGALRM, F_COUNT };
static const char *names[F_COUNT] = {"pthread_create", "fork", "clone", "posix_spawn", "socketpair", "socket",
                                     "eventfd", "memfd_create", "poll", "ppoll", "epoll_wait", "SIGALRM"};

struct fault {
    atomic_long calls;
    atomic_long nth;
    atomic_int err;
    atomic_int every;
};
static struct fault faults[F_COUNT];

static int find(const char *name) {
    for (int i = 0; i < F_COUNT; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

int fault_set(const char *name, long nth, int err, int every) {
    int i = find(name);
    if (i < 0) return -1;
    atomic_store(&faults[i].nth, 0);
    atomic_store(&faults[i].calls, 0);
    atomic_store(&faults[i].err, err);
    atomic_store(&faults[i].every, every);
    atomic_store(&faults[i].nth, nth);
    return 0;
}

long fault_calls(const char *name) {
    int i = find(name);
    return i < 0 ? -1 : atomic_load(&faults[i].calls);
}

/* 0, or the errno this call fails with. */
static int fail_now(int i) {
    long c = atomic_fetch_add(&faults[i].calls, 1) + 1;
    long n = atomic_load(&faults[i].nth);
    if (n > 0 && (c == n || (atomic_load(&faults[i].every) && c >= n))) return atomic_load(&faults[i].err);
    return 0;
}

#define REAL(ret, name, ...)                                                  \
    static ret (*real_##name)(__VA_ARGS__);                                   \
    if (!real_##name) real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
    REAL(int, pthread_create, pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    int e = fail_now(F_PTHREAD_CREATE);
    return e ? e : real_pthread_create(t, a, fn, arg);
}

pid_t fork(void) {
    REAL(pid_t, fork, void);
    int e = fail_now(F_FORK);
    if (e) return errno = e, -1;
    return real_fork();
}

int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...) {
    REAL(int, clone, int (*)(void *), void *, int, void *, ...);
    va_list ap;
    va_start(ap, arg);
    void *ptid = va_arg(ap, void *), *tls = va_arg(ap, void *), *ctid = va_arg(ap, void *);
    va_end(ap);
    int e = fail_now(F_CLONE);
    if (e) return errno = e, -1;
    return real_clone(fn, stack, flags, arg, ptid, tls, ctid);
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
                char *const argv[], char *const envp[]) {
    REAL(int, posix_spawn, pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
         char *const[], char *const[]);
    int e = fail_now(F_POSIX_SPAWN);
    return e ? e : real_posix_spawn(pid, path, fa, at, argv, envp);
}

int socketpair(int d, int t, int p, int sv[2]) {
    REAL(int, socketpair, int, int, int, int[2]);
    int e = fail_now(F_SOCKETPAIR);
    if (e) return errno = e, -1;
    return real_socketpair(d, t, p, sv);
}

int socket(int d, int t, int p) {
    REAL(int, socket, int, int, int);
    int e = fail_now(F_SOCKET);
    if (e) return errno = e, -1;
    return real_socket(d, t, p);
}

int eventfd(unsigned int v, int flags) {
    REAL(int, eventfd, unsigned int, int);
    int e = fail_now(F_EVENTFD);
    if (e) return errno = e, -1;
    return real_eventfd(v, flags);
}

int memfd_create(const char *name, unsigned int flags) {
    REAL(int, memfd_create, const char *, unsigned int);
    int e = fail_now(F_MEMFD_CREATE);
    if (e) return errno = e, -1;
    return real_memfd_create(name, flags);
}

int poll(struct pollfd *fds, nfds_t n, int timeout) {
    REAL(int, poll, struct pollfd *, nfds_t, int);
    int e = fail_now(F_POLL);
    if (e) return errno = e, -1;
    return real_poll(fds, n, timeout);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask) {
    REAL(int, ppoll, struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
    int e = fail_now(F_PPOLL);
    if (e) return errno = e, -1;
    return real_ppoll(fds, n, t, mask);
}

int epoll_wait(int ep, struct epoll_event *ev, int max, int timeout) {
    REAL(int, epoll_wait, int, struct epoll_event *, int, int);
    int e = fail_now(F_EPOLL_WAIT);
    if (e) return errno = e, -1;
    return real_epoll_wait(ep, ev, max, timeout);
}

/* In itimer mode SIGALRM is ours: a program's own alarm() watchdog (the C suites have one)
 * would cancel the timer, and its handler would take our ticks for a hang. Its watchdog is
 * replaced by the `timeout` the Makefile runs it under. */
static atomic_bool itimer_on;

unsigned int alarm(unsigned int secs) {
    REAL(unsigned int, alarm, unsigned int);
    return atomic_load(&itimer_on) ? 0 : real_alarm(secs);
}

sighandler_t signal(int sig, sighandler_t h) {
    REAL(sighandler_t, signal, int, sighandler_t);
    if (sig == SIGALRM && atomic_load(&itimer_on)) return SIG_DFL;
    return real_signal(sig, h);
}

int sigaction(int sig, const struct sigaction *sa, struct sigaction *old) {
    REAL(int, sigaction, int, const struct sigaction *, struct sigaction *);
    if (sig == SIGALRM && sa && atomic_load(&itimer_on)) {
        if (old) memset(old, 0, sizeof *old);
        return 0;
    }
    return real_sigaction(sig, sa, old);
}

static void on_alarm(int sig) {
    (void)sig;
    atomic_fetch_add(&faults[F_SIGALRM].calls, 1);
}

__attribute__((constructor)) static void fault_init(void) {
    const char *spec = getenv("FAULT_SPEC");
    if (spec) {
        char buf[512];
        strncpy(buf, spec, sizeof buf - 1);
        buf[sizeof buf - 1] = 0;
        for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(tok, '=');
            if (!eq) continue;
            *eq = 0;
            char *colon;
            long n = strtol(eq + 1, &colon, 10);
            int err = *colon == ':' ? (int)strtol(colon + 1, NULL, 10) : EAGAIN;
            fault_set(tok, n, err ? err : EAGAIN, strchr(eq + 1, '+') != NULL);
        }
    }
    /* Worker processes inherit the environment; their tasks (the suites' sleeping tasks)
     * would be cut short, so the timer stays in the host unless FAULT_ITIMER_WORKERS=1. */
    const char *us = getenv("FAULT_ITIMER_US");
    bool worker = getenv("CFUT_WORKER_FD") && !getenv("FAULT_ITIMER_WORKERS");
    if (us && atol(us) > 0 && !worker) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm; /* no SA_RESTART: blocking calls return EINTR */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        atomic_store(&itimer_on, true);
        struct itimerval it = {{0, atol(us)}, {0, atol(us)}};
        setitimer(ITIMER_REAL, &it, NULL);
    }
}

__attribute__((destructor)) static void fault_report(void) {
    long n = atomic_load(&faults[F_SIGALRM].calls);
    if (n > 0) fprintf(stderr, "libfault: %ld SIGALRM delivered to process %d\n", n, (int)getpid());
}
