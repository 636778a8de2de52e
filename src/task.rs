//! The raw task functions a C caller hands us, and the one place each kind is called.
//!
//! These are the C calling conventions of `cfut_bytes_fn` and `cfut_map_fn` written with
//! core types: a `cfut_result *` is a `*mut Sink` (an opaque pointer either way). Both the
//! thread pool and a process-pool worker run tasks through `run_bytes` and `run_map_chunk`.

use std::ffi::c_void;
use std::ops::Range;

use crate::future::Sink;
use crate::map::{ChunkReport, ItemError};

/// `int fn(const void *input, size_t len, cfut_result *out)`.
pub type BytesFn = unsafe extern "C" fn(input: *const c_void, len: usize, out: *mut Sink) -> i32;

/// `int fn(const void *ctx, const void *item, void *result_slot)`.
pub type MapFn = unsafe extern "C" fn(ctx: *const c_void, item: *const c_void, result_slot: *mut c_void) -> i32;

/// Runs a bytes task on `input`, writing into `sink`; returns the task's code.
pub fn run_bytes(f: BytesFn, input: &[u8], sink: &mut Sink) -> i32 {
    // SAFETY: the C contract of a bytes task: it reads `len` bytes of `input` and uses `out`
    // only during the call; both are valid for the call.
    unsafe { f(input.as_ptr() as *const c_void, input.len(), sink as *mut Sink) }
}

/// The memory one map chunk reads and writes.
#[derive(Clone, Copy)]
pub struct ChunkMemory {
    pub ctx: *const c_void,
    pub items: *const u8,
    pub item_size: usize,
    /// NULL when `result_size` is 0.
    pub results: *mut u8,
    pub result_size: usize,
}

/// Runs `f` over the items in `range` (absolute indices into `mem`), in order. An item that
/// returns non-zero fails alone; its index (relative to `report_base`) goes in the report.
/// `stop` is asked before each item after the first: once it says yes (the chunk's
/// cancellation was requested) the chunk ends with `stopped` set.
///
/// # Safety
/// `mem.items` must hold readable items and `mem.results` (unless `result_size` is 0)
/// writable slots for every index in `range`, and no other thread may write those slots
/// during the call; `f` must be safe to call with them.
///
/// Generic over `stop` so a thread pool's check (one relaxed load) inlines into the loop.
/// Per item there is the indirect call, the check, two pointer steps, a counter and `stop`;
/// the range's end is checked per block (one compare less per item: 1.09-1.12x on in-place
/// int64 squares). The item and slot pointers advance by their sizes (no multiply), and a
/// failure's report is pushed out of line. (Asking `stop` per block instead would gain
/// another ~10% but let a map of slow items run up to 8 of them after a cancel.) A zero
/// `item_size` passes the same item pointer `range.len()` times, as the index-based loop
/// did.
///
/// The loop prefetches the items and slots it will reach a few hundred items on (one
/// prefetch per cache line): an item function the compiler cannot see is a call the
/// out-of-order core cannot look past, so without this every cache line of a large map
/// is a full memory-latency stall (a C loop of such calls over 10 M in-place int64 squares:
/// 28.6 ms on one core without, 15.7 ms with).
pub unsafe fn run_map_chunk(f: MapFn, mem: ChunkMemory, range: Range<usize>, report_base: usize, stop: impl Fn() -> bool) -> ChunkReport {
    let mut report = ChunkReport::default();
    if range.is_empty() {
        return report;
    }
    crate::spin::note_loop_work();
    let ctx = mem.ctx;
    let mut i = range.start;
    let mut item = mem.items.wrapping_add(range.start * mem.item_size);
    // With no result slots every item gets NULL: NULL stepped by 0 stays NULL.
    let (mut slot, step) = match mem.result_size {
        0 => (std::ptr::null_mut(), 0),
        n => (mem.results.wrapping_add(range.start * n), n),
    };
    let ahead = Prefetch::new(mem.item_size, step);
    'chunk: loop {
        ahead.fetch(item, slot);
        let block_end = i + ahead.block.min(range.end - i);
        loop {
            // SAFETY: the caller guarantees the item and slot are valid and the slot is ours.
            let rc = unsafe { f(ctx, item as *const c_void, slot as *mut c_void) };
            if rc != 0 {
                failed(&mut report, i - report_base, rc);
            }
            item = item.wrapping_add(mem.item_size);
            slot = slot.wrapping_add(step);
            i += 1;
            if i == block_end {
                break;
            }
            if stop() {
                report.stopped = true;
                break 'chunk;
            }
        }
        if i == range.end || stop() {
            report.stopped = i != range.end;
            break;
        }
    }
    report
}

/// How far ahead, and how often, the chunk loop prefetches.
struct Prefetch {
    /// Items per prefetch: about one cache line of the larger of item and slot.
    block: usize,
    item_ahead: usize,
    slot_ahead: usize,
}

impl Prefetch {
    const LINE: usize = 64;
    /// Items ahead: covers a memory latency at about a nanosecond an item.
    const ITEMS: usize = 256;
    /// Bytes ahead at most, so large items do not prefetch what will be evicted first.
    const MAX_BYTES: usize = 4096;

    fn new(item_size: usize, slot_size: usize) -> Prefetch {
        let widest = item_size.max(slot_size).max(1);
        Prefetch {
            block: (Self::LINE / widest).clamp(1, 8),
            item_ahead: item_size.saturating_mul(Self::ITEMS).min(Self::MAX_BYTES),
            slot_ahead: slot_size.saturating_mul(Self::ITEMS).min(Self::MAX_BYTES),
        }
    }

    /// A hint only: prefetching an address past the array (or unmapped) does nothing.
    #[inline(always)]
    fn fetch(&self, item: *const u8, slot: *mut u8) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0, _MM_HINT_T0};
            // SAFETY: a prefetch never faults and reads or writes nothing; SSE is part of
            // x86_64.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(item.wrapping_add(self.item_ahead) as *const i8);
                if !slot.is_null() {
                    _mm_prefetch::<_MM_HINT_ET0>(slot.wrapping_add(self.slot_ahead) as *const i8);
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (item, slot);
    }
}

#[cold]
#[inline(never)]
fn failed(report: &mut ChunkReport, index: usize, code: i32) {
    report.errors.push(ItemError { index, code, message: None });
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn square(_ctx: *const c_void, item: *const c_void, slot: *mut c_void) -> i32 {
        // SAFETY: the test passes i64 items and slots.
        let x = unsafe { *(item as *const i64) };
        if x == 3 {
            return 7;
        }
        // SAFETY: as above.
        unsafe { *(slot as *mut i64) = x * x };
        0
    }

    unsafe extern "C" fn no_slot(_ctx: *const c_void, _item: *const c_void, slot: *mut c_void) -> i32 {
        i32::from(!slot.is_null())
    }

    #[test]
    fn chunk_runs_its_range_and_reports_failures() {
        let items: Vec<i64> = (0..6).collect();
        let mut out = vec![0i64; 6];
        let mem = ChunkMemory {
            ctx: std::ptr::null(),
            items: items.as_ptr() as *const u8,
            item_size: 8,
            results: out.as_mut_ptr() as *mut u8,
            result_size: 8,
        };
        // SAFETY: items and out hold 6 i64 each.
        let r = unsafe { run_map_chunk(square, mem, 2..5, 0, || false) };
        assert_eq!(out, vec![0, 0, 4, 0, 16, 0]);
        assert_eq!(r.errors, vec![ItemError { index: 3, code: 7, message: None }]);
    }

    unsafe extern "C" fn widen(_ctx: *const c_void, item: *const c_void, slot: *mut c_void) -> i32 {
        // SAFETY: the test passes u32 items and u64 slots.
        let x = unsafe { *(item as *const u32) };
        if x % 5 == 0 {
            return x as i32 + 1;
        }
        // SAFETY: as above.
        unsafe { *(slot as *mut u64) = u64::from(x) << 32 };
        0
    }

    #[test]
    fn items_and_slots_of_different_sizes_step_apart_and_failures_keep_their_index() {
        let items: Vec<u32> = (0..12).collect();
        let mut out = vec![0u64; 12];
        let mem = ChunkMemory { ctx: std::ptr::null(), items: items.as_ptr() as *const u8, item_size: 4, results: out.as_mut_ptr() as *mut u8, result_size: 8 };
        // SAFETY: 12 u32 items and 12 u64 slots.
        let r = unsafe { run_map_chunk(widen, mem, 4..11, 3, || false) };
        let want: Vec<u64> = (0..12u64).map(|x| if (4..11).contains(&x) && x % 5 != 0 { x << 32 } else { 0 }).collect();
        assert_eq!(out, want);
        assert_eq!(
            r.errors,
            vec![ItemError { index: 5 - 3, code: 6, message: None }, ItemError { index: 10 - 3, code: 11, message: None }]
        );
        assert!(!r.stopped);
        // SAFETY: as above; an empty range runs nothing.
        let r = unsafe { run_map_chunk(widen, mem, 7..7, 0, || true) };
        assert!(r.errors.is_empty() && !r.stopped);
    }

    unsafe extern "C" fn fail_all(_ctx: *const c_void, _item: *const c_void, _slot: *mut c_void) -> i32 {
        9
    }

    #[test]
    fn zero_item_size_calls_each_index_with_the_same_item() {
        let items = [0u8; 1];
        let mem = ChunkMemory { ctx: std::ptr::null(), items: items.as_ptr(), item_size: 0, results: std::ptr::null_mut(), result_size: 0 };
        // SAFETY: every call reads nothing; no result slots.
        let r = unsafe { run_map_chunk(fail_all, mem, 2..5, 2, || false) };
        let idx: Vec<usize> = r.errors.iter().map(|e| e.index).collect();
        assert_eq!(idx, vec![0, 1, 2]);
    }

    #[test]
    fn zero_result_size_passes_null_slot() {
        let items = [0u8; 4];
        let mem = ChunkMemory { ctx: std::ptr::null(), items: items.as_ptr(), item_size: 1, results: 8 as *mut u8, result_size: 0 };
        // SAFETY: 4 readable items; no slot is written.
        let r = unsafe { run_map_chunk(no_slot, mem, 0..4, 0, || false) };
        assert!(r.errors.is_empty());
    }

    #[test]
    fn long_ranges_cross_prefetch_blocks_without_losing_an_item() {
        // 8 i64 per prefetch block: ranges that start, stop and fail mid-block.
        let items: Vec<i64> = (0..100).collect();
        for (start, end) in [(0, 100), (5, 37), (8, 16), (13, 14), (1, 99)] {
            let mut out = vec![-1i64; 100];
            let mem = ChunkMemory { ctx: std::ptr::null(), items: items.as_ptr() as *const u8, item_size: 8, results: out.as_mut_ptr() as *mut u8, result_size: 8 };
            // SAFETY: items and out hold 100 i64 each.
            let r = unsafe { run_map_chunk(square, mem, start..end, 0, || false) };
            for (i, v) in out.iter().enumerate() {
                let want = if (start..end).contains(&i) && i != 3 { (i * i) as i64 } else { -1 };
                assert_eq!(*v, want, "item {i} of {start}..{end}");
            }
            assert_eq!(r.errors.len(), usize::from((start..end).contains(&3)));
        }
        // Stopped on the 11th check: items 0..=10 ran (the first needs no check), crossing a block.
        let mut out = vec![-1i64; 100];
        let mem = ChunkMemory { ctx: std::ptr::null(), items: items.as_ptr() as *const u8, item_size: 8, results: out.as_mut_ptr() as *mut u8, result_size: 8 };
        let asked = std::cell::Cell::new(0);
        // SAFETY: as above.
        let r = unsafe { run_map_chunk(square, mem, 0..100, 0, || { asked.set(asked.get() + 1); asked.get() > 10 }) };
        assert!(r.stopped);
        assert_eq!(out.iter().filter(|v| **v != -1).count(), 10, "items 0..=10 less the failing 3");
        assert_eq!(out[10], 100);
        assert_eq!(out[11], -1);
    }

    #[test]
    fn a_stopped_chunk_ends_before_its_next_item() {
        let items: Vec<i64> = (0..6).collect();
        let mut out = vec![0i64; 6];
        let mem = ChunkMemory { ctx: std::ptr::null(), items: items.as_ptr() as *const u8, item_size: 8, results: out.as_mut_ptr() as *mut u8, result_size: 8 };
        let asked = std::cell::Cell::new(0);
        // SAFETY: items and out hold 6 i64 each.
        let r = unsafe { run_map_chunk(square, mem, 0..3, 0, || { asked.set(asked.get() + 1); asked.get() >= 2 }) };
        assert!(r.stopped);
        assert_eq!(out, vec![0, 1, 0, 0, 0, 0], "item 0 and 1 ran, item 2 did not");
    }
}
