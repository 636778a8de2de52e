//! Flow control: the `when_full` values and the submits that may give up for lack of room.

use std::ffi::c_void;

use super::executor::{cfut_bytes_fn, cfut_executor, cfut_task_fn, executor_ref};
use super::{bytes_fn, bytes_in, cfut_drop_fn, cfut_future, cfut_status, give_future, guard_error, owned, task_fn};
use crate::flow::{Admit, WhenFull};
use crate::future::Job;
use crate::status::Status;
use crate::time::Deadline;

/// `when_full`: a submit to a full queue waits for room (the default).
pub const CFUT_WHEN_FULL_BLOCK: u32 = 0;
/// `when_full`: a submit to a full queue returns `CFUT_QUEUE_FULL`; a pointer task's `arg`
/// stays the caller's (its `arg_drop` does not run).
pub const CFUT_WHEN_FULL_REJECT: u32 = 1;
/// `when_full` (thread pools only): a submit to a full queue runs the task on the
/// submitting thread before it returns (the future is then done); a process pool refuses
/// it with `CFUT_INVALID_ARGUMENT` at creation.
pub const CFUT_WHEN_FULL_CALLER_RUNS: u32 = 2;

/// The core's policy for a `when_full` value.
pub(crate) fn when_full(v: u32) -> Result<WhenFull, Status> {
    match v {
        CFUT_WHEN_FULL_BLOCK => Ok(WhenFull::Block),
        CFUT_WHEN_FULL_REJECT => Ok(WhenFull::Reject),
        CFUT_WHEN_FULL_CALLER_RUNS => Ok(WhenFull::CallerRuns),
        _ => Err(Status::InvalidArgument),
    }
}

/// `cfut_executor_submit` that waits at most `timeout_ns` for room in a bounded queue
/// (`max_queued`), whatever `when_full` says (0 = do not wait; `CFUT_FOREVER` = no limit),
/// then gives up with `CFUT_QUEUE_FULL`. An unbounded queue always has room.
///
/// **On `CFUT_QUEUE_FULL`, and only there, `arg` stays the caller's**: `arg_drop` has not
/// run and the task never will, so a server can answer "busy" with the request it still
/// holds. On every other status ownership of `arg` passed as for `cfut_executor_submit`
/// (on an error, `arg_drop` has already run).
///
/// Called from one of the pool's own workers it never waits (a worker waiting for room
/// that only workers make could wait forever): a full queue gives `CFUT_QUEUE_FULL` at once.
///
/// Returns `CFUT_OK` (`future_out` as for `cfut_executor_submit`: may be NULL),
/// `CFUT_QUEUE_FULL`, `CFUT_SHUTDOWN`, `CFUT_BROKEN`, `CFUT_UNSUPPORTED` (a process pool,
/// or a child forked after the executor's creation), or `CFUT_INVALID_ARGUMENT` for a
/// NULL `ex` or `fn`.
#[no_mangle]
pub extern "C" fn cfut_executor_try_submit(
    ex: *mut cfut_executor,
    func: cfut_task_fn,
    arg: *mut c_void,
    arg_drop: cfut_drop_fn,
    timeout_ns: u64,
    future_out: *mut *mut cfut_future,
) -> cfut_status {
    guard_error(|| {
        let arg = owned(arg, arg_drop);
        let ex = executor_ref(ex)?;
        let func = func.ok_or(Status::InvalidArgument)?;
        // SAFETY: the C caller promised `fn` may be called with `arg` once on a worker thread.
        let job = unsafe { Job::foreign(task_fn(func), arg) };
        match ex.inner.submit_with(job, Admit::Wait(Deadline::after_ns(timeout_ns))) {
            Ok(f) => {
                give_future(f, future_out);
                Ok(())
            }
            Err(refused) => {
                if let Some(job) = refused.job {
                    job.give_back();
                }
                Err(refused.error)
            }
        }
    })
}

/// `cfut_executor_submit_bytes` that waits at most `timeout_ns` for room in a bounded
/// queue, whatever `when_full` says, then returns `CFUT_QUEUE_FULL` (nothing was queued;
/// `input` is the caller's as always). From one of the pool's own workers (thread pools)
/// or its manager thread (process pools: a done-callback) it never waits.
///
/// Returns the statuses of `cfut_executor_submit_bytes`, and `CFUT_QUEUE_FULL`.
#[no_mangle]
pub extern "C" fn cfut_executor_try_submit_bytes(
    ex: *mut cfut_executor,
    func: cfut_bytes_fn,
    input: *const c_void,
    len: usize,
    timeout_ns: u64,
    future_out: *mut *mut cfut_future,
) -> cfut_status {
    guard_error(|| {
        let ex = executor_ref(ex)?;
        let func = bytes_fn(func.ok_or(Status::InvalidArgument)?);
        let input = bytes_in(input, len)?;
        let f = ex.inner.submit_bytes_with(func, input, Admit::Wait(Deadline::after_ns(timeout_ns))).map_err(|r| r.error)?;
        give_future(f, future_out);
        Ok(())
    })
}
