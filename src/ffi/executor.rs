//! Executors: creation, submission, shutdown.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::{
    box_into_raw, box_ref, box_take, bytes_fn, bytes_in, c_str, give_future, task_fn, cfut_drop_fn, cfut_future, cfut_result, cfut_status,
    guard, guard_error, guard_status, non_null, owned, read_options_grown, write_out, SendPtr,
};
use crate::executor::Executor;
use crate::future::Job;
use crate::status::Status;
use crate::thread_pool::{ThreadPool, ThreadPoolOptions};

/// A task for thread pools: runs `fn(arg, out)` on a worker thread. Return 0 for success
/// (optionally after `cfut_result_set_value` / `cfut_result_set_bytes`); a non-zero return
/// fails the future with `CFUT_TASK_FAILED` and that code.
pub type cfut_task_fn = Option<unsafe extern "C" fn(arg: *mut c_void, out: *mut cfut_result) -> i32>;

/// A task for any executor: runs on `len` input bytes (a copy owned by the library, valid
/// during the call) and returns 0 for success; results go out as bytes through
/// `cfut_result_set_bytes`.
pub type cfut_bytes_fn = Option<unsafe extern "C" fn(input: *const c_void, len: usize, out: *mut cfut_result) -> i32>;

/// A thread-pool initializer: runs `initializer(arg)` on each new worker thread before its
/// first task. A non-zero return breaks the pool (`CFUT_BROKEN`).
pub type cfut_initializer_fn = Option<unsafe extern "C" fn(arg: *mut c_void) -> i32>;

/// Options for `cfut_thread_pool_new`. Always start from `cfut_thread_pool_options_init`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cfut_thread_pool_options {
    /// Must be `sizeof(cfut_thread_pool_options)` (set by the init function): lets the
    /// struct grow without breaking the ABI.
    pub struct_size: u32,
    /// 0 = min(32, available CPUs + 4), Python's default.
    pub max_workers: u32,
    /// Worker threads are named `"<prefix>_<i>"` (i from 0); NULL = `"cfut-N"`, N counting
    /// pools in this process. Copied. Linux shows the first 15 bytes of a thread name.
    pub thread_name_prefix: *const c_char,
    /// Optional; see `cfut_initializer_fn`.
    pub initializer: cfut_initializer_fn,
    /// Passed to `initializer`; must stay valid for the pool's lifetime (not owned).
    pub initializer_arg: *mut c_void,
    /// Deadlock-proof waits (since 0.2; the init function sets true). When one of this
    /// pool's own workers, inside a task, makes a blocking wait (`cfut_future_result`,
    /// `_result_bytes`, `_error`, `_wait`, `cfut_wait`, `cfut_as_completed_next`,
    /// `cfut_map_next`, `cfut_map_wait`) on a future of this pool that is still pending, the
    /// awaited task runs right there, on the waiting worker, instead of waiting for a free
    /// worker that may never come (a `max_workers = 1` pool whose task submits to its own
    /// pool and waits then completes at once). Only the awaited tasks run inline, never other
    /// queued work; the worker that later dequeues such a task skips it. A task run inline
    /// is not interrupted by the waiter's timeout: the timeout bounds the waiting, not a task
    /// already started. false waits as CPython does (the nested wait then times out, or hangs
    /// without a timeout). Either way a wait that would close a cycle of tasks waiting on
    /// each other returns `CFUT_WOULD_DEADLOCK` at once.
    pub inline_waits: bool,
    /// Since 0.2. Tasks accepted but not started, at most (map chunks count); 0 =
    /// unbounded (the default). See `when_full` and `cfut_executor_try_submit`.
    pub max_queued: u32,
    /// Since 0.2. What `cfut_executor_submit` / `_submit_bytes` do when `max_queued` tasks
    /// wait: `CFUT_WHEN_FULL_BLOCK` (the default) waits for room; `CFUT_WHEN_FULL_REJECT`
    /// returns `CFUT_QUEUE_FULL` (`arg` stays the caller's: its `arg_drop` does not run);
    /// `CFUT_WHEN_FULL_CALLER_RUNS` runs the task on the submitting thread (the future is
    /// done when the submit returns). A submit from one of the pool's own workers never
    /// waits: with BLOCK or CALLER_RUNS the task runs inline on that worker.
    pub when_full: u32,
    /// Since 0.2. Optional: runs on each worker thread as it exits, after its last task,
    /// exactly once per thread (idle retirement, shutdown, a failed initializer), with no
    /// library lock held. For detaching threads from runtimes (JNI, Python thread states,
    /// profilers). It must not wait for the pool (e.g. `cfut_executor_shutdown(wait)`).
    pub on_worker_exit: Option<unsafe extern "C" fn(arg: *mut c_void)>,
    /// Passed to `on_worker_exit`; must stay valid for the pool's lifetime (not owned).
    pub on_worker_exit_arg: *mut c_void,
    /// Since 0.2. 0 = never (the default); else a worker idle for this long exits (running
    /// `on_worker_exit`), so a pool idle for longer holds no threads. Workers start again on
    /// demand, as at first (`cfut_executor_stats` counts them in `worker_restarts`).
    pub idle_timeout_ns: u64,
    /// Since 0.2; false by default. Waiting threads help: a blocking wait from any thread
    /// that is not one of this pool's workers (`cfut_future_result`, `_result_bytes`,
    /// `_error`, `_wait`, `cfut_wait`, `cfut_as_completed_next`, `cfut_map_next`,
    /// `cfut_map_wait`, `cfut_group_wait`) on a task of this pool that has not started runs
    /// it right there, on the waiting thread, as `inline_waits` does on workers (the worker
    /// that dequeues it later skips it). A caller that submits and then waits gets its
    /// result without two cross-core hand-offs (a one-shot submit+result then costs about
    /// a function call), and a caller waiting for many results works through the pending
    /// ones beside the workers. The cost: such a task may run on any waiting thread, not
    /// only on workers (thread-locals set by `initializer` are not there; the thread
    /// names differ), and, as with `inline_waits`, a task started by a wait is not
    /// interrupted by that wait's timeout. Leave false where tasks need the worker
    /// threads. `cfut_executor_shutdown(wait)` also waits for tasks running on helping
    /// threads; from inside such a task it returns `CFUT_WOULD_DEADLOCK` (the shutdown
    /// still happens), as it does on a worker.
    pub inline_waits_any_thread: bool,
}

/// The size of `cfut_thread_pool_options` in 0.1 (before `inline_waits`).
const THREAD_POOL_OPTIONS_0_1: usize = std::mem::offset_of!(cfut_thread_pool_options, inline_waits);
/// Its fields up to `inline_waits` (0.2's first version), and that version's `sizeof`
/// (its tail padding is not copied).
const THREAD_POOL_OPTIONS_INLINE: usize = THREAD_POOL_OPTIONS_0_1 + 1;
const THREAD_POOL_OPTIONS_INLINE_SIZE: usize = THREAD_POOL_OPTIONS_INLINE.next_multiple_of(std::mem::align_of::<cfut_thread_pool_options>());
/// Its size before `inline_waits_any_thread` (up to `idle_timeout_ns`).
const THREAD_POOL_OPTIONS_0_2: usize = std::mem::offset_of!(cfut_thread_pool_options, inline_waits_any_thread);

fn thread_pool_defaults() -> cfut_thread_pool_options {
    cfut_thread_pool_options {
        struct_size: std::mem::size_of::<cfut_thread_pool_options>() as u32,
        max_workers: 0,
        thread_name_prefix: std::ptr::null(),
        initializer: None,
        initializer_arg: std::ptr::null_mut(),
        inline_waits: true,
        max_queued: 0,
        when_full: super::flow::CFUT_WHEN_FULL_BLOCK,
        on_worker_exit: None,
        on_worker_exit_arg: std::ptr::null_mut(),
        idle_timeout_ns: 0,
        inline_waits_any_thread: false,
    }
}

/// An executor handle: a thread pool or a process pool. Single owner; free it with
/// `cfut_executor_free`. Its functions may be called from any thread.
pub struct cfut_executor {
    pub(crate) inner: Arc<Executor>,
}

/// Borrows the executor behind a handle.
pub(crate) fn executor_ref<'a>(ex: *const cfut_executor) -> Result<&'a cfut_executor, Status> {
    box_ref(ex)
}

/// Fills `opts` with the defaults: the right `struct_size`, `inline_waits` true, every
/// other field zero / NULL. NULL is a no-op.
#[no_mangle]
pub extern "C" fn cfut_thread_pool_options_init(opts: *mut cfut_thread_pool_options) {
    guard((), || {
        if !opts.is_null() {
            write_out(opts, thread_pool_defaults())
        }
    })
}

/// Python's `ThreadPoolExecutor(max_workers, thread_name_prefix, initializer)`.
///
/// Workers start lazily: a submit starts a thread only when no worker is idle and fewer
/// than `max_workers` exist. If an initializer fails, the pool breaks: queued futures fail
/// with `CFUT_BROKEN` and later submits return `CFUT_BROKEN`.
///
/// Resource exhaustion: if the pool's first worker thread cannot be created (RLIMIT_NPROC,
/// no memory for a stack), the pool breaks for good: the submit that needed the thread
/// returns `CFUT_OK`, but its future and every queued one fail with `CFUT_BROKEN` (the
/// message says why) and later submits return `CFUT_BROKEN`; create a new pool once
/// resources are back. If a later thread cannot be created, the pool keeps running on the
/// workers it has and tries again at a later submit.
///
/// `opts` may be NULL for the defaults. On `CFUT_OK`, `*executor_out` is a new executor
/// owned by the caller. Returns `CFUT_INVALID_ARGUMENT` for a NULL `executor_out`, an
/// unknown `when_full`, or an unknown `struct_size` (older sizes are accepted: the 0.1 size,
/// without `inline_waits`, turns inline waits on; a size without the flow-control and
/// worker life-cycle fields, or without `inline_waits_any_thread`, leaves them at their
/// defaults).
#[no_mangle]
pub extern "C" fn cfut_thread_pool_new(
    opts: *const cfut_thread_pool_options,
    executor_out: *mut *mut cfut_executor,
) -> cfut_status {
    guard_status(|| {
        non_null(executor_out)?;
        let mut o = ThreadPoolOptions::default();
        let older = [
            (THREAD_POOL_OPTIONS_0_1, THREAD_POOL_OPTIONS_0_1),
            (THREAD_POOL_OPTIONS_INLINE_SIZE, THREAD_POOL_OPTIONS_INLINE),
            (THREAD_POOL_OPTIONS_0_2, THREAD_POOL_OPTIONS_0_2),
        ];
        if let Some(c) = read_options_grown(opts, thread_pool_defaults(), &older)? {
            o.max_workers = c.max_workers as usize;
            o.inline_waits = c.inline_waits;
            o.inline_waits_any_thread = c.inline_waits_any_thread;
            o.max_queued = c.max_queued as usize;
            o.when_full = super::flow::when_full(c.when_full)?;
            o.idle_timeout = (c.idle_timeout_ns != 0).then(|| std::time::Duration::from_nanos(c.idle_timeout_ns));
            if let Some(on_exit) = c.on_worker_exit {
                let arg = SendPtr(c.on_worker_exit_arg as *mut u8);
                // SAFETY: the caller promises `on_worker_exit` may run on worker threads.
                o.on_worker_exit = Some(Arc::new(move || unsafe { on_exit(arg.get() as *mut c_void) }));
            }
            o.thread_name_prefix = c_str(c.thread_name_prefix).map(|s| s.to_string_lossy().into_owned());
            if let Some(init) = c.initializer {
                let arg = SendPtr(c.initializer_arg as *mut u8);
                // SAFETY: the caller promises the initializer may run on worker threads.
                o.initializer = Some(Arc::new(move || unsafe { init(arg.get() as *mut c_void) }));
            }
        }
        write_out(executor_out, box_into_raw(cfut_executor { inner: Arc::new(Executor::Threads(ThreadPool::new(o))) }));
        Ok(())
    })
}

/// Hands the future to C, or drops it for fire-and-forget.
/// Python's `submit`: runs `fn(arg, out)` on a worker thread and returns its future.
///
/// `arg_drop` (may be NULL) runs exactly once after `arg`'s last use: after the task ran,
/// when the future is cancelled, or when a broken or shut-down pool discards the task.
/// Ownership of `arg` passes in every case but one: when this returns an error, `arg_drop`
/// has already run, except for `CFUT_QUEUE_FULL` (a bounded queue with
/// `CFUT_WHEN_FULL_REJECT`), where `arg` stays the caller's and `arg_drop` never runs.
/// With `max_queued` and a full queue, BLOCK waits here for room and CALLER_RUNS runs the
/// task on this thread (see `cfut_thread_pool_options`).
///
/// `future_out` may be NULL (fire-and-forget); otherwise on `CFUT_OK` it carries one
/// reference for the caller. Returns `CFUT_OK`, `CFUT_QUEUE_FULL`, `CFUT_SHUTDOWN` after shutdown,
/// `CFUT_BROKEN` for a broken pool, `CFUT_UNSUPPORTED` on a process pool (a pointer means
/// nothing in another process: use `cfut_executor_submit_bytes`) and in a child forked
/// after the executor's creation (`cfut_last_error_message` says which), or
/// `CFUT_INVALID_ARGUMENT` for a NULL `ex` or `fn`.
#[no_mangle]
pub extern "C" fn cfut_executor_submit(
    ex: *mut cfut_executor,
    func: cfut_task_fn,
    arg: *mut c_void,
    arg_drop: cfut_drop_fn,
    future_out: *mut *mut cfut_future,
) -> cfut_status {
    guard_error(|| {
        let arg = owned(arg, arg_drop);
        let ex = executor_ref(ex)?;
        let func = func.ok_or(Status::InvalidArgument)?;
        // SAFETY: the C caller promised `fn` may be called with `arg` once on a worker thread.
        let job = unsafe { Job::foreign(task_fn(func), arg) };
        let mut back = None;
        match ex.inner.submit_keep(job, crate::flow::Admit::Policy, &mut back) {
            Ok(f) => {
                give_future(f, future_out);
                Ok(())
            }
            Err(e) => {
                if let Some(job) = back {
                    job.give_back(); // QUEUE_FULL: the caller keeps its argument
                }
                Err(e)
            }
        }
    })
}

/// Submits a bytes task: `fn(copy_of_input, len, out)` runs on a worker thread (thread
/// pool) or in a worker process (process pool), so code moves between the two by changing
/// one constructor call. `input` is copied before this returns (it may be NULL when `len`
/// is 0). `future_out` as for `cfut_executor_submit`.
///
/// Returns `CFUT_OK`, `CFUT_SHUTDOWN`, `CFUT_BROKEN`, `CFUT_QUEUE_FULL` (a full bounded
/// queue with `CFUT_WHEN_FULL_REJECT`), `CFUT_NO_MEMORY` when the copy cannot be allocated,
/// or `CFUT_INVALID_ARGUMENT` for a NULL `ex` or `fn`, NULL `input` with a non-zero `len`,
/// or a `len` over `PTRDIFF_MAX`. On a process pool also
/// `CFUT_UNSUPPORTED` when `fn` cannot be located for a worker process (not inside the code
/// of a loaded executable or shared library, or inside the main executable while the
/// workers run another program); `CFUT_INVALID_ARGUMENT` when `len` exceeds 4 GiB (the
/// process-pool message limit); `cfut_last_error_message` then says why. In a child forked after the executor's
/// creation: `CFUT_UNSUPPORTED`.
#[no_mangle]
pub extern "C" fn cfut_executor_submit_bytes(
    ex: *mut cfut_executor,
    func: cfut_bytes_fn,
    input: *const c_void,
    len: usize,
    future_out: *mut *mut cfut_future,
) -> cfut_status {
    guard_error(|| {
        let ex = executor_ref(ex)?;
        let func = bytes_fn(func.ok_or(Status::InvalidArgument)?);
        let f = ex.inner.submit_bytes(func, bytes_in(input, len)?)?;
        give_future(f, future_out);
        Ok(())
    })
}

/// Python's `shutdown(wait, cancel_futures)`. Stops accepting work (later submits return
/// `CFUT_SHUTDOWN`); `cancel_futures` cancels every task not yet started (their futures
/// complete as cancelled, callbacks run on this thread); `wait` blocks until queued work
/// is done and every worker has exited. Idempotent, and safe from any thread.
///
/// Returns `CFUT_OK`; `CFUT_WOULD_DEADLOCK` when `wait` is asked from one of the pool's
/// own workers (the shutdown still happens, without waiting); `CFUT_INVALID_ARGUMENT` for
/// NULL.
#[no_mangle]
pub extern "C" fn cfut_executor_shutdown(ex: *mut cfut_executor, wait: bool, cancel_futures: bool) -> cfut_status {
    guard_error(|| executor_ref(ex)?.inner.shutdown(wait, cancel_futures))
}

/// `cfut_executor_shutdown(ex, true, false)`, then frees the handle. Futures already handed
/// out stay valid. Called from one of the pool's own workers it frees the handle without
/// waiting. NULL is a no-op. Each executor is freed exactly once.
#[no_mangle]
pub extern "C" fn cfut_executor_free(ex: *mut cfut_executor) {
    guard((), || {
        if let Some(ex) = box_take(ex) {
            let _ = ex.inner.shutdown(true, false);
        }
    })
}

/// The maximum number of tasks the executor runs at once (its `max_workers` after
/// defaults), or 0 for NULL.
#[no_mangle]
pub extern "C" fn cfut_executor_max_workers(ex: *const cfut_executor) -> u32 {
    guard(0, || executor_ref(ex).map_or(0, |e| e.inner.max_workers() as u32))
}

pub(crate) fn executor_inner(ex: *const cfut_executor) -> Result<Arc<Executor>, Status> {
    Ok(executor_ref(ex)?.inner.clone())
}

