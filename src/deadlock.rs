//! Waits that could never end: run inline, or refused before they start.
//!
//! Every blocking wait of the library passes through here (`wait` for one future,
//! `before_blocking` for collective waits):
//!
//! - **Inline runs.** A task of a thread pool (with `inline_waits`) that waits on a pending
//!   future of the same pool takes that future's job (`Future::start`, under the future's
//!   lock: the worker that later pops it finds it started and skips it) and runs it on the
//!   waiting thread. Only the awaited tasks run, never other queued work, so locks and
//!   thread-locals the waiter holds are not re-entered by unrelated tasks (rayon #1174,
//!   #765). A task run inline is not interrupted by the waiter's timeout.
//! - **Helping waiters.** A pool with `inline_waits_any_thread` lets every other thread's
//!   blocking wait do the same with its pending tasks (`thread_pool::help`): a caller that
//!   submits and waits then runs its task itself instead of paying two cross-core
//!   hand-offs. A helped task runs as a task of the waiting thread, so a wait inside it
//!   takes part in the cycle check below.
//! - **Cycles.** A task thread that must block registers what it runs (its stack of tasks,
//!   inline runs included) and what it waits on, in one process-wide table, and checks
//!   under the same lock whether its wait closes a cycle: each awaited future running on a
//!   blocked thread leads to that thread's wait, until a future of the waiter's own stack is
//!   reached (`WouldDeadlock`) or one that can still progress. Checking and registering
//!   under one lock means that of two waits closing a cycle, the second sees the first.
//!   Threads that run no task (the hot path: a caller waiting on its result) skip all of it.
//! - **Process pools.** A process pool's manager thread (its done-callbacks) completes
//!   nothing while it waits, so a blocking wait there on an unfinished future is refused.

use crate::current;
use crate::thread_pool::help;
use crate::error::{Error, Result};
use crate::future::{Future, State};
use crate::status::Status;
use crate::sync::Mutex;
use crate::time::Deadline;
use std::sync::atomic::{AtomicPtr, Ordering};

/// What a collective wait needs of the futures it blocks on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Every one (`ALL_COMPLETED`, a map or group waiting for everything).
    All,
    /// Any one (`FIRST_COMPLETED`, `as_completed`); also `FIRST_EXCEPTION`, which a failure
    /// of any one ends.
    Any,
}

/// A blocked task thread, as the cycle check sees it.
struct Blocked {
    token: u64,
    /// The futures whose tasks this thread runs (they cannot finish while it waits).
    stack: Vec<usize>,
    targets: Vec<usize>,
    need: Need,
}

struct Table {
    next_token: u64,
    blocked: Vec<Blocked>,
}

/// The table of one fork generation. A child process gets a table of its own: a parent
/// thread may have held the old one's lock at the fork, and its entries are threads that do
/// not exist in the child (the old table is leaked, once per fork).
struct GenTable {
    gen: u64,
    table: Mutex<Table>,
}

static TABLE: AtomicPtr<GenTable> = AtomicPtr::new(std::ptr::null_mut());

fn table() -> &'static Mutex<Table> {
    let gen = crate::fork::generation();
    let cur = TABLE.load(Ordering::Acquire);
    // SAFETY: a non-null pointer came from `Box::into_raw` below and is never freed.
    if let Some(t) = unsafe { cur.as_ref() } {
        if t.gen == gen {
            return &t.table;
        }
    }
    let fresh = Box::into_raw(Box::new(GenTable { gen, table: Mutex::new(Table { next_token: 1, blocked: Vec::new() }) }));
    match TABLE.compare_exchange(cur, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: just made from a Box, never freed.
        Ok(_) => unsafe { &(*fresh).table },
        Err(won) => {
            // SAFETY: `fresh` was never shared; `won` is a published, never-freed table.
            unsafe {
                drop(Box::from_raw(fresh));
                &(*won).table
            }
        }
    }
}

/// A registered blocked wait; dropping it (when the wait ends) deregisters it.
#[must_use]
pub struct Registration {
    token: u64,
    table: &'static Mutex<Table>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut t = self.table.lock();
        if let Some(i) = t.blocked.iter().position(|b| b.token == self.token) {
            t.blocked.swap_remove(i);
        }
    }
}

/// True when a wait until `deadline` must not block on this thread: a process pool's
/// manager thread (inside a process-pool done-callback) completes nothing while it waits,
/// so a blocking wait there on a future of its pool would never end.
pub fn must_not_block(deadline: Deadline) -> bool {
    deadline != Deadline::Poll && current::manager() != 0
}

fn manager_error() -> Error {
    Error::new(
        Status::WouldDeadlock,
        "a blocking wait inside a process-pool done-callback would stop the pool that must complete it",
    )
}

fn cycle_error() -> Error {
    Error::new(
        Status::WouldDeadlock,
        "this wait would close a cycle of tasks waiting on each other: none of them could ever finish",
    )
}

/// The deadline a blocking wait on `fut` may use: `WouldDeadlock` where blocking on an
/// unfinished future could never end (see `must_not_block`). Does not run or register
/// anything: blocking waits use `wait` or `before_blocking`.
pub fn checked_wait(fut: &Future, deadline: Deadline) -> Result<Deadline> {
    if !fut.done() && must_not_block(deadline) {
        return Err(manager_error());
    }
    Ok(deadline)
}

/// A blocking wait on one future, as every single-future wait of the library does it:
/// runs it inline when this is a worker of its pool and it is pending, refuses a wait that
/// closes a cycle or stops a process pool's manager (`WouldDeadlock`), else blocks until
/// done or `deadline`. `Ok(true)` once done, `Ok(false)` at the deadline.
pub fn wait(fut: &Future, deadline: Deadline) -> Result<bool> {
    if fut.done() {
        return Ok(true);
    }
    if deadline == Deadline::Poll {
        return Ok(false);
    }
    if current::manager() != 0 {
        return Err(manager_error());
    }
    let _registered = before_blocking(&[fut], Need::All, || fut.done())?;
    Ok(fut.wait(deadline))
}

/// A blocking wait until every one of `futs` is done (or `deadline`), as a group or any
/// other "wait for all of these" does it: own-pool pending futures run inline first, in
/// order; `WouldDeadlock` if any unfinished one closes a cycle (or on a process pool's
/// manager thread). `Ok(true)` once all are done, `Ok(false)` at the deadline.
pub fn wait_all(futs: &[&Future], deadline: Deadline) -> Result<bool> {
    let all_done = || futs.iter().all(|f| f.done());
    if all_done() {
        return Ok(true);
    }
    if deadline == Deadline::Poll {
        return Ok(false);
    }
    if current::manager() != 0 {
        return Err(manager_error());
    }
    let _registered = before_blocking(futs, Need::All, all_done)?;
    Ok(futs.iter().all(|f| f.wait(deadline)))
}

/// True when a blocking wait here may run awaited tasks: on a task thread whose pool runs
/// them inline, or anywhere while a pool lets waiters help (cheap tests, for collective
/// waits that prepare the futures in their input order only then).
pub fn may_run_inline() -> bool {
    (current::in_task() && current::inline_pool() != 0) || help::enabled()
}

/// What a blocking wait over several futures does before it blocks (the entry point of
/// collective waits: `cfut_wait`, `as_completed`, maps, groups). Runs pending futures here,
/// in the order given, until `enough()` says the wait is satisfied: on a task thread those
/// of its own pool (inline waits), on any thread those of pools that let waiters help
/// (`help`). Then, on a task thread, if the wait still is not satisfied, registers it on
/// the unfinished ones and checks it for a cycle. `Ok(None)`: nothing to register (not a
/// task thread, or satisfied); `Ok(Some(r))`: block now and drop `r` when the wait ends;
/// `Err(WouldDeadlock)`: the wait can never end. The caller handles `Deadline::Poll` and
/// the manager thread itself.
pub fn before_blocking(futs: &[&Future], need: Need, mut enough: impl FnMut() -> bool) -> Result<Option<Registration>> {
    let in_task = current::in_task();
    let own = if in_task { current::inline_pool() } else { 0 };
    if own != 0 || help::enabled() {
        for f in futs {
            if enough() {
                return Ok(None);
            }
            if f.state() == State::Pending {
                if own != 0 && f.pool() == own {
                    run_inline(f);
                } else {
                    help::run_pending(f);
                }
            }
        }
    }
    if !in_task || enough() {
        return Ok(None);
    }
    let targets: Vec<usize> = futs.iter().filter(|f| !f.done()).map(|f| f.id()).collect();
    if targets.is_empty() {
        return Ok(None);
    }
    register(targets, need).map(Some)
}

/// Runs a pending future's task on this thread, nested in the task running now. A worker
/// that pops it later finds it started and skips it.
fn run_inline(f: &Future) {
    current::run_nested(f.id(), || current::run_counted(f));
}

fn register(targets: Vec<usize>, need: Need) -> Result<Registration> {
    let stack = current::stack();
    let table = table();
    let mut t = table.lock();
    let mut seen = Vec::new();
    if waits_doomed(&t.blocked, &stack, &targets, need, &mut seen) {
        return Err(cycle_error());
    }
    let token = t.next_token;
    t.next_token += 1;
    t.blocked.push(Blocked { token, stack, targets, need });
    Ok(Registration { token, table })
}

/// Whether a wait on `targets` can never end while the thread running `mine` is blocked.
fn waits_doomed(blocked: &[Blocked], mine: &[usize], targets: &[usize], need: Need, seen: &mut Vec<u64>) -> bool {
    match need {
        Need::All => targets.iter().any(|f| doomed(blocked, mine, *f, seen)),
        Need::Any => !targets.is_empty() && targets.iter().all(|f| doomed(blocked, mine, *f, seen)),
    }
}

/// Whether future `f` can never finish while the thread running `mine` is blocked: it is
/// one of `mine`, or it runs on a blocked thread whose own wait is doomed. A thread met
/// twice counts as able to progress (never a false refusal).
fn doomed(blocked: &[Blocked], mine: &[usize], f: usize, seen: &mut Vec<u64>) -> bool {
    if mine.contains(&f) {
        return true;
    }
    let Some(b) = blocked.iter().find(|b| b.stack.contains(&f)) else {
        return false;
    };
    if seen.contains(&b.token) {
        return false;
    }
    seen.push(b.token);
    waits_doomed(blocked, mine, &b.targets, b.need, seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_threads_may_block() {
        assert!(!must_not_block(Deadline::Never));
        let f = Future::new();
        assert_eq!(checked_wait(&f, Deadline::Never), Ok(Deadline::Never));
        assert!(before_blocking(&[&f], Need::All, || false).unwrap().is_none());
    }

    fn entry(token: u64, stack: &[usize], targets: &[usize], need: Need) -> Blocked {
        Blocked { token, stack: stack.to_vec(), targets: targets.to_vec(), need }
    }

    #[test]
    fn cycles_through_blocked_threads() {
        // Thread 1 runs task 10 and waits on 20; thread 2 runs 20 and waits on 30 or 40.
        let table = vec![entry(1, &[10], &[20], Need::All), entry(2, &[5, 20], &[30, 40], Need::Any)];
        let mut seen = Vec::new();
        // A thread running 30 that waits on 10: 10 -> 20 -> {30 (mine), 40 (free)}: can end.
        assert!(!waits_doomed(&table, &[30], &[10], Need::All, &mut seen));
        seen.clear();
        // Running 30 and 40 (nested): every branch comes back.
        assert!(waits_doomed(&table, &[30, 40], &[10], Need::All, &mut seen));
        seen.clear();
        // Waiting on one's own task, or on anything running nowhere blocked.
        assert!(waits_doomed(&table, &[7], &[7], Need::All, &mut seen));
        assert!(!waits_doomed(&table, &[7], &[99], Need::All, &mut seen));
        // Any: one way out is enough.
        seen.clear();
        assert!(!waits_doomed(&table, &[30, 40], &[10, 99], Need::Any, &mut seen));
    }
}
