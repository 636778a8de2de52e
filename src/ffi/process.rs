//! The process-pool executor: options, creation, forced termination, introspection.
//!
//! A process pool runs `cfut_bytes_fn` tasks (and `cfut_executor_map` chunks) in worker
//! processes. Everything else (futures, wait, as_completed, map, shutdown) is the same API
//! as for thread pools.

use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::sync::Arc;

use super::executor::{cfut_bytes_fn, cfut_executor};
use super::{box_ref, bytes_in, c_str, cfut_status, guard, guard_status, non_null, read_options_grown, write_opt, write_out, write_slice};
use crate::executor::Executor;
use crate::process_pool::{ProcessPool, ProcessPoolOptions, StartMethod};
use crate::status::Status;
use crate::time::FOREVER;

/// `on_worker_death`: only the future whose worker died fails (`CFUT_WORKER_DIED`); the
/// worker is replaced and the pool goes on (the default).
pub const CFUT_REPLACE_WORKER: u32 = 0;
/// `on_worker_death`: CPython's `BrokenProcessPool`: any unexpected worker death (busy or
/// idle) breaks the pool: every pending and running future fails with `CFUT_BROKEN`, the
/// other workers are killed, later submits return `CFUT_BROKEN`.
pub const CFUT_BREAK_POOL: u32 = 1;

/// `start_method`: every worker is a fresh process (the default). The host executable is
/// executed again (from `/proc/self/exe`) with libcfutures preloaded, and the library takes
/// the new process over in its ELF constructor, before `main` and before the constructors
/// of the objects that depend on libcfutures (including the main executable's C++ static
/// initialisers) run: a worker inherits no threads, no locks and no heap from the host,
/// so a multithreaded host is safe, and tasks may use OpenMP, BLAS, CUDA, Go or threads.
/// Set-up that tasks need (globals, C++ objects) belongs in the pool's `initializer`.
/// In C++ this includes the standard streams: `std::cout` is unusable until constructed,
/// e.g. by a `static std::ios_base::Init` in the initializer (`cfutures.hpp` does this
/// before every task).
/// The host's `main` never runs in a worker. Workers get the host's environment as it was
/// at pool creation (libcfutures is added to `LD_PRELOAD` for the start and removed again
/// before any task runs; in an ASAN build `ASAN_OPTIONS` gains
/// `verify_asan_link_order=0:detect_leaks=0`). Any dynamically linked program given as
/// `worker_exe` becomes a worker the same way. Workers start in their own process group, so
/// a terminal's Ctrl-C reaches the host only; they ignore SIGINT and SIGPIPE.
pub const CFUT_START_SPAWN: u32 = 0;
/// `start_method`: at `cfut_process_pool_new`, the pool's manager thread forks a zygote
/// from the host once; the zygote (single-threaded, all other descriptors closed) forks
/// every worker, the first ones and the replacements. Workers start faster, and see the
/// host's memory as it was at pool creation (globals set by `main`, data loaded before).
///
/// HAZARDS, as for any fork of a multithreaded process: a lock held by another host
/// thread at the moment of the fork (inside malloc replacements, loggers, the host
/// runtime's own locks) stays locked forever in the zygote and in every worker; threads
/// do not exist there, so runtimes with thread pools (OpenMP, OpenBLAS, tokio, Go, CUDA,
/// Python) and cfutures' own thread pools hang or fail if a task uses them; secrets in
/// host memory are copied into workers. glibc's malloc, stdio and dlopen are safe there.
/// A task that calls `exit()` runs the host's `atexit` handlers and C++ static
/// destructors in the worker: leave with `_exit()` (the worker still reports the code).
/// Output the host had buffered in stdio at the fork is discarded in the zygote, so it is
/// not printed twice. Prefer SPAWN or FORKSERVER unless tasks need state that only exists
/// in the host's memory and are plain computations. Functions and data must exist at
/// pool creation. The zygote and workers start with default signal dispositions and an
/// empty signal mask, whatever the host's.
pub const CFUT_START_FORK: u32 = 1;

/// `start_method`: SPAWN's isolation with faster worker starts (CPython's `forkserver`,
/// its default since 3.14). At `cfut_process_pool_new` the manager thread starts one fork
/// server the way SPAWN starts a worker (the host executable re-executed, taken over by
/// the library before `main`); the server stays single-threaded and forks every worker,
/// so starting or replacing a worker costs a fork of a small fresh process instead of an
/// exec. Workers inherit nothing from the host but what a SPAWN worker does. If the fork
/// server dies, the pool breaks (`CFUT_BROKEN`).
pub const CFUT_START_FORKSERVER: u32 = 2;

/// Options for `cfut_process_pool_new`. Always start from `cfut_process_pool_options_init`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cfut_process_pool_options {
    /// Must be `sizeof(cfut_process_pool_options)` (set by the init function).
    pub struct_size: u32,
    /// Worker processes at most; 0 = the number of available CPUs. Workers start on
    /// demand: a submit starts one only when no worker is idle.
    pub max_workers: u32,
    /// 0 = unlimited; else a worker exits after this many tasks (map chunks count as one)
    /// and a fresh one replaces it. Its last result is delivered normally.
    pub max_tasks_per_child: u32,
    /// Per-task limit, counted from the moment the task is sent to a worker (waiting in
    /// the queue does not count): when it passes, the worker and its process group are
    /// killed with SIGKILL, the future fails at once with `CFUT_TIMEOUT` as its status
    /// (see `cfut_future_result`), and a new worker replaces it. `CFUT_FOREVER` (the
    /// default) or 0 = no limit (as 0 means "no limit" for `max_tasks_per_child`).
    pub task_timeout_ns: u64,
    /// `CFUT_REPLACE_WORKER` (default) or `CFUT_BREAK_POOL`.
    pub on_worker_death: u32,
    /// `CFUT_START_SPAWN` (default), `CFUT_START_FORKSERVER` or `CFUT_START_FORK`.
    pub start_method: u32,
    /// Optional: runs once in each new worker before its first task, as
    /// `initializer(copy_of_initializer_input, initializer_len, out)`. A non-zero return (or
    /// `cfut_result_set_error`, or a crash) breaks the pool: pending and later futures fail
    /// with `CFUT_BROKEN`, whose code and message are the initializer's.
    pub initializer: cfut_bytes_fn,
    /// Copied by `cfut_process_pool_new` (may be NULL when `initializer_len` is 0).
    pub initializer_input: *const c_void,
    pub initializer_len: usize,
    /// SPAWN and FORKSERVER: the program workers (or the fork server) run instead of the
    /// host executable (copied). It must
    /// load libcfutures when it starts (link it, or rely on the library being preloaded, as
    /// the pool does); functions of the host's main executable cannot run there
    /// (`CFUT_UNSUPPORTED` at submit). NULL = the host executable itself (the default,
    /// and what makes functions of the main executable work).
    pub worker_exe: *const c_char,
    /// New in 0.2. false (default): `cfut_future_request_cancel` on a running task sends
    /// the request to its worker, where `cfut_result_cancel_requested` sees it (the task
    /// decides when to stop). true: the worker running the task is killed instead (with
    /// its process group) and replaced; the future ends CANCELLED at once. Use it for tasks
    /// that cannot poll (foreign code, blocking calls).
    pub cancel_kills: bool,
    /// Since 0.2. Tasks accepted but not yet sent to a worker, at most (map chunks count);
    /// 0 = unbounded (the default). See `when_full` and `cfut_executor_try_submit_bytes`.
    pub max_queued: u32,
    /// Since 0.2. `CFUT_WHEN_FULL_BLOCK` (the default: a submit waits for room) or
    /// `CFUT_WHEN_FULL_REJECT` (`CFUT_QUEUE_FULL`); `CFUT_WHEN_FULL_CALLER_RUNS` is refused
    /// with `CFUT_INVALID_ARGUMENT` (a task cannot run in the submitting process). A submit
    /// from the pool's manager thread (a done-callback) never waits: it gets
    /// `CFUT_QUEUE_FULL`.
    pub when_full: u32,
}

/// `struct_size` of a 0.1 `cfut_process_pool_options` (everything before `cancel_kills`).
const OPTIONS_0_1: usize = std::mem::offset_of!(cfut_process_pool_options, cancel_kills);
/// The fields up to `cancel_kills` (0.2's first version), and that version's `sizeof`.
const OPTIONS_CANCEL: usize = OPTIONS_0_1 + 1;
const OPTIONS_CANCEL_SIZE: usize = OPTIONS_CANCEL.next_multiple_of(std::mem::align_of::<cfut_process_pool_options>());

fn default_options() -> cfut_process_pool_options {
    cfut_process_pool_options {
        struct_size: std::mem::size_of::<cfut_process_pool_options>() as u32,
        max_workers: 0,
        max_tasks_per_child: 0,
        task_timeout_ns: FOREVER,
        on_worker_death: CFUT_REPLACE_WORKER,
        start_method: CFUT_START_SPAWN,
        initializer: None,
        initializer_input: std::ptr::null(),
        initializer_len: 0,
        worker_exe: std::ptr::null(),
        cancel_kills: false,
        max_queued: 0,
        when_full: super::flow::CFUT_WHEN_FULL_BLOCK,
    }
}

/// Fills `opts` with the defaults: CPU-count workers, no task limit, no timeout
/// (`CFUT_FOREVER`), `CFUT_REPLACE_WORKER`, `CFUT_START_SPAWN`, no initializer, the host
/// executable as worker program, `cancel_kills` false, an unbounded queue (`max_queued` 0,
/// `CFUT_WHEN_FULL_BLOCK`). NULL is a no-op.
#[no_mangle]
pub extern "C" fn cfut_process_pool_options_init(opts: *mut cfut_process_pool_options) {
    guard((), || {
        write_opt(opts, default_options())
    })
}

fn fail(status: Status, msg: &str) -> Status {
    super::last_error::set(msg);
    status
}

/// Python's `ProcessPoolExecutor(max_workers, initializer, max_tasks_per_child)`, with
/// crash isolation: the same submit / map / wait / as_completed / shutdown calls as a
/// thread pool, with tasks running in worker processes.
///
/// - Tasks are `cfut_bytes_fn` functions given to `cfut_executor_submit_bytes` (or map
///   functions given to `cfut_executor_map` with `ctx_len > 0`). Only bytes cross: the
///   input is copied at submit, the result comes back through `cfut_result_set_bytes`.
///   `cfut_executor_submit` returns `CFUT_UNSUPPORTED` (its `arg_drop` still runs).
/// - A task function may live in the main executable or in any shared library: at submit
///   it becomes (object path, GNU build-id, offset) and the worker resolves it again,
///   `dlopen`ing the object if needed. If the worker finds another build of the object
///   (build-id mismatch) or cannot load it, that task fails with `CFUT_TASK_FAILED`,
///   code `CFUT_UNSUPPORTED` and a message; the worker lives on.
/// - One manager thread per pool (named `cfut-procpool`) starts, feeds and reaps the
///   workers; futures complete and their done-callbacks run on it (as in CPython). A
///   callback must therefore not block: while it runs no future of the pool completes.
///   Waiting there on a future that is not done returns `CFUT_WOULD_DEADLOCK` at once
///   (see `cfut_future_wait`, `cfut_wait`); `cfut_as_completed_next` and `cfut_map_next`
///   do not check, and would wait forever on this pool's futures. Hand such work to another
///   thread (e.g. submit it to a thread pool).
///   A task is sent to a worker only when that worker is idle, so a pending future can
///   always be cancelled.
/// - A worker that dies while running a task (signal, `exit`, `_exit`, killed from
///   outside) fails only that future, with `CFUT_WORKER_DIED`; `cfut_future_error` gives
///   the negative signal number or the exit code as `code` and a message such as "worker
///   1234 was killed by signal 11 (SIGSEGV) without a result" (in an ASAN build the
///   sanitizer catches the signal and exits, so the code is its exit code, usually 1). A new
///   worker replaces it.
///   With `CFUT_BREAK_POOL` the whole pool breaks instead (CPython). In a host that
///   ignores SIGCHLD, a SPAWN worker's exit status needs Linux 6.15 or later; before that
///   the message says the status was collected by someone else.
/// - Workers die with the host: each has a parent-death signal (SIGKILL) and a watchdog
///   that exits when the host's end of its socket closes. The pool never calls
///   `waitpid(-1)` and installs no signal handler; it reaps exactly its own workers.
/// - A worker that exits before it is ready, a pool initializer that fails, or a worker
///   that cannot be started breaks the pool (`CFUT_BROKEN`); so does a FORKSERVER server
///   that does not answer a fork request within 5 s. At shutdown, workers still starting
///   are killed (they have no task), so a `worker_exe` that never becomes a worker cannot
///   hold `cfut_executor_shutdown` or `cfut_executor_free`.
///
/// `opts` may be NULL for the defaults. On `CFUT_OK`, `*executor_out` is a new executor
/// owned by the caller (free it with `cfut_executor_free`, which waits for queued work).
/// Returns `CFUT_INVALID_ARGUMENT` for a NULL `executor_out`, an unknown `struct_size`,
/// `on_worker_death`, `start_method` or `when_full`, `when_full` CALLER_RUNS, NULL `initializer_input` with a non-zero length, or
/// a `worker_exe` that is not an executable file; `CFUT_UNSUPPORTED` when the initializer
/// cannot be located for a worker; `CFUT_BROKEN` when the FORK zygote or the FORKSERVER
/// server cannot be started;
/// `CFUT_NO_MEMORY` when a thread or descriptor cannot be created. After a failure
/// `cfut_last_error_message` says why.
#[no_mangle]
pub extern "C" fn cfut_process_pool_new(
    opts: *const cfut_process_pool_options,
    executor_out: *mut *mut cfut_executor,
) -> cfut_status {
    guard_status(|| {
        non_null(executor_out)?;
        let mut o = ProcessPoolOptions::default();
        if let Some(c) = read_options_grown(opts, default_options(), &[(OPTIONS_0_1, OPTIONS_0_1), (OPTIONS_CANCEL_SIZE, OPTIONS_CANCEL)]).map_err(|s| fail(s, "cfut_process_pool_new: unknown options struct_size"))? {
            o.max_workers = c.max_workers as usize;
            o.max_tasks_per_child = c.max_tasks_per_child as u64;
            o.task_timeout = match c.task_timeout_ns {
                FOREVER | 0 => None,
                ns => Some(std::time::Duration::from_nanos(ns.max(1))),
            };
            o.break_pool_on_death = match c.on_worker_death {
                CFUT_REPLACE_WORKER => false,
                CFUT_BREAK_POOL => true,
                _ => return Err(fail(Status::InvalidArgument, "cfut_process_pool_new: unknown on_worker_death")),
            };
            o.start_method = match c.start_method {
                CFUT_START_SPAWN => StartMethod::Spawn,
                CFUT_START_FORK => StartMethod::Fork,
                CFUT_START_FORKSERVER => StartMethod::ForkServer,
                _ => return Err(fail(Status::InvalidArgument, "cfut_process_pool_new: unknown start_method")),
            };
            if c.initializer_len != 0 && c.initializer_input.is_null() {
                return Err(fail(Status::InvalidArgument, "cfut_process_pool_new: NULL initializer_input with a non-zero initializer_len"));
            }
            if let Some(init) = c.initializer {
                let input = bytes_in(c.initializer_input, c.initializer_len)
                    .map_err(|s| fail(s, "cfut_process_pool_new: NULL initializer_input"))?
                    .to_vec();
                o.initializer = Some((init as usize, input));
            }
            o.cancel_kills = c.cancel_kills;
            o.max_queued = c.max_queued as usize;
            o.when_full = super::flow::when_full(c.when_full)
                .map_err(|s| fail(s, "cfut_process_pool_new: unknown when_full"))?;
            o.worker_exe = c_str(c.worker_exe).map(|s| PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(s.to_bytes())));
        }
        let pool = ProcessPool::new(o).map_err(super::last_error::record)?;
        let ex = Box::new(cfut_executor { inner: Arc::new(Executor::Processes(pool)) });
        write_out(executor_out, Box::into_raw(ex));
        Ok(())
    })
}

/// The process pool behind a handle; `Unsupported` for a thread pool.
fn process_pool<'a>(ex: *const cfut_executor) -> Result<&'a ProcessPool, Status> {
    let ex: &cfut_executor = box_ref(ex)?;
    ex.inner.process_pool().ok_or_else(|| fail(Status::Unsupported, "not a process pool"))
}

/// CPython 3.14's `terminate_workers()` (`signal` = SIGTERM) and `kill_workers()`
/// (`signal` = SIGKILL; 0 means SIGKILL too): shuts the pool down as
/// `cfut_executor_shutdown(ex, false, true)` does (pending futures are cancelled, later
/// submits return `CFUT_SHUTDOWN`), then sends `signal` to every worker process. Futures
/// of tasks that were running fail at once with `CFUT_BROKEN` (code: minus the signal);
/// no worker is replaced. Returns without waiting: `cfut_executor_shutdown(ex, true, ...)`
/// or `cfut_executor_free` then waits until every worker is reaped. A task that catches
/// or ignores SIGTERM keeps its worker alive until it returns; the worker then quits. Use
/// SIGKILL to be sure.
/// Safe to call more than once (only the first signal is sent), on a broken pool, and
/// before any worker started (nothing is signalled).
///
/// Returns `CFUT_OK`; `CFUT_INVALID_ARGUMENT` for NULL or a signal other than 0, SIGTERM,
/// SIGKILL, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2; `CFUT_UNSUPPORTED` for a thread
/// pool.
#[no_mangle]
pub extern "C" fn cfut_process_pool_terminate(ex: *mut cfut_executor, signal: i32) -> cfut_status {
    guard_status(|| {
        let pool = process_pool(ex)?;
        let sig = match signal {
            0 => libc::SIGKILL,
            libc::SIGTERM | libc::SIGKILL | libc::SIGINT | libc::SIGHUP | libc::SIGQUIT | libc::SIGUSR1 | libc::SIGUSR2 => signal,
            _ => return Err(Status::InvalidArgument),
        };
        pool.terminate_workers(sig);
        Ok(())
    })
}

/// Copies the process ids of the pool's live workers (as of the manager's last turn) into
/// `pids_out` (room for `capacity` entries; may be NULL when `capacity` is 0) and writes
/// how many workers there are to `*count_out` (which may exceed `capacity`). For tests and
/// monitoring; a pid may be gone by the time you use it.
///
/// Returns `CFUT_OK`; `CFUT_INVALID_ARGUMENT` for a NULL `ex` or `count_out`, or NULL
/// `pids_out` with a non-zero `capacity`; `CFUT_UNSUPPORTED` for a thread pool.
#[no_mangle]
pub extern "C" fn cfut_process_pool_worker_pids(
    ex: *const cfut_executor,
    pids_out: *mut i32,
    capacity: usize,
    count_out: *mut usize,
) -> cfut_status {
    guard_status(|| {
        let pool = process_pool(ex)?;
        non_null(count_out)?;
        if capacity > 0 {
            non_null(pids_out)?;
        }
        let pids = pool.pids();
        write_slice(pids_out, &pids[..pids.len().min(capacity)]);
        write_out(count_out, pids.len());
        Ok(())
    })
}

/// How many worker processes the pool has started so far, replacements included (0 for
/// NULL or a thread pool). With lazy start and idle reuse, sequential submit-and-wait uses
/// one worker, and a saturated pool starts exactly `max_workers`.
#[no_mangle]
pub extern "C" fn cfut_process_pool_workers_started(ex: *const cfut_executor) -> u64 {
    guard(0, || box_ref::<cfut_executor>(ex).ok().and_then(|e| e.inner.process_pool()).map_or(0, |p| p.workers_started() as u64))
}

/// A sentence saying why the last failing call on this thread that records a reason
/// failed: `cfut_process_pool_new`, `cfut_executor_submit_bytes` and `cfut_executor_map`
/// on a process pool (`CFUT_UNSUPPORTED` for a task function that cannot be located, why a
/// pool is `CFUT_BROKEN`), and `cfut_executor_submit` on a process pool. NULL if none.
/// The string belongs to the library and stays valid on this thread until the next such
/// failure; successful calls leave it unchanged.
#[no_mangle]
pub extern "C" fn cfut_last_error_message() -> *const c_char {
    guard(std::ptr::null(), super::last_error::ptr)
}
