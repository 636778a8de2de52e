/* An epoll server that hands each request to a thread pool and answers from a completion
 * queue: the loop never blocks on a future and no thread waits on the loop's behalf. The
 * queue's one fd sits in the epoll set beside the sockets; when it is readable,
 * cfut_cq_drain gives the tags (here: the request pointers) of every finished task.
 *
 * Backpressure: the pool queues at most MAX_QUEUED requests (max_queued, REJECT). When it is
 * full, cfut_executor_try_submit returns CFUT_QUEUE_FULL at once and the request is still
 * ours, so the loop answers "busy" with it instead of queueing without bound or stalling.
 *
 * Four client threads connect over localhost, send 200 requests each and check every reply;
 * the server stops once they have all hung up. */
#define _GNU_SOURCE
#include "echo_common.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>

#include "cfutures.h"

typedef struct conn {
    int fd;
    char in[4096];
    size_t have;
    int pending;     /* requests in the pool */
    int peer_closed; /* the client sent everything and shut its side */
} conn;

typedef struct request {
    conn *c;
    long id;
    uint64_t n;
    cfut_future *future;
} request;

static int32_t collatz_task(void *arg, cfut_result *out) {
    request *r = arg;
    cfut_result_set_value(out, (void *)(intptr_t)collatz_steps(r->n), NULL);
    return 0;
}

#define KEY_LISTEN 1u
#define KEY_CQ 2u
#define MAX_QUEUED 64

static size_t busy_sent;

static int closed_conns;

static void conn_close(int ep, conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
    closed_conns++;
}

/* Reads what the client sent; each full line becomes a task watched by the queue. */
static void on_readable(int ep, conn *c, cfut_executor *pool, cfut_cq *cq) {
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->have, sizeof c->in - c->have);
        if (n < 0 && errno == EAGAIN) {
            break;
        }
        if (n <= 0) {
            c->peer_closed = 1;
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); /* nothing more to read */
            break;
        }
        c->have += (size_t)n;
        char *start = c->in, *nl;
        while ((nl = memchr(start, '\n', (size_t)(c->in + c->have - start))) != NULL) {
            request *r = calloc(1, sizeof *r);
            unsigned long long v = 0;
            if (!r || sscanf(start, "%ld %llu", &r->id, &v) != 2) {
                free(r);
                start = nl + 1;
                continue;
            }
            r->c = c;
            r->n = v;
            /* 0: never wait for room; the loop has other sockets to serve. */
            cfut_status st = cfut_executor_try_submit(pool, collatz_task, r, NULL, 0, &r->future);
            if (st == CFUT_OK) {
                c->pending++;
                cfut_cq_watch(cq, r->future, (uint64_t)(uintptr_t)r); /* the tag is the request */
            } else {
                /* CFUT_QUEUE_FULL leaves r with us: answer "busy" right away. */
                char line[64];
                int len = snprintf(line, sizeof line, "%ld %s\n", r->id, st == CFUT_QUEUE_FULL ? "busy" : "error");
                if (write(c->fd, line, (size_t)len) != len) {
                    perror("reply");
                }
                busy_sent += st == CFUT_QUEUE_FULL;
                free(r);
            }
            start = nl + 1;
        }
        c->have = (size_t)(c->in + c->have - start);
        memmove(c->in, start, c->have);
    }
    if (c->peer_closed && c->pending == 0) {
        conn_close(ep, c);
    }
}

/* Answers every finished request; returns how many. */
static size_t on_completions(int ep, cfut_cq *cq) {
    uint64_t tags[64];
    size_t n, total = 0;
    while ((n = cfut_cq_drain(cq, tags, 64)) > 0) {
        for (size_t i = 0; i < n; i++) {
            request *r = (request *)(uintptr_t)tags[i];
            void *v = NULL;
            char line[64];
            int len;
            if (cfut_future_result(r->future, 0, &v) == CFUT_OK) { /* done: never blocks */
                len = snprintf(line, sizeof line, "%ld %lld\n", r->id, (long long)(intptr_t)v);
            } else {
                len = snprintf(line, sizeof line, "%ld error\n", r->id);
            }
            /* Replies are tiny and the clients read them all: a real server would buffer
             * what a full socket refuses and wait for EPOLLOUT. */
            if (write(r->c->fd, line, (size_t)len) != len) {
                perror("reply");
            }
            cfut_future_release(r->future);
            if (--r->c->pending == 0 && r->c->peer_closed) {
                conn_close(ep, r->c);
            }
            free(r);
        }
        total += n;
    }
    return total;
}

int main(void) {
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 64) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
        perror("listen");
        return 1;
    }
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = 2;
    o.max_queued = MAX_QUEUED;
    o.when_full = CFUT_WHEN_FULL_REJECT;
    cfut_executor *pool = NULL;
    cfut_cq *cq = NULL;
    if (cfut_thread_pool_new(&o, &pool) != CFUT_OK || cfut_cq_new(&cq) != CFUT_OK) {
        fprintf(stderr, "cfutures: %s\n", cfut_last_error_message());
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = KEY_LISTEN};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = KEY_CQ};
    epoll_ctl(ep, EPOLL_CTL_ADD, cfut_cq_fd(cq), &ev); /* level-triggered, like the sockets */

    pthread_t clients[CLIENTS];
    client_arg args[CLIENTS];
    start_clients(clients, args, ntohs(a.sin_port));

    size_t answered = 0, cq_wakeups = 0;
    while (closed_conns < CLIENTS) {
        struct epoll_event evs[16];
        int n = epoll_wait(ep, evs, 16, 10000);
        if (n <= 0) {
            fprintf(stderr, "no progress for 10 s\n");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == KEY_LISTEN) {
                int cfd;
                while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    conn *c = calloc(1, sizeof *c);
                    c->fd = cfd;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
                }
            } else if (evs[i].data.u64 == KEY_CQ) {
                cq_wakeups++;
                answered += on_completions(ep, cq);
            } else {
                on_readable(ep, evs[i].data.ptr, pool, cq);
            }
        }
    }
    int ok = join_clients(clients, args), busy = busy_replies(args);
    printf("answered %zu requests in %zu completion-queue wake-ups (%.1f per batch), %zu more \"busy\" at once; "
           "%d of %d replies right, %d busy\n",
           answered, cq_wakeups, cq_wakeups ? (double)answered / (double)cq_wakeups : 0.0, busy_sent, ok,
           CLIENTS * REQUESTS_PER_CLIENT, busy);
    print_stats(pool);
    epoll_ctl(ep, EPOLL_CTL_DEL, cfut_cq_fd(cq), NULL); /* out of the loop before the free */
    cfut_cq_free(cq);
    cfut_executor_free(pool);
    close(ep);
    close(lfd);
    /* Every request answered exactly once: with its result, or "busy". */
    return ok + busy == CLIENTS * REQUESTS_PER_CLIENT && (size_t)busy == busy_sent ? 0 : 1;
}
