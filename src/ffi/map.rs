//! Chunked map over an array.

use std::ffi::c_void;
use std::ops::Range;
use std::sync::Arc;

use super::executor::{cfut_executor, executor_inner};
use super::future::cfut_error;
use super::{cfut_status, guard, guard_status, non_null, read_options, write_opt, write_out, SendPtr};
use crate::executor::Kind;
use crate::future::Job;
use crate::map::{ChunkReport, ChunkSubmitter, Item, ItemError, Map, MapOptions};
use crate::status::Status;
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
    /// default) for none. When it passes, chunks not yet started are cancelled; chunks
    /// already running finish (their results still land in `results`) and `cfut_map_free`
    /// waits for them.
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
    /// The bytes of a copied context; chunk tasks share them.
    _ctx: Option<Arc<[u128]>>,
}

/// The context a chunk passes to the map function: the caller's pointer, or a copy.
fn context(ctx: *const c_void, ctx_len: usize) -> Result<(SendPtr, Option<Arc<[u128]>>), Status> {
    if ctx_len == 0 {
        return Ok((SendPtr(ctx as *mut u8), None));
    }
    non_null(ctx)?;
    // u128 storage keeps the copy aligned for any C struct.
    let mut words: Vec<u128> = vec![0; ctx_len.div_ceil(16)];
    // SAFETY: the caller passes `ctx_len` readable bytes; `words` holds at least as many.
    unsafe { std::ptr::copy_nonoverlapping(ctx as *const u8, words.as_mut_ptr() as *mut u8, ctx_len) };
    let copy: Arc<[u128]> = words.into();
    Ok((SendPtr(copy.as_ptr() as *mut u8), Some(copy)))
}

/// Python's `map(fn, items, timeout, chunksize, buffersize)` over a C array:
/// `fn(ctx, &items[i], &results[i])` runs once per item on the executor, in chunks, and
/// `cfut_map_next` yields the items in input order.
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
///
/// On `CFUT_OK`, `*map_out` is owned by the caller. Returns `CFUT_SHUTDOWN` /
/// `CFUT_BROKEN` if the executor refuses the work (nothing keeps running then),
/// `CFUT_UNSUPPORTED` on a process pool when `fn` cannot be located for a worker or the
/// context is a bare pointer (`cfut_last_error_message` says which),
/// `CFUT_INVALID_ARGUMENT` for NULL `ex`, `fn` or `map_out`, NULL `items` with a non-zero
/// `count`, a zero `item_size` with a non-zero `count`, NULL `results` with a non-zero
/// `result_size`, or an unknown options `struct_size`.
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
    guard_status(|| {
        let exec = executor_inner(ex)?;
        let f = func.ok_or(Status::InvalidArgument)?;
        non_null(map_out)?;
        if count > 0 && (items.is_null() || item_size == 0) {
            return Err(Status::InvalidArgument);
        }
        if result_size > 0 && results.is_null() {
            return Err(Status::InvalidArgument);
        }
        if count.checked_mul(item_size).is_none() || count.checked_mul(result_size).is_none() {
            return Err(Status::InvalidArgument);
        }
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
        if exec.kind() == Kind::Processes {
            let inner = process_map(exec, f as usize, ctx, ctx_len, items, count, item_size, results, result_size, options)?;
            write_out(map_out, Box::into_raw(Box::new(cfut_map { inner, _ctx: None })));
            return Ok(());
        }
        let (ctx_ptr, ctx_copy) = context(ctx, ctx_len)?;
        let (items, results) = (SendPtr(items as *mut u8), SendPtr(results as *mut u8));
        let workers = exec.max_workers();
        let submit: ChunkSubmitter = Box::new(move |range: Range<usize>| {
            exec.submit(Job::boxed(move |sink| {
                let mut report = ChunkReport::default();
                for i in range {
                    let item = items.get().wrapping_add(i * item_size) as *const c_void;
                    let slot = results.get().wrapping_add(i * result_size) as *mut c_void;
                    // SAFETY: the caller keeps items, results and ctx valid until the map is
                    // freed, which waits for every running chunk.
                    let rc = unsafe { f(ctx_ptr.get() as *const c_void, item, slot) };
                    if rc != 0 {
                        report.errors.push(ItemError { index: i, code: rc, message: None });
                    }
                }
                sink.set_any(Box::new(report));
                0
            }))
        });
        let inner = Map::new(count, workers, options, submit)?;
        write_out(map_out, Box::into_raw(Box::new(cfut_map { inner, _ctx: ctx_copy })));
        Ok(())
    })
}

/// A map on a process pool: each chunk carries the context bytes and its items to a worker;
/// its results are copied into `results` on the manager thread before the chunk's future
/// completes.
#[allow(clippy::too_many_arguments)]
fn process_map(
    exec: std::sync::Arc<dyn crate::executor::Executor>,
    func: usize,
    ctx: *const c_void,
    ctx_len: usize,
    items: *const c_void,
    count: usize,
    item_size: usize,
    results: *mut c_void,
    result_size: usize,
    options: MapOptions,
) -> Result<Map, Status> {
    if ctx_len == 0 && !ctx.is_null() {
        super::last_error::set(
            "cfut_executor_map: on a process pool the context must be copied (ctx_len > 0): a pointer means nothing in a worker",
        );
        return Err(Status::Unsupported);
    }
    if ctx_len > crate::process_pool::proto::MAX_PAYLOAD {
        super::last_error::set("cfut_executor_map: ctx_len is larger than a process-pool message can carry");
        return Err(Status::InvalidArgument);
    }
    let mut ctx_copy = Vec::new();
    if ctx_copy.try_reserve_exact(ctx_len).is_err() {
        super::last_error::set("cfut_executor_map: cannot allocate a copy of the context");
        return Err(Status::NoMemory);
    }
    if ctx_len > 0 {
        // SAFETY: the caller passes `ctx_len` readable bytes.
        ctx_copy.extend_from_slice(unsafe { std::slice::from_raw_parts(ctx as *const u8, ctx_len) });
    }
    let (items, results) = (SendPtr(items as *mut u8), SendPtr(results as *mut u8));
    let workers = exec.max_workers();
    let submit: ChunkSubmitter = Box::new(move |range: Range<usize>| {
        let pool = exec.as_process_pool().ok_or(Status::Unsupported)?;
        let n = range.len();
        let chunk = items.get().wrapping_add(range.start * item_size) as *const u8;
        let dst = results.get().wrapping_add(range.start * result_size) as usize;
        // SAFETY: the caller keeps `items` valid during the call (they are copied there);
        // `results` outlives the map, and the map waits for every chunk that started.
        unsafe { pool.submit_map_chunk(func, &ctx_copy, chunk, n, item_size, result_size, dst, range.start) }
            .map_err(super::last_error::record)
    });
    Map::new(count, workers, options, submit)
}

fn map_mut<'a>(m: *mut cfut_map) -> Result<&'a mut cfut_map, Status> {
    non_null(m)?;
    // SAFETY: from `cfut_executor_map`, not yet freed, used by one thread at a time.
    Ok(unsafe { &mut *m })
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
///   (running chunks finish; `cfut_map_free` waits for them) and later calls return
///   `CFUT_EXHAUSTED`;
/// - `CFUT_EXHAUSTED`: no items remain;
/// - `CFUT_INVALID_ARGUMENT`: NULL `m` or `index_out`.
///
/// For an item, `*index_out` and `*error_out` (may be NULL) are written whatever its
/// status. A message in `error_out` stays valid until the next call on this map or its
/// free.
#[no_mangle]
pub extern "C" fn cfut_map_next(m: *mut cfut_map, index_out: *mut usize, error_out: *mut cfut_error) -> cfut_status {
    guard_status(|| {
        let m = map_mut(m)?;
        non_null(index_out)?;
        match m.inner.next()? {
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
/// cancelled); `CFUT_INVALID_ARGUMENT` for NULL.
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
    guard(0, || {
        if m.is_null() {
            0
        } else {
            // SAFETY: from `cfut_executor_map`, not yet freed.
            unsafe { &*m }.inner.chunksize()
        }
    })
}

/// Cancels the chunks not started, waits for running ones (they write into `results`),
/// then frees the map. NULL is a no-op.
#[no_mangle]
pub extern "C" fn cfut_map_free(m: *mut cfut_map) {
    guard((), || {
        if !m.is_null() {
            // SAFETY: from `cfut_executor_map`, freed once.
            drop(unsafe { Box::from_raw(m) })
        }
    })
}
