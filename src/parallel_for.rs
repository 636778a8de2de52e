//! Parallel loops: `[begin, end)` cut into disjoint ranges that a thread pool's workers and
//! the calling thread run (OpenMP's and TBB's model: the caller works instead of waiting).
//!
//! # Splitting
//!
//! One shared cursor over the loop's `n` items. Each claim (a CAS, so the cursor never
//! passes `n` and nothing overflows near `usize::MAX`) takes `max(grain, left / (4·T))` of
//! what is left, T the threads taking part: guided chunks. Early ranges are large (few
//! cursor transfers), the last ones small, so a thread that drew expensive items is never
//! left alone with a large range at the end, and a helper that starts late still finds
//! work. A loop makes O(T·log n) claims, so with `grain == 0` ranges go down to one item
//! without per-item cost.
//!
//! # The body's lifetime
//!
//! The body is borrowed from the caller's stack and helpers may start after the loop ended.
//! A thread calls the body only for a range it claimed; every claimed range stays counted
//! in `left` until it ran (or was skipped after a failure), and the caller returns only
//! once `left` is 0. A helper that starts later finds the cursor at the end and never
//! touches the body (the loop's state itself is shared through an `Arc`).
//!
//! # Nesting cannot deadlock
//!
//! The caller never waits for a helper to start, only for ranges other threads are running
//! right now; a queued helper that never runs costs nothing. A nested loop's caller works
//! through its loop alone if nobody helps, so every wait is for a thread that makes
//! progress. Helpers are ordinary tasks nobody waits on, so inline waits never run them.
//!
//! # Failure
//!
//! The first non-zero code (or panic) is kept; the failing thread moves the cursor to the
//! end, so no range starts after it, and counts the ranges it took away as done.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::future::Job;
use crate::flow::Admit;
use crate::ring::Line;
use crate::spin::{spin_until, SPIN};
use crate::status::Status;
use crate::sync::{Condvar, Mutex};
use crate::thread_pool::ThreadPool;
use crate::time::Deadline;

/// How a loop that ran ended: `Err(code)` holds the first non-zero code a range returned.
pub type RangeOutcome = std::result::Result<(), i32>;

/// Claims take `left / (SPLIT · threads)` items (at least `grain`).
const SPLIT: usize = 4;

/// A helper not started this long after the loop began (an idle worker starts one within
/// a microsecond or two, a parked one within ~50) makes the caller wake a parked worker
/// (`ThreadPool::wake_for_queued`). Checked after each of the caller's ranges.
const HELPER_LATE: Duration = Duration::from_micros(20);

/// `end < begin`: the one argument error of a loop.
pub fn check_range(begin: usize, end: usize) -> Result<usize> {
    end.checked_sub(begin)
        .ok_or_else(|| Error::new(Status::InvalidArgument, "parallel_for: end is below begin"))
}

/// Runs `body(b, e)` on disjoint ranges covering `[begin, end)` exactly once each, on
/// `pool`'s workers and on this thread, and returns when every range ran. `grain` is the
/// smallest range (the last one may be shorter); 0 lets ranges shrink to one item.
///
/// `Ok(Err(code))`: a range returned `code` (the first non-zero one), and no range started
/// after it. Errors: `InvalidArgument` for `end < begin`; the pool's `Shutdown`, `Broken`,
/// `Unsupported` (forked child) for a non-empty loop; `Panic` when the body panicked. An
/// empty range returns `Ok(Ok(()))` at once without calling `body`.
pub fn parallel_for<F>(pool: &ThreadPool, begin: usize, end: usize, grain: usize, body: &F) -> Result<RangeOutcome>
where
    F: Fn(usize, usize) -> i32 + Sync,
{
    let n = check_range(begin, end)?;
    if n == 0 {
        return Ok(Ok(()));
    }
    pool.check_open()?;
    let threads = threads_for(pool, n, grain);
    let lp = Arc::new(Loop::new(begin, n, grain, threads, Body::of(body)));
    let since = Instant::now();
    let mut helpers: usize = 0;
    for _ in 1..threads {
        let helper = lp.clone();
        // A pool shut down meanwhile, or a bounded queue with no room, refuses at once
        // (never waits, never runs the helper here): this thread then does the rest.
        let job = Job::boxed(move |_| {
            helper.joined.fetch_add(1, Ordering::Relaxed);
            helper.work(|| {});
            0
        });
        if pool.submit_with(job, Admit::Wait(Deadline::Poll)).is_err() {
            break;
        }
        helpers += 1;
    }
    // A helper still not started well after an idle worker would have: wake a parked
    // worker, once. Looked at between this thread's ranges.
    let mut watch = helpers > 0;
    lp.work(|| {
        if !watch {
            return;
        }
        if lp.joined.load(Ordering::Relaxed) >= helpers {
            watch = false;
        } else if since.elapsed() >= HELPER_LATE {
            watch = false;
            pool.wake_for_queued();
        }
    });
    lp.wait();
    lp.outcome()
}

/// How many threads take part: the pool's workers (this thread counts as one when it is a
/// worker) plus this thread, no more than the CPUs or than ranges there can be.
fn threads_for(pool: &ThreadPool, n: usize, grain: usize) -> usize {
    static CPUS: OnceLock<usize> = OnceLock::new();
    let cpus = *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |c| c.get()));
    let workers = pool.max_workers() + usize::from(!pool.on_own_worker());
    let ranges = if grain <= 1 { n } else { n / grain + usize::from(n % grain != 0) };
    cpus.min(workers).min(ranges).max(1)
}

/// The loop body without its type: a pointer to the caller's closure and the monomorphic
/// function that calls it.
struct Body {
    data: *const (),
    call: unsafe fn(*const (), usize, usize) -> i32,
}

/// # Safety
/// `data` must point to a live `F`.
unsafe fn call_body<F: Fn(usize, usize) -> i32 + Sync>(data: *const (), b: usize, e: usize) -> i32 {
    // SAFETY: the caller passes the pointer `Body::of::<F>` took, still live (module doc).
    let f = unsafe { &*(data as *const F) };
    f(b, e)
}

impl Body {
    fn of<F: Fn(usize, usize) -> i32 + Sync>(f: &F) -> Body {
        Body { data: f as *const F as *const (), call: call_body::<F> }
    }
}

enum Failure {
    Code(i32),
    Panic(String),
}

/// One loop's shared state.
struct Loop {
    begin: usize,
    n: usize,
    grain: usize,
    div: usize,
    /// Items handed out so far (never above `n`).
    next: Line<AtomicUsize>,
    /// Items not yet run or skipped; the caller returns at 0.
    left: Line<AtomicUsize>,
    /// Set with the first failure: claimed ranges not yet started are skipped.
    stop: AtomicBool,
    /// Helpers that started (the caller's watch for late ones).
    joined: AtomicUsize,
    /// The caller sleeps on `cond` (set under `lock`); the range that ends the loop wakes it.
    sleeping: AtomicBool,
    failure: Mutex<Option<Failure>>,
    lock: Mutex<()>,
    cond: Condvar,
    body: Body,
}

// SAFETY: the only non-Send/Sync field is `body`, a pointer to an `F: Sync` closure that
// outlives every call through it (module doc), so calling it from any thread is sound.
unsafe impl Send for Loop {}
// SAFETY: as above; everything else is atomics and locks.
unsafe impl Sync for Loop {}

impl Loop {
    fn new(begin: usize, n: usize, grain: usize, threads: usize, body: Body) -> Loop {
        Loop {
            begin,
            n,
            grain: grain.max(1),
            div: SPLIT * threads,
            next: Line(AtomicUsize::new(0)),
            left: Line(AtomicUsize::new(n)),
            stop: AtomicBool::new(false),
            joined: AtomicUsize::new(0),
            sleeping: AtomicBool::new(false),
            failure: Mutex::new(None),
            lock: Mutex::new(()),
            cond: Condvar::new(),
            body,
        }
    }

    /// Runs ranges until none is left to claim, calling `after` after each.
    fn work(&self, mut after: impl FnMut()) {
        crate::spin::note_loop_work();
        if self.div == SPLIT {
            // Alone: one call, nothing to balance.
            if let Some((lo, hi)) = self.claim_all() {
                self.run(lo, hi);
                self.done(hi - lo);
            }
            return;
        }
        while let Some((lo, hi)) = self.claim() {
            if !self.stop.load(Ordering::Relaxed) {
                self.run(lo, hi);
            }
            self.done(hi - lo);
            after();
        }
    }

    /// The next range as offsets `[lo, hi)` from `begin`, or `None` once all are handed out.
    fn claim(&self) -> Option<(usize, usize)> {
        let next = &self.next;
        let mut cur = next.load(Ordering::Relaxed);
        loop {
            if cur >= self.n {
                return None;
            }
            let left = self.n - cur;
            let size = (left / self.div).max(self.grain).min(left);
            match next.compare_exchange_weak(cur, cur + size, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some((cur, cur + size)),
                Err(v) => cur = v,
            }
        }
    }

    fn claim_all(&self) -> Option<(usize, usize)> {
        let lo = self.next.swap(self.n, Ordering::Relaxed);
        (lo < self.n).then_some((lo, self.n))
    }

    fn run(&self, lo: usize, hi: usize) {
        let (b, e) = (self.begin + lo, self.begin + hi);
        // SAFETY: this range was claimed and is counted in `left`, so the caller is still
        // inside `parallel_for` and the closure `body` points to is live.
        let r = catch_unwind(AssertUnwindSafe(|| unsafe { (self.body.call)(self.body.data, b, e) }));
        match r {
            Ok(0) => {}
            Ok(code) => self.fail(Failure::Code(code)),
            Err(p) => self.fail(Failure::Panic(panic_text(&p))),
        }
    }

    /// Keeps the first failure and hands out nothing more.
    fn fail(&self, why: Failure) {
        {
            let mut f = self.failure.lock();
            if f.is_none() {
                *f = Some(why);
            }
        }
        self.stop.store(true, Ordering::Relaxed);
        let taken = self.next.swap(self.n, Ordering::Relaxed);
        if taken < self.n {
            self.done(self.n - taken);
        }
    }

    /// `k` items ran or were skipped; the last ones wake a sleeping caller.
    fn done(&self, k: usize) {
        // SeqCst pairs with `wait`: either it sees 0 or this sees it asleep. Release also
        // publishes the range's writes to the caller.
        if self.left.fetch_sub(k, Ordering::SeqCst) == k && self.sleeping.load(Ordering::SeqCst) {
            let _g = self.lock.lock();
            self.cond.notify_all();
        }
    }

    /// Waits for ranges still running on other threads (never for a helper to start).
    fn wait(&self) {
        let left = &self.left;
        if left.load(Ordering::Acquire) == 0 || spin_until(SPIN, || left.load(Ordering::Acquire) == 0) {
            return;
        }
        let mut g = self.lock.lock();
        self.sleeping.store(true, Ordering::SeqCst);
        while left.load(Ordering::SeqCst) != 0 {
            self.cond.wait(&mut g);
        }
    }

    fn outcome(&self) -> Result<RangeOutcome> {
        match self.failure.lock().take() {
            None => Ok(Ok(())),
            Some(Failure::Code(c)) => Ok(Err(c)),
            Some(Failure::Panic(m)) => Err(Error::new(Status::Panic, format!("a parallel_for range panicked: {m}"))),
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

#[cfg(test)]
mod tests;
