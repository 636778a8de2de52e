//! The future: a state machine with one outcome, blocking waits, done-callbacks and the
//! waiters installed by `wait` / `as_completed`. A submitted task lives in its future, so a
//! task costs one allocation.

use std::any::Any;
use std::ffi::{c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use crate::sync::cell::UnsafeCell;
use crate::sync::{Condvar, Mutex};

use crate::foreign::Owned;
use crate::spin::{spin_until, SPIN};
use crate::stats::Ended;
use crate::status::Status;
use crate::time::Deadline;
use crate::waiter::Waiter;

mod job;
mod sink;
#[cfg(all(test, not(loom)))]
mod tests;
pub mod unobserved;

pub use job::{ForeignFn, ForeignJob, Job};
use job::panic_message;
pub use sink::{to_cstring, CancelProbe, Outcome, Sink, TaskError, Value};
use sink::Stored;

const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const FINISHED: u8 = 2;
const FAILED: u8 = 3;
const CANCELLED: u8 = 4;

/// `Inner::sleepers`: the sleeper count, and two flags above it.
const SLEEPERS: u32 = (1 << 30) - 1;
const STARTED: u32 = 1 << 30;
const OBSERVED: u32 = 1 << 31;

/// The observable state of a future.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Pending,
    Running,
    /// Done with a value.
    Finished,
    /// Done with an error.
    Failed,
    Cancelled,
}

impl State {
    fn from_u8(v: u8) -> State {
        match v {
            PENDING => State::Pending,
            RUNNING => State::Running,
            FINISHED => State::Finished,
            FAILED => State::Failed,
            _ => State::Cancelled,
        }
    }

    pub fn is_done(self) -> bool {
        matches!(self, State::Finished | State::Failed | State::Cancelled)
    }
}


/// A done-callback; it receives the future it was added to.
pub type Callback = Box<dyn FnOnce(&Future) + Send>;

/// Run once if cancellation of the running task is requested (an executor forwards the
/// request to where the task runs); dropped unrun when the future completes first.
pub type CancelHook = Box<dyn FnOnce() + Send>;

/// Something to tell when the future is done (or, for `OnCancelRequest`, when cancellation
/// is requested). Callbacks and waiters share one vector so an untouched future carries one
/// empty `Vec`, not two.
enum Hook {
    Callback(Callback),
    Waiter(Arc<Waiter>),
    OnCancelRequest(CancelHook),
}

struct Guarded {
    job: Option<Job>,
    hooks: Vec<Hook>,
}

/// A value published once by a future: written under the future's lock before the Release
/// store of a done state, read only after an Acquire load of that state. The state word already
/// orders it, so a `OnceLock` (one more word and one more atomic per task) is not needed.
struct Published<T>(UnsafeCell<Option<T>>);

// SAFETY: shared access follows the publication protocol above (one write, then reads only).
unsafe impl<T: Send + Sync> Sync for Published<T> {}

impl<T> Published<T> {
    fn empty() -> Self {
        Published(UnsafeCell::new(None))
    }

    /// # Safety
    /// At most once, under the future's lock, before any state that announces it is stored.
    unsafe fn publish(&self, v: T) {
        self.0.with_mut(|p| {
            // SAFETY: the caller holds the future's lock and nothing reads the slot before the
            // state that announces it, so this is the only reference.
            let slot = unsafe { &mut *p };
            debug_assert!(slot.is_none(), "outcome published twice");
            *slot = Some(v);
        })
    }

    /// # Safety
    /// Only after an Acquire load observed a state stored after `publish`.
    unsafe fn get(&self) -> Option<&T> {
        // SAFETY: the caller observed the publishing state (Acquire); the slot is never
        // written again, so shared references are sound.
        self.0.with(|p| unsafe { (*p).as_ref() })
    }
}

pub(crate) struct Inner {
    state: AtomicU8,
    /// Cancellation of the running task was requested (`request_cancel`); the task's sink
    /// reads it. Sits in the state word's padding.
    cancel_requested: AtomicBool,
    /// Threads blocked on `cond` (the `SLEEPERS` bits; changed only under `guarded`: an
    /// atomic to share the state's word instead of growing `Guarded`), and two flags that
    /// would not fit the 128-byte future on their own: `STARTED` (the task was taken to
    /// run: a pool's counters tell a cancelled task that never ran from one that did) and
    /// `OBSERVED` (someone read the outcome: a failure nobody read goes to the
    /// unobserved-error hook when the future is freed).
    sleepers: AtomicU32,
    /// The fork generation an executor created this future in (`u32::MAX`: standalone).
    /// In a forked child no thread will finish such a future, so a wait fails it.
    fork_gen: u32,
    /// The tag of the thread pool whose queue holds this future's task (0: none). A worker
    /// of that pool that waits on it while it is pending runs it inline (`crate::deadlock`).
    /// 16 bits keep the future in a 128-byte malloc chunk; live pools have distinct tags.
    pool: u16,
    outcome: Published<Stored>,
    guarded: Mutex<Guarded>,
    cond: Condvar,
}

const ORPHANED: &str = "the host forked while this future was queued or running in the parent process; \
it cannot finish in the child";

/// A reference-counted handle to one future.
#[derive(Clone)]
pub struct Future(pub(crate) Arc<Inner>);

impl Default for Future {
    fn default() -> Self {
        Future::new()
    }
}

/// What a completion took out of the future, to be acted on outside the lock.
struct Completion {
    job: Option<Job>,
    hooks: Vec<Hook>,
    wake: bool,
}

impl Future {
    /// A standalone PENDING future (Python's `Future()`).
    pub fn new() -> Future {
        Future::from_job(None)
    }

    /// A PENDING future carrying the job an executor will run.
    pub fn with_job(job: Job) -> Future {
        Future::from_job(Some(job))
    }

    /// `with_job` for a task queued on thread pool `pool` (its id, not 0).
    pub(crate) fn with_job_in(job: Job, pool: u16) -> Future {
        Future::build(Some(job), crate::fork::current() as u32, pool)
    }

    /// The thread pool that queued this future's task (0: none).
    pub(crate) fn pool(&self) -> u16 {
        self.0.pool
    }

    /// A PENDING future an executor's own thread will complete (a process pool's manager):
    /// like `with_job`, it fails with `Broken` when waited on in a forked child.
    pub fn for_executor() -> Future {
        Future::build(None, crate::fork::current() as u32, 0)
    }

    fn from_job(job: Option<Job>) -> Future {
        let gen = if job.is_some() { crate::fork::current() as u32 } else { u32::MAX };
        Future::build(job, gen, 0)
    }

    fn build(job: Option<Job>, fork_gen: u32, pool: u16) -> Future {
        if let Some(mut arc) = spare::take() {
            // A spare is unique (its last handle went) and holds a blank future
            // (`Inner::reset`): only the fields a new one sets are written, in place. Moving
            // a whole fresh `Inner` in cost a tenth of a submit (its copies through the stack
            // stalled on store forwarding).
            if let Some(slot) = Arc::get_mut(&mut arc) {
                slot.fork_gen = fork_gen;
                slot.pool = pool;
                slot.guarded.get_mut().job = job;
                return Future(arc);
            }
        }
        Future(Arc::new(Inner::fresh(job, fork_gen, pool)))
    }

    /// An identity usable as a key while a reference is held.
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    pub fn state(&self) -> State {
        State::from_u8(self.0.state.load(Ordering::Acquire))
    }

    pub fn done(&self) -> bool {
        self.state().is_done()
    }

    pub fn running(&self) -> bool {
        self.state() == State::Running
    }

    pub fn cancelled(&self) -> bool {
        self.state() == State::Cancelled
    }

    /// The outcome once finished or failed; `None` while pending/running or when cancelled.
    pub fn outcome(&self) -> Option<Result<&Value, &TaskError>> {
        if matches!(self.state(), State::Finished | State::Failed) {
            // SAFETY: the Acquire load in `state()` saw FINISHED or FAILED, stored after the
            // outcome was published.
            unsafe { self.0.outcome.get() }.map(|o| o.as_ref().map_err(|e| &**e))
        } else {
            None
        }
    }

    /// In a child forked after an executor took this future, the threads that would run or
    /// finish it do not exist: fail it (Broken) so waiting on it returns.
    pub(crate) fn fail_if_orphaned(&self) {
        let gen = self.0.fork_gen;
        if gen != u32::MAX && crate::fork::forked_since_u32(gen) && !self.done() {
            let _ = self.fail(TaskError::new(Status::Broken, -1, Some(ORPHANED)));
        }
    }

    /// Blocks until done or the deadline passes; true if done.
    pub fn wait(&self, deadline: Deadline) -> bool {
        if self.done() {
            return true;
        }
        if deadline == Deadline::Poll {
            return false;
        }
        if spin_until(SPIN, || self.done()) {
            return true;
        }
        self.fail_if_orphaned();
        let mut g = self.0.guarded.lock();
        while !self.done() {
            self.0.sleepers.fetch_add(1, Ordering::Relaxed);
            let timed_out = match deadline.instant() {
                None => {
                    self.0.cond.wait(&mut g);
                    false
                }
                Some(t) => self.0.cond.wait_until(&mut g, t).timed_out(),
            };
            self.0.sleepers.fetch_sub(1, Ordering::Relaxed);
            if timed_out {
                return self.done();
            }
        }
        true
    }

    /// Python's `result()`: the value, or the status of the outcome, or `Timeout`.
    pub fn result(&self, deadline: Deadline) -> Result<&Value, Status> {
        if !self.wait(deadline) {
            return Err(Status::Timeout);
        }
        self.mark_observed();
        match self.outcome() {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(e.status),
            None => Err(Status::Cancelled),
        }
    }

    /// Python's `exception()`: `Ok(None)` on success, `Ok(Some(err))` on failure,
    /// `Err(Cancelled)` or `Err(Timeout)`.
    pub fn error(&self, deadline: Deadline) -> Result<Option<&TaskError>, Status> {
        if !self.wait(deadline) {
            return Err(Status::Timeout);
        }
        self.mark_observed();
        match self.outcome() {
            Some(Ok(_)) => Ok(None),
            Some(Err(e)) => Ok(Some(e)),
            None => Err(Status::Cancelled),
        }
    }

    /// PENDING → RUNNING. Returns the job to run (`Some(None)` for a standalone future), or
    /// `None` when the future was cancelled or is not pending: the caller must not run it.
    pub fn start(&self) -> Option<Option<Job>> {
        // Straight to the lock, no unlocked look at the state first: the worker's first touch
        // of a block the submitter just wrote then takes its line exclusive at once, where
        // a load first fetched it shared and the lock fetched it again.
        let mut g = self.0.guarded.lock();
        if self.0.state.load(Ordering::Relaxed) != PENDING {
            return None;
        }
        // Before the state: whoever sees RUNNING (Acquire) also sees STARTED. A plain store:
        // under the lock, and OBSERVED (the one bit set without it) is only set once done.
        let w = self.0.sleepers.load(Ordering::Relaxed);
        self.0.sleepers.store(w | STARTED, Ordering::Relaxed);
        self.0.state.store(RUNNING, Ordering::Release);
        Some(g.job.take())
    }

    /// True once the task was taken to run (a cancelled future that never started: false).
    pub fn was_started(&self) -> bool {
        self.0.sleepers.load(Ordering::Relaxed) & STARTED != 0
    }

    /// Records that the outcome was reported to someone: a failure will not go to the
    /// unobserved-error hook. Called once done; only a failure is marked (the hook sees no
    /// other), so reading a success writes nothing to the line the worker just wrote.
    pub fn mark_observed(&self) {
        if self.0.state.load(Ordering::Relaxed) == FAILED && self.0.sleepers.load(Ordering::Relaxed) & OBSERVED == 0 {
            self.0.sleepers.fetch_or(OBSERVED, Ordering::Relaxed);
        }
    }

    /// Python's `set_running_or_notify_cancel`: true if now RUNNING; false if cancelled
    /// (or in any state other than PENDING).
    pub fn set_running_or_notify_cancel(&self) -> bool {
        match self.start() {
            Some(job) => {
                drop(job);
                true
            }
            None => false,
        }
    }

    /// Runs the job this future carries, if it is still pending, and completes it.
    pub fn run(&self, pointers_allowed: bool) {
        self.run_then_complete(pointers_allowed, |_| {});
    }

    /// `run`, calling `before_complete` with how the task ended after the job returned and
    /// before its outcome is published (an executor marks its worker available and counts
    /// the task there, so whoever sees the result also sees both). Not called when the
    /// future was not pending; returns whether the job ran.
    pub fn run_then_complete(&self, pointers_allowed: bool, before_complete: impl FnOnce(Ended)) -> bool {
        let Some(Some(job)) = self.start() else { return false };
        let mut sink = Sink::new(pointers_allowed);
        sink.watch(&self.0.cancel_requested);
        let rc = job.run(&mut sink);
        let acknowledged = sink.cancel_acknowledged();
        let outcome = sink.into_outcome(rc);
        if acknowledged {
            before_complete(Ended::Cancelled);
            drop(outcome);
            self.end_cancelled();
        } else {
            before_complete(if outcome.is_ok() { Ended::Completed } else { Ended::Failed });
            let _ = self.complete(outcome);
        }
        true
    }

    /// How a done future ended, for counters (`None` while not done).
    pub fn ended(&self) -> Option<Ended> {
        match self.state() {
            State::Finished => Some(Ended::Completed),
            State::Failed => Some(Ended::Failed),
            State::Cancelled => Some(Ended::Cancelled),
            _ => None,
        }
    }

    /// True once cancellation of this future's task was requested (`request_cancel` while
    /// it ran).
    pub fn cancel_requested(&self) -> bool {
        self.0.cancel_requested.load(Ordering::Acquire)
    }

    /// Cooperative cancellation: a pending future is cancelled (true, as `cancel`); a
    /// running one gets its request flag set, which its task reads through its sink, and
    /// its executor's cancel hooks run (false); a done one is left alone (`cancelled()`).
    pub fn request_cancel(&self) -> bool {
        let mut g = self.0.guarded.lock();
        match self.0.state.load(Ordering::Relaxed) {
            PENDING => {
                self.0.state.store(CANCELLED, Ordering::Release);
                let c = take_completion(&mut g, &self.0.sleepers);
                drop(g);
                self.finish_completion(c, false);
                true
            }
            RUNNING => {
                let first = !self.0.cancel_requested.swap(true, Ordering::AcqRel);
                let mut hooks = Vec::new();
                if first {
                    let mut i = 0;
                    while i < g.hooks.len() {
                        if matches!(g.hooks[i], Hook::OnCancelRequest(_)) {
                            if let Hook::OnCancelRequest(h) = g.hooks.remove(i) {
                                hooks.push(h);
                            }
                        } else {
                            i += 1;
                        }
                    }
                }
                drop(g);
                for h in hooks {
                    if let Err(p) = catch_unwind(AssertUnwindSafe(h)) {
                        eprintln!("cfutures: a cancel-request hook panicked: {}", panic_message(&p));
                    }
                }
                false
            }
            s => s == CANCELLED,
        }
    }

    /// Registers `hook` to run once if cancellation is requested while the task runs; at
    /// once if it already was. Dropped unrun if the future completes first.
    pub fn on_cancel_request(&self, hook: CancelHook) {
        let mut g = self.0.guarded.lock();
        if self.done() {
            return;
        }
        if self.cancel_requested() {
            drop(g);
            hook();
            return;
        }
        g.hooks.push(Hook::OnCancelRequest(hook));
    }

    /// RUNNING → CANCELLED: the task acknowledged a cancellation request (or its executor
    /// stopped it on request). Callbacks and waiters see a cancelled future. False if the
    /// future was not running.
    pub fn end_cancelled(&self) -> bool {
        let mut g = self.0.guarded.lock();
        if self.0.state.load(Ordering::Relaxed) != RUNNING {
            return false;
        }
        self.0.state.store(CANCELLED, Ordering::Release);
        let c = take_completion(&mut g, &self.0.sleepers);
        drop(g);
        self.finish_completion(c, false);
        true
    }

    /// Stores the outcome of a pending or running future. A done future keeps its first
    /// outcome and `Err(InvalidState)` is returned (the rejected outcome is dropped).
    pub fn complete(&self, outcome: Outcome) -> Result<(), Status> {
        let mut g = self.0.guarded.lock();
        let s = self.0.state.load(Ordering::Relaxed);
        if s >= FINISHED {
            drop(g);
            drop(outcome);
            return Err(Status::InvalidState);
        }
        let new = if outcome.is_ok() { FINISHED } else { FAILED };
        // SAFETY: under the lock, in a state that is not done (so no outcome yet), and before
        // the Release store below announces it.
        unsafe { self.0.outcome.publish(outcome.map_err(Box::new)) };
        self.0.state.store(new, Ordering::Release);
        let c = take_completion(&mut g, &self.0.sleepers);
        drop(g);
        self.finish_completion(c, new == FAILED);
        Ok(())
    }

    /// Fails a future with an executor-level error (broken pool, dead worker).
    pub fn fail(&self, error: TaskError) -> Result<(), Status> {
        self.complete(Err(error))
    }

    /// Cancels a pending future: true if it is now (or already was) cancelled.
    pub fn cancel(&self) -> bool {
        let mut g = self.0.guarded.lock();
        match self.0.state.load(Ordering::Relaxed) {
            PENDING => {}
            CANCELLED => return true,
            _ => return false,
        }
        self.0.state.store(CANCELLED, Ordering::Release);
        let c = take_completion(&mut g, &self.0.sleepers);
        drop(g);
        self.finish_completion(c, false);
        true
    }

    fn finish_completion(&self, c: Completion, failed: bool) {
        if c.wake {
            self.0.cond.notify_all();
        }
        if c.hooks.is_empty() {
            return; // the common case: nobody asked to be told (`c.job` drops here)
        }
        let mut callbacks = Vec::new();
        for h in c.hooks {
            match h {
                Hook::Waiter(w) => w.notify(self.id(), failed),
                Hook::Callback(cb) => callbacks.push(cb),
                Hook::OnCancelRequest(_) => {}
            }
        }
        drop(c.job);
        for cb in callbacks {
            self.invoke(cb);
        }
    }

    fn invoke(&self, cb: Callback) {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| cb(self))) {
            eprintln!("cfutures: a done-callback panicked: {}", panic_message(&p));
        }
    }

    /// Runs `cb` once the future is done: now, on this thread, if it already is; otherwise
    /// on the thread that completes or cancels it. Callbacks run in the order added.
    pub fn add_done_callback(&self, cb: Callback) {
        let mut g = self.0.guarded.lock();
        if !self.done() {
            g.hooks.push(Hook::Callback(cb));
            return;
        }
        drop(g);
        self.invoke(cb);
    }

    /// Installs a waiter notified when this future completes; false if already done.
    pub(crate) fn add_waiter(&self, w: &Arc<Waiter>) -> bool {
        let mut g = self.0.guarded.lock();
        if self.done() {
            return false;
        }
        g.hooks.push(Hook::Waiter(w.clone()));
        true
    }

    pub(crate) fn remove_waiter(&self, w: &Arc<Waiter>) {
        let mut g = self.0.guarded.lock();
        g.hooks.retain(|h| !matches!(h, Hook::Waiter(x) if Arc::ptr_eq(x, w)));
    }

    #[cfg(test)]
    pub(crate) fn waiter_count(&self) -> usize {
        self.0.guarded.lock().hooks.iter().filter(|h| matches!(h, Hook::Waiter(_))).count()
    }

    /// True if the outcome is a failure (not a cancellation).
    pub fn failed(&self) -> bool {
        self.state() == State::Failed
    }
}

impl Drop for Inner {
    /// The last reference went: a failure nobody read goes to the unobserved-error hook.
    fn drop(&mut self) {
        self.report_unobserved();
    }
}

impl Inner {
    /// A failure nobody read goes to the unobserved-error hook (the last reference is going).
    fn report_unobserved(&mut self) {
        // Loads rather than `get_mut`: loom's atomics have none (the cost is the same).
        if self.state.load(Ordering::Acquire) != FAILED || self.sleepers.load(Ordering::Relaxed) & OBSERVED != 0 {
            return;
        }
        // SAFETY: the state is FAILED, stored after the outcome was published, and we own
        // the only reference.
        if let Some(Err(e)) = unsafe { self.outcome.get() } {
            unobserved::report(e);
        }
    }

    /// Empties a block whose last reference is going, as dropping it would, and leaves it
    /// blank for `build` (the state `Inner::fresh(None, u32::MAX, 0)` makes), field by
    /// field: moving a whole blank `Inner` in goes through the stack.
    fn reset(&mut self) {
        self.report_unobserved();
        self.state.store(PENDING, Ordering::Relaxed);
        self.cancel_requested.store(false, Ordering::Relaxed);
        self.sleepers.store(0, Ordering::Relaxed);
        self.fork_gen = u32::MAX;
        self.pool = 0;
        self.outcome = Published::empty();
        let g = self.guarded.get_mut();
        g.job = None;
        g.hooks = Vec::new();
    }

    fn fresh(job: Option<Job>, fork_gen: u32, pool: u16) -> Inner {
        Inner {
            state: AtomicU8::new(PENDING),
            cancel_requested: AtomicBool::new(false),
            sleepers: AtomicU32::new(0),
            fork_gen,
            pool,
            outcome: Published::empty(),
            guarded: Mutex::new(Guarded { job, hooks: Vec::new() }),
            cond: Condvar::new(),
        }
    }
}

impl Drop for Future {
    /// The last handle keeps its allocation for this thread's next future (see `spare`):
    /// the future's contents go now, as if it were freed (a failure nobody read reaches
    /// the unobserved-error hook here), and the block stays.
    fn drop(&mut self) {
        // Only the last handle can see 1, and no other thread can make a new one from
        // nothing: a stale larger count only means this drop frees as before.
        if Arc::strong_count(&self.0) != 1 || !spare::wanted() {
            return;
        }
        let Some(inner) = Arc::get_mut(&mut self.0) else { return };
        inner.reset();
        // The cache's clone outlives the field's drop, which follows this function.
        spare::put(self.0.clone());
    }
}

/// Blocks of futures whose last handle went on this thread, reused by the next futures
/// this thread builds: a burst of submits then releases on one thread (the usual
/// submitter) stops paying malloc and free per task (glibc's path for 100 000 live
/// blocks was a third of the submitter's instructions). Only threads that build futures
/// keep blocks (a worker that drops the last handle of futures it never builds frees
/// them), at most `MAX` each, freed when the thread exits. Not in the loom build (loom's
/// atomics live for one execution).
mod spare {
    use super::Inner;
    use std::sync::Arc;

    /// At most this many blocks wait on a thread (128 bytes each: 8 MiB), no more than
    /// a burst of that many futures had live at once.
    pub(super) const MAX: usize = 1 << 16;

    #[cfg(not(loom))]
    thread_local! {
        static SPARE: std::cell::RefCell<Vec<Arc<Inner>>> = const { std::cell::RefCell::new(Vec::new()) };
        /// This thread has built a future (only then is a spare worth keeping here).
        static BUILDS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// True on a thread that builds futures while its cache has room (false during its
    /// teardown).
    #[cfg(not(loom))]
    pub(super) fn wanted() -> bool {
        BUILDS.try_with(|b| b.get()).unwrap_or(false)
            && SPARE.try_with(|s| s.try_borrow().is_ok_and(|v| v.len() < MAX)).unwrap_or(false)
    }

    /// How many blocks wait on this thread.
    #[cfg(all(test, not(loom)))]
    pub(super) fn len() -> usize {
        SPARE.with(|s| s.borrow().len())
    }

    #[cfg(not(loom))]
    pub(super) fn put(arc: Arc<Inner>) {
        let back = SPARE.try_with(|s| match s.try_borrow_mut() {
            Ok(mut v) if v.len() < MAX => {
                v.push(arc);
                None
            }
            _ => Some(arc),
        });
        // No room (or the thread is exiting): dropping frees the block as before.
        drop(back);
    }

    #[cfg(not(loom))]
    pub(super) fn take() -> Option<Arc<Inner>> {
        let _ = BUILDS.try_with(|b| b.set(true));
        SPARE.try_with(|s| s.try_borrow_mut().ok().and_then(|mut v| v.pop())).ok().flatten()
    }

    #[cfg(loom)]
    pub(super) fn wanted() -> bool {
        false
    }

    #[cfg(loom)]
    pub(super) fn put(_: Arc<Inner>) {}

    #[cfg(loom)]
    pub(super) fn take() -> Option<Arc<Inner>> {
        None
    }
}

fn take_completion(g: &mut Guarded, sleepers: &AtomicU32) -> Completion {
    Completion {
        job: g.job.take(),
        hooks: std::mem::take(&mut g.hooks),
        wake: sleepers.load(Ordering::Relaxed) & SLEEPERS > 0,
    }
}
