//! Completion queues: one pollable fd per queue for event loops.

use super::{
    box_into_raw, box_ref, box_take, cfut_future, cfut_status, future_ref, guard, guard_error, guard_status,
    non_null, slice_out, write_out,
};
use crate::cq::CompletionQueue;
use crate::status::Status;
use crate::time::Deadline;

/// A completion queue: tells an event loop which futures are done through one file
/// descriptor. Watch futures with `cfut_cq_watch(cq, f, tag)`; when the fd from
/// `cfut_cq_fd` is readable, `cfut_cq_drain` hands back the tags of the futures that are
/// done. Single owner (free it with `cfut_cq_free`); `cfut_cq_watch` may be called from any
/// thread at any time, `cfut_cq_drain` and `cfut_cq_wait` by one thread at a time (the
/// loop's).
///
/// ```c
/// cfut_cq *cq;
/// cfut_cq_new(&cq);
/// struct epoll_event ev = { .events = EPOLLIN, .data.u64 = CQ_KEY };
/// epoll_ctl(ep, EPOLL_CTL_ADD, cfut_cq_fd(cq), &ev);
/// cfut_cq_watch(cq, f, request_id);    // then cfut_future_release(f) if not needed
/// ...                                   // the loop wakes for CQ_KEY:
/// uint64_t tags[64];
/// size_t n;
/// while ((n = cfut_cq_drain(cq, tags, 64)) > 0) { ... }
/// ```
pub struct cfut_cq {
    pub(crate) inner: CompletionQueue,
}

/// Creates a completion queue with its own eventfd (non-blocking, close-on-exec) and
/// writes it to `*cq_out`.
///
/// Returns `CFUT_OK`; `CFUT_INVALID_ARGUMENT` when `cq_out` is NULL; `CFUT_NO_MEMORY` when
/// no eventfd can be created (out of file descriptors or kernel memory; the last-error
/// message names the system error).
#[no_mangle]
pub extern "C" fn cfut_cq_new(cq_out: *mut *mut cfut_cq) -> cfut_status {
    guard_error(|| {
        non_null(cq_out)?;
        let inner = CompletionQueue::new()?;
        write_out(cq_out, box_into_raw(cfut_cq { inner }));
        Ok(())
    })
}

/// The queue's file descriptor, for epoll / poll / select / libuv's `uv_poll_t` /
/// Boost.Asio's `posix::stream_descriptor`. It is level-triggered: readable while at least
/// one tag waits, not readable once `cfut_cq_drain` took them all, readable again on the
/// next completion. It is one fd for the whole queue, never one per future.
///
/// The fd belongs to the queue: never read, write or close it (waiting on it is all); it
/// stays valid until `cfut_cq_free`. Take it out of your loop before freeing the queue.
/// With an edge-triggered loop (`EPOLLET`), drain until `cfut_cq_drain` returns 0 on each
/// wake-up. Returns -1 for NULL. Never blocks.
#[no_mangle]
pub extern "C" fn cfut_cq_fd(cq: *const cfut_cq) -> std::ffi::c_int {
    guard(-1, || box_ref(cq).map_or(-1, |q| q.inner.fd()))
}

/// Asks for `tag` to be delivered through `cq` once `f` is done: finished, failed
/// (including `CFUT_WORKER_DIED` and `CFUT_BROKEN` from a process pool) or cancelled.
/// Each call yields its tag exactly once: at once if `f` is already done, otherwise when
/// the thread that completes or cancels `f` does so (that thread only appends the tag and,
/// for the first tag after a drain, makes the fd readable; it never blocks on the loop).
/// Watching the same future twice yields its tag (or two tags) twice. Tags are opaque to
/// the library (an index, a pointer cast to `uint64_t`...).
///
/// Reference: the queue keeps what it needs; the caller may `cfut_future_release(f)`
/// right after this call and the tag still arrives (an executor's future completes
/// whoever holds it). A standalone future (`cfut_future_new`) released by every holder
/// before it is done can never complete, so its tag never arrives.
///
/// Any thread, any time, concurrently with `cfut_cq_drain`. Returns `CFUT_OK`;
/// `CFUT_INVALID_ARGUMENT` when `cq` or `f` is NULL.
#[no_mangle]
pub extern "C" fn cfut_cq_watch(cq: *mut cfut_cq, f: *mut cfut_future, tag: u64) -> cfut_status {
    guard_status(|| {
        let q = box_ref(cq)?;
        let fut = future_ref(f)?;
        q.inner.watch(&fut, tag);
        Ok(())
    })
}

/// Moves up to `max` waiting tags, oldest completion first, into `tags_out` and returns
/// how many it wrote (0 when none waits). When it takes the last waiting tag, the fd stops
/// being readable; tags it leaves keep it readable. Never blocks (it takes the queue's
/// lock for as long as copying the tags takes).
///
/// One drainer at a time: call it (and `cfut_cq_wait`) from one thread at a time, the
/// loop's. Returns 0 and takes nothing when `cq` is NULL, or `tags_out` is NULL with
/// `max` > 0; `max` = 0 takes nothing.
#[no_mangle]
pub extern "C" fn cfut_cq_drain(cq: *mut cfut_cq, tags_out: *mut u64, max: usize) -> usize {
    guard(0, || {
        let (Ok(q), Ok(out)) = (box_ref(cq), slice_out(tags_out, max)) else {
            return 0;
        };
        q.inner.drain_uninit(out)
    })
}

/// For loops without an fd: blocks until at least one tag waits or `timeout_ns` passes
/// (0 polls, `CFUT_FOREVER` waits without limit). Takes nothing: call `cfut_cq_drain`
/// next. The same thread rules as `cfut_cq_drain`.
///
/// Returns `CFUT_OK` when a tag waits; `CFUT_TIMEOUT` otherwise; `CFUT_INVALID_ARGUMENT`
/// when `cq` is NULL.
#[no_mangle]
pub extern "C" fn cfut_cq_wait(cq: *mut cfut_cq, timeout_ns: u64) -> cfut_status {
    guard_status(|| {
        let q = box_ref(cq)?;
        if q.inner.wait(Deadline::after_ns(timeout_ns)) {
            Ok(())
        } else {
            Err(Status::Timeout)
        }
    })
}

/// Frees the queue and closes its fd, without waiting: tags waiting are discarded, and
/// watches whose futures are not done yet are disarmed (when such a future completes, its
/// tag goes nowhere; the little memory it holds for the queue is freed then, or when the
/// future itself is freed). The futures are not touched otherwise: they run, complete and
/// keep their callbacks as if never watched. Remove the fd from your loop first. Call it
/// once, from the owning thread, when no other thread uses `cq` (a `cfut_cq_watch` racing
/// with the free is a use after free). NULL is a no-op.
#[no_mangle]
pub extern "C" fn cfut_cq_free(cq: *mut cfut_cq) {
    guard((), || drop(box_take(cq)))
}
