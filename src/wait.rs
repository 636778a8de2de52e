//! Waiting on many futures: `wait` (first completed, first exception, all completed) and
//! `as_completed`. A cancelled future counts as completed for both.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::deadlock::{self, Need};
use crate::future::Future;
use crate::status::Status;
use crate::time::Deadline;
use crate::waiter::Waiter;

/// When `wait` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnWhen {
    FirstCompleted,
    FirstException,
    AllCompleted,
}

impl ReturnWhen {
    pub fn from_u32(v: u32) -> Option<ReturnWhen> {
        match v {
            0 => Some(ReturnWhen::FirstCompleted),
            1 => Some(ReturnWhen::FirstException),
            2 => Some(ReturnWhen::AllCompleted),
            _ => None,
        }
    }

    fn holds(self, total: usize, done: usize, failed: usize) -> bool {
        match self {
            ReturnWhen::FirstCompleted => done > 0 || total == 0,
            ReturnWhen::FirstException => failed > 0 || done == total,
            ReturnWhen::AllCompleted => done == total,
        }
    }
}

/// Python's `wait`: blocks until the condition holds or the deadline passes. Returns
/// `Ok` or `Timeout` and one done flag per input (duplicates allowed); the flags and the
/// status come from one final snapshot, so they agree. On a task thread, pending futures of
/// its own pool run inline first (`crate::deadlock`); `WouldDeadlock` when the wait closes a
/// cycle of waiting tasks.
pub fn wait(futures: &[&Future], deadline: Deadline, when: ReturnWhen) -> (Status, Vec<bool>) {
    // A task waiting for all of its own pool's futures (fork-join) runs the pending ones
    // first, before any bookkeeping: usually nothing is left to wait for after that.
    if when == ReturnWhen::AllCompleted && deadline != Deadline::Poll && deadlock::may_run_inline() {
        if let Err(e) = deadlock::before_blocking(futures, Need::All, || futures.iter().all(|f| f.done())) {
            return (e.status(), futures.iter().map(|f| f.done()).collect());
        }
    }
    let mut distinct: Vec<&Future> = futures.to_vec();
    distinct.sort_by_key(|f| f.id());
    distinct.dedup_by_key(|f| f.id());
    let total = distinct.len();

    let snapshot = |fs: &[&Future]| {
        fs.iter().fold((0, 0), |(d, e), f| {
            let s = f.state();
            (d + s.is_done() as usize, e + f.failed() as usize)
        })
    };
    let (done, failed) = snapshot(&distinct);
    if !when.holds(total, done, failed) && deadline != Deadline::Poll {
        for f in &distinct {
            f.fail_if_orphaned();
        }
        // A task thread runs the pending futures of its own pool first, in input order.
        let ordered: Vec<&Future> = if deadlock::may_run_inline() { in_input_order(futures) } else { distinct.clone() };
        let need = if when == ReturnWhen::AllCompleted { Need::All } else { Need::Any };
        let _registered = match deadlock::before_blocking(&ordered, need, || {
            let (d, e) = snapshot(&distinct);
            when.holds(total, d, e)
        }) {
            Ok(r) => r,
            Err(_) => return (Status::WouldDeadlock, futures.iter().map(|f| f.done()).collect()),
        };
        let waiter = Waiter::new(false);
        let mut done_before = 0;
        let mut failed_before = 0;
        for f in &distinct {
            if !f.add_waiter(&waiter) {
                done_before += 1;
                failed_before += f.failed() as usize;
            }
        }
        {
            let mut s = waiter.state.lock();
            while !when.holds(total, done_before + s.completed, failed_before + s.failed) {
                match deadline.instant() {
                    None => waiter.cond.wait(&mut s),
                    Some(t) => {
                        if waiter.cond.wait_until(&mut s, t).timed_out() {
                            break;
                        }
                    }
                }
            }
        }
        for f in &distinct {
            f.remove_waiter(&waiter);
        }
    }
    let (done, failed) = snapshot(&distinct);
    let flags = futures.iter().map(|f| f.done()).collect();
    let status = if when.holds(total, done, failed) { Status::Ok } else { Status::Timeout };
    (status, flags)
}

/// The distinct futures of `futures`, in the order of their first occurrence.
fn in_input_order<'a>(futures: &[&'a Future]) -> Vec<&'a Future> {
    let mut seen = std::collections::HashSet::with_capacity(futures.len());
    futures.iter().copied().filter(|f| seen.insert(f.id())).collect()
}

/// Python's `as_completed`: yields each distinct future once, by the index of its first
/// occurrence: those already done first (in input order), then in completion order.
pub struct AsCompleted {
    /// Futures not yet yielded, keyed by id, with the index of their first occurrence.
    pending: HashMap<usize, (usize, Future)>,
    ready: VecDeque<usize>,
    waiter: Arc<Waiter>,
    deadline: Deadline,
}

impl AsCompleted {
    /// The deadline counts from this call.
    pub fn new(futures: &[&Future], deadline: Deadline) -> AsCompleted {
        let waiter = Waiter::new(true);
        let mut pending = HashMap::with_capacity(futures.len());
        let mut ready = VecDeque::new();
        for (i, f) in futures.iter().enumerate() {
            if pending.contains_key(&f.id()) {
                continue;
            }
            pending.insert(f.id(), (i, (*f).clone()));
            if !f.add_waiter(&waiter) {
                ready.push_back(f.id());
            }
        }
        AsCompleted {
            pending,
            ready,
            waiter,
            deadline,
        }
    }

    /// The index of the next completed future; `Err(Exhausted)` when all were yielded,
    /// `Err(Timeout)` when the deadline passed with futures unfinished (futures that
    /// complete later are still yielded by later calls).
    // Not `Iterator`: a timeout is an error that later calls recover from, not the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<usize, Status> {
        loop {
            if let Some(id) = self.ready.pop_front() {
                if let Some((i, _f)) = self.pending.remove(&id) {
                    return Ok(i);
                }
                continue;
            }
            if self.pending.is_empty() {
                return Err(Status::Exhausted);
            }
            let _registered = if self.deadline != Deadline::Poll {
                for (_, f) in self.pending.values() {
                    f.fail_if_orphaned();
                }
                self.before_blocking()?
            } else {
                None
            };
            let mut s = self.waiter.state.lock();
            loop {
                let order = s.order.as_mut().expect("as_completed records order");
                if !order.is_empty() {
                    self.ready.extend(order.drain(..));
                    break;
                }
                let timed_out = match self.deadline.instant() {
                    None => {
                        self.waiter.cond.wait(&mut s);
                        false
                    }
                    Some(t) => self.waiter.cond.wait_until(&mut s, t).timed_out(),
                };
                if timed_out && s.order.as_ref().is_some_and(|o| o.is_empty()) {
                    // A future publishes its done state before it notifies its waiters, so
                    // one may already be done without being in `order` yet: past the
                    // deadline, look at the states themselves before reporting a timeout.
                    let mut late: Vec<(usize, usize)> = self
                        .pending
                        .iter()
                        .filter(|(_, (_, f))| f.done())
                        .map(|(id, (i, _))| (*i, *id))
                        .collect();
                    if late.is_empty() {
                        return Err(Status::Timeout);
                    }
                    late.sort_unstable();
                    self.ready.extend(late.into_iter().map(|(_, id)| id));
                    break;
                }
            }
        }
    }

    /// On a task thread: runs the pending futures of its own pool inline, in input order,
    /// until one is done; else registers the wait (`WouldDeadlock` if it closes a cycle).
    fn before_blocking(&self) -> Result<Option<deadlock::Registration>, Status> {
        let mut left: Vec<&(usize, Future)> = self.pending.values().collect();
        left.sort_unstable_by_key(|(i, _)| *i);
        let futs: Vec<&Future> = left.iter().map(|(_, f)| f).collect();
        deadlock::before_blocking(&futs, Need::Any, || futs.iter().any(|f| f.done())).map_err(|e| e.status())
    }

    /// How many distinct futures have not been yielded yet.
    pub fn remaining(&self) -> usize {
        self.pending.len()
    }
}

impl Drop for AsCompleted {
    fn drop(&mut self) {
        for (_, f) in self.pending.values() {
            f.remove_waiter(&self.waiter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::future::{TaskError, Value};
    use std::time::Duration;

    fn finished() -> Future {
        let f = Future::new();
        f.complete(Ok(Value::Empty)).unwrap();
        f
    }
    fn failed() -> Future {
        let f = Future::new();
        f.fail(TaskError::new(Status::TaskFailed, 1, None)).unwrap();
        f
    }
    fn cancelled() -> Future {
        let f = Future::new();
        f.cancel();
        f
    }

    #[test]
    fn wait_modes_with_prefinished_fixtures() {
        let (ok, bad, c, p) = (finished(), failed(), cancelled(), Future::new());
        let (s, flags) = wait(&[&c, &ok, &p], Deadline::Never, ReturnWhen::FirstCompleted);
        assert_eq!((s, flags), (Status::Ok, vec![true, true, false]));
        let (s, _) = wait(&[&bad, &p], Deadline::Never, ReturnWhen::FirstException);
        assert_eq!(s, Status::Ok);
        let (s, flags) = wait(&[&ok, &c, &p], Deadline::after(Duration::from_millis(30)), ReturnWhen::AllCompleted);
        assert_eq!((s, flags), (Status::Timeout, vec![true, true, false]));
        let (s, flags) = wait(&[&ok, &ok], Deadline::Poll, ReturnWhen::AllCompleted);
        assert_eq!((s, flags), (Status::Ok, vec![true, true]));
        assert_eq!(wait(&[], Deadline::Poll, ReturnWhen::AllCompleted).0, Status::Ok);
    }

    #[test]
    fn wait_wakes_on_completion_from_another_thread() {
        let fs: Vec<Future> = (0..50).map(|_| Future::new()).collect();
        let gs = fs.clone();
        let t = std::thread::spawn(move || {
            for (i, g) in gs.iter().enumerate() {
                if i % 7 == 0 {
                    g.cancel();
                } else {
                    g.complete(Ok(Value::Empty)).unwrap();
                }
            }
        });
        let refs: Vec<&Future> = fs.iter().collect();
        let (s, flags) = wait(&refs, Deadline::Never, ReturnWhen::AllCompleted);
        t.join().unwrap();
        assert_eq!(s, Status::Ok);
        assert!(flags.iter().all(|d| *d));
    }

    #[test]
    fn first_exception_returns_on_failure_not_cancel() {
        let (a, b, c) = (Future::new(), Future::new(), Future::new());
        let (a2, b2) = (a.clone(), b.clone());
        let t = std::thread::spawn(move || {
            a2.cancel();
            std::thread::sleep(Duration::from_millis(20));
            b2.fail(TaskError::new(Status::TaskFailed, 1, None)).unwrap();
        });
        let (s, flags) = wait(&[&a, &b, &c], Deadline::Never, ReturnWhen::FirstException);
        t.join().unwrap();
        assert_eq!((s, flags), (Status::Ok, vec![true, true, false]));
    }

    #[test]
    fn as_completed_yields_done_first_then_in_completion_order() {
        let (ok, p1, p2) = (finished(), Future::new(), Future::new());
        let mut it = AsCompleted::new(&[&p1, &ok, &p2, &p1], Deadline::Never);
        assert_eq!(it.next(), Ok(1));
        p2.complete(Ok(Value::Empty)).unwrap();
        p1.cancel();
        assert_eq!(it.next(), Ok(2));
        assert_eq!(it.next(), Ok(0));
        assert_eq!(it.next(), Err(Status::Exhausted));
    }

    #[test]
    fn as_completed_times_out_then_still_yields_late_completions() {
        let (ok, p) = (finished(), Future::new());
        let mut it = AsCompleted::new(&[&ok, &p], Deadline::Poll);
        assert_eq!(it.next(), Ok(0));
        assert_eq!(it.next(), Err(Status::Timeout));
        assert_eq!(it.remaining(), 1);
        p.complete(Ok(Value::Empty)).unwrap();
        assert_eq!(it.next(), Ok(1));
        assert_eq!(it.next(), Err(Status::Exhausted));
    }

    #[test]
    fn dropping_as_completed_deregisters() {
        let p = Future::new();
        drop(AsCompleted::new(&[&p], Deadline::Never));
        assert_eq!(p.waiter_count(), 0);
    }
}
