/* The epoll_echo server on libuv: sockets are uv_tcp_t streams, and the completion queue's
 * fd is watched by a uv_poll_t, so finished tasks are answered from libuv's own loop, in
 * batches, without a uv_async_t per task or a thread waiting on futures.
 *
 * Four client threads connect over localhost, send 200 requests each and check every reply;
 * the loop ends once they have all hung up. */
#define _GNU_SOURCE
#include "echo_common.h"

#include <uv.h>

#include "cfutures.h"

typedef struct conn {
    uv_tcp_t tcp; /* first: the handle's address is the conn's */
    char in[4096];
    size_t have;
    int pending;
    int peer_closed;
} conn;

typedef struct request {
    conn *c;
    long id;
    uint64_t n;
    cfut_future *future;
} request;

typedef struct reply {
    uv_write_t req;
    char line[64];
} reply;

static cfut_executor *pool;
static cfut_cq *cq;
static uv_tcp_t server;
static uv_poll_t cq_poll;
static int closed_conns;
static size_t answered, cq_wakeups;

static int32_t collatz_task(void *arg, cfut_result *out) {
    request *r = arg;
    cfut_result_set_value(out, (void *)(intptr_t)collatz_steps(r->n), NULL);
    return 0;
}

static void on_conn_closed(uv_handle_t *h) {
    free(h);
    if (++closed_conns == CLIENTS) { /* everyone hung up: let uv_run return */
        uv_poll_stop(&cq_poll);
        uv_close((uv_handle_t *)&cq_poll, NULL);
        uv_close((uv_handle_t *)&server, NULL);
    }
}

static void maybe_close(conn *c) {
    if (c->peer_closed && c->pending == 0) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    (void)hint;
    conn *c = (conn *)h;
    *buf = uv_buf_init(c->in + c->have, (unsigned)(sizeof c->in - c->have));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    (void)buf;
    conn *c = (conn *)s;
    if (n < 0) {
        c->peer_closed = 1;
        uv_read_stop(s);
        maybe_close(c);
        return;
    }
    c->have += (size_t)n;
    char *start = c->in, *nl;
    while ((nl = memchr(start, '\n', (size_t)(c->in + c->have - start))) != NULL) {
        request *r = calloc(1, sizeof *r);
        unsigned long long v = 0;
        if (r && sscanf(start, "%ld %llu", &r->id, &v) == 2) {
            r->c = c;
            r->n = v;
            if (cfut_executor_submit(pool, collatz_task, r, NULL, &r->future) == CFUT_OK) {
                c->pending++;
                cfut_cq_watch(cq, r->future, (uint64_t)(uintptr_t)r);
                r = NULL;
            }
        }
        free(r);
        start = nl + 1;
    }
    c->have = (size_t)(c->in + c->have - start);
    memmove(c->in, start, c->have);
}

static void on_written(uv_write_t *w, int status) {
    if (status != 0) {
        fprintf(stderr, "reply: %s\n", uv_strerror(status));
    }
    free(w); /* the reply starts with its uv_write_t */
}

/* The queue's fd is readable: answer every finished request. */
static void on_completions(uv_poll_t *p, int status, int events) {
    (void)p;
    (void)events;
    if (status < 0) {
        return;
    }
    cq_wakeups++;
    uint64_t tags[64];
    size_t n;
    while ((n = cfut_cq_drain(cq, tags, 64)) > 0) {
        for (size_t i = 0; i < n; i++) {
            request *r = (request *)(uintptr_t)tags[i];
            void *v = NULL;
            reply *w = malloc(sizeof *w);
            int len = cfut_future_result(r->future, 0, &v) == CFUT_OK
                          ? snprintf(w->line, sizeof w->line, "%ld %lld\n", r->id, (long long)(intptr_t)v)
                          : snprintf(w->line, sizeof w->line, "%ld error\n", r->id);
            uv_buf_t b = uv_buf_init(w->line, (unsigned)len);
            uv_write(&w->req, (uv_stream_t *)&r->c->tcp, &b, 1, on_written);
            cfut_future_release(r->future);
            r->c->pending--;
            maybe_close(r->c);
            free(r);
        }
        answered += n;
    }
}

static void on_connection(uv_stream_t *s, int status) {
    if (status < 0) {
        return;
    }
    conn *c = calloc(1, sizeof *c);
    uv_tcp_init(s->loop, &c->tcp);
    if (uv_accept(s, (uv_stream_t *)&c->tcp) == 0) {
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    } else {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    }
}

int main(void) {
    uv_loop_t *loop = uv_default_loop();
    if (cfut_thread_pool_new(NULL, &pool) != CFUT_OK || cfut_cq_new(&cq) != CFUT_OK) {
        fprintf(stderr, "cfutures: %s\n", cfut_last_error_message());
        return 1;
    }
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &server);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&a, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 64, on_connection) != 0) {
        fprintf(stderr, "listen failed\n");
        return 1;
    }
    int alen = sizeof a;
    uv_tcp_getsockname(&server, (struct sockaddr *)&a, &alen);
    uv_poll_init(loop, &cq_poll, cfut_cq_fd(cq)); /* level-triggered: fine for uv_poll_t */
    uv_poll_start(&cq_poll, UV_READABLE, on_completions);

    pthread_t clients[CLIENTS];
    client_arg args[CLIENTS];
    start_clients(clients, args, ntohs(a.sin_port));
    uv_run(loop, UV_RUN_DEFAULT); /* returns once every handle is closed */
    int ok = join_clients(clients, args);

    printf("answered %zu requests in %zu completion-queue wake-ups (%.1f per batch); %d of %d replies right\n",
           answered, cq_wakeups, cq_wakeups ? (double)answered / (double)cq_wakeups : 0.0, ok,
           CLIENTS * REQUESTS_PER_CLIENT);
    print_stats(pool);
    uv_loop_close(loop);
    cfut_cq_free(cq); /* after its uv_poll_t is closed */
    cfut_executor_free(pool);
    return ok == CLIENTS * REQUESTS_PER_CLIENT ? 0 : 1;
}
