//! Flow control: a bound on tasks accepted but not started, what a submit does when the
//! bound is reached, and the counter of free room both pools share.
//!
//! Only bounded pools pay for it: the room is one shared count, taken (CAS) before a task
//! is queued and given back when a worker takes the task. An unbounded pool (the default)
//! never touches it.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::Error;
use crate::future::Job;
use crate::sync::{Condvar, Mutex};
use crate::time::Deadline;

/// What a submit does when the queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for room (the default).
    #[default]
    Block,
    /// Refuse with `QueueFull`.
    Reject,
    /// Run the task on the submitting thread (thread pools only).
    CallerRuns,
}

/// How one submit treats a full queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// As the pool's `WhenFull` says.
    Policy,
    /// Wait for room until the deadline, whatever the policy, then `QueueFull`.
    Wait(Deadline),
}

/// A refused submit: why, and, when the refusal is `QueueFull`, the job handed back
/// untouched (its argument still the caller's).
pub struct Refused {
    pub error: Error,
    pub job: Option<Job>,
}

impl From<Error> for Refused {
    fn from(error: Error) -> Refused {
        Refused { error, job: None }
    }
}

impl From<crate::status::Status> for Refused {
    fn from(s: crate::status::Status) -> Refused {
        Refused { error: s.into(), job: None }
    }
}

/// Free room in a bounded queue.
pub struct Room {
    max: usize,
    used: AtomicUsize,
    /// Submitters asleep on `cond` (changed under `lock`).
    waiters: AtomicUsize,
    lock: Mutex<()>,
    cond: Condvar,
}

impl Room {
    pub fn new(max: usize) -> Room {
        Room { max, used: AtomicUsize::new(0), waiters: AtomicUsize::new(0), lock: Mutex::new(()), cond: Condvar::new() }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Tasks holding room now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    /// Takes one place if there is one; returns how many are taken then.
    pub fn try_take(&self) -> Option<usize> {
        let mut u = self.used.load(Ordering::SeqCst);
        while u < self.max {
            match self.used.compare_exchange_weak(u, u + 1, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return Some(u + 1),
                Err(v) => u = v,
            }
        }
        None
    }

    /// Takes one place, waiting for one until `deadline`.
    pub fn take_by(&self, deadline: Deadline) -> Option<usize> {
        if let Some(n) = self.try_take() {
            return Some(n);
        }
        if deadline == Deadline::Poll {
            return None;
        }
        let mut g = self.lock.lock();
        loop {
            // Announced before looking again: a `give` from now on sees us and notifies
            // under the lock, which we hold until we sleep.
            self.waiters.fetch_add(1, Ordering::SeqCst);
            let got = self.try_take();
            if got.is_some() {
                self.waiters.fetch_sub(1, Ordering::SeqCst);
                return got;
            }
            let timed_out = match deadline.instant() {
                None => {
                    self.cond.wait(&mut g);
                    false
                }
                Some(t) => self.cond.wait_until(&mut g, t).timed_out(),
            };
            self.waiters.fetch_sub(1, Ordering::SeqCst);
            if timed_out {
                return self.try_take();
            }
        }
    }

    /// Gives one place back (a worker took the task, or it was cancelled or drained).
    pub fn give(&self) {
        self.used.fetch_sub(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.lock.lock();
            // All: a woken waiter whose deadline passed meanwhile would swallow a single
            // notification while another could have taken the place.
            self.cond.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn room_bounds_and_wakes_a_waiter() {
        let r = Arc::new(Room::new(2));
        assert_eq!(r.try_take(), Some(1));
        assert_eq!(r.try_take(), Some(2));
        assert_eq!(r.try_take(), None);
        let t0 = Instant::now();
        assert_eq!(r.take_by(Deadline::after(Duration::from_millis(50))), None);
        assert!(t0.elapsed() >= Duration::from_millis(45));
        let r2 = r.clone();
        let h = std::thread::spawn(move || r2.take_by(Deadline::Never));
        while r.waiters.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        r.give();
        assert_eq!(h.join().unwrap(), Some(2));
        assert_eq!(r.used(), 2);
    }
}
