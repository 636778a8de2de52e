//! Futures: reference counting, state, waiting, results, callbacks, standalone futures.

use std::ffi::{c_char, c_void};
use std::ptr;

use super::{
    c_str, cfut_drop_fn, cfut_future, cfut_status, future_as_raw, future_into_raw, future_ref,
    future_release, guard, guard_error, guard_status, non_null, owned, write_opt, write_out,
};
use crate::future::{Future, TaskError, Value};
use crate::status::Status;
use crate::time::Deadline;

/// How a done future ended, filled by `cfut_future_error` (and by `cfut_map_next`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cfut_error {
    /// `CFUT_OK` if the task succeeded, else `CFUT_TASK_FAILED`, `CFUT_WORKER_DIED` or
    /// `CFUT_BROKEN`; on a process pool also `CFUT_TIMEOUT` when the task ran past the
    /// pool's `task_timeout_ns` and its worker was killed.
    pub status: u32,
    /// The task's code; for `CFUT_WORKER_DIED` the signal number (negative) or exit code;
    /// for `CFUT_BROKEN` the initializer's code (or the dead worker's signal/exit code);
    /// 0 for `CFUT_TIMEOUT`.
    pub code: i32,
    /// Borrowed; valid while the caller holds the future. May be NULL.
    pub message: *const c_char,
    /// The pointer given to `cfut_result_set_error_payload`, or NULL. Borrowed likewise.
    pub payload: *mut c_void,
}

impl cfut_error {
    pub(crate) fn ok() -> cfut_error {
        cfut_error { status: Status::Ok as u32, code: 0, message: ptr::null(), payload: ptr::null_mut() }
    }

    pub(crate) fn from_task_error(e: &TaskError) -> cfut_error {
        cfut_error {
            status: e.status as u32,
            code: e.code,
            message: e.message.as_ref().map_or(ptr::null(), |m| m.as_ptr()),
            payload: e.payload.as_ref().map_or(ptr::null_mut(), |p| p.as_ptr()),
        }
    }
}

/// Called once a future is done, with the future (borrowed: retain it to keep it) and the
/// `arg` given to `cfut_future_add_done_callback`.
pub type cfut_callback_fn = Option<unsafe extern "C" fn(f: *mut cfut_future, arg: *mut c_void)>;

/// Adds a reference to `f` and returns `f`. NULL gives NULL. Any thread.
#[no_mangle]
pub extern "C" fn cfut_future_retain(f: *mut cfut_future) -> *mut cfut_future {
    guard(ptr::null_mut(), || match future_ref(f) {
        Ok(fut) => future_into_raw((*fut).clone()),
        Err(_) => ptr::null_mut(),
    })
}

/// Drops one reference to `f`; the last one frees the future, its value (through its
/// `value_drop`) and any callbacks that never ran (through their `arg_drop`). NULL is a
/// no-op. A running task keeps its own reference, so releasing early never cancels.
#[no_mangle]
pub extern "C" fn cfut_future_release(f: *mut cfut_future) {
    guard((), || future_release(f))
}

/// Python's `cancel()`: cancels a PENDING future and returns true; true also if it was
/// already cancelled; false if it is running or finished (or `f` is NULL). It has no
/// effect on a running task: `cfut_future_request_cancel` asks one to stop. Cancelling
/// wakes every waiter, counts as completion for `cfut_wait` / `cfut_as_completed`, runs
/// the done-callbacks on this thread, and drops the task's `arg` through its `arg_drop`.
#[no_mangle]
pub extern "C" fn cfut_future_cancel(f: *mut cfut_future) -> bool {
    guard(false, || future_ref(f).is_ok_and(|fut| fut.cancel()))
}

/// Cooperative cancellation. A PENDING future is cancelled as by `cfut_future_cancel`
/// (returns true). A RUNNING one gets its request flag set and returns false: its task sees
/// `cfut_result_cancel_requested` become true and may stop and acknowledge with
/// `cfut_result_set_cancelled` (then the future ends CANCELLED), or ignore it and finish
/// normally. On a process pool the request is sent to the worker running the task; with
/// the pool option `cancel_kills` the worker is killed instead and replaced, and the future
/// ends CANCELLED. A done future is left alone (returns `cfut_future_cancelled(f)`). False
/// for NULL. Never blocks; any thread; asking again has no further effect.
///
/// A pending future's cancellation runs its done-callbacks on this thread (as
/// `cfut_future_cancel`); a running one's never do here.
#[no_mangle]
pub extern "C" fn cfut_future_request_cancel(f: *mut cfut_future) -> bool {
    guard(false, || future_ref(f).is_ok_and(|fut| fut.request_cancel()))
}

/// Called once when cancellation of a running task is requested, with the `arg` given to
/// `cfut_future_on_cancel_request`.
pub type cfut_cancel_fn = Option<unsafe extern "C" fn(arg: *mut c_void)>;

/// Runs `fn(arg)` once if cancellation of `f`'s task is requested while it runs (by
/// `cfut_future_request_cancel`, a group's cancellation, a map's timeout), on the thread
/// that requests it, with no library lock held; at once on this thread if it already was
/// requested. Never if the future completes first, or was pending when asked (then it is
/// simply cancelled). For bridges to other cancellation systems (a Go `context`, a C++
/// `std::stop_source`); tasks themselves poll `cfut_result_cancel_requested`.
/// `arg_drop` (may be NULL) runs exactly once: after `fn`, or when the future completes or
/// is freed without a request. Ownership of `arg` passes in every case.
///
/// Returns `CFUT_OK`, or `CFUT_INVALID_ARGUMENT` for a NULL `f` or `fn` (`arg_drop` has run).
#[no_mangle]
pub extern "C" fn cfut_future_on_cancel_request(
    f: *mut cfut_future,
    func: cfut_cancel_fn,
    arg: *mut c_void,
    arg_drop: cfut_drop_fn,
) -> cfut_status {
    guard_status(|| {
        let arg = owned(arg, arg_drop);
        let fut = future_ref(f)?;
        let func = func.ok_or(Status::InvalidArgument)?;
        fut.on_cancel_request(Box::new(move || {
            // SAFETY: the C caller gave a valid function for `arg`, callable on any thread.
            unsafe { func(arg.as_ptr()) };
            drop(arg);
        }));
        Ok(())
    })
}

/// True if the future was cancelled. False for NULL. Never blocks.
#[no_mangle]
pub extern "C" fn cfut_future_cancelled(f: *const cfut_future) -> bool {
    guard(false, || future_ref(f).is_ok_and(|fut| fut.cancelled()))
}

/// True while the task runs (RUNNING). False for NULL. Never blocks.
#[no_mangle]
pub extern "C" fn cfut_future_running(f: *const cfut_future) -> bool {
    guard(false, || future_ref(f).is_ok_and(|fut| fut.running()))
}

/// True once the future has a result, an error, or was cancelled. False for NULL.
#[no_mangle]
pub extern "C" fn cfut_future_done(f: *const cfut_future) -> bool {
    guard(false, || future_ref(f).is_ok_and(|fut| fut.done()))
}

/// Waits for `fut` as every blocking call does (inline run, cycle and manager checks);
/// `Err(Timeout)` if it is not done by the deadline.
fn blocking(fut: &Future, timeout_ns: u64) -> Result<(), crate::error::Error> {
    if crate::deadlock::wait(fut, Deadline::after_ns(timeout_ns))? {
        Ok(())
    } else {
        Err(Status::Timeout.into())
    }
}

/// Blocks until `f` is done or `timeout_ns` passes (0 polls, `CFUT_FOREVER` waits without
/// limit). Returns `CFUT_OK` once done (whatever the outcome), `CFUT_TIMEOUT`,
/// `CFUT_WOULD_DEADLOCK` (below), or `CFUT_INVALID_ARGUMENT` for NULL.
///
/// Deadlock-proof waits (0.2). This and every other blocking call (`cfut_future_result`,
/// `cfut_future_result_bytes`, `cfut_future_error`, `cfut_wait`, `cfut_as_completed_next`,
/// `cfut_map_next`, `cfut_map_wait`), called with a non-zero timeout on a future that is
/// not done:
/// - **runs the awaited task inline** when called from a task running on one of a thread
///   pool's own workers, the future belongs to that pool, it is still pending, and the pool
///   has `inline_waits` (the default): the task runs right there, on the waiting worker (the
///   worker that dequeues it later skips it). Only awaited tasks run inline, never other
///   queued work, so locks and thread-locals held by the waiter are not re-entered by
///   unrelated tasks. The timeout bounds the waiting, not a task already started: a task run
///   inline runs to its end, and the call then reports the finished future.
/// - **runs it on the waiting thread** in the same way when called from any other thread
///   (not one of the pool's workers) and the pool has `inline_waits_any_thread` (off by
///   default): a caller that submits and then waits runs its own task if no worker has
///   taken it yet.
/// - returns **`CFUT_WOULD_DEADLOCK`** at once, instead of blocking, when the wait would close
///   a cycle of running tasks waiting on each other (a task waiting on its own future; task a
///   waiting for b while b waits for a; longer cycles, across any pools). At least the wait
///   that closes the cycle gets it; the others go on waiting for the task that got it (which
///   may then fail or return).
/// - returns `CFUT_WOULD_DEADLOCK` at once from a process pool's manager thread (a
///   done-callback of a process-pool future): while that thread waits, the pool completes
///   nothing, so a wait on another of its futures would never end.
///
/// Waits from threads that run no task (the usual caller) just block, unless the pool has
/// `inline_waits_any_thread`.
#[no_mangle]
pub extern "C" fn cfut_future_wait(f: *mut cfut_future, timeout_ns: u64) -> cfut_status {
    guard_error(|| {
        let fut = future_ref(f)?;
        blocking(&fut, timeout_ns)
    })
}

/// Python's `result(timeout)`. Waits up to `timeout_ns`, then returns:
/// - `CFUT_OK`: `*value_out` (if not NULL) is the value the task set with
///   `cfut_result_set_value` or the start of the bytes set with `cfut_result_set_bytes`
///   (NULL if it set nothing). Borrowed: valid while the caller holds the future.
/// - `CFUT_TASK_FAILED`, `CFUT_WORKER_DIED`, `CFUT_BROKEN`: the task failed; details from
///   `cfut_future_error`.
/// - `CFUT_CANCELLED`, `CFUT_TIMEOUT`, or `CFUT_INVALID_ARGUMENT` for a NULL `f`.
/// - `CFUT_WOULD_DEADLOCK`: the wait would close a cycle of waiting tasks, or was made in a
///   process-pool done-callback (see `cfut_future_wait`; a pending future of the caller's
///   own pool runs inline instead).
///
/// `CFUT_TIMEOUT` has two meanings: `timeout_ns` passed before the future was done
/// (`cfut_future_done` is false), or, on a process pool with `task_timeout_ns`, the task
/// itself timed out and its worker was killed (the future is done; `cfut_future_error`
/// gives `status` `CFUT_TIMEOUT` and a message).
#[no_mangle]
pub extern "C" fn cfut_future_result(f: *mut cfut_future, timeout_ns: u64, value_out: *mut *mut c_void) -> cfut_status {
    guard_error(|| {
        let fut = future_ref(f)?;
        blocking(&fut, timeout_ns)?;
        let v = fut.result(Deadline::Poll)?;
        write_opt(value_out, v.as_ptr_len().0 as *mut c_void);
        Ok(())
    })
}

/// `cfut_future_result` returning the (pointer, length) pair: the bytes' copy and length
/// for `cfut_result_set_bytes`, the pointer and 0 for `cfut_result_set_value`, NULL and 0
/// if the task set nothing. Either out-pointer may be NULL. Same statuses.
#[no_mangle]
pub extern "C" fn cfut_future_result_bytes(
    f: *mut cfut_future,
    timeout_ns: u64,
    data_out: *mut *const c_void,
    len_out: *mut usize,
) -> cfut_status {
    guard_error(|| {
        let fut = future_ref(f)?;
        blocking(&fut, timeout_ns)?;
        let (p, n) = fut.result(Deadline::Poll)?.as_ptr_len();
        write_opt(data_out, p);
        write_opt(len_out, n);
        Ok(())
    })
}

/// Python's `exception(timeout)`. Waits up to `timeout_ns`; once the future is done with a
/// result or an error returns `CFUT_OK` and fills `*error_out` (`status` is `CFUT_OK` for
/// success). Returns `CFUT_CANCELLED` for a cancelled future, `CFUT_TIMEOUT`,
/// `CFUT_WOULD_DEADLOCK` (see `cfut_future_wait`), or `CFUT_INVALID_ARGUMENT` for NULL `f`
/// or `error_out`. The message and payload are
/// borrowed: valid while the caller holds the future.
#[no_mangle]
pub extern "C" fn cfut_future_error(f: *mut cfut_future, timeout_ns: u64, error_out: *mut cfut_error) -> cfut_status {
    guard_error(|| {
        let fut = future_ref(f)?;
        non_null(error_out)?;
        blocking(&fut, timeout_ns)?;
        let e = match fut.error(Deadline::Poll)? {
            None => cfut_error::ok(),
            Some(e) => cfut_error::from_task_error(e),
        };
        write_out(error_out, e);
        Ok(())
    })
}

/// Python's `add_done_callback`. Calls `cb(f, arg)` exactly once when `f` is done (result,
/// error or cancellation), after the outcome is visible, with no library lock held:
/// on the thread that completes or cancels the future, or at once on this thread if it is
/// already done. Callbacks run in the order added. `arg_drop` (may be NULL) runs exactly
/// once after the call, or when the future is freed without ever completing.
///
/// Ownership of `arg` passes in every case. Returns `CFUT_OK`, or `CFUT_INVALID_ARGUMENT`
/// for a NULL `f` or `cb` (then `arg_drop` has already run).
#[no_mangle]
pub extern "C" fn cfut_future_add_done_callback(
    f: *mut cfut_future,
    cb: cfut_callback_fn,
    arg: *mut c_void,
    arg_drop: cfut_drop_fn,
) -> cfut_status {
    guard_status(|| {
        let arg = owned(arg, arg_drop);
        let fut = future_ref(f)?;
        let cb = cb.ok_or(Status::InvalidArgument)?;
        fut.add_done_callback(Box::new(move |done: &Future| {
            // SAFETY: the C caller gave a valid callback; `done` is alive during the call.
            unsafe { cb(future_as_raw(done), arg.as_ptr()) };
            drop(arg);
        }));
        Ok(())
    })
}

/// Creates a standalone PENDING future (Python's `Future()`), for executor authors and
/// tests; complete it with `cfut_future_set_result` / `cfut_future_set_error`.
/// `*future_out` carries one reference. Returns `CFUT_OK` or `CFUT_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn cfut_future_new(future_out: *mut *mut cfut_future) -> cfut_status {
    guard_status(|| {
        non_null(future_out)?;
        write_out(future_out, future_into_raw(Future::new()));
        Ok(())
    })
}

/// Python's `set_running_or_notify_cancel`: PENDING → RUNNING and true; false if the
/// future was cancelled (the caller must not run the work), is not pending, or is NULL.
#[no_mangle]
pub extern "C" fn cfut_future_set_running_or_notify_cancel(f: *mut cfut_future) -> bool {
    guard(false, || future_ref(f).is_ok_and(|fut| fut.set_running_or_notify_cancel()))
}

/// Completes a pending or running future with `value` (see `cfut_result_set_value`).
/// Ownership of `value` passes in every case. Returns `CFUT_OK`; `CFUT_INVALID_STATE` if
/// the future is already done (the first outcome is kept and `value_drop` runs now);
/// `CFUT_INVALID_ARGUMENT` for NULL `f`.
#[no_mangle]
pub extern "C" fn cfut_future_set_result(f: *mut cfut_future, value: *mut c_void, value_drop: cfut_drop_fn) -> cfut_status {
    guard_status(|| {
        let v = owned(value, value_drop);
        future_ref(f)?.complete(Ok(Value::Foreign(v)))
    })
}

/// Fails a pending or running future with `code` and a copy of `message` (may be NULL);
/// its status becomes `CFUT_TASK_FAILED`. Returns `CFUT_OK`; `CFUT_INVALID_STATE` if the
/// future is already done (the first outcome is kept); `CFUT_INVALID_ARGUMENT` for NULL.
#[no_mangle]
pub extern "C" fn cfut_future_set_error(f: *mut cfut_future, code: i32, message: *const c_char) -> cfut_status {
    guard_status(|| {
        let fut = future_ref(f)?;
        let message = c_str(message).map(|m| m.to_owned());
        fut.fail(TaskError { status: Status::TaskFailed, code, message, payload: None })
    })
}
