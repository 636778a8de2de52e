/* The MPI transport of cfutures' MPI pools: a plugin built with the site's mpicc
 * (`make mpi` -> libcfutures_mpi.so) and loaded by cfut_mpi_pool_new with dlopen, so that
 * libcfutures itself never links MPI. It exports one symbol, cfutures_mpi_transport_v1,
 * returning a table of plain C functions (src/mpi/plugin.rs mirrors it). Every call is made
 * by one thread at a time (MPI_THREAD_SERIALIZED). Traffic goes over a duplicate of
 * MPI_COMM_WORLD, so it never mixes with the program's own messages, with errors returned
 * (not fatal) so that a dead peer under ULFM is reported, not aborted on. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <mpi.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(OPEN_MPI) && OPEN_MPI
#include <mpi-ext.h>
#endif

#if defined(MPIX_ERR_PROC_FAILED) && defined(OMPI_HAVE_MPI_EXT_FTMPI)
#define HAVE_ULFM 1
#else
#define HAVE_ULFM 0
#endif

#define TRANSPORT_VERSION 2u

typedef struct transport {
    uint32_t version;
    uint32_t struct_size;
    /* 1 when this plugin was built with ULFM (run-through stabilisation). */
    int32_t ulfm;
    /* Opens the transport: initialises MPI if the program did not (then *we_init = 1),
     * duplicates MPI_COMM_WORLD. 0 on success; else writes a sentence into err. */
    int (*open)(int *we_init, char *err, size_t errlen);
    int (*rank)(void);
    int (*size)(void);
    /* Starts sending len bytes (at most INT_MAX) to dest with tag; the buffer must stay
     * valid until test() says done. NULL on failure. */
    void *(*isend)(int dest, int tag, const void *buf, size_t len);
    /* 1: the send is done (the request is freed); 0: not yet; -1: failed (freed). */
    int (*test)(void *req);
    /* 1: a message from src (or any source when src < 0) with tag waits: its source and
     * length are written; 0: none; -1: an error (a peer failed, under ULFM). */
    int (*iprobe)(int src, int tag, int *src_out, size_t *len_out);
    /* Receives the message iprobe announced. 0 on success, -1 on failure. */
    int (*recv)(int src, int tag, void *buf, size_t len);
    /* Every surviving rank calls it (a fault-tolerant barrier under ULFM), then it frees the
     * communicator and finalises MPI when finalize is non-zero. 1: a rank of the job failed
     * (ULFM), 0: none did, -1: the survivors could not agree within the bound. */
    int (*close)(int finalize);
    void (*abort)(int code);
    /* ULFM: acknowledges failures and writes up to max failed ranks; returns how many
     * (-1 without ULFM). */
    int (*failed)(int *out, int max);
    /* The MPI library's version string. */
    const char *(*library)(void);
    /* Collective: 1 if every rank passed the same value, 0 if not, -1 on failure. */
    int (*agree)(int64_t value);
} transport;

static MPI_Comm comm = MPI_COMM_NULL;

/* Set by the launchers we know: Open MPI's mpirun, PMIx (Open MPI 5, srun --mpi=pmix),
 * PMI-1/2 (MPICH's hydra, Intel MPI, srun --mpi=pmi2). */
static int launched(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
                                 "MPI_LOCALNRANKS", "HYDRA_CONTROL_FD", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

static int t_open(int *we_init, char *err, size_t errlen) {
    int inited = 0, finalized = 0, provided = 0;
    *we_init = 0;
    MPI_Finalized(&finalized);
    if (finalized) {
        snprintf(err, errlen, "MPI was already finalised in this process");
        return -1;
    }
    MPI_Initialized(&inited);
    if (!inited) {
        if (!launched()) {
            snprintf(err, errlen, "this program was not started by an MPI launcher (mpirun, mpiexec or srun): "
                                  "run it as `mpirun -np N program`");
            return -1;
        }
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
            snprintf(err, errlen, "MPI_Init_thread failed");
            return -1;
        }
        *we_init = 1;
    } else {
        MPI_Query_thread(&provided);
    }
    if (provided < MPI_THREAD_SERIALIZED) {
        snprintf(err, errlen, "MPI provides thread level %d; the pool calls MPI from its own thread and needs "
                              "MPI_THREAD_SERIALIZED or MPI_THREAD_MULTIPLE (initialise MPI with MPI_Init_thread)",
                 provided);
        if (*we_init)
            MPI_Finalize();
        *we_init = 0;
        return -1;
    }
    if (MPI_Comm_dup(MPI_COMM_WORLD, &comm) != MPI_SUCCESS) {
        snprintf(err, errlen, "MPI_Comm_dup(MPI_COMM_WORLD) failed");
        return -1;
    }
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    return 0;
}

static int t_rank(void) {
    int r = -1;
    MPI_Comm_rank(comm, &r);
    return r;
}

static int t_size(void) {
    int s = 0;
    MPI_Comm_size(comm, &s);
    return s;
}

static void *t_isend(int dest, int tag, const void *buf, size_t len) {
    if (len > INT_MAX)
        return NULL;
    MPI_Request *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    if (MPI_Isend(buf, (int)len, MPI_BYTE, dest, tag, comm, r) != MPI_SUCCESS) {
        free(r);
        return NULL;
    }
    return r;
}

static int t_test(void *req) {
    MPI_Request *r = req;
    int done = 0;
    if (MPI_Test(r, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
#if HAVE_ULFM
        if (*r != MPI_REQUEST_NULL)
            MPI_Request_free(r);
#endif
        free(r);
        return -1;
    }
    if (done)
        free(r);
    return done ? 1 : 0;
}

static int t_iprobe(int src, int tag, int *src_out, size_t *len_out) {
    int flag = 0, count = 0;
    MPI_Status st;
    if (MPI_Iprobe(src < 0 ? MPI_ANY_SOURCE : src, tag, comm, &flag, &st) != MPI_SUCCESS)
        return -1;
    if (!flag)
        return 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    *src_out = st.MPI_SOURCE;
    *len_out = (size_t)count;
    return 1;
}

static int t_recv(int src, int tag, void *buf, size_t len) {
    if (len > INT_MAX)
        return -1;
    return MPI_Recv(buf, (int)len, MPI_BYTE, src, tag, comm, MPI_STATUS_IGNORE) == MPI_SUCCESS ? 0 : -1;
}

#if HAVE_ULFM
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* MPIX_Comm_agree, waited for at most AGREE_BOUND_S: a bitwise AND of flag over the ranks
 * alive, the same at each of them. 0 on success, -1 when it failed or timed out. */
#define AGREE_BOUND_S 20.0
static int agree_bounded(int *flag) {
    MPI_Request req;
    if (MPIX_Comm_iagree(comm, flag, &req) != MPI_SUCCESS)
        return -1;
    double end = now_s() + AGREE_BOUND_S;
    for (;;) {
        int done = 0;
        int rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        /* A failure the agreement itself noticed still completes it (flag is uniform). */
        if (done || (rc != MPI_SUCCESS && req == MPI_REQUEST_NULL))
            return 0;
        if (rc != MPI_SUCCESS || now_s() > end) {
            if (req != MPI_REQUEST_NULL)
                MPI_Request_free(&req);
            return -1;
        }
        struct timespec nap = {0, 200000};
        nanosleep(&nap, NULL);
    }
}

/* 1 when this rank knows of a failed rank in the communicator (acknowledging it). */
static int knows_failure(void) {
    MPI_Group g;
    int n = 0;
    MPIX_Comm_failure_ack(comm);
    if (MPIX_Comm_failure_get_acked(comm, &g) != MPI_SUCCESS)
        return 0;
    MPI_Group_size(g, &n);
    MPI_Group_free(&g);
    return n > 0;
}
#endif

/* Open MPI 5's MPI_Finalize starts with a PMIx fence over every process of the job, which
 * waits forever for a rank that died (ULFM or not). Once every survivor agreed that a rank
 * failed (and so that none of them sends anything anymore), they finalise without it. */
static int t_close(int finalize) {
    int failed = 0;
#if HAVE_ULFM
    if (comm != MPI_COMM_NULL) {
        /* Round 1 is the barrier: each survivor's last message was received (the protocol
         * has none in flight at close) and each one's view of failures is complete. Round 2
         * makes "a rank failed" the same answer everywhere (an AND of "none failed here"). */
        int all = 1;
        int ok = agree_bounded(&all) == 0;
        int none = !knows_failure();
        if (ok)
            ok = agree_bounded(&none) == 0;
        failed = !ok ? -1 : !none;
        if (failed != 0) {
#if defined(OPEN_MPI) && OPEN_MPI
            /* No public API turns the fence off after MPI_Init; this is the variable behind
             * Open MPI's async_mpi_finalize parameter. */
            _Bool *async_fin = dlsym(RTLD_DEFAULT, "ompi_async_mpi_finalize");
            if (async_fin)
                *async_fin = 1;
#endif
        }
    }
#endif
    if (comm != MPI_COMM_NULL)
        MPI_Comm_free(&comm);
    if (finalize)
        MPI_Finalize();
    return failed;
}

static void t_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static int t_failed(int *out, int max) {
#if HAVE_ULFM
    MPI_Group failed, world;
    int n = 0;
    MPIX_Comm_failure_ack(comm);
    if (MPIX_Comm_failure_get_acked(comm, &failed) != MPI_SUCCESS)
        return -1;
    MPI_Group_size(failed, &n);
    if (n > max)
        n = max;
    int *idx = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!idx) {
        MPI_Group_free(&failed);
        return -1;
    }
    for (int i = 0; i < n; i++)
        idx[i] = i;
    MPI_Comm_group(comm, &world);
    MPI_Group_translate_ranks(failed, n, idx, world, out);
    MPI_Group_free(&world);
    MPI_Group_free(&failed);
    free(idx);
    return n;
#else
    (void)out;
    (void)max;
    return -1;
#endif
}

static const char *t_library(void) {
    static char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len);
    char *nl = strchr(v, '\n');
    if (nl)
        *nl = 0;
    return v;
}

static int t_agree(int64_t value) {
    int64_t in[2] = {value, -value}, out[2];
    if (MPI_Allreduce(in, out, 2, MPI_INT64_T, MPI_MAX, comm) != MPI_SUCCESS)
        return -1;
    return out[0] == value && -out[1] == value;
}

static const transport table = {
    TRANSPORT_VERSION, sizeof(transport), HAVE_ULFM, t_open, t_rank, t_size, t_isend, t_test,
    t_iprobe, t_recv, t_close, t_abort, t_failed, t_library, t_agree,
};

__attribute__((visibility("default"))) const transport *cfutures_mpi_transport_v1(void) { return &table; }
