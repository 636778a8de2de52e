//! The thread-pool executor: an MPMC queue, workers started lazily (only when no worker is
//! idle), idle workers that spin briefly before parking, a broken state for failed
//! initializers, and an idempotent shutdown that is safe from any thread.
//!
//! # Wake-up protocol
//!
//! Counters in `Shared`: `idle` (idle workers not yet claimed by a submit), `spinners`
//! (idle workers polling the queue; at most one spins at a time), `parked` (workers asleep
//! on `park_cond`, changed only under `park_lock`), and `gate` (SHUTDOWN | BROKEN | admitted
//! submitters).
//!
//! - **Claim.** `submit` first claims one `idle` count (CAS, AcqRel), then pushes. Claiming
//!   before the push means a woken worker that finds its count already taken does not
//!   withdraw it twice, and a submit that claims nothing starts a thread (`adjust_workers`,
//!   up to `max_workers`). A worker that finishes with an empty queue counts itself idle
//!   *before* its result is visible, so a sequential submit+result reuses it.
//! - **Spin.** An idle worker that finds `spinners == 0` polls the queue for `SPIN` (~10 µs)
//!   before parking; on a VM a hand-off then costs a cache-line transfer, not a futex wake.
//! - **Park.** Under `park_lock`: `parked += 1`, SeqCst fence, pop once more, then wait.
//!   `push` does: queue push, SeqCst fence, then reads `parked` and `spinners`. The two
//!   fences order "announce parked, then look" against "publish message, then look": at
//!   least one side sees the other, so a message is never left with every worker asleep.
//!   `push` wakes one parked worker only if nobody spins or more than one message waits.
//! - **Baton.** A worker that just took a message (after spin or park) runs `pass_baton`:
//!   SeqCst fence, and if work is still queued, workers are parked and none spins, it wakes
//!   one more. A burst therefore fans out one wake per taken message instead of the
//!   submitter paying for every wake.
//! - **Stop.** Shutdown closes `gate` (waiting for admitted submitters), then pushes one
//!   `Stop`; each worker that takes it pushes it again and exits, so one message stops all.
//!
//! # Fork
//!
//! A pool remembers the fork generation it was created in (`crate::fork`). In a forked
//! child its workers do not exist: `submit` returns `Unsupported`, `shutdown` and drop
//! return at once without joining and fail queued futures with `Broken`; a wait on a future
//! that was queued or running in the parent fails it with `Broken` (see `Future::wait`).
//! The locks on these paths are `std::sync` (per-lock futexes), never parking_lot's global
//! parking table, so a new pool in the child cannot block on a lock a parent thread held.

use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use crate::sync::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::future::{Future, Job, TaskError};
use crate::queue::Queue;
use crate::spin::{spin_until, SPIN};
use crate::status::Status;
use crate::task::{run_bytes, BytesFn};

/// A pool initializer: runs on each worker before its first task; non-zero breaks the pool.
pub type Initializer = Arc<dyn Fn() -> i32 + Send + Sync>;

#[derive(Clone)]
pub struct ThreadPoolOptions {
    /// 0 = min(32, available CPUs + 4).
    pub max_workers: usize,
    /// `None` = "cfut-N" with N counting pools in this process.
    pub thread_name_prefix: Option<String>,
    pub initializer: Option<Initializer>,
    /// A worker's blocking wait on a pending future of this pool runs its task inline
    /// (`crate::deadlock`); false waits as CPython does. Default true.
    pub inline_waits: bool,
}

impl Default for ThreadPoolOptions {
    fn default() -> Self {
        ThreadPoolOptions { max_workers: 0, thread_name_prefix: None, initializer: None, inline_waits: true }
    }
}

enum Msg {
    Run(Future),
    /// Shutdown sentinel: a worker that takes it posts it again and exits.
    Stop,
}

const SHUTDOWN: usize = 1;
const BROKEN: usize = 2;
/// Submitters in flight are counted above the flag bits.
const SUBMITTER: usize = 4;

static POOL_IDS: AtomicUsize = AtomicUsize::new(0);

/// A pool's future tag, 16 bits (a future has no room for more), unique among live pools.
struct Tag(u16);

/// Tags returned by dropped pools, and the next never-used one.
static TAGS: Mutex<(Vec<u16>, u16)> = Mutex::new((Vec::new(), 1));

impl Tag {
    fn take() -> Tag {
        let mut t = TAGS.lock();
        if let Some(tag) = t.0.pop() {
            return Tag(tag);
        }
        let tag = t.1;
        t.1 = t.1.saturating_add(1);
        Tag(if tag == u16::MAX { 0 } else { tag })
    }
}

impl Drop for Tag {
    fn drop(&mut self) {
        if self.0 != 0 {
            TAGS.lock().0.push(self.0);
        }
    }
}

struct Shared {
    /// The pool's id, counting pools in this process (workers know it: `crate::current`).
    id: usize,
    /// The tag this pool's futures carry (unique among live pools; 0 when all 65 535 are
    /// taken, and then its workers do not run awaited tasks inline).
    tag: Tag,
    inline_waits: bool,
    /// The fork generation the pool was created in; in a forked child its workers do
    /// not exist, so it refuses work and never joins.
    fork_gen: u64,
    queue: Queue<Msg>,
    /// SHUTDOWN | BROKEN | submitters * SUBMITTER.
    gate: AtomicUsize,
    /// Idle workers not yet claimed by a submit (CPython's idle semaphore).
    idle: AtomicUsize,
    /// Idle workers spinning on the queue (at most one at a time).
    spinners: AtomicUsize,
    /// Idle workers asleep on `park_cond`; only `push` and a worker passing the baton
    /// wake them, and only when no spinner will take the work.
    parked: AtomicUsize,
    park_lock: Mutex<()>,
    park_cond: Condvar,
    started: AtomicUsize,
    max_workers: usize,
    prefix: String,
    initializer: Option<Initializer>,
    broken: OnceLock<(i32, String)>,
    threads: Mutex<Threads>,
    threads_cond: Condvar,
}

#[derive(Default)]
struct Threads {
    handles: Vec<JoinHandle<()>>,
    live: usize,
}

/// Python's `ThreadPoolExecutor`.
pub struct ThreadPool {
    shared: Arc<Shared>,
}

/// min(32, available CPUs + 4), CPython's default.
pub fn default_max_workers() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus + 4).min(32)
}

impl ThreadPool {
    pub fn new(opts: ThreadPoolOptions) -> ThreadPool {
        let id = POOL_IDS.fetch_add(1, Ordering::Relaxed) + 1;
        let max_workers = if opts.max_workers == 0 { default_max_workers() } else { opts.max_workers };
        ThreadPool {
            shared: Arc::new(Shared {
                id,
                tag: Tag::take(),
                inline_waits: opts.inline_waits,
                fork_gen: crate::fork::generation(),
                queue: Queue::new(),
                gate: AtomicUsize::new(0),
                idle: AtomicUsize::new(0),
                spinners: AtomicUsize::new(0),
                parked: AtomicUsize::new(0),
                park_lock: Mutex::new(()),
                park_cond: Condvar::new(),
                started: AtomicUsize::new(0),
                max_workers,
                prefix: opts.thread_name_prefix.unwrap_or_else(|| format!("cfut-{}", id - 1)),
                initializer: opts.initializer,
                broken: OnceLock::new(),
                threads: Mutex::new(Threads::default()),
                threads_cond: Condvar::new(),
            }),
        }
    }

    /// Submits a Rust closure.
    pub fn submit_fn(&self, f: impl FnOnce(&mut crate::future::Sink) -> i32 + Send + 'static) -> Result<Future> {
        self.submit(Job::boxed(f))
    }

    /// How many worker threads have been started so far.
    pub fn threads_started(&self) -> usize {
        self.shared.started.load(Ordering::Acquire)
    }

    /// Why the pool broke, if it did: the initializer's code and a message.
    pub fn broken_reason(&self) -> Option<&(i32, String)> {
        self.shared.broken.get()
    }
}

/// Why a pool inherited across fork refuses work (also the message its queued futures fail with).
const IN_CHILD: &str = "this thread pool belongs to the parent process: the host forked after creating it, \
and its worker threads do not exist in the child";

impl Shared {
    /// True in a child the host forked after creating this pool.
    fn foreign(&self) -> bool {
        crate::fork::forked_since(self.fork_gen)
    }

    /// In a forked child: closes the pool without waiting for submitters or workers (none
    /// exist here). The queue is left alone: a parent thread may have been half-way through
    /// a push at the fork, and popping that slot would spin forever. Its futures fail
    /// themselves (`Future::fail_if_orphaned`) when the child waits on them.
    fn abandon(&self) {
        self.gate.fetch_or(SHUTDOWN | BROKEN, Ordering::SeqCst);
        let _ = self.broken.set((-1, IN_CHILD.into()));
    }

    /// Admits one submitter unless the pool is shut down or broken.
    fn enter(&self) -> std::result::Result<(), Status> {
        let g = self.gate.fetch_add(SUBMITTER, Ordering::SeqCst);
        if g & (SHUTDOWN | BROKEN) != 0 {
            self.gate.fetch_sub(SUBMITTER, Ordering::SeqCst);
            return Err(if g & BROKEN != 0 { Status::Broken } else { Status::Shutdown });
        }
        Ok(())
    }

    fn leave(&self) {
        self.gate.fetch_sub(SUBMITTER, Ordering::SeqCst);
    }

    /// Sets `flag` and waits for submitters already admitted, so nothing lands in the queue
    /// after it. Returns the previous flags.
    fn close(&self, flag: usize) -> usize {
        let prev = self.gate.fetch_or(flag, Ordering::SeqCst);
        spin_until(std::time::Duration::MAX, || {
            self.gate.load(Ordering::SeqCst) < SUBMITTER
        });
        prev & (SHUTDOWN | BROKEN)
    }

    /// Takes every queued task out of the queue, keeping the stop sentinel in place.
    fn drain(&self) -> Vec<Future> {
        let mut out = Vec::new();
        let mut stop = false;
        while let Some(m) = self.queue.pop() {
            match m {
                Msg::Run(f) => out.push(f),
                Msg::Stop => stop = true,
            }
        }
        if stop {
            self.push(Msg::Stop);
        }
        out
    }

    /// Claims one idle worker for a task about to be queued; false if none is idle.
    ///
    /// Claim before sending: a parked worker woken by the message withdraws its idle count
    /// itself unless it was already claimed, so a claim made after the send could find the
    /// count gone and start a thread although an idle worker took the task.
    fn claim_idle(&self) -> bool {
        let mut idle = self.idle.load(Ordering::Acquire);
        while idle > 0 {
            match self.idle.compare_exchange_weak(idle, idle - 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(v) => idle = v,
            }
        }
        false
    }

    /// Starts a worker unless the pool is at `max_workers` (the caller found no idle one).
    /// Returns an error message when no worker could be started at all.
    fn adjust_workers(self: &Arc<Self>) -> Option<String> {
        if self.started.load(Ordering::Acquire) >= self.max_workers {
            return None;
        }
        let mut threads = self.threads.lock();
        let n = self.started.load(Ordering::Acquire);
        if n >= self.max_workers {
            return None;
        }
        let shared = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{}_{}", self.prefix, n))
            .spawn(move || shared.worker());
        match spawned {
            Ok(h) => {
                self.started.store(n + 1, Ordering::Release);
                threads.live += 1;
                threads.handles.push(h);
                None
            }
            Err(e) if n == 0 => Some(format!("could not start a worker thread: {e}")),
            Err(_) => None,
        }
    }

    fn worker(self: Arc<Self>) {
        crate::current::set_pool(self.id, if self.inline_waits { self.tag.0 } else { 0 });
        let healthy = match &self.initializer {
            None => true,
            Some(init) => {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| init())) {
                    Ok(0) => true,
                    Ok(rc) => {
                        self.break_pool(rc, format!("a thread initializer failed with code {rc}; the thread pool is not usable anymore"));
                        false
                    }
                    Err(_) => {
                        self.break_pool(-1, "a thread initializer panicked; the thread pool is not usable anymore".into());
                        false
                    }
                }
            }
        };
        if healthy {
            // True when this worker counted itself idle before publishing its last result.
            let mut idle = false;
            loop {
                // A task that forked continues here in the child: that worker is not the
                // pool's, so it leaves without touching the inherited queue (see `abandon`).
                if self.foreign() {
                    return;
                }
                let msg = match self.queue.pop() {
                    Some(m) => {
                        if idle {
                            self.withdraw_idle();
                        }
                        m
                    }
                    None => self.wait_idle(idle),
                };
                idle = false;
                match msg {
                    // With nothing queued, become claimable before the result is visible:
                    // a caller that submits again as soon as it sees the result (sequential
                    // submit+result) then reuses this worker instead of starting a thread.
                    Msg::Run(f) => crate::current::run_task(f.id(), || {
                        f.run_then_complete(true, || {
                            if self.queue.is_empty() {
                                self.idle.fetch_add(1, Ordering::AcqRel);
                                idle = true;
                            }
                        })
                    }),
                    Msg::Stop => {
                        self.push(Msg::Stop);
                        break;
                    }
                }
            }
        }
        let mut t = self.threads.lock();
        t.live -= 1;
        drop(t);
        self.threads_cond.notify_all();
    }

    /// Queues a message and wakes a parked worker unless a spinning one will take it.
    fn push(&self, msg: Msg) {
        self.queue.push(msg);
        // Pairs with the fence in `park` / `pass_baton`: either they see the message or
        // this sees them parked or no longer spinning.
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) > 0
            && (self.spinners.load(Ordering::SeqCst) == 0 || self.queue.len() > 1)
        {
            self.wake_one();
        }
    }

    fn wake_one(&self) {
        let _g = self.park_lock.lock();
        self.park_cond.notify_one();
    }

    /// Called by a worker that just took a message: if more work is queued and nobody is
    /// spinning for it, wake a parked worker for it (bursts fan out one wake at a time).
    fn pass_baton(&self) {
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) > 0
            && !self.queue.is_empty()
            && self.spinners.load(Ordering::SeqCst) == 0
        {
            self.wake_one();
        }
    }

    /// Sleeps until a message arrives.
    fn park(&self) -> Msg {
        loop {
            let mut g = self.park_lock.lock();
            self.parked.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            // Announced as parked: a push from now on wakes us, so look once more first.
            if let Some(m) = self.queue.pop() {
                self.parked.fetch_sub(1, Ordering::SeqCst);
                return m;
            }
            self.park_cond.wait(&mut g);
            self.parked.fetch_sub(1, Ordering::SeqCst);
            drop(g);
            if let Some(m) = self.queue.pop() {
                return m;
            }
        }
    }

    /// Waits for the next message as an idle worker: claimable by submitters, spinning
    /// first if no other worker is spinning, then parked.
    /// `already_idle`: the worker counted itself idle before publishing its last result.
    fn wait_idle(&self, already_idle: bool) -> Msg {
        if !already_idle {
            self.idle.fetch_add(1, Ordering::AcqRel);
        }
        let mut got = None;
        if self.spinners.fetch_add(1, Ordering::SeqCst) == 0 {
            spin_until(SPIN, || match self.queue.pop() {
                Some(m) => {
                    got = Some(m);
                    true
                }
                None => false,
            });
        }
        self.spinners.fetch_sub(1, Ordering::SeqCst);
        let msg = match got {
            Some(m) => m,
            None => self.park(),
        };
        self.pass_baton();
        self.withdraw_idle();
        msg
    }

    /// A worker that got work leaves the idle count, unless a submitter already claimed it.
    fn withdraw_idle(&self) {
        let mut idle = self.idle.load(Ordering::Acquire);
        while idle > 0 {
            match self.idle.compare_exchange_weak(idle, idle - 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(v) => idle = v,
            }
        }
    }

    /// Marks the pool broken and fails everything queued with `Broken`.
    fn break_pool(&self, code: i32, message: String) {
        let _ = self.broken.set((code, message));
        self.close(BROKEN);
        let (code, message) = self.broken.get().expect("set above");
        for f in self.drain() {
            let _ = f.fail(TaskError::new(Status::Broken, *code, Some(message)));
        }
    }

    fn join(&self) {
        let mut t = self.threads.lock();
        while t.live > 0 {
            self.threads_cond.wait(&mut t);
        }
        let handles = std::mem::take(&mut t.handles);
        drop(t);
        for h in handles {
            let _ = h.join();
        }
    }
}

impl ThreadPool {
    /// Queues `job`. On error the job is dropped (its argument's destructor runs).
    pub fn submit(&self, job: Job) -> Result<Future> {
        let s = &self.shared;
        if s.foreign() {
            s.abandon();
            return Err(Error::new(Status::Unsupported, IN_CHILD));
        }
        s.enter()?;
        let f = Future::with_job_in(job, s.tag.0);
        let claimed = s.claim_idle();
        s.push(Msg::Run(f.clone()));
        let failed = if claimed { None } else { s.adjust_workers() };
        s.leave();
        if let Some(message) = failed {
            s.break_pool(-1, message);
        }
        Ok(f)
    }

    /// Queues `f(input)`; `input` is copied.
    pub fn submit_bytes(&self, f: BytesFn, input: &[u8]) -> Result<Future> {
        let data = crate::task::copy_bytes(input)?;
        self.submit(Job::boxed(move |sink| run_bytes(f, &data, sink)))
    }

    /// Python's `shutdown(wait, cancel_futures)`. `Err(WouldDeadlock)` when `wait` is asked
    /// from one of the pool's own workers (the shutdown still happens, without waiting).
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<()> {
        let s = &self.shared;
        if s.foreign() {
            s.abandon();
            return Ok(());
        }
        let prev = s.close(SHUTDOWN);
        if cancel_futures {
            for f in s.drain() {
                f.cancel();
            }
        }
        if prev & SHUTDOWN == 0 {
            s.push(Msg::Stop);
        }
        if wait {
            if crate::current::pool() == s.id {
                return Err(Status::WouldDeadlock.into());
            }
            s.join();
        }
        Ok(())
    }

    /// How many tasks run at once at most.
    pub fn max_workers(&self) -> usize {
        self.shared.max_workers
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        let _ = self.shutdown(true, false);
    }
}

#[cfg(test)]
mod tests;
