//! Task groups (structured concurrency): tasks submitted together, waited for together,
//! cancelled together; with `CANCEL_ON_FAILURE` the first failure cancels the rest.
//!
//! The group counts its outstanding tasks (a task counts from its submit until its
//! done-callback ran) and keeps the live ones by submit order, so cancellation reaches each
//! and a wait can block on one at a time (the oldest live task) through the same function
//! as a single future's wait. Done-callbacks hold the group: a group released by one of its
//! own tasks lives until its last task ends.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::executor::{Executor, Kind};
use crate::flow::Admit;
use crate::future::{Future, Job, TaskError};
use crate::status::Status;
use crate::sync::{Condvar, Mutex};
use crate::task::{run_bytes, BytesFn};
use crate::time::Deadline;

/// The first failure cancels the pending tasks and requests cancellation of running ones.
pub const CANCEL_ON_FAILURE: u32 = 1;

thread_local! {
    /// The group whose task this thread runs (its address; 0 = none).
    static IN_GROUP: Cell<usize> = const { Cell::new(0) };
}

/// Marks this thread as running a task of a group while alive.
struct Running(usize);

impl Running {
    fn enter(group: usize) -> Running {
        Running(IN_GROUP.with(|g| g.replace(group)))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        IN_GROUP.with(|g| g.set(self.0));
    }
}

#[derive(Default)]
struct St {
    next: u64,
    /// Submitted tasks whose done-callback has not run, by submit order.
    live: BTreeMap<u64, Future>,
    /// Tasks admitted and not yet settled (includes submits in flight, not yet in `live`).
    outstanding: usize,
    first_failure: Option<Future>,
    /// `cancel` was called, or a failure cancelled the group: later submits are refused.
    cancelled: bool,
    /// Some task ended CANCELLED.
    any_cancelled: bool,
    /// Threads blocked on `cond`.
    sleepers: usize,
}

/// A task group on one executor.
pub struct Group {
    ex: Arc<Executor>,
    cancel_on_failure: bool,
    st: Mutex<St>,
    cond: Condvar,
}

impl Group {
    /// A group submitting to `ex`. `flags`: 0 or `CANCEL_ON_FAILURE`.
    pub fn new(ex: Arc<Executor>, flags: u32) -> Result<Arc<Group>> {
        if flags & !CANCEL_ON_FAILURE != 0 {
            return Err(Error::new(Status::InvalidArgument, "cfut_group_new: unknown flags"));
        }
        Ok(Arc::new(Group { ex, cancel_on_failure: flags & CANCEL_ON_FAILURE != 0, st: Mutex::new(St::default()), cond: Condvar::new() }))
    }

    fn key(&self) -> usize {
        self as *const Group as usize
    }

    /// True on a thread running one of this group's tasks.
    pub fn in_own_task(&self) -> bool {
        IN_GROUP.with(|g| g.get()) == self.key()
    }

    /// Counts a task in before it is submitted; `Cancelled` once the group is cancelled.
    fn admit(&self) -> Result<u64> {
        let mut st = self.st.lock();
        if st.cancelled {
            return Err(Error::new(Status::Cancelled, "the group was cancelled: it takes no more tasks"));
        }
        st.outstanding += 1;
        st.next += 1;
        Ok(st.next)
    }

    /// Submits `job` (dropped on error, as by the executor).
    pub fn submit(self: &Arc<Self>, job: Job) -> Result<Future> {
        let seq = match self.admit() {
            Ok(s) => s,
            Err(e) => {
                drop(job);
                return Err(e);
            }
        };
        let job = match self.ex.kind() {
            Kind::Threads => {
                let key = self.key();
                Job::boxed(move |sink| {
                    let _r = Running::enter(key);
                    job.run(sink)
                })
            }
            Kind::Processes | Kind::Mpi => job,
        };
        // A bounded queue: wait for room whatever `when_full` says (a group's tasks belong
        // together; never refused halfway), or run inline on the pool's own worker.
        let r = self.ex.submit_waiting(job, Deadline::Never);
        self.track(seq, r)
    }

    /// Submits `f(input)`; `input` is copied.
    pub fn submit_bytes(self: &Arc<Self>, f: BytesFn, input: &[u8]) -> Result<Future> {
        let seq = self.admit()?;
        let r = match self.ex.kind() {
            // A failed copy goes through `track` too: the admitted task must be counted out.
            Kind::Threads => crate::error::copy_bytes(input).and_then(|data| {
                let key = self.key();
                self.ex.submit_waiting(
                    Job::boxed(move |sink| {
                        let _r = Running::enter(key);
                        run_bytes(f, &data, sink)
                    }),
                    Deadline::Never,
                )
            }),
            Kind::Processes | Kind::Mpi => self.ex.submit_bytes_with(f, input, Admit::Wait(Deadline::Never)).map_err(|r| r.error),
        };
        self.track(seq, r)
    }

    fn track(self: &Arc<Self>, seq: u64, r: Result<Future>) -> Result<Future> {
        let f = match r {
            Ok(f) => f,
            Err(e) => {
                self.settle(seq, None);
                return Err(e);
            }
        };
        let cancel_now = {
            let mut st = self.st.lock();
            st.live.insert(seq, f.clone());
            st.cancelled
        };
        if cancel_now {
            f.request_cancel();
        }
        let g = self.clone();
        f.add_done_callback(Box::new(move |done: &Future| g.settle(seq, Some(done))));
        Ok(f)
    }

    /// A task is done (or its submit failed: `None`): count it out, record a failure.
    fn settle(&self, seq: u64, done: Option<&Future>) {
        let mut to_cancel = Vec::new();
        let wake = {
            let mut st = self.st.lock();
            st.live.remove(&seq);
            st.outstanding -= 1;
            if let Some(f) = done {
                if f.failed() && st.first_failure.is_none() {
                    st.first_failure = Some(f.clone());
                    if self.cancel_on_failure && !st.cancelled {
                        st.cancelled = true;
                        to_cancel = st.live.values().cloned().collect();
                    }
                }
                st.any_cancelled |= f.cancelled();
            }
            st.sleepers > 0
        };
        if wake {
            self.cond.notify_all();
        }
        cancel_all(&to_cancel);
    }

    /// Cancels the tasks not started, requests cancellation of the running ones; later
    /// submits return `Cancelled`.
    pub fn cancel(&self) {
        let live: Vec<Future> = {
            let mut st = self.st.lock();
            st.cancelled = true;
            st.live.values().cloned().collect()
        };
        cancel_all(&live);
    }

    /// Blocks until no task is outstanding. `Timeout`, or `WouldDeadlock` where blocking
    /// could never end (from one of the group's own tasks, or see `deadlock::wait`).
    fn drain(&self, deadline: Deadline) -> Result<()> {
        if self.in_own_task() {
            return Err(Error::new(
                Status::WouldDeadlock,
                "a task of the group waits for its own group, which cannot end before the task does",
            ));
        }
        loop {
            let oldest = {
                let st = self.st.lock();
                if st.outstanding == 0 {
                    return Ok(());
                }
                st.live.values().next().filter(|f| !f.done()).cloned()
            };
            match oldest {
                // From a task of a thread pool: a pending task of that pool runs inline
                // here; a wait that closes a cycle of waiting tasks is refused.
                Some(f) => {
                    if !crate::deadlock::wait(&f, deadline)? {
                        return Err(Status::Timeout.into());
                    }
                }
                // A submit in flight, or a done task whose callback has not run yet.
                None => self.sleep(deadline)?,
            }
        }
    }

    /// Sleeps until a task settles (or the deadline passes).
    fn sleep(&self, deadline: Deadline) -> Result<()> {
        let mut st = self.st.lock();
        if st.outstanding == 0 || st.live.values().next().is_some_and(|f| !f.done()) {
            return Ok(());
        }
        if deadline == Deadline::Poll {
            return Err(Status::Timeout.into());
        }
        if crate::deadlock::must_not_block(deadline) {
            // A process pool's manager runs the done-callbacks this would wait for.
            return Err(Error::new(Status::WouldDeadlock, "a group wait inside a process-pool done-callback would stop the pool that must complete it"));
        }
        st.sleepers += 1;
        let timed_out = match deadline.instant() {
            None => {
                self.cond.wait(&mut st);
                false
            }
            Some(t) => self.cond.wait_until(&mut st, t).timed_out(),
        };
        st.sleepers -= 1;
        if timed_out && st.outstanding > 0 {
            return Err(Status::Timeout.into());
        }
        Ok(())
    }

    /// Waits until every task submitted so far (and every task they submit meanwhile) is
    /// done. `Ok` if all succeeded; the status of the first failure in completion order
    /// (see `first_failure`); `Cancelled` if the group was cancelled, or a task ended
    /// cancelled, and nothing failed; `Timeout`; `WouldDeadlock` (see `drain`).
    pub fn wait(&self, deadline: Deadline) -> Result<()> {
        self.wait_report(deadline).0
    }

    /// `wait`, with the first failed task once every task is done (never on `Timeout` or
    /// `WouldDeadlock`, so a task's own timeout status is told apart from the wait's).
    pub fn wait_report(&self, deadline: Deadline) -> (Result<()>, Option<Future>) {
        if let Err(e) = self.drain(deadline) {
            return (Err(e), None);
        }
        let st = self.st.lock();
        if let Some(f) = &st.first_failure {
            f.mark_observed();
            let e = match f.outcome() {
                Some(Err(e)) => failure_error(e),
                _ => Status::TaskFailed.into(),
            };
            return (Err(e), Some(f.clone()));
        }
        if st.cancelled || st.any_cancelled {
            return (Err(Status::Cancelled.into()), None);
        }
        (Ok(()), None)
    }

    /// The first task that failed, in completion order (its outcome holds the error).
    pub fn first_failure(&self) -> Option<Future> {
        self.st.lock().first_failure.clone()
    }

    /// Tasks submitted and not yet done.
    pub fn outstanding(&self) -> usize {
        self.st.lock().outstanding
    }

    /// Ends the owner's use: cancels what has not started, requests cancellation of what
    /// runs, and waits for the running tasks, so no task outlives the group's owner. From
    /// one of the group's own tasks (or where waiting could never end) it returns at once;
    /// the group then lives until its last task ends (the tasks' callbacks hold it).
    pub fn release(self: Arc<Self>) {
        self.cancel();
        let _ = self.drain(Deadline::Never);
    }
}

fn failure_error(e: &TaskError) -> Error {
    match &e.message {
        Some(m) => Error::new(e.status, m.to_string_lossy().into_owned()),
        None => e.status.into(),
    }
}

/// Cancels the pending tasks among `tasks`, then asks the running ones to stop. Pending
/// first: a running task that stops on request frees its worker, which would otherwise
/// start a pending task of the same group before its turn to be cancelled came.
fn cancel_all(tasks: &[Future]) {
    for f in tasks {
        f.cancel();
    }
    for f in tasks {
        f.request_cancel();
    }
}

#[cfg(test)]
mod tests;
