//! Task groups: tasks submitted, waited for and cancelled together.

use std::ffi::c_void;
use std::mem::ManuallyDrop;
use std::sync::Arc;

use super::executor::{cfut_bytes_fn, cfut_executor, cfut_task_fn, executor_inner};
use super::future::cfut_error;
use super::{
    arc_into_raw, arc_ref, arc_take, bytes_fn, bytes_in, cfut_drop_fn, cfut_future, cfut_status, give_future, guard,
    guard_error, non_null, owned, task_fn, write_opt, write_out,
};
use crate::future::Job;
use crate::group::{Group, CANCEL_ON_FAILURE};
use crate::status::Status;
use crate::time::Deadline;

/// A task group (structured concurrency): tasks submitted to one executor through the
/// group, waited for together, cancelled together. Single owner (free it with
/// `cfut_group_free`); `cfut_group_submit`, `_submit_bytes` and `_cancel` may be called from
/// any thread, including the group's own tasks, while the owner waits.
pub struct cfut_group {
    _private: [u8; 0],
}

/// `cfut_group_new` flag: the first failure of a task (in completion order) cancels the
/// group: pending tasks are cancelled, running ones get a cancellation request
/// (`cfut_result_cancel_requested`), later submits return `CFUT_CANCELLED`.
pub const CFUT_GROUP_CANCEL_ON_FAILURE: u32 = 1;
const _: () = assert!(CFUT_GROUP_CANCEL_ON_FAILURE == CANCEL_ON_FAILURE);

fn group_ref(g: *const cfut_group) -> Result<ManuallyDrop<Arc<Group>>, Status> {
    arc_ref::<Group, cfut_group>(g)
}

/// Creates a group submitting to `ex`. `flags`: 0 or `CFUT_GROUP_CANCEL_ON_FAILURE`.
/// The group keeps the executor's state alive, but not its handle: free the group before
/// the executor (after `cfut_executor_free` its submits return `CFUT_SHUTDOWN`).
///
/// On `CFUT_OK`, `*group_out` is a new group owned by the caller. Returns
/// `CFUT_INVALID_ARGUMENT` for a NULL `ex` or `group_out`, or unknown bits in `flags`.
#[no_mangle]
pub extern "C" fn cfut_group_new(ex: *mut cfut_executor, flags: u32, group_out: *mut *mut cfut_group) -> cfut_status {
    guard_error(|| {
        non_null(group_out)?;
        let g = Group::new(executor_inner(ex)?, flags)?;
        write_out(group_out, arc_into_raw::<Group, cfut_group>(g));
        Ok(())
    })
}

/// `cfut_executor_submit` through the group: the task counts in `cfut_group_wait`, is
/// cancelled with the group, and its failure is the group's if it comes first.
///
/// `arg` and `arg_drop` as for `cfut_executor_submit` (ownership passes in every case: on
/// an error `arg_drop` has already run). `future_out` may be NULL (the group still tracks
/// the task); otherwise it carries one reference for the caller.
///
/// On a bounded executor (`max_queued`) a group's submit waits for room whatever
/// `when_full` says (a group's tasks are never refused halfway, as a map's chunks); from one
/// of the pool's own workers it runs the task inline instead of waiting.
///
/// Returns `CFUT_OK`; `CFUT_CANCELLED` once the group was cancelled (by
/// `cfut_group_cancel`, a failure with `CFUT_GROUP_CANCEL_ON_FAILURE`, or `cfut_group_free`
/// from a task); the executor's statuses (`CFUT_SHUTDOWN`, `CFUT_BROKEN`, `CFUT_UNSUPPORTED`
/// on a process pool); `CFUT_INVALID_ARGUMENT` for a NULL `g` or `fn`.
#[no_mangle]
pub extern "C" fn cfut_group_submit(
    g: *mut cfut_group,
    func: cfut_task_fn,
    arg: *mut c_void,
    arg_drop: cfut_drop_fn,
    future_out: *mut *mut cfut_future,
) -> cfut_status {
    guard_error(|| {
        let arg = owned(arg, arg_drop);
        let g = group_ref(g)?;
        let func = func.ok_or(Status::InvalidArgument)?;
        // SAFETY: the caller promised `fn` may run once with `arg` on a worker.
        let job = unsafe { Job::foreign(task_fn(func), arg) };
        give_future(g.submit(job)?, future_out);
        Ok(())
    })
}

/// `cfut_executor_submit_bytes` through the group (thread and process pools). `input` is
/// copied before this returns (NULL allowed when `len` is 0); `future_out` may be NULL.
///
/// Returns `CFUT_OK`; `CFUT_CANCELLED` once the group was cancelled; the executor's
/// statuses (see `cfut_executor_submit_bytes`); `CFUT_INVALID_ARGUMENT` for a NULL `g` or
/// `fn`, or NULL `input` with a non-zero `len`.
#[no_mangle]
pub extern "C" fn cfut_group_submit_bytes(
    g: *mut cfut_group,
    func: cfut_bytes_fn,
    input: *const c_void,
    len: usize,
    future_out: *mut *mut cfut_future,
) -> cfut_status {
    guard_error(|| {
        let g = group_ref(g)?;
        let func = bytes_fn(func.ok_or(Status::InvalidArgument)?);
        give_future(g.submit_bytes(func, bytes_in(input, len)?)?, future_out);
        Ok(())
    })
}

/// Waits until every task submitted so far is done, including tasks those tasks submit
/// into the group meanwhile, or `timeout_ns` passes (0 polls, `CFUT_FOREVER` waits without
/// limit). Returns:
/// - `CFUT_OK`: every task succeeded.
/// - the status of the first failure in completion order (`CFUT_TASK_FAILED`,
///   `CFUT_WORKER_DIED`, `CFUT_BROKEN`; on a process pool also `CFUT_TIMEOUT` for a task that
///   ran past `task_timeout_ns`, told apart by `first_error_out->status`), with its error
///   copied to `*first_error_out` (may be NULL); the message and payload stay valid until
///   the group is freed.
/// - `CFUT_CANCELLED`: nothing failed, but the group was cancelled or a task ended
///   cancelled.
/// - `CFUT_TIMEOUT`: `timeout_ns` passed first (`*first_error_out` untouched); a later
///   wait may succeed.
/// - `CFUT_WOULD_DEADLOCK` at once, from a task of the group (the group cannot end before
///   that task does) or where a blocking wait could never end (see `cfut_future_wait`).
/// - `CFUT_INVALID_ARGUMENT` for a NULL `g`.
///
/// It blocks on one task at a time with the same wait as `cfut_future_wait`. Call it from
/// one thread at a time (the owner's).
#[no_mangle]
pub extern "C" fn cfut_group_wait(g: *mut cfut_group, timeout_ns: u64, first_error_out: *mut cfut_error) -> cfut_status {
    guard_error(|| {
        // A clone: a task of the group may free it while the owner waits.
        let g: Arc<Group> = (*group_ref(g)?).clone();
        let (r, failed) = g.wait_report(Deadline::after_ns(timeout_ns));
        // The first failure's future stays in the group, so the borrowed message does too.
        if let Some(Err(e)) = failed.as_ref().and_then(|f| f.outcome()) {
            write_opt(first_error_out, cfut_error::from_task_error(e));
        }
        r
    })
}

/// Cancels the group: tasks not started are cancelled (their `arg_drop` runs), running ones
/// get a cancellation request, later submits return `CFUT_CANCELLED`, and
/// `cfut_group_wait` returns `CFUT_CANCELLED` unless a task failed. Never blocks; any thread
/// (including the group's tasks). NULL is a no-op.
#[no_mangle]
pub extern "C" fn cfut_group_cancel(g: *mut cfut_group) {
    guard((), || {
        if let Ok(g) = group_ref(g) {
            g.cancel();
        }
    })
}

/// Frees the group: cancels what has not started, requests cancellation of what runs,
/// waits for the running tasks to end (they may ignore the request: the wait lasts as long
/// as they do), then frees it; no task outlives its group. Futures handed out stay valid.
/// From a task of the group (or a process-pool done-callback, where waiting could never
/// end) it returns at once, and the group is freed when its last task ends; the group's
/// own running tasks may still use the handle until then (their submits return
/// `CFUT_CANCELLED`). NULL is a no-op. Each group is freed exactly once.
#[no_mangle]
pub extern "C" fn cfut_group_free(g: *mut cfut_group) {
    guard((), || {
        if let Some(g) = arc_take::<Group, cfut_group>(g) {
            g.release();
        }
    })
}
