//! Executor counters and the hook for failures nobody read.

use std::ffi::c_void;
use std::sync::Arc;

use super::executor::{cfut_executor, executor_ref};
use super::future::cfut_error;
use super::{cfut_status, guard, guard_status, non_null, write_out, SendPtr};
use crate::status::Status;

/// An executor's counters, filled by `cfut_executor_stats_get`. Counters "since creation"
/// only grow. All are exact once the pool is quiet (nothing queued or running, no submit in
/// flight); while it works they are a consistent-enough snapshot for monitoring, read
/// without stopping the pool. Keeping them costs the submit and complete paths no shared
/// atomic read-modify-write (each worker counts for itself; the read sums).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cfut_executor_stats {
    /// Set by the caller: `sizeof(cfut_executor_stats)`. Lets the struct grow.
    pub struct_size: u32,
    /// Worker threads (thread pool) or processes (process pool) alive now, and of those the
    /// ones waiting for work.
    pub workers: u32,
    pub idle_workers: u32,
    /// Tasks accepted and not started now (map chunks count; a cancelled task leaves the
    /// count when a worker skips it), and tasks running now.
    pub queued: u64,
    pub running: u64,
    /// Since creation: tasks accepted (rejected submits are not; `CALLER_RUNS` and inline
    /// runs are), tasks that ended with a value, with an error (any failure status), and
    /// cancelled (before they started, or acknowledged while running).
    pub submitted: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Since creation: submits that returned `CFUT_QUEUE_FULL`.
    pub rejected: u64,
    /// The most tasks ever queued at once: exact with `max_queued` (and never above it);
    /// without a bound, a thread pool samples the queue's length as tasks end with work
    /// still queued (every 16th such task per worker, and the next one while samples rise)
    /// and as this call reads it: a lower bound, never larger than the truth.
    pub peak_queued: u64,
    /// Workers started in place of ones that exited: thread pools, after idle retirement
    /// (`idle_timeout_ns`); process pools, replacements of dead, timed-out or retired
    /// (`max_tasks_per_child`) workers.
    pub worker_restarts: u64,
}

/// Fills `*stats_out` with the executor's counters (thread and process pools). The caller
/// sets `stats_out->struct_size` to `sizeof(cfut_executor_stats)` first. Never blocks on
/// the pool's work; any thread.
///
/// Returns `CFUT_OK`, or `CFUT_INVALID_ARGUMENT` for a NULL `ex` or `stats_out`, or a
/// `struct_size` smaller than this library's `cfut_executor_stats`.
#[no_mangle]
pub extern "C" fn cfut_executor_stats_get(ex: *const cfut_executor, stats_out: *mut cfut_executor_stats) -> cfut_status {
    guard_status(|| {
        let ex = executor_ref(ex)?;
        non_null(stats_out)?;
        // SAFETY: non-NULL; the struct starts with the caller's `uint32_t struct_size`.
        let size = unsafe { *(stats_out as *const u32) };
        if (size as usize) < std::mem::size_of::<cfut_executor_stats>() {
            return Err(Status::InvalidArgument);
        }
        let s = ex.inner.stats();
        write_out(
            stats_out,
            cfut_executor_stats {
                struct_size: size,
                workers: s.workers,
                idle_workers: s.idle_workers,
                queued: s.queued,
                running: s.running,
                submitted: s.submitted,
                completed: s.completed,
                failed: s.failed,
                cancelled: s.cancelled,
                rejected: s.rejected,
                peak_queued: s.peak_queued,
                worker_restarts: s.worker_restarts,
            },
        );
        Ok(())
    })
}

/// Told about a failure nobody read: `error` (borrowed for the call: copy what you keep)
/// is the failed future's error, as `cfut_future_error` would give it; `arg` is the one
/// given to `cfut_set_unobserved_error_hook`.
pub type cfut_unobserved_error_fn = Option<unsafe extern "C" fn(arg: *mut c_void, error: *const cfut_error)>;

/// Installs a process-wide hook for failures nobody read (CPython's lost exceptions of
/// fire-and-forget tasks); `fn` NULL removes it. Replaces any earlier hook.
///
/// The hook runs once for every failed future (`CFUT_TASK_FAILED`, `CFUT_WORKER_DIED`,
/// `CFUT_BROKEN`, `CFUT_TIMEOUT`) whose outcome nobody read (by `cfut_future_result`,
/// `cfut_future_result_bytes`, `cfut_future_error`, or a map (`cfut_map_next` /
/// `cfut_map_wait`) or group (`cfut_group_wait`) that reported it) when its last reference
/// goes. A fire-and-forget submit (`future_out` NULL) that fails reports at once. Cancelled
/// futures never report, nor do successful ones.
///
/// Which thread runs it: the one that drops the future's last reference. For a
/// fire-and-forget task that is the worker thread that ran it (thread pools) or the pool's
/// manager thread (process pools), right after the failure (or the submitting thread, inside
/// the submit, when the task ended before the submit let go of its reference); otherwise the thread calling
/// `cfut_future_release` (or freeing the map, group or completion queue that held it). It
/// runs with no library lock held, but in the middle of that thread's work: it must not
/// block for long, must not wait on futures of the same pool (no `cfut_future_result`,
/// `cfut_executor_shutdown(wait)`, `cfut_executor_free` there), and must not call back into
/// the future being freed (its handle is gone). Logging, counting, or handing the copied
/// error to another thread are fine. It may run on several threads at once.
///
/// `arg` is not owned: it must stay valid while the hook is installed and for calls already
/// running when it is replaced. Any thread.
#[no_mangle]
pub extern "C" fn cfut_set_unobserved_error_hook(func: cfut_unobserved_error_fn, arg: *mut c_void) {
    guard((), || {
        let hook = func.map(|f| {
            let arg = SendPtr(arg as *mut u8);
            let h: crate::future::unobserved::Hook = Arc::new(move |e: &crate::future::TaskError| {
                let err = cfut_error::from_task_error(e);
                // SAFETY: the caller installed `f` for any thread, with `arg` valid while
                // it is installed; `err` lives for the call.
                unsafe { f(arg.get() as *mut c_void, &err) };
            });
            h
        });
        crate::future::unobserved::set_hook(hook);
    })
}
