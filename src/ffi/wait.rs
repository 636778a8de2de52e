//! Waiting on many futures.

use super::{
    box_into_raw, box_mut, box_take, cfut_future, cfut_status, future_array, guard, guard_status, 
    non_null, write_opt, write_out, write_slice,
};
use crate::future::Future;
use crate::status::Status;
use crate::time::Deadline;
use crate::wait::{self, AsCompleted, ReturnWhen};

/// `cfut_wait` returns when any future is done (cancelled ones included).
pub const CFUT_FIRST_COMPLETED: u32 = 0;
/// `cfut_wait` returns when any future fails, or when all are done if none fails.
/// Failed means done with an error of any kind (`CFUT_TASK_FAILED`, `CFUT_BROKEN`,
/// `CFUT_WORKER_DIED`, a process task's `CFUT_TIMEOUT`); a cancelled future is completed,
/// not failed.
pub const CFUT_FIRST_EXCEPTION: u32 = 1;
/// `cfut_wait` returns when every future is done.
pub const CFUT_ALL_COMPLETED: u32 = 2;

/// Python's `wait(fs, timeout, return_when)` over `count` futures (duplicates allowed;
/// `futures` may be NULL when `count` is 0). Blocks until the `return_when` condition holds
/// or `timeout_ns` passes. A future cancelled by anyone counts as completed (CPython's
/// gh-92001 hang is not copied).
///
/// Returns `CFUT_OK` when the condition holds, `CFUT_TIMEOUT` when the deadline passed
/// first; either way `done_out` (may be NULL; else `count` flags) says which futures are
/// done (Python's `(done, not_done)` split) and `*done_count_out` (may be NULL) how many
/// entries are. `CFUT_INVALID_ARGUMENT` for an unknown `return_when` or a NULL entry.
/// `CFUT_WOULD_DEADLOCK` (flags written as for a poll) when called with a non-zero timeout
/// from a process pool's manager thread and the condition does not already hold, or when
/// the wait can never end because it closes a cycle of waiting tasks: with
/// `CFUT_ALL_COMPLETED` if any unfinished future's task is in the cycle, otherwise if every
/// unfinished one's is (see `cfut_future_wait`).
///
/// From a task on a thread pool's worker (with `inline_waits`), the pending futures of that
/// pool run inline on the waiting worker first, in array order, until the condition holds
/// (`CFUT_FIRST_COMPLETED`: one; `CFUT_ALL_COMPLETED`: all of them); then the call waits
/// for the rest. The timeout does not interrupt a task run inline. Any other thread does
/// the same with the pending futures of pools that have `inline_waits_any_thread`.
#[no_mangle]
pub extern "C" fn cfut_wait(
    futures: *const *mut cfut_future,
    count: usize,
    timeout_ns: u64,
    return_when: u32,
    done_out: *mut bool,
    done_count_out: *mut usize,
) -> cfut_status {
    guard_status(|| {
        let when = ReturnWhen::from_u32(return_when).ok_or(Status::InvalidArgument)?;
        let held = future_array(futures, count)?;
        let refs: Vec<&Future> = held.iter().map(|f| &**f).collect();
        let deadline = Deadline::after_ns(timeout_ns);
        let refuse_block = crate::deadlock::must_not_block(deadline);
        let deadline = if refuse_block { Deadline::Poll } else { deadline };
        let (status, flags) = wait::wait(&refs, deadline, when);
        write_slice(done_out, &flags);
        write_opt(done_count_out, flags.iter().filter(|d| **d).count());
        match status {
            Status::Ok => Ok(()),
            Status::Timeout if refuse_block => Err(Status::WouldDeadlock),
            s => Err(s),
        }
    })
}

/// An `as_completed` iterator. Single owner, used by one thread at a time; free it with
/// `cfut_as_completed_free`.
pub struct cfut_as_completed {
    inner: AsCompleted,
}

/// Python's `as_completed(fs, timeout)`: an iterator over `count` futures (duplicates
/// allowed; `futures` may be NULL when `count` is 0). The deadline counts from this call.
/// The iterator holds its own references, so the caller may release its futures.
/// On `CFUT_OK`, `*iter_out` is owned by the caller. Returns `CFUT_INVALID_ARGUMENT` for a
/// NULL `iter_out` or entry.
#[no_mangle]
pub extern "C" fn cfut_as_completed_new(
    futures: *const *mut cfut_future,
    count: usize,
    timeout_ns: u64,
    iter_out: *mut *mut cfut_as_completed,
) -> cfut_status {
    guard_status(|| {
        non_null(iter_out)?;
        let held = future_array(futures, count)?;
        let refs: Vec<&Future> = held.iter().map(|f| &**f).collect();
        let it = AsCompleted::new(&refs, Deadline::after_ns(timeout_ns));
        write_out(iter_out, box_into_raw(cfut_as_completed { inner: it }));
        Ok(())
    })
}

/// The next completed future, as the index of its first occurrence in the array given to
/// `cfut_as_completed_new`: each distinct future once, those already done first (in array
/// order), then in completion order. Returns `CFUT_OK` with `*index_out`;
/// `CFUT_EXHAUSTED` when every future was yielded; `CFUT_TIMEOUT` when the deadline has
/// passed and no further future is done (later calls still yield futures that complete
/// after it); `CFUT_WOULD_DEADLOCK` when every future not yet yielded is in a cycle of
/// tasks waiting on each other, or from a process pool's manager thread (see
/// `cfut_future_wait`); `CFUT_INVALID_ARGUMENT` for NULL.
///
/// From a task on a thread pool's worker (with `inline_waits`), when no future is done
/// yet, the first pending future of that pool (in array order) runs inline on the waiting
/// worker and is yielded; the timeout does not interrupt it. Any other thread does the same
/// with the pending futures of pools that have `inline_waits_any_thread`.
#[no_mangle]
pub extern "C" fn cfut_as_completed_next(it: *mut cfut_as_completed, index_out: *mut usize) -> cfut_status {
    guard_status(|| {
        let it = box_mut(it)?;
        non_null(index_out)?;
        let i = it.inner.next()?;
        write_out(index_out, i);
        Ok(())
    })
}

/// Frees the iterator and its references. NULL is a no-op.
#[no_mangle]
pub extern "C" fn cfut_as_completed_free(it: *mut cfut_as_completed) {
    guard((), || drop(box_take(it)))
}
