/* What the three completion-queue servers share: the work a request asks for, and the client
 * threads that load them over localhost TCP and check every reply. The servers themselves
 * (epoll_echo.c, uv_echo.c, asio_echo.cpp) are written the way each loop's users write them.
 *
 * Protocol: a request is the line "id n\n"; the reply is "id steps\n", where steps is the
 * length of n's Collatz sequence, or "id busy\n" when an overloaded server refused it (the
 * epoll server's bounded pool). Replies come back in completion order, not request order.
 * Valid C11 and C++17. */
#ifndef ECHO_COMMON_H
#define ECHO_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cfutures.h"

enum { CLIENTS = 4, REQUESTS_PER_CLIENT = 200 };

static inline int64_t collatz_steps(uint64_t n) {
    int64_t steps = 0;
    while (n > 1) {
        n = (n & 1) ? 3 * n + 1 : n / 2;
        steps++;
    }
    return steps;
}

typedef struct client_arg {
    uint16_t port;
    int index;
    int ok;   /* replies that matched */
    int busy; /* "busy" replies (each id still answered exactly once) */
} client_arg;

/* One client: sends every request at once (they are small), then reads the replies and
 * checks that each id comes back exactly once with the right answer. */
static void *echo_client(void *p) {
    client_arg *c = (client_arg *)p;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(c->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("client connect");
        return NULL;
    }
    char line[64];
    for (int i = 0; i < REQUESTS_PER_CLIENT; i++) {
        int id = c->index * REQUESTS_PER_CLIENT + i;
        int len = snprintf(line, sizeof line, "%d %d\n", id, 1000 + id * 7);
        if (write(fd, line, (size_t)len) != len) {
            perror("client write");
            close(fd);
            return NULL;
        }
    }
    unsigned char seen[REQUESTS_PER_CLIENT];
    memset(seen, 0, sizeof seen);
    char buf[4096];
    size_t have = 0;
    int replies = 0;
    while (replies < REQUESTS_PER_CLIENT) {
        ssize_t n = read(fd, buf + have, sizeof buf - have - 1);
        if (n <= 0) {
            break;
        }
        have += (size_t)n;
        buf[have] = 0;
        char *start = buf, *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            int id = -1, at = 0;
            long long steps = -1;
            int got = sscanf(start, "%d %lld", &id, &steps);
            int i = id - c->index * REQUESTS_PER_CLIENT;
            if (got >= 1 && i >= 0 && i < REQUESTS_PER_CLIENT && !seen[i]) {
                if (got == 2 && steps == collatz_steps((uint64_t)(1000 + id * 7))) {
                    seen[i] = 1;
                    c->ok++;
                } else if (got == 1 && sscanf(start, "%*d busy%n", &at) == 0 && at > 0) {
                    seen[i] = 1;
                    c->busy++;
                }
            }
            replies++;
            start = nl + 1;
        }
        have = (size_t)(buf + have - start);
        memmove(buf, start, have);
    }
    close(fd);
    return NULL;
}

/* Starts the clients against `port`; join them with join_clients. */
static inline void start_clients(pthread_t *t, client_arg *args, uint16_t port) {
    for (int i = 0; i < CLIENTS; i++) {
        args[i].port = port;
        args[i].index = i;
        args[i].ok = 0;
        args[i].busy = 0;
        pthread_create(&t[i], NULL, echo_client, &args[i]);
    }
}

/* Joins the clients; returns how many replies were right (CLIENTS * REQUESTS_PER_CLIENT
 * when all were). */
static inline int join_clients(pthread_t *t, client_arg *args) {
    int ok = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(t[i], NULL);
        ok += args[i].ok;
    }
    return ok;
}

/* How many "busy" replies the clients got (after join_clients). */
static inline int busy_replies(const client_arg *args) {
    int busy = 0;
    for (int i = 0; i < CLIENTS; i++) {
        busy += args[i].busy;
    }
    return busy;
}

/* The pool's counters, printed when a server ends. */
static inline void print_stats(const cfut_executor *pool) {
    cfut_executor_stats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    if (cfut_executor_stats_get(pool, &s) != CFUT_OK) {
        return;
    }
    printf("pool stats: submitted %llu, completed %llu, failed %llu, cancelled %llu, rejected %llu, "
           "peak queued %llu, workers %u (idle %u), worker restarts %llu\n",
           (unsigned long long)s.submitted, (unsigned long long)s.completed, (unsigned long long)s.failed,
           (unsigned long long)s.cancelled, (unsigned long long)s.rejected, (unsigned long long)s.peak_queued,
           s.workers, s.idle_workers, (unsigned long long)s.worker_restarts);
}

#endif
