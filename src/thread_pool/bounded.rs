//! The thread pool's flow control (a bounded queue and what a full one does) and its
//! counters.

use std::sync::atomic::Ordering;

use super::{Shared, ThreadPool, BROKEN, IN_CHILD, SHUTDOWN};
use crate::error::Error;
use crate::flow::{Admit, Refused, WhenFull};
use crate::future::{Future, Job};
use crate::stats::Stats;
use crate::status::Status;
use crate::time::Deadline;

impl ThreadPool {
    /// Queues `job`. With a bounded queue that is full: `Admit::Policy` does what
    /// `when_full` says, `Admit::Wait` waits for room until its deadline. A submit from one
    /// of this pool's own workers never waits: it runs the task inline (`Block`,
    /// `CallerRuns`) or is refused (`Reject`, `Wait`). On `QueueFull` the job comes back
    /// untouched; on any other error it is dropped.
    pub fn submit_with(&self, job: Job, admit: Admit) -> std::result::Result<Future, Refused> {
        let mut back = None;
        self.submit_keep(job, admit, &mut back).map_err(|error| Refused { error, job: back })
    }

    /// `submit_with` returning the refused job through `back` (only on `QueueFull`), so the
    /// common path returns a plain `Result<Future>` as `submit` did before flow control.
    #[inline]
    pub fn submit_keep(&self, job: Job, admit: Admit, back: &mut Option<Job>) -> crate::error::Result<Future> {
        let s = &self.shared;
        if s.foreign() {
            s.abandon();
            return Err(Error::new(Status::Unsupported, IN_CHILD));
        }
        let Some(room) = &s.room else { return self.enqueue(job) };
        self.submit_bounded(room, job, admit, back)
    }

    /// The bounded pool's path (kept out of line: unbounded pools never run it).
    #[inline(never)]
    fn submit_bounded(&self, room: &crate::flow::Room, job: Job, admit: Admit, back: &mut Option<Job>) -> crate::error::Result<Future> {
        let s = &self.shared;
        if let Some(n) = room.try_take() {
            s.rare.raise_peak(n as u64);
            return self.enqueue(job);
        }
        // Full. Refuse a closed pool first: its queue may never drain.
        let g = s.gate.load(Ordering::SeqCst);
        if g & (SHUTDOWN | BROKEN) != 0 {
            drop(job);
            return Err((if g & BROKEN != 0 { Status::Broken } else { Status::Shutdown }).into());
        }
        let own_worker = crate::current::pool() == s.id;
        let wait = match (admit, s.when_full) {
            (Admit::Policy, WhenFull::Reject) => None,
            (Admit::Policy, WhenFull::CallerRuns) => return Ok(s.run_here(job)),
            (Admit::Policy, WhenFull::Block) if own_worker => return Ok(s.run_here(job)),
            (Admit::Policy, WhenFull::Block) => Some(Deadline::Never),
            (Admit::Wait(_), _) if own_worker => None,
            (Admit::Wait(d), _) => Some(d),
        };
        match wait.and_then(|d| room.take_by(d)) {
            Some(n) => {
                s.rare.raise_peak(n as u64);
                self.enqueue(job)
            }
            None => {
                s.rare.rejected.fetch_add(1, Ordering::Relaxed);
                *back = Some(job);
                Err(Error::new(Status::QueueFull, FULL))
            }
        }
    }

    /// Room in the queue for map chunks: waits for it (the map's deadline bounds the wait),
    /// or, on one of this pool's own workers, runs the chunk inline instead of waiting.
    pub fn submit_waiting(&self, job: Job, deadline: Deadline) -> crate::error::Result<Future> {
        let s = &self.shared;
        if s.room.is_some() && crate::current::pool() == s.id {
            if let Some(n) = s.room.as_ref().and_then(|r| r.try_take()) {
                s.rare.raise_peak(n as u64);
                return self.enqueue(job);
            }
            return Ok(s.run_here(job));
        }
        self.submit_with(job, Admit::Wait(deadline)).map_err(|r| r.error)
    }

    /// The pool's counters (see `Stats`): the workers' own counters summed, plus the slow
    /// paths'.
    pub fn stats(&self) -> Stats {
        let s = &self.shared;
        let mut st = Stats::default();
        let mut dequeued = 0;
        let mut busy = 0;
        {
            let t = s.threads.lock();
            st.workers = t.live as u32;
            for slot in &t.slots {
                busy += (slot.running.get() > 0) as u32;
                dequeued += slot.dequeued.get();
                st.completed += slot.completed.get();
                st.failed += slot.failed.get();
                st.cancelled += slot.cancelled.get();
                st.running += slot.running.get();
                st.peak_queued = st.peak_queued.max(slot.peak.get());
            }
            st.worker_restarts = t.restarts;
        }
        // Free slots run nothing, so every busy slot is a live worker's.
        st.idle_workers = st.workers.saturating_sub(busy);
        st.queued = match &s.room {
            Some(r) => r.used() as u64,
            None => {
                let stop = s.stop_pushed.load(Ordering::SeqCst) as usize;
                s.queue.len().saturating_sub(stop) as u64
            }
        };
        st.submitted = dequeued + st.queued;
        s.rare.add_to(&mut st);
        st.peak_queued = st.peak_queued.max(st.queued);
        st
    }
}

const FULL: &str = "the executor's queue is full (max_queued tasks wait to start)";

impl Shared {
    /// Runs `job` on this thread (a full queue with `CallerRuns`, or a submit from one of
    /// the pool's own workers that must not wait). The future is done when this returns.
    fn run_here(&self, job: Job) -> Future {
        let f = Future::with_job(job);
        self.rare.submitted.fetch_add(1, Ordering::Relaxed);
        crate::current::run_nested(f.id(), || {
            f.run_then_complete(true, |e| self.rare.count(e));
        });
        f
    }
}

impl super::Threads {
    /// A counter slot for a new worker: a free one, or a new one.
    pub(super) fn take_slot(&mut self) -> (usize, std::sync::Arc<crate::stats::Slot>) {
        let i = match self.free_slots.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Default::default());
                self.slots.len() - 1
            }
        };
        (i, self.slots[i].clone())
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
