//! The thread-pool executor: an MPMC queue, workers started lazily (only when no worker is
//! idle), idle workers that spin briefly before parking, a broken state for failed
//! initializers, and an idempotent shutdown that is safe from any thread.
//!
//! # Wake-up protocol
//!
//! Counters in `Shared`: `idle` (idle workers not yet claimed by a submit), `spinners`
//! (idle workers polling the queue; at most one spins at a time), `parked` (workers asleep,
//! each on its own condvar, changed only under `park.lock`), and `gate` (SHUTDOWN | BROKEN |
//! admitted submitters).
//!
//! - **Claim.** `submit` first claims one `idle` count (CAS, AcqRel), then pushes. Claiming
//!   before the push means a woken worker that finds its count already taken does not
//!   withdraw it twice, and a submit that claims nothing starts a thread (`adjust_workers`,
//!   up to `max_workers`); so does one that claimed but finds `started == 0` after its push
//!   (with `idle_timeout`, every worker may have retired in between). A worker that
//!   finishes with an empty queue counts itself idle *before* its result is visible, so a
//!   sequential submit+result reuses it. A pool at `max_workers` neither claims nor counts
//!   (`full`): no submit could start a thread.
//! - **Spin.** An idle worker that finds `spinners == 0` polls the queue for `SPIN` (~10 µs)
//!   before parking (PAUSE alone for the first microsecond, then yielding); on a VM a
//!   hand-off then costs a cache-line transfer, not a futex wake.
//!   Each worker adapts its budget (`spin::Adaptive`): after parks that lasted long and
//!   ended on a lone task (e.g. one per timer tick) it halves down to no spin; a spin that
//!   found work, a short park, or a park that ended in a burst (more queued: batches such as
//!   a map's chunks, whose next batch the spin after this one finds) restores it.
//! - **Park.** Under `park.lock`: `parked += 1`, SeqCst fence, pop once more, then wait.
//!   `push` does: queue push, SeqCst fence, then reads `parked` and `spinners`. The two
//!   fences order "announce parked, then look" against "publish message, then look": at
//!   least one side sees the other, so a message is never left with every worker asleep.
//!   `push` wakes one parked worker only if nobody spins and no notified worker is still
//!   on its way (`waking`, set by the notifier and cleared by whichever worker leaves
//!   `wait`, under `park.lock`, before its SeqCst fence and pop): during a burst the
//!   submitter then pays at most one futex wake per wake-up latency, not one per push.
//!   The worker woken is the one parked last: it ran most recently, so its CPU is the one
//!   the scheduler is likeliest to leave it on (a futex condvar wakes the longest-parked
//!   first; with six workers parked between loops, a `parallel_for`'s helper then often
//!   waited behind the caller, and the 10 M-item C loop after per-item maps took 3.1 ms
//!   instead of 2.0).
//! - **Baton.** A worker that just took a message (after spin or park) runs `pass_baton`:
//!   SeqCst fence, and if work is still queued, workers are parked, none spins and none is
//!   waking, it wakes one more. A burst therefore fans out one wake per taken message instead of the
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

use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::sync::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::flow::{Admit, Room, WhenFull};
use crate::future::{Future, Job, TaskError};
use crate::ring::Line;
use crate::stats::{Rare, Slot};
use crate::queue::Queue;
use crate::spin::spin_until;
use crate::status::Status;
use crate::task::{run_bytes, BytesFn};

/// A pool initializer: runs on each worker before its first task; non-zero breaks the pool.
pub type Initializer = Arc<dyn Fn() -> i32 + Send + Sync>;

/// Runs on each worker thread as it exits, after its last task.
pub type WorkerExit = Arc<dyn Fn() + Send + Sync>;

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
    /// A blocking wait from any other thread on a pending task of this pool runs it on the
    /// waiting thread (`help`), as Java's `ForkJoinTask::join` and TBB's waits do. Default
    /// false: tasks run on workers only, as in CPython.
    pub inline_waits_any_thread: bool,
    /// Tasks accepted but not started at most; 0 = unbounded.
    pub max_queued: usize,
    /// What a submit does when `max_queued` tasks wait.
    pub when_full: WhenFull,
    pub on_worker_exit: Option<WorkerExit>,
    /// An idle worker exits after this long (`None`: never); workers start again on demand.
    pub idle_timeout: Option<Duration>,
}

impl Default for ThreadPoolOptions {
    fn default() -> Self {
        ThreadPoolOptions {
            max_workers: 0,
            thread_name_prefix: None,
            initializer: None,
            inline_waits: true,
            inline_waits_any_thread: false,
            max_queued: 0,
            when_full: WhenFull::Block,
            on_worker_exit: None,
            idle_timeout: None,
        }
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

/// Tasks between an unbounded pool's peak samples while the samples do not rise.
const PEAK_EVERY: u32 = 16;

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
    /// SHUTDOWN | BROKEN | submitters * SUBMITTER. On lines of its own, as `idle` and
    /// `spinners`: every submit writes it twice, and workers write those two between tasks;
    /// sharing a line with each other or with the read-mostly fields would make submits and
    /// workers miss on it.
    gate: Line<AtomicUsize>,
    /// Idle workers not yet claimed by a submit (CPython's idle semaphore).
    idle: Line<AtomicUsize>,
    /// Idle workers spinning on the queue (at most one at a time).
    spinners: Line<AtomicUsize>,
    /// Where idle workers sleep. On lines of its own: workers write it at every park and
    /// wake, and the read-mostly fields every submit reads (the tag, `room`) sat on its line.
    park: Line<Park>,
    /// Workers alive or starting (a retiring worker leaves it under `threads`).
    started: AtomicUsize,
    /// Other threads running one of its tasks now (`help`).
    helpers: AtomicUsize,
    /// A shutdown waits in `join`: the last helper to finish notifies `threads_cond`.
    joining: AtomicBool,
    /// Free places in a bounded queue (`max_queued`); `None`: unbounded.
    room: Option<Room>,
    when_full: WhenFull,
    on_worker_exit: Option<WorkerExit>,
    idle_timeout: Option<Duration>,
    /// Counters of the slow paths; the workers' own are in `Threads::slots`.
    rare: Rare,
    /// Shutdown queued its `Stop` (one message in the queue that is no task).
    stop_pushed: AtomicBool,
    max_workers: usize,
    prefix: String,
    initializer: Option<Initializer>,
    broken: OnceLock<(i32, String)>,
    threads: Mutex<Threads>,
    threads_cond: Condvar,
}

/// The parking side of the wake-up protocol.
struct Park {
    /// Idle workers asleep (or notified and not yet out of their wait); only `push` and a
    /// worker passing the baton wake them, and only when no spinner will take the work.
    parked: AtomicUsize,
    /// A worker was notified and has not yet left its wait (set and cleared under `lock`):
    /// until it looks at the queue, pushes wake nobody else.
    waking: AtomicBool,
    /// The sleeping workers, most recently parked last: a wake takes the last one out and
    /// notifies it (a worker that leaves its wait otherwise takes itself out).
    lock: Mutex<Vec<Arc<Sleeper>>>,
}

/// One worker's place to sleep: its own condvar, waited on with `Park::lock` held.
pub(super) struct Sleeper {
    pub(super) cond: Condvar,
}

#[derive(Default)]
struct Threads {
    handles: Vec<JoinHandle<()>>,
    live: usize,
    /// Every worker's counters; a slot whose worker exited is reused by the next one.
    slots: Vec<Arc<Slot>>,
    /// Indices of `slots` no live worker owns.
    free_slots: Vec<usize>,
    /// Workers retired (idle timeout) and not yet replaced by a new start.
    retired_unreplaced: u64,
    /// Workers started in place of retired ones.
    restarts: u64,
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
        let pool = ThreadPool {
            shared: Arc::new(Shared {
                id,
                tag: Tag::take(),
                inline_waits: opts.inline_waits,
                fork_gen: crate::fork::generation(),
                queue: Queue::new(),
                gate: Line(AtomicUsize::new(0)),
                idle: Line(AtomicUsize::new(0)),
                spinners: Line(AtomicUsize::new(0)),
                park: Line(Park {
                    parked: AtomicUsize::new(0),
                    waking: AtomicBool::new(false),
                    lock: Mutex::new(Vec::new()),
                }),
                started: AtomicUsize::new(0),
                helpers: AtomicUsize::new(0),
                joining: AtomicBool::new(false),
                room: (opts.max_queued > 0).then(|| Room::new(opts.max_queued)),
                when_full: opts.when_full,
                on_worker_exit: opts.on_worker_exit,
                idle_timeout: opts.idle_timeout,
                rare: Rare::default(),
                stop_pushed: AtomicBool::new(false),
                max_workers,
                prefix: opts.thread_name_prefix.unwrap_or_else(|| format!("cfut-{}", id - 1)),
                initializer: opts.initializer,
                broken: OnceLock::new(),
                threads: Mutex::new(Threads::default()),
                threads_cond: Condvar::new(),
            }),
        };
        if opts.inline_waits_any_thread {
            help::register(&pool.shared);
        }
        pool
    }

    /// Submits a Rust closure.
    pub fn submit_fn(&self, f: impl FnOnce(&mut crate::future::Sink) -> i32 + Send + 'static) -> Result<Future> {
        self.submit(Job::boxed(f))
    }

    /// How many worker threads are alive or starting (without idle retirement: how many
    /// were started so far).
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

    /// Takes every queued task out of the queue, keeping the stop sentinel in place. The
    /// caller ends each one (cancel or fail) and then counts it with `count_drained`.
    fn drain(&self) -> Vec<Future> {
        let mut out = Vec::new();
        let mut stop = false;
        while let Some(m) = self.queue.pop() {
            match m {
                Msg::Run(f) => {
                    if let Some(r) = &self.room {
                        r.give();
                    }
                    out.push(f)
                }
                Msg::Stop => stop = true,
            }
        }
        if stop {
            self.push(Msg::Stop);
        }
        out
    }

    /// Whether the pool runs `max_workers` threads. The idle count exists to decide whether
    /// a submit starts a thread, so a full pool neither claims nor counts: in a burst that
    /// the workers keep up with, the count moved a line between the submitter and the
    /// workers at every task. A worker that counted itself before the pool filled still
    /// withdraws its count; one that did not count while a peer retired at worst lets a
    /// submit start a thread that was not needed.
    #[inline]
    fn full(&self) -> bool {
        self.started.load(Ordering::Relaxed) >= self.max_workers
    }

    /// Claims one idle worker for a task about to be queued; false if none is idle.
    ///
    /// Claim before sending: a parked worker woken by the message withdraws its idle count
    /// itself unless it was already claimed, so a claim made after the send could find the
    /// count gone and start a thread although an idle worker took the task.
    fn claim_idle(&self) -> bool {
        // The same decrement a worker leaving the idle count makes (`try_withdraw_idle`).
        self.try_withdraw_idle()
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
        let (index, slot) = threads.take_slot();
        // Named by counter slot: unique among live workers, reused after a retirement.
        let spawned = std::thread::Builder::new()
            .name(format!("{}_{}", self.prefix, index))
            .spawn(move || shared.worker(index, slot));
        match spawned {
            Ok(h) => {
                self.started.store(n + 1, Ordering::Release);
                threads.live += 1;
                // Threads that retired are done: forget their handles (joining is moot).
                threads.handles.retain(|h| !h.is_finished());
                threads.handles.push(h);
                if threads.retired_unreplaced > 0 {
                    threads.retired_unreplaced -= 1;
                    threads.restarts += 1;
                }
                None
            }
            Err(e) => {
                threads.free_slots.push(index);
                (n == 0).then(|| format!("could not start a worker thread: {e}"))
            }
        }
    }

    fn worker(self: Arc<Self>, index: usize, slot: Arc<Slot>) {
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
            crate::current::set_slot(Some(slot.clone()));
            let forked = self.work(&slot);
            crate::current::set_slot(None);
            // A task that forked continues here in the child: that worker is not the
            // pool's, so it leaves without touching the pool (see `abandon`).
            if forked {
                return;
            }
        }
        if let Some(on_exit) = &self.on_worker_exit {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| on_exit())).is_err() {
                eprintln!("cfutures: on_worker_exit panicked");
            }
        }
        let mut t = self.threads.lock();
        t.live -= 1;
        t.free_slots.push(index);
        drop(t);
        self.threads_cond.notify_all();
    }

    /// The task loop, until `Stop` or idle retirement; true when the thread finds itself in
    /// a forked child.
    fn work(&self, slot: &Slot) -> bool {
        // True when this worker counted itself idle before publishing its last result.
        let mut idle = false;
        let mut spin = crate::spin::Adaptive::new();
        let mut sample_in = 1;
        loop {
            if self.foreign() {
                return true;
            }
            let msg = match self.queue.pop() {
                Some(m) => {
                    if idle {
                        self.withdraw_idle();
                    }
                    m
                }
                None => match self.wait_idle(idle, &mut spin) {
                    Some(m) => m,
                    None => return false, // retired
                },
            };
            idle = false;
            let f = match msg {
                Msg::Run(f) => f,
                Msg::Stop => {
                    self.push(Msg::Stop);
                    return false;
                }
            };
            slot.dequeued.add(1);
            if let Some(r) = &self.room {
                r.give();
            }
            slot.running.add(1);
            // With nothing queued, become claimable before the result is visible: a caller
            // that submits again as soon as it sees the result (sequential submit+result)
            // then reuses this worker instead of starting a thread.
            let ran = crate::current::run_task(f.id(), || {
                f.run_then_complete(true, |ended| {
                    slot.count(ended);
                    slot.running.sub(1);
                    // `ready` reads the head slot, not the submitters' position: when tasks come
                    // one at a time, reading that after every task took the line a submitter
                    // was pushing with.
                    if !self.queue.ready() {
                        if !self.full() {
                            self.idle.fetch_add(1, Ordering::AcqRel);
                            idle = true;
                        }
                    } else if self.room.is_none() {
                        self.sample_peak(slot, &mut sample_in);
                    }
                })
            });
            if !ran {
                slot.running.sub(1);
                // Cancelled (or failed) while queued: nobody ran it, so count it here. One
                // that a waiter ran inline was counted by that waiter.
                if !f.was_started() {
                    if let Some(e) = f.ended() {
                        slot.count(e);
                    }
                }
            }
        }
    }

    /// An unbounded pool's peak: the queue's length, less shutdown's `Stop`, sampled as tasks
    /// end with work queued: every `PEAK_EVERY` tasks, and at the next task while samples
    /// keep rising (a bounded pool counts its peak exactly as places are taken). Not every
    /// task: the length reads the submitters' position, a line they keep writing.
    fn sample_peak(&self, slot: &Slot, sample_in: &mut u32) {
        *sample_in -= 1;
        if *sample_in > 0 {
            return;
        }
        let stop = self.stop_pushed.load(Ordering::Relaxed) as usize;
        let left = self.queue.len().saturating_sub(stop) as u64;
        let rising = left > slot.peak.get();
        slot.peak.raise(left);
        *sample_in = if rising { 1 } else { PEAK_EVERY };
    }

    /// Queues a message and wakes a parked worker unless a spinning or waking one will
    /// take it (that one passes the baton if more is queued).
    fn push(&self, msg: Msg) {
        self.queue.push(msg);
        // Pairs with the fences in `park` / `pass_baton`: either they see the message or
        // this sees them parked, no longer spinning, or no longer waking.
        fence(Ordering::SeqCst);
        if self.park.parked.load(Ordering::SeqCst) > 0
            && self.spinners.load(Ordering::SeqCst) == 0
            && !self.park.waking.load(Ordering::SeqCst)
        {
            self.wake_one();
        }
    }

    /// Notifies one parked worker unless one is already on its way. Under `park.lock`,
    /// `parked` counts exactly the workers inside `wait`, so one of them leaves it and
    /// clears `waking` (a worker found gone has already left and looks at the queue).
    fn wake_one(&self) {
        let mut g = self.park.lock.lock();
        if self.park.parked.load(Ordering::SeqCst) > 0 && !self.park.waking.load(Ordering::SeqCst) {
            self.park.waking.store(true, Ordering::SeqCst);
            if let Some(s) = g.pop() {
                s.cond.notify_one();
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
            self.count_drained(&f);
        }
    }

    /// Counts a task taken out of the queue by `drain` and ended there.
    fn count_drained(&self, f: &Future) {
        self.rare.submitted.fetch_add(1, Ordering::Relaxed);
        if !f.was_started() {
            if let Some(e) = f.ended() {
                self.rare.count(e);
            }
        }
    }

    /// Waits for every worker to exit and for other threads running its tasks (`help`).
    fn join(&self) {
        let mut t = self.threads.lock();
        self.joining.store(true, Ordering::SeqCst);
        while t.live > 0 || self.helpers.load(Ordering::SeqCst) > 0 {
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
    /// Queues `job` (with a bounded queue: as `when_full` says when it is full). On error
    /// the job is dropped (its argument's destructor runs).
    pub fn submit(&self, job: Job) -> Result<Future> {
        self.submit_keep(job, Admit::Policy, &mut None)
    }

    /// Queues `job` on a queue known to have room for it (or an unbounded one).
    #[inline]
    fn enqueue(&self, job: Job) -> Result<Future> {
        let s = &self.shared;
        // The lines a submit needs that workers wrote last (the ring slot; the idle count
        // while the pool can grow): fetch them now, so their misses overlap with each other
        // and with the gate and the future's block instead of coming one after the other
        // (a one-shot submit->result took 12 % less).
        // A full pool starts no thread, so it keeps no idle count to claim (see `full`).
        let full = s.full();
        s.queue.prefetch_push();
        if !full {
            crate::ring::prefetch_write(&*s.idle);
        }
        if let Err(e) = s.enter() {
            if let Some(r) = &s.room {
                r.give();
            }
            return Err(e.into());
        }
        let f = Future::with_job_in(job, s.tag.0);
        let claimed = !full && s.claim_idle();
        s.push(Msg::Run(f.clone()));
        // A claim is not a worker: between claim and push the claimed worker may take
        // another message, count itself idle afresh and retire, and so may every other.
        // `retire` lowers `started`, fences, then looks at the queue; `push` fenced after
        // publishing, so reading `started` here pairs with it: one side sees the other.
        let failed = if !(claimed || full) || s.started.load(Ordering::SeqCst) == 0 {
            s.adjust_workers()
        } else {
            None
        };
        s.leave();
        if let Some(message) = failed {
            s.break_pool(-1, message);
        }
        Ok(f)
    }

    /// Queues `f(input)`; `input` is copied.
    pub fn submit_bytes(&self, f: BytesFn, input: &[u8]) -> Result<Future> {
        let data = crate::error::copy_bytes(input)?;
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
                s.count_drained(&f);
            }
        }
        if prev & SHUTDOWN == 0 {
            s.stop_pushed.store(true, Ordering::SeqCst);
            s.push(Msg::Stop);
        }
        if wait {
            if crate::current::pool() == s.id || help::helping(s.id) {
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

    /// `Ok` while the pool takes work, else the error `submit` would return now.
    pub(crate) fn check_open(&self) -> Result<()> {
        let s = &self.shared;
        if s.foreign() {
            return Err(Error::new(Status::Unsupported, IN_CHILD));
        }
        let g = s.gate.load(Ordering::SeqCst);
        if g & BROKEN != 0 {
            return Err(Status::Broken.into());
        }
        if g & SHUTDOWN != 0 {
            return Err(Status::Shutdown.into());
        }
        Ok(())
    }

    /// Wakes a parked worker if a message is still queued: for a caller that expected an
    /// idle worker to have taken its task by now. The worker spinning for the queue (which
    /// keeps submits from waking anyone) can sit runnable behind a thread that keeps the
    /// same CPU, while parked workers sleep beside an idle one; a woken worker goes there.
    pub(crate) fn wake_for_queued(&self) {
        let s = &self.shared;
        fence(Ordering::SeqCst);
        if s.park.parked.load(Ordering::SeqCst) > 0 && s.queue.ready() {
            s.wake_one();
        }
    }

    /// True on one of this pool's own worker threads.
    pub(crate) fn on_own_worker(&self) -> bool {
        crate::current::pool() == self.shared.id
    }
}

#[cfg(test)]
impl ThreadPool {
    /// Counts a spinner that never polls, so submits wake nobody: as when the real one sits
    /// runnable behind a busy thread on its CPU.
    pub(crate) fn hold_phantom_spinner(&self, on: bool) {
        if on {
            self.shared.spinners.fetch_add(1, Ordering::SeqCst);
        } else {
            self.shared.spinners.fetch_sub(1, Ordering::SeqCst);
        }
    }

    pub(crate) fn parked_workers(&self) -> usize {
        self.shared.park.parked.load(Ordering::SeqCst)
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        let _ = self.shutdown(true, false);
        help::unregister(&self.shared);
    }
}

mod bounded;
pub(crate) mod help;
mod idle;
#[cfg(test)]
mod tests;
