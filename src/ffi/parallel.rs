//! Parallel loops over index ranges.

use std::ffi::c_void;

use super::executor::{cfut_executor, executor_inner};
use super::future::cfut_error;
use super::{cfut_status, guard_error, write_opt, SendPtr};
use crate::error::Error;
use crate::status::Status;

/// A loop body: runs the indices `[begin, end)` of a `cfut_parallel_for` loop (a non-empty
/// subrange) with the `ctx` given to it. Returns 0 for success; a non-zero code fails the
/// loop. Runs on the pool's workers and on the calling thread, several ranges at once.
pub type cfut_range_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, begin: usize, end: usize) -> i32>;

/// A parallel loop (OpenMP's `parallel for`, TBB's `parallel_for`): calls
/// `fn(ctx, b, e)` on disjoint subranges that together cover `[begin, end)` exactly once,
/// on the pool's workers **and on the calling thread**, which works instead of waiting,
/// and returns when every range ran. `ctx` is passed as is and must stay valid until this
/// returns (no range runs after that).
///
/// - `grain`: the smallest subrange (only the last one handed out may be shorter); 0 lets
///   the library choose: ranges start large and shrink towards the end of the loop (down to
///   one index), so uneven work balances across threads. Ranges are contiguous, so each
///   call can walk its indices in a tight loop.
/// - At most min(CPUs, the pool's `max_workers` + 1) threads take part (min(CPUs,
///   `max_workers`) when the caller is one of the pool's workers): the caller plus helper
///   tasks queued to the pool. Helpers count as tasks of the pool. Workers that are busy
///   simply do not join; the caller never waits for a helper to start, only for ranges
///   already running.
/// - Nested calls (from inside `fn`, on the same pool or another) work and cannot deadlock:
///   the nested caller runs its own loop to the end if no worker is free.
/// - The first non-zero code a range returns fails the loop: no range starts after it (ranges
///   already running finish), and the call returns `CFUT_TASK_FAILED` once they did, with
///   `*error_out` = {`CFUT_TASK_FAILED`, that code, NULL message, NULL payload}. When several
///   ranges fail at once, which one counts as first is not specified.
/// - `error_out` may be NULL; it is written on `CFUT_OK` (status `CFUT_OK`, code 0) and on
///   `CFUT_TASK_FAILED`, untouched otherwise.
///
/// Returns `CFUT_OK`; `CFUT_TASK_FAILED` (above); `CFUT_INVALID_ARGUMENT` for a NULL `ex`
/// or `fn`, or `end < begin`; `CFUT_UNSUPPORTED` on a process or MPI pool (the function runs on this
/// process's memory) and, in a child forked after the pool's creation, for a non-empty range;
/// `CFUT_SHUTDOWN` / `CFUT_BROKEN` for a non-empty range on a pool that was shut down or
/// broke. An empty range (`begin == end`) returns `CFUT_OK` at once without calling `fn`.
/// Indices near `SIZE_MAX` are fine: nothing is computed past `end`.
/// Any thread, including the pool's own workers.
#[no_mangle]
pub extern "C" fn cfut_parallel_for(
    ex: *mut cfut_executor,
    begin: usize,
    end: usize,
    grain: usize,
    func: cfut_range_fn,
    ctx: *mut c_void,
    error_out: *mut cfut_error,
) -> cfut_status {
    guard_error(|| {
        let exec = executor_inner(ex)?;
        let f = func.ok_or(Status::InvalidArgument)?;
        let ctx = SendPtr(ctx.cast());
        let body = move |b: usize, e: usize| {
            // SAFETY: the caller promised `fn` may run with `ctx` on any thread until the call
            // returns; the core calls it only with subranges of [begin, end) before returning.
            unsafe { f(ctx.get().cast(), b, e) }
        };
        match exec.parallel_for(begin, end, grain, &body)? {
            Ok(()) => {
                write_opt(error_out, cfut_error::ok());
                Ok(())
            }
            Err(code) => {
                let mut e = cfut_error::ok();
                e.status = Status::TaskFailed as u32;
                e.code = code;
                write_opt(error_out, e);
                Err(Error::from(Status::TaskFailed))
            }
        }
    })
}
