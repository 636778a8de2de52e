//! A map over arrays the caller owns: `fn(ctx, &items[i], &results[i])` for each item, in
//! chunks submitted to an executor. `Map` (map.rs) orders and reports the chunks; this
//! module builds the chunk tasks.

use std::ffi::c_void;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::executor::{Executor, Kind};
use crate::future::Job;
use crate::map::{ChunkSubmitter, Map, MapOptions};
use crate::status::Status;
use crate::task::{run_map_chunk, ChunkMemory, MapFn};

/// The caller's arrays and context.
#[derive(Clone, Copy)]
pub struct Arrays {
    pub ctx: *const c_void,
    /// 0: `ctx` is passed as is (it must outlive the map); else `ctx_len` bytes are copied.
    pub ctx_len: usize,
    pub items: *const u8,
    pub count: usize,
    pub item_size: usize,
    /// May be NULL only when `result_size` is 0.
    pub results: *mut u8,
    pub result_size: usize,
}

impl Arrays {
    /// Checks the shapes: items and results present where sizes say so, no size overflow.
    pub fn check(&self) -> Result<()> {
        let bad = |m: &'static str| Err(Error::new(Status::InvalidArgument, m));
        if self.count > 0 && (self.items.is_null() || self.item_size == 0) {
            return bad("map: NULL items or a zero item_size with a non-zero count");
        }
        if self.result_size > 0 && self.results.is_null() {
            return bad("map: NULL results with a non-zero result_size");
        }
        if self.ctx_len > 0 && self.ctx.is_null() {
            return bad("map: NULL ctx with a non-zero ctx_len");
        }
        // No array is larger than isize::MAX bytes: a product past it cannot describe memory.
        let fits = |n: usize| self.count.checked_mul(n).is_some_and(|b| b <= isize::MAX as usize);
        if !fits(self.item_size) || !fits(self.result_size) {
            return bad("map: count * item_size or count * result_size overflows");
        }
        Ok(())
    }
}

/// The chunk tasks' view of the arrays: raw pointers the caller keeps valid until the map
/// is freed (which waits for every running chunk).
#[derive(Clone)]
struct Shared {
    mem: ChunkMemory,
    /// The copied context, when there is one; `mem.ctx` points into it.
    _ctx: Option<Arc<[u128]>>,
}

impl Shared {
    /// Read through a method so closures capture the whole value (and the context copy).
    fn memory(&self) -> ChunkMemory {
        self.mem
    }
}

// SAFETY: the C contract of `cfut_executor_map`: items, results and a borrowed context stay
// valid until the map is freed and may be used from worker threads; each chunk writes only
// its own result slots.
unsafe impl Send for Shared {}
// SAFETY: as above; chunks only read the shared pointers.
unsafe impl Sync for Shared {}

/// A copy of `len` bytes at `ctx`, aligned for any C struct (u128 storage).
///
/// # Safety
/// `ctx` must point to `len` readable bytes.
unsafe fn copy_context(ctx: *const c_void, len: usize) -> Result<Arc<[u128]>> {
    let words = len.div_ceil(16);
    let mut v: Vec<u128> = Vec::new();
    v.try_reserve_exact(words).map_err(|_| Error::new(Status::NoMemory, "map: cannot copy the context"))?;
    v.resize(words, 0);
    // SAFETY: the caller passes `len` readable bytes; `v` holds at least as many.
    unsafe { std::ptr::copy_nonoverlapping(ctx as *const u8, v.as_mut_ptr() as *mut u8, len) };
    Ok(v.into())
}

/// Starts a map of `f` over `arrays` on `exec`, checking the arrays first.
///
/// # Safety
/// `arrays` must describe valid memory that outlives the returned `Map`, usable from the
/// pool's threads, and `f` must be safe to call on it (in a worker process, on a process
/// pool).
pub unsafe fn map_arrays(exec: Arc<Executor>, f: MapFn, arrays: Arrays, options: MapOptions) -> Result<Map> {
    arrays.check()?;
    match exec.kind() {
        // SAFETY: the caller's contract, passed on.
        Kind::Threads => unsafe { map_in_threads(exec, f, arrays, options) },
        // SAFETY: the caller's contract, passed on.
        Kind::Processes | Kind::Mpi => unsafe { map_in_processes(exec, f, arrays, options) },
    }
}

/// A thread-pool map: each chunk is a job that runs the items of its range in place.
///
/// # Safety
/// As for `map_arrays`.
unsafe fn map_in_threads(exec: Arc<Executor>, f: MapFn, arrays: Arrays, options: MapOptions) -> Result<Map> {
    let ctx_copy = match arrays.ctx_len {
        0 => None,
        // SAFETY: `check` saw a non-NULL ctx; the caller passes `ctx_len` readable bytes.
        n => Some(unsafe { copy_context(arrays.ctx, n) }?),
    };
    let ctx = ctx_copy.as_ref().map_or(arrays.ctx, |c| c.as_ptr() as *const c_void);
    let shared = Shared {
        mem: ChunkMemory {
            ctx,
            items: arrays.items,
            item_size: arrays.item_size,
            results: if arrays.result_size == 0 { std::ptr::null_mut() } else { arrays.results },
            result_size: arrays.result_size,
        },
        _ctx: ctx_copy,
    };
    let workers = exec.max_workers();
    let deadline = options.deadline;
    let submit: ChunkSubmitter = Box::new(move |range: Range<usize>| {
        let s = shared.clone();
        // A bounded queue: wait for room (within the map's deadline), never refuse a chunk
        // for lack of it; on the pool's own worker, run the chunk inline instead.
        exec.submit_waiting(Job::boxed(move |sink| {
            // A thread pool's sink always watches its future's flag: load it directly.
            let report = match sink.cancel_flag() {
                // SAFETY: the map's contract (above); each chunk covers its own range.
                Some(flag) => unsafe { run_map_chunk(f, s.memory(), range, 0, || flag.load(Ordering::Relaxed)) },
                // SAFETY: as above.
                None => unsafe { run_map_chunk(f, s.memory(), range, 0, || sink.cancel_requested()) },
            };
            if report.stopped {
                sink.set_cancelled();
            }
            sink.set_any(Box::new(report));
            0
        }), deadline)
    });
    Map::new(arrays.count, workers, options, submit)
}

/// A process-pool map: each chunk carries a copy of the context and of its items to a
/// worker; its results are copied into the caller's array on the manager thread before the
/// chunk's future completes.
///
/// # Safety
/// As for `map_arrays`.
unsafe fn map_in_processes(exec: Arc<Executor>, f: MapFn, arrays: Arrays, options: MapOptions) -> Result<Map> {
    if arrays.ctx_len == 0 && !arrays.ctx.is_null() {
        return Err(Error::new(
            Status::Unsupported,
            "cfut_executor_map: on a process pool the context must be copied (ctx_len > 0): a pointer means nothing in a worker",
        ));
    }
    if arrays.ctx_len > crate::process_pool::proto::MAX_PAYLOAD {
        return Err(Error::new(
            Status::InvalidArgument,
            "cfut_executor_map: ctx_len is larger than a process-pool message can carry",
        ));
    }
    let mut ctx_copy = Vec::new();
    if ctx_copy.try_reserve_exact(arrays.ctx_len).is_err() {
        return Err(Error::new(Status::NoMemory, "cfut_executor_map: cannot allocate a copy of the context"));
    }
    if arrays.ctx_len > 0 {
        // SAFETY: `check` saw a non-NULL ctx; the caller passes `ctx_len` readable bytes.
        ctx_copy.extend_from_slice(unsafe { std::slice::from_raw_parts(arrays.ctx as *const u8, arrays.ctx_len) });
    }
    let mem = Shared {
        mem: ChunkMemory {
            ctx: std::ptr::null(),
            items: arrays.items,
            item_size: arrays.item_size,
            results: arrays.results,
            result_size: arrays.result_size,
        },
        _ctx: None,
    };
    let workers = exec.max_workers();
    let deadline = options.deadline;
    let submit: ChunkSubmitter = Box::new(move |range: Range<usize>| {
        let m = mem.memory();
        let chunk = m.items.wrapping_add(range.start * m.item_size);
        let dst = m.results.wrapping_add(range.start * m.result_size) as usize;
        // SAFETY: the caller keeps the arrays valid until the map is freed, which waits for
        // every chunk that started; items are copied when their chunk is submitted.
        unsafe { exec.submit_map_chunk(f, &ctx_copy, chunk, range.len(), m.item_size, m.result_size, dst, range.start, deadline) }
    });
    Map::new(arrays.count, workers, options, submit)
}
