//! The result sink a running task writes into.

use std::ffi::{c_char, c_void};

use super::{c_str, cfut_drop_fn, cfut_result, cfut_status, guard, guard_error, guard_status, owned, sink_mut, sink_ref};
use crate::status::Status;

/// Sets the task's value to a pointer. `value_drop`, when not NULL, is called exactly once
/// with `value` when the last reference to the future goes (on whichever thread that is);
/// without it the pointer stays the caller's. A second call replaces the value and drops
/// the first one now. Ownership passes in every case: with a NULL `out`, or in a process
/// pool (where a pointer means nothing in the parent; the task then fails with
/// `CFUT_UNSUPPORTED` as its code), `value_drop` runs at once.
///
/// Only valid during the task call that received `out`, on that thread.
#[no_mangle]
pub extern "C" fn cfut_result_set_value(out: *mut cfut_result, value: *mut c_void, value_drop: cfut_drop_fn) {
    guard((), || {
        let v = owned(value, value_drop);
        if let Ok(sink) = sink_mut(out) {
            if sink.set_value(v) != Status::Ok {
                sink.set_error(Status::Unsupported as i32, Some(c"cfut_result_set_value: only bytes cross a process boundary"));
            }
        }
    })
}

/// Sets the task's value to a copy of `len` bytes at `data` (`data` may be NULL when `len`
/// is 0). `cfut_future_result_bytes` then returns the copy and its length; the copy lives
/// as long as the future. Works on every executor kind.
///
/// Returns `CFUT_OK`, or `CFUT_INVALID_ARGUMENT` for a NULL `out`, NULL `data` with a
/// non-zero `len`, or a `len` over `PTRDIFF_MAX`; `CFUT_NO_MEMORY` when the copy cannot be
/// allocated (the value is unchanged). Only valid during the task call that received `out`.
#[no_mangle]
pub extern "C" fn cfut_result_set_bytes(out: *mut cfut_result, data: *const c_void, len: usize) -> cfut_status {
    guard_error(|| {
        let sink = sink_mut(out)?;
        sink.try_set_bytes(super::bytes_in(data, len)?)
    })
}

/// Marks the task failed with `code` and a copy of `message` (may be NULL). If the task
/// then returns non-zero, its return value wins for the code; if it returns 0 the task
/// still fails, with this code. A NULL `out` is ignored. Only valid during the task call.
#[no_mangle]
pub extern "C" fn cfut_result_set_error(out: *mut cfut_result, code: i32, message: *const c_char) {
    guard((), || {
        if let Ok(sink) = sink_mut(out) {
            sink.set_error(code, c_str(message));
        }
    })
}

/// Attaches an in-process error object (a C++ `std::exception_ptr`, a Go handle) to the
/// failure and marks the task failed. `cfut_future_error` returns it as `payload`; `drop`
/// runs exactly once when the future goes. In a process pool, or with a NULL `out`, `drop`
/// runs at once and the task fails with `CFUT_UNSUPPORTED` as its code.
#[no_mangle]
pub extern "C" fn cfut_result_set_error_payload(out: *mut cfut_result, payload: *mut c_void, drop: cfut_drop_fn) {
    guard((), || {
        let p = owned(payload, drop);
        if let Ok(sink) = sink_mut(out) {
            if sink.set_error_payload(p) != Status::Ok {
                sink.set_error(Status::Unsupported as i32, Some(c"cfut_result_set_error_payload: only bytes cross a process boundary"));
            }
        }
    })
}

/// Cooperative cancellation, inside a task: true once `cfut_future_request_cancel` (or a
/// group's cancellation, or a map's timeout) asked the task that received `out` to stop.
/// The task decides what stopping means: return early, and call
/// `cfut_result_set_cancelled` so its future ends CANCELLED rather than with whatever it
/// returns. False for a NULL `out`, and for a task that nobody asked to stop.
///
/// Cheap enough to poll in a loop: on a thread pool it reads a flag; in a process-pool
/// worker it reads a flag set from the pool's request frame, looking at the worker's
/// channel at most every 100 µs, so a request is seen within about 0.1 ms of reaching the
/// worker (the manager sends it at once). Only valid during the task call that received
/// `out`, on that thread.
#[no_mangle]
pub extern "C" fn cfut_result_cancel_requested(out: *const cfut_result) -> bool {
    guard(false, || sink_ref(out).is_ok_and(|s| s.cancel_requested()))
}

/// The task acknowledges cancellation: when it returns, its future ends CANCELLED whatever
/// it returns or set (a value or error it set is dropped, through its drop function):
/// `cfut_future_cancelled` is true, waits and `cfut_wait` / `cfut_as_completed` report it
/// done, done-callbacks run, `cfut_future_result` returns `CFUT_CANCELLED`. Allowed
/// whether or not cancellation was requested. Works on every executor kind (in a process
/// pool the worker reports it to the parent).
///
/// Returns `CFUT_OK`, or `CFUT_INVALID_ARGUMENT` for a NULL `out`. Only valid during the
/// task call that received `out`, on that thread.
#[no_mangle]
pub extern "C" fn cfut_result_set_cancelled(out: *mut cfut_result) -> cfut_status {
    guard_status(|| {
        sink_mut(out)?.set_cancelled();
        Ok(())
    })
}
