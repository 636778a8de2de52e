//! MPI pools: one executor across the ranks of an MPI job.

use std::ffi::c_char;
use std::sync::Arc;

use super::executor::cfut_executor;
use super::{box_into_raw, box_ref, c_str, cfut_status, guard, guard_error, non_null, read_options, write_opt, write_out};
use crate::error::Error;
use crate::executor::Executor;
use crate::mpi::{Isolation, MpiOptions};
use crate::status::Status;

/// `isolation`: each worker rank runs its tasks in a local process pool of
/// `workers_per_rank` processes: a task that crashes fails its own future with
/// `CFUT_WORKER_DIED` and the rank lives on (the default).
pub const CFUT_MPI_ISOLATION_PROCESS: u32 = 0;
/// `isolation`: each worker rank runs its tasks on `workers_per_rank` threads of its own
/// (no process hop per task; a task that crashes takes the rank, and so the MPI job, down).
pub const CFUT_MPI_ISOLATION_NONE: u32 = 1;

/// Options for `cfut_mpi_pool_new`. Always start from `cfut_mpi_pool_options_init`.
/// Every rank passes its own copy; `root` and `plugin_path` must agree on all ranks.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cfut_mpi_pool_options {
    /// Must be `sizeof(cfut_mpi_pool_options)` (set by the init function).
    pub struct_size: u32,
    /// The rank that gets the executor; default 0.
    pub root: i32,
    /// `CFUT_MPI_ISOLATION_PROCESS` (0, default) or `CFUT_MPI_ISOLATION_NONE` (1).
    pub isolation: u32,
    /// Tasks each worker rank runs at once; 0 = the rank's CPUs. A rank is also sent a few
    /// tasks beyond its slots (see "Tasks sent ahead" at `cfut_mpi_pool_new`).
    pub workers_per_rank: u32,
    /// The transport plugin (`libcfutures_mpi.so`, built by `make mpi` with the site's
    /// `mpicc`). NULL = next to libcfutures, then the dynamic loader's search path.
    pub plugin_path: *const c_char,
    /// Isolation PROCESS: `cfut_future_request_cancel` on a running task kills the worker
    /// process running it on its rank (the future ends CANCELLED; the rank replaces the
    /// worker), as a process pool's `cancel_kills`. false (default): the request reaches the
    /// task, where `cfut_result_cancel_requested` sees it.
    pub cancel_kills: bool,
}

fn defaults() -> cfut_mpi_pool_options {
    cfut_mpi_pool_options {
        struct_size: std::mem::size_of::<cfut_mpi_pool_options>() as u32,
        root: 0,
        isolation: CFUT_MPI_ISOLATION_PROCESS,
        workers_per_rank: 0,
        plugin_path: std::ptr::null(),
        cancel_kills: false,
    }
}

/// Fills `opts` with the defaults: root 0, `CFUT_MPI_ISOLATION_PROCESS`, one slot per CPU
/// of each rank, the plugin next to libcfutures, `cancel_kills` false. NULL is a no-op.
#[no_mangle]
pub extern "C" fn cfut_mpi_pool_options_init(opts: *mut cfut_mpi_pool_options) {
    guard((), || write_opt(opts, defaults()))
}

/// An executor over every rank of an MPI job (the program started as `mpirun -np N
/// program`, or `srun`), like mpi4py's `MPICommExecutor`. **Collective**: every rank of
/// `MPI_COMM_WORLD` calls it.
///
/// - On the root (`opts->root`): returns `CFUT_OK` once every other rank is ready, with
///   `*executor_out` an executor owned by the caller. It takes
///   `cfut_executor_submit_bytes`, `cfut_executor_map` (with `ctx_len > 0`), groups
///   (`cfut_group_submit_bytes`), completion queues and every wait, as a process pool
///   does; `cfut_executor_submit` returns `CFUT_UNSUPPORTED` (a pointer means nothing on
///   another rank). The root runs no task itself: each task goes to a worker rank with a
///   free slot. Task functions travel as (object, build-id, offset), so every rank must run
///   the same program (SPMD).
/// - On every other rank: serves tasks inside the call and returns `CFUT_OK` with
///   `*executor_out = NULL` once the root's executor is shut down and every task is done
///   (`cfut_executor_free` on the root). A typical program: `if (ex == NULL) return 0;`
///   right after the call.
/// - MPI: if the program did not initialise MPI, this call does (`MPI_THREAD_SERIALIZED`)
///   and finalises it when the pool ends on this rank (in `cfut_executor_free` on the
///   root, before returning on the others), so `main` may simply return; MPI cannot be
///   initialised again afterwards, so one such pool per run. A program that initialised
///   MPI itself (with `MPI_Init_thread` at `MPI_THREAD_SERIALIZED` or more: the root's
///   pool calls MPI from its own thread) keeps it and finalises it itself, after
///   `cfut_executor_free` on the root and after this call on the others. The pool talks
///   over its own duplicate of `MPI_COMM_WORLD`, so the program's messages never mix with
///   it.
/// - Threads: the root's pool has one thread (`cfut-mpi`) that makes every MPI call of
///   the pool, hands tasks out and completes futures: done-callbacks run there and must
///   not block (as on a process pool's manager thread). Idle ranks poll MPI with a capped
///   back-off (at most ~1000 wake-ups a second, well under 1% of a core) instead of a
///   blocking receive, which would spin a core.
/// - Tasks sent ahead: a task goes to a rank with an idle slot if there is one; else, so
///   that a rank never waits a round trip to the root for its next task, it is sent ahead
///   to the rank with the most room: what the rank completes in ~16 ms at its measured
///   rate, at least 1 and at most 32 per slot (tasks of 16 ms or more get 1 ahead, so no
///   rank holds a queue while another idles). Such a task waits in its
///   rank's queue but counts as started on the root (as the call queue of Python's
///   `ProcessPoolExecutor`): `cfut_future_running` is true and `cfut_future_cancel` returns
///   false. `cfut_future_request_cancel` cancels it on its rank if it has not started
///   there (the future ends CANCELLED; it never runs), and `cfut_executor_shutdown` with
///   `cancel_futures` cancels every task sent ahead that has not started, as well as those
///   still on the root. `cfut_executor_stats` counts them in `queued`, not `running`. If
///   the rank dies (ULFM), they fail with `CFUT_WORKER_DIED` like its running tasks (they
///   are not sent elsewhere: the root cannot tell whether one had started).
/// - Crashes: with `CFUT_MPI_ISOLATION_PROCESS` a task that crashes fails only its future
///   (`CFUT_WORKER_DIED`, the message names the rank and the signal); no rank dies.
/// - A rank that dies: with an MPI that has ULFM (Open MPI 5 run with `mpirun --with-ft
///   ulfm`, and the plugin built with its `mpicc`), its running tasks fail with
///   `CFUT_WORKER_DIED` and the pool goes on with the other ranks (with no rank left,
///   pending and later tasks get `CFUT_BROKEN`). Without ULFM, the MPI job ends, as any
///   MPI program's does when a rank dies: the launcher kills every rank (the pool calls
///   `MPI_Abort` if MPI reports the failure to it first); nothing hangs.
/// - Ending the pool is collective over the surviving ranks (`cfut_executor_free` on the
///   root, the end of this call elsewhere): under ULFM they first agree whether a rank
///   failed (bounded: 20 s per round); if one did, MPI is finalised without the job-wide
///   barrier that would wait for the dead rank (Open MPI 5's finalize fence), also when
///   the program finalises MPI itself. The whole step (agreement, freeing the pool's
///   communicator, `MPI_Finalize`) is bounded by 60 s: past that, MPI is stuck on a peer
///   it cannot tell is gone, and the process prints why on stderr and ends with
///   `_exit(75)` rather than hang (the call does not return).
/// - Message sizes: a task's input and result, and a map chunk's context, items and
///   results, are limited to 4 GiB each, as on a process pool.
///
/// `opts` may be NULL for the defaults. Returns `CFUT_OK`; `CFUT_UNSUPPORTED` when the
/// plugin cannot be loaded (the message names the files tried and how to build it), when
/// the program was not started by an MPI launcher and MPI is not initialised, when MPI
/// offers less than `MPI_THREAD_SERIALIZED`, or when the job has a single rank;
/// `CFUT_INVALID_ARGUMENT` for a NULL `executor_out`, an unknown `struct_size` or
/// `isolation`, or a `root` that is not a rank of the job or not the same on every rank
/// (checked collectively, so that ranks never wait for different roots); `CFUT_BROKEN` when no worker
/// rank could start its local pool (on the root), or on a worker rank whose root died
/// (ULFM). Except for the last two, every rank returns the same status; after a failure
/// `cfut_last_error_message` says why.
#[no_mangle]
pub extern "C" fn cfut_mpi_pool_new(opts: *const cfut_mpi_pool_options, executor_out: *mut *mut cfut_executor) -> cfut_status {
    guard_error(|| {
        non_null(executor_out)?;
        let unknown = |what: &str| Error::new(Status::InvalidArgument, format!("cfut_mpi_pool_new: {what}"));
        let c = read_options(opts).map_err(|_| unknown("unknown options struct_size"))?.unwrap_or_else(defaults);
        let isolation = match c.isolation {
            CFUT_MPI_ISOLATION_PROCESS => Isolation::Process,
            CFUT_MPI_ISOLATION_NONE => Isolation::None,
            _ => return Err(unknown("unknown isolation")),
        };
        let root = usize::try_from(c.root).map_err(|_| unknown("negative root"))?;
        let o = MpiOptions {
            root,
            isolation,
            workers_per_rank: c.workers_per_rank as usize,
            plugin_path: c_str(c.plugin_path).map(|s| s.to_string_lossy().into_owned()),
            cancel_kills: c.cancel_kills,
        };
        let out = crate::mpi::start(&o)?.map_or(std::ptr::null_mut(), |p| box_into_raw(cfut_executor { inner: Arc::new(Executor::Mpi(p)) }));
        write_out(executor_out, out);
        Ok(())
    })
}

/// True if `ex` is an MPI pool whose MPI reports failed ranks (ULFM): a rank that dies
/// then fails only its tasks (`CFUT_WORKER_DIED`) and the pool goes on. false for NULL,
/// other executors, and MPI pools where a dead rank ends the job.
#[no_mangle]
pub extern "C" fn cfut_mpi_pool_survives_rank_death(ex: *const cfut_executor) -> bool {
    guard(false, || {
        box_ref::<cfut_executor>(ex).ok().is_some_and(|e| matches!(&*e.inner, Executor::Mpi(p) if p.survives_rank_death()))
    })
}
