//! The future: a state machine with one outcome, blocking waits, done-callbacks and the
//! waiters installed by `wait` / `as_completed`. A submitted task lives in its future, so a
//! task costs one allocation.

use std::any::Any;
use std::ffi::{c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::cell::UnsafeCell;
use std::sync::Arc;

use crate::sync::{Condvar, Mutex};

use crate::foreign::Owned;
use crate::spin::{spin_until, SPIN};
use crate::status::Status;
use crate::time::Deadline;
use crate::waiter::Waiter;

const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const FINISHED: u8 = 2;
const FAILED: u8 = 3;
const CANCELLED: u8 = 4;

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

/// A successful result.
#[derive(Default)]
pub enum Value {
    #[default]
    Empty,
    /// A foreign pointer (length 0), dropped with its destructor when the future goes.
    Foreign(Owned),
    Bytes(Box<[u8]>),
    /// A Rust value, for the core's own users (e.g. map chunk reports).
    Any(Box<dyn Any + Send + Sync>),
}

static EMPTY_BYTES: [u8; 1] = [0];

impl Value {
    /// The (pointer, length) pair the C API hands out. Zero-length bytes get a valid
    /// non-NULL pointer, so "no value" and "empty bytes" stay distinguishable.
    pub fn as_ptr_len(&self) -> (*const c_void, usize) {
        match self {
            Value::Empty | Value::Any(_) => (std::ptr::null(), 0),
            Value::Foreign(o) => (o.as_ptr() as *const c_void, 0),
            Value::Bytes(b) if b.is_empty() => (EMPTY_BYTES.as_ptr() as *const c_void, 0),
            Value::Bytes(b) => (b.as_ptr() as *const c_void, b.len()),
        }
    }

    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        match self {
            Value::Any(b) => b.downcast_ref(),
            _ => None,
        }
    }
}

/// Why a future failed.
pub struct TaskError {
    /// `TaskFailed`, `WorkerDied` or `Broken`.
    pub status: Status,
    pub code: i32,
    pub message: Option<CString>,
    pub payload: Option<Owned>,
}

impl TaskError {
    pub fn new(status: Status, code: i32, message: Option<&str>) -> TaskError {
        TaskError {
            status,
            code,
            message: message.map(to_cstring),
            payload: None,
        }
    }
}

/// A message as a C string; interior NULs (impossible from C) are cut.
pub fn to_cstring(s: &str) -> CString {
    let end = s.find('\0').unwrap_or(s.len());
    CString::new(&s[..end]).unwrap_or_default()
}

pub type Outcome = Result<Value, TaskError>;

/// An outcome as a future stores it: the error boxed, so a future that succeeds (the common
/// case) does not carry the error's room.
type Stored = Result<Value, Box<TaskError>>;

/// What a running task writes its result into (the C `cfut_result`).
pub struct Sink {
    value: Value,
    error: Option<(i32, Option<CString>)>,
    payload: Option<Owned>,
    pointers_allowed: bool,
}

impl Sink {
    /// `pointers_allowed` is false where only bytes can cross (process pools).
    pub fn new(pointers_allowed: bool) -> Sink {
        Sink {
            value: Value::Empty,
            error: None,
            payload: None,
            pointers_allowed,
        }
    }

    /// Replaces the value (a previous value is dropped now).
    pub fn set_value(&mut self, value: Owned) -> Status {
        if !self.pointers_allowed {
            return Status::Unsupported;
        }
        self.value = Value::Foreign(value);
        Status::Ok
    }

    pub fn set_bytes(&mut self, bytes: &[u8]) {
        self.value = Value::Bytes(bytes.into());
    }

    pub fn set_any(&mut self, v: Box<dyn Any + Send + Sync>) {
        self.value = Value::Any(v);
    }

    /// Marks the task failed with this code and message.
    pub fn set_error(&mut self, code: i32, message: Option<&CStr>) {
        self.error = Some((code, message.map(CStr::to_owned)));
    }

    pub fn set_error_payload(&mut self, payload: Owned) -> Status {
        if !self.pointers_allowed {
            return Status::Unsupported;
        }
        self.payload = Some(payload);
        if self.error.is_none() {
            self.error = Some((0, None));
        }
        Status::Ok
    }

    /// The outcome of a task that returned `rc`: a non-zero return or a recorded error fails
    /// it, and the non-zero return wins for the code.
    pub fn into_outcome(self, rc: i32) -> Outcome {
        if rc == 0 && self.error.is_none() {
            return Ok(self.value);
        }
        let (code, message) = self.error.unwrap_or((rc, None));
        Err(TaskError {
            status: Status::TaskFailed,
            code: if rc != 0 { rc } else { code },
            message,
            payload: self.payload,
        })
    }
}

/// A foreign task function: called with its argument and the task's sink, lent as an opaque
/// pointer (the C `cfut_result *`) for the duration of the call.
pub type ForeignFn = unsafe extern "C" fn(arg: *mut c_void, sink: *mut c_void) -> i32;

/// A foreign function and its argument. The fields are private so that only the unsafe
/// `Job::foreign`, whose caller vouches for the call, can build one.
pub struct ForeignJob {
    func: ForeignFn,
    arg: Owned,
}

/// The work a future stands for.
pub enum Job {
    /// A foreign function and its argument, stored inline (no extra allocation).
    Foreign(ForeignJob),
    Boxed(Box<dyn FnOnce(&mut Sink) -> i32 + Send>),
}

impl Job {
    pub fn boxed(f: impl FnOnce(&mut Sink) -> i32 + Send + 'static) -> Job {
        Job::Boxed(Box::new(f))
    }

    /// # Safety
    /// `func` must be safe to call once with `arg.as_ptr()` and a sink pointer, on any thread.
    pub unsafe fn foreign(func: ForeignFn, arg: Owned) -> Job {
        Job::Foreign(ForeignJob { func, arg })
    }

    /// Runs the job; a panic becomes a failure of the task, never of the worker.
    pub fn run(self, sink: &mut Sink) -> i32 {
        match self {
            // SAFETY: vouched for by the caller of `Job::foreign`; the sink outlives the call.
            Job::Foreign(ForeignJob { func, arg }) => unsafe { func(arg.as_ptr(), sink as *mut Sink as *mut c_void) },
            Job::Boxed(f) => match catch_unwind(AssertUnwindSafe(|| f(&mut *sink))) {
                Ok(rc) => rc,
                Err(p) => {
                    let msg = panic_message(&p);
                    sink.set_error(-1, Some(&to_cstring(&format!("task panicked: {msg}"))));
                    -1
                }
            },
        }
    }
}

fn panic_message(p: &Box<dyn Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

/// A done-callback; it receives the future it was added to.
pub type Callback = Box<dyn FnOnce(&Future) + Send>;

/// Something to tell when the future is done. Callbacks and waiters share one vector so an
/// untouched future carries one empty `Vec`, not two.
enum Hook {
    Callback(Callback),
    Waiter(Arc<Waiter>),
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
        // SAFETY: the caller holds the future's lock and nothing reads the slot before the
        // state that announces it, so this is the only reference.
        let slot = unsafe { &mut *self.0.get() };
        debug_assert!(slot.is_none(), "outcome published twice");
        *slot = Some(v);
    }

    /// # Safety
    /// Only after an Acquire load observed a state stored after `publish`.
    unsafe fn get(&self) -> Option<&T> {
        // SAFETY: the caller observed the publishing state (Acquire); the slot is never
        // written again, so shared references are sound.
        unsafe { (*self.0.get()).as_ref() }
    }
}

pub(crate) struct Inner {
    state: AtomicU8,
    /// Threads blocked on `cond`; changed only under `guarded` (an atomic to share the
    /// state's word instead of growing `Guarded`).
    sleepers: AtomicU32,
    /// The fork generation an executor created this future in (`u32::MAX`: standalone).
    /// In a forked child no thread will finish such a future, so a wait fails it.
    fork_gen: u32,
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

    fn from_job(job: Option<Job>) -> Future {
        Future(Arc::new(Inner {
            state: AtomicU8::new(PENDING),
            sleepers: AtomicU32::new(0),
            fork_gen: if job.is_some() { crate::fork::current() as u32 } else { u32::MAX },
            outcome: Published::empty(),
            guarded: Mutex::new(Guarded {
                job,
                hooks: Vec::new(),
            }),
            cond: Condvar::new(),
        }))
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
        match self.outcome() {
            Some(Ok(_)) => Ok(None),
            Some(Err(e)) => Ok(Some(e)),
            None => Err(Status::Cancelled),
        }
    }

    /// PENDING → RUNNING. Returns the job to run (`Some(None)` for a standalone future), or
    /// `None` when the future was cancelled or is not pending: the caller must not run it.
    pub fn start(&self) -> Option<Option<Job>> {
        let mut g = self.0.guarded.lock();
        if self.0.state.load(Ordering::Relaxed) != PENDING {
            return None;
        }
        self.0.state.store(RUNNING, Ordering::Release);
        Some(g.job.take())
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
        self.run_then_complete(pointers_allowed, || {});
    }

    /// `run`, calling `before_complete` after the job returned and before its outcome is
    /// published (an executor marks its worker available there, so whoever sees the result
    /// also sees the worker free). Not called when the future was not pending.
    pub fn run_then_complete(&self, pointers_allowed: bool, before_complete: impl FnOnce()) {
        if let Some(Some(job)) = self.start() {
            let mut sink = Sink::new(pointers_allowed);
            let rc = job.run(&mut sink);
            let outcome = sink.into_outcome(rc);
            before_complete();
            let _ = self.complete(outcome);
        }
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

fn take_completion(g: &mut Guarded, sleepers: &AtomicU32) -> Completion {
    Completion {
        job: g.job.take(),
        hooks: std::mem::take(&mut g.hooks),
        wake: sleepers.load(Ordering::Relaxed) > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    fn ok_bytes(b: &[u8]) -> Outcome {
        Ok(Value::Bytes(b.into()))
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_future_fits_glibc_fastbins() {
        // Arc's two counts + Inner must stay within a 128-byte malloc chunk (120 bytes
        // requested): frees then take glibc's fastbin path, and a million outstanding
        // futures stay near 130 MB.
        assert!(std::mem::size_of::<Inner>() + 16 <= 120, "Inner is {} bytes", std::mem::size_of::<Inner>());
    }

    #[test]
    fn state_transitions_follow_cpython() {
        let f = Future::new();
        assert_eq!(f.state(), State::Pending);
        assert!(!f.done() && !f.running() && !f.cancelled());
        assert!(f.set_running_or_notify_cancel());
        assert!(f.running());
        assert!(!f.cancel(), "a running future cannot be cancelled");
        assert!(!f.set_running_or_notify_cancel());
        f.complete(ok_bytes(b"42")).unwrap();
        assert_eq!(f.state(), State::Finished);
        assert!(!f.cancel());
        assert_eq!(f.complete(ok_bytes(b"x")), Err(Status::InvalidState));
        let (p, n) = f.result(Deadline::Poll).unwrap().as_ptr_len();
        // SAFETY: the bytes value lives as long as the future, which `f` holds.
        assert_eq!(unsafe { std::slice::from_raw_parts(p as *const u8, n) }, b"42");
    }

    #[test]
    fn cancel_is_sticky_and_blocks_start() {
        let f = Future::new();
        assert!(f.cancel());
        assert!(f.cancel());
        assert!(f.cancelled() && f.done());
        assert!(!f.set_running_or_notify_cancel());
        assert_eq!(f.result(Deadline::Poll).err(), Some(Status::Cancelled));
        assert_eq!(f.error(Deadline::Poll).err(), Some(Status::Cancelled));
        assert_eq!(f.complete(ok_bytes(b"")), Err(Status::InvalidState));
    }

    #[test]
    fn timeouts_on_pending_and_running() {
        let f = Future::new();
        assert_eq!(f.result(Deadline::Poll).err(), Some(Status::Timeout));
        let t = std::time::Instant::now();
        assert_eq!(f.result(Deadline::after(Duration::from_millis(20))).err(), Some(Status::Timeout));
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn errors_are_reported_and_kept() {
        let f = Future::new();
        f.fail(TaskError::new(Status::TaskFailed, 7, Some("boom"))).unwrap();
        assert_eq!(f.result(Deadline::Poll).err(), Some(Status::TaskFailed));
        let e = f.error(Deadline::Poll).unwrap().unwrap();
        assert_eq!((e.code, e.message.as_deref().unwrap().to_str().unwrap()), (7, "boom"));
        assert!(f.fail(TaskError::new(Status::TaskFailed, 8, None)).is_err());
        assert_eq!(f.error(Deadline::Poll).unwrap().unwrap().code, 7);
    }

    #[test]
    fn blocked_result_wakes_on_set_and_cancel() {
        let f = Future::new();
        let g = f.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            g.complete(ok_bytes(b"1")).unwrap();
        });
        assert!(f.result(Deadline::Never).is_ok());
        t.join().unwrap();

        let f = Future::new();
        let g = f.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            assert!(g.cancel());
        });
        assert_eq!(f.result(Deadline::Never).err(), Some(Status::Cancelled));
        t.join().unwrap();
    }

    #[test]
    fn callbacks_run_once_in_order_and_immediately_when_done() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let f = Future::new();
        for i in 0..3 {
            let l = log.clone();
            f.add_done_callback(Box::new(move |fut| {
                assert!(fut.done());
                l.lock().push(i)
            }));
        }
        assert!(log.lock().is_empty());
        f.complete(ok_bytes(b"")).unwrap();
        assert_eq!(*log.lock(), vec![0, 1, 2]);
        let l = log.clone();
        f.add_done_callback(Box::new(move |_| l.lock().push(9)));
        assert_eq!(*log.lock(), vec![0, 1, 2, 9]);
        assert!(f.complete(ok_bytes(b"")).is_err());
        assert_eq!(log.lock().len(), 4);
    }

    #[test]
    fn a_panicking_callback_does_not_stop_the_next() {
        let hits = Arc::new(AtomicUsize::new(0));
        let f = Future::new();
        f.add_done_callback(Box::new(|_| panic!("doh!")));
        let h = hits.clone();
        f.add_done_callback(Box::new(move |_| {
            h.fetch_add(1, Ordering::SeqCst);
        }));
        assert!(f.cancel());
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn sink_outcomes() {
        let mut s = Sink::new(true);
        s.set_bytes(b"ab");
        assert!(matches!(s.into_outcome(0), Ok(Value::Bytes(_))));
        let mut s = Sink::new(true);
        s.set_error(5, Some(c"bad"));
        let e = s.into_outcome(9).err().unwrap();
        assert_eq!(e.code, 9, "the task's non-zero return wins");
        assert_eq!(e.message.unwrap().to_str().unwrap(), "bad");
        let mut s = Sink::new(true);
        s.set_error(5, None);
        assert_eq!(s.into_outcome(0).err().unwrap().code, 5);
        let mut s = Sink::new(false);
        assert_eq!(s.set_value(Owned::borrowed(std::ptr::null_mut())), Status::Unsupported);
    }

    #[test]
    fn boxed_job_panic_becomes_task_failure() {
        let f = Future::with_job(Job::boxed(|_| panic!("inside")));
        f.run(true);
        let e = f.error(Deadline::Poll).unwrap().unwrap();
        assert_eq!(e.status, Status::TaskFailed);
        assert!(e.message.as_ref().unwrap().to_str().unwrap().contains("inside"));
    }
}
