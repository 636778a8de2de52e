/* The MPI transport of cfutures' MPI pools: a plugin built with the site's mpicc
 * (`make mpi` -> libcfutures_mpi.so) and loaded by cfut_mpi_pool_new with dlopen, so that
 * libcfutures itself never links MPI. It exports one symbol, cfutures_mpi_transport_v1,
 * returning a table of plain C functions (src/mpi/plugin.rs mirrors it). Every call is made
 * by one thread at a time (MPI_THREAD_SERIALIZED). Traffic goes over a duplicate of
 * MPI_COMM_WORLD, so it never mixes with the program's own messages, with errors returned
 * (not fatal) so that a dead peer under ULFM is reported, not aborted on. */
#include <mpi.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(OPEN_MPI) && OPEN_MPI
#include <mpi-ext.h>
#endif

#if defined(MPIX_ERR_PROC_FAILED) && defined(OMPI_HAVE_MPI_EXT_FTMPI)
#define HAVE_ULFM 1
#else
#define HAVE_ULFM 0
#endif

#define TRANSPORT_VERSION 1u

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
    /* Frees the communicator; finalises MPI when finalize is non-zero. */
    void (*close)(int finalize);
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

static void t_close(int finalize) {
    if (comm != MPI_COMM_NULL)
        MPI_Comm_free(&comm);
    if (finalize)
        MPI_Finalize();
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
