//! Chunked map over an array.

use std::ffi::c_void;

use super::executor::{cfut_executor, executor_inner};
use super::future::cfut_error;
use super::{
    box_into_raw, box_mut, box_ref, box_take, cfut_status, guard, guard_error, guard_status, non_null, read_options,
    write_opt, write_out,
};
use crate::array_map::{map_arrays, Arrays};
use crate::map::{Item, Map, MapOptions};
use crate::status::Status;
use crate::task::MapFn;
use crate::time::{Deadline, FOREVER};

/// Computes one item: reads `*item` (`item_size` bytes) and writes `*result_slot`
/// (`result_size` bytes, NULL when `result_size` is 0). Returns 0 for success, or a
/// non-zero code that fails this item only. Runs on worker threads, several at once.
pub type cfut_map_fn = Option<unsafe extern "C" fn(ctx: *const c_void, item: *const c_void, result_slot: *mut c_void) -> i32>;

/// Options for `cfut_executor_map`. Always start from `cfut_map_options_init`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cfut_map_options {
    /// Must be `sizeof(cfut_map_options)` (set by the init function).
    pub struct_size: u32,
    /// Items per task; 0 = chosen from the item count and the executor's workers.
    pub chunksize: usize,
    /// Whole-map deadline counted from the `cfut_executor_map` call; `CFUT_FOREVER` (the
    /// default) for none. When it passes, chunks not yet started are cancelled, and chunks
    /// already running are asked to stop (a cancellation request, as
    /// `cfut_future_request_cancel`): each finishes the item it is on and runs no further
    /// item (results of items already done are in `results`); `cfut_map_free` waits for
    /// them. With a process pool's
    /// `cancel_kills` their workers are killed instead.
    pub timeout_ns: u64,
    /// 0 = submit every chunk at once (Python's default); else at most this many chunks are
    /// queued or running at any moment (Python's `buffersize`): the next chunk is submitted
    /// as soon as the consumer's `cfut_map_next` finds a chunk done.
    pub max_in_flight: usize,
}

/// Fills `opts` with the defaults (automatic chunks, no timeout, unlimited in flight).
/// NULL is a no-op.
#[no_mangle]
pub extern "C" fn cfut_map_options_init(opts: *mut cfut_map_options) {
    guard((), || {
        write_opt(
            opts,
            cfut_map_options {
                struct_size: std::mem::size_of::<cfut_map_options>() as u32,
                chunksize: 0,
                timeout_ns: FOREVER,
                max_in_flight: 0,
            },
        )
    })
}

/// A running map. Single owner, used by one thread at a time; free with `cfut_map_free`.
pub struct cfut_map {
    inner: Map,
}

/// Python's `map(fn, items, timeout, chunksize, buffersize)` over a C array:
/// `fn(ctx, &items[i], &results[i])` runs once per item on the executor, in chunks, and
/// `cfut_map_next` yields the items in input order.
///
/// Each item costs one call through `fn` that the compiler cannot inline (1.4-2.6 ns on the
/// benchmarks' AMD EPYC host, the upper end when `fn` and this library sit far apart in the
/// address space: linking `libcfutures.a` puts the map beside a callback in the
/// executable). For items of a few nanoseconds, `cfut_parallel_for` hands its body whole
/// ranges that the compiler can vectorise.
///
/// - `ctx_len == 0` passes `ctx` itself (thread pools; it must outlive the map);
///   `ctx_len > 0` copies `ctx_len` bytes first (what a process pool needs).
/// - On a process pool, `fn` runs in the worker processes: each chunk carries a copy of the
///   context and of its items, and its results are copied into `results` in this process
///   before `cfut_map_next` reports them. A crash fails the items of that chunk only
///   (`CFUT_WORKER_DIED`). `ctx_len == 0` with a non-NULL `ctx` is `CFUT_UNSUPPORTED` there
///   (NULL `ctx` is passed as NULL).
/// - `items` holds `count` items of `item_size` bytes; `results` (may be NULL only when
///   `result_size` is 0) receives `count` results of `result_size` bytes. Both must stay
///   valid until `cfut_map_free` returns: running chunks write into `results`.
/// - Every chunk is submitted before this returns unless `max_in_flight` limits it, so
///   the work runs even if the map is never iterated.
/// - On a bounded executor (`max_queued`), chunks count as queued tasks and a map never
///   fails for lack of room, whatever `when_full` says: each chunk waits for room (so this
///   call may block until all but the last `max_queued` chunks have started; use
///   `max_in_flight` to return sooner), within the map's `timeout_ns` (past it:
///   `CFUT_QUEUE_FULL`). Called from one of a bounded thread pool's own workers, a chunk
///   that finds no room runs inline on that worker instead of waiting.
///
/// On `CFUT_OK`, `*map_out` is owned by the caller. Returns `CFUT_QUEUE_FULL` (above), `CFUT_SHUTDOWN` /
/// `CFUT_BROKEN` if the executor refuses the work (nothing keeps running then),
/// `CFUT_UNSUPPORTED` on a process pool when `fn` cannot be located for a worker or the
/// context is a bare pointer (`cfut_last_error_message` says which),
/// `CFUT_INVALID_ARGUMENT` for NULL `ex`, `fn` or `map_out`, NULL `items` with a non-zero
/// `count`, a zero `item_size` with a non-zero `count`, NULL `results` with a non-zero
/// `result_size`, `count * item_size` or `count * result_size` over `PTRDIFF_MAX`, or an
/// unknown options `struct_size`; on a process pool also when a chunk's context and items, or its
/// results, exceed 4 GiB (the process-pool message limit). `CFUT_NO_MEMORY` when the
/// context copy cannot be allocated. In a child forked after the executor's creation:
/// `CFUT_UNSUPPORTED`.
#[no_mangle]
pub extern "C" fn cfut_executor_map(
    ex: *mut cfut_executor,
    func: cfut_map_fn,
    ctx: *const c_void,
    ctx_len: usize,
    items: *const c_void,
    count: usize,
    item_size: usize,
    results: *mut c_void,
    result_size: usize,
    opts: *const cfut_map_options,
    map_out: *mut *mut cfut_map,
) -> cfut_status {
    guard_error(|| {
        let exec = executor_inner(ex)?;
        let f = func.ok_or(Status::InvalidArgument)?;
        non_null(map_out)?;
        let o = read_options(opts)?.unwrap_or(cfut_map_options {
            struct_size: 0,
            chunksize: 0,
            timeout_ns: FOREVER,
            max_in_flight: 0,
        });
        let options = MapOptions {
            chunksize: o.chunksize,
            deadline: Deadline::after_ns(o.timeout_ns),
            max_in_flight: o.max_in_flight,
        };
        let arrays = Arrays {
            ctx,
            ctx_len,
            items: items as *const u8,
            count,
            item_size,
            results: results as *mut u8,
            result_size,
        };
        // SAFETY: the caller keeps the arrays valid until `cfut_map_free`, which waits for
        // every running chunk, and promised `fn` may run on the executor's workers.
        let inner = unsafe { map_arrays(exec, map_fn(f), arrays, options) }?;
        write_out(map_out, box_into_raw(cfut_map { inner }));
        Ok(())
    })
}

/// The core's view of a C map function (the same type; named for the reader).
fn map_fn(f: unsafe extern "C" fn(*const c_void, *const c_void, *mut c_void) -> i32) -> MapFn {
    f
}

fn map_mut<'a>(m: *mut cfut_map) -> Result<&'a mut cfut_map, Status> {
    box_mut(m)
}

/// The next item, in input order. Returns:
/// - `CFUT_OK`: `results[*index_out]` is ready;
/// - `CFUT_TASK_FAILED`: item `*index_out` failed (its code in `error_out`); iteration
///   may go on;
/// - `CFUT_CANCELLED`, `CFUT_BROKEN`, `CFUT_WORKER_DIED`, `CFUT_SHUTDOWN`: item
///   `*index_out` never produced a result because its chunk was cancelled (e.g. by
///   `cfut_executor_shutdown(cancel_futures)`), the executor broke, its worker died (on a
///   process pool also: was killed for overrunning `task_timeout_ns`; the message says
///   which), or it could not be submitted; iteration may go on;
/// - `CFUT_TIMEOUT`: the whole-map deadline passed; everything not started is cancelled
///   (running chunks are asked to stop before their next item; `cfut_map_free` waits for
///   them) and later calls return
///   `CFUT_EXHAUSTED`;
/// - `CFUT_EXHAUSTED`: no items remain;
/// - `CFUT_WOULD_DEADLOCK`: the item's chunk is in a cycle of tasks waiting on each other,
///   or the call was made from a process pool's manager thread (see `cfut_future_wait`);
///   nothing is consumed and the map goes on;
/// - `CFUT_INVALID_ARGUMENT`: NULL `m` or `index_out`.
///
/// From a task on a worker of the map's thread pool (with `inline_waits`), the chunk
/// holding the next item runs inline on the waiting worker if it has not started; the map's
/// timeout does not interrupt it. With `inline_waits_any_thread` any waiting thread does.
///
/// For an item, `*index_out` and `*error_out` (may be NULL) are written whatever its
/// status. A message in `error_out` stays valid until the next call on this map or its
/// free.
#[no_mangle]
pub extern "C" fn cfut_map_next(m: *mut cfut_map, index_out: *mut usize, error_out: *mut cfut_error) -> cfut_status {
    guard_status(|| {
        let m = map_mut(m)?;
        non_null(index_out)?;
        match m.inner.next_item()? {
            Item::Ok(i) => {
                write_out(index_out, i);
                write_opt(error_out, cfut_error::ok());
                Ok(())
            }
            Item::Failed { index, status, code, message } => {
                write_out(index_out, index);
                let message = message.map_or(std::ptr::null(), |m| m.as_ptr());
                write_opt(error_out, cfut_error { status: status as u32, code, message, payload: std::ptr::null_mut() });
                Err(status)
            }
        }
    })
}

/// Waits for every item not yet yielded by `cfut_map_next` (consuming them). Returns
/// `CFUT_OK` if all succeeded; the status of the first failed item (e.g.
/// `CFUT_TASK_FAILED`), with its index in `*first_failed_index_out` (may be NULL), after
/// every item is done; `CFUT_TIMEOUT` when the map's deadline passes first (the rest is
/// cancelled); `CFUT_WOULD_DEADLOCK` as `cfut_map_next` (the items before the chunk in the
/// cycle are consumed); `CFUT_INVALID_ARGUMENT` for NULL. From a task on a worker of the
/// map's thread pool (with `inline_waits`), chunks not yet started run inline on the waiting
/// worker, in order; with `inline_waits_any_thread`, on any waiting thread.
#[no_mangle]
pub extern "C" fn cfut_map_wait(m: *mut cfut_map, first_failed_index_out: *mut usize) -> cfut_status {
    guard_status(|| match map_mut(m)?.inner.wait_all()? {
        None => Ok(()),
        Some((index, status)) => {
            write_opt(first_failed_index_out, index);
            Err(status)
        }
    })
}

/// The number of items per chunk the map uses (after automatic sizing), or 0 for NULL.
#[no_mangle]
pub extern "C" fn cfut_map_chunksize(m: *const cfut_map) -> usize {
    guard(0, || box_ref(m).map_or(0, |m| m.inner.chunksize()))
}

/// Cancels the chunks not started, asks running ones to stop before their next item,
/// waits for them (they write into `results`), then frees the map. NULL is a no-op.
#[no_mangle]
pub extern "C" fn cfut_map_free(m: *mut cfut_map) {
    guard((), || drop(box_take(m)))
}
