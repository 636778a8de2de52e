//! Executor counters. The submit/complete path pays no shared atomic read-modify-write:
//! each worker owns a `Slot` it alone writes (relaxed load + store), and a reader sums the
//! slots. Counters that only move on slow paths (rejections, caller runs, drains at
//! shutdown) are plain shared atomics in `Rare`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of an executor's counters: exact once the pool is quiet (nothing queued or
/// running, no submit in flight), approximate while it works.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Worker threads (or processes) alive now.
    pub workers: u32,
    /// Of those, waiting for work.
    pub idle_workers: u32,
    /// Tasks accepted and not started (map chunks count).
    pub queued: u64,
    /// Tasks running now.
    pub running: u64,
    /// Tasks accepted since creation (rejected ones are not).
    pub submitted: u64,
    /// Tasks that ended with a value.
    pub completed: u64,
    /// Tasks that ended with an error (any failure status).
    pub failed: u64,
    /// Tasks that ended cancelled (before they started, or acknowledged while running).
    pub cancelled: u64,
    /// Submits refused with `QueueFull`.
    pub rejected: u64,
    /// The most tasks ever queued at once.
    pub peak_queued: u64,
    /// Workers started in place of ones that exited (thread pools: after idle retirement;
    /// process pools: replaced processes).
    pub worker_restarts: u64,
}

/// How a task ended, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Completed,
    Failed,
    Cancelled,
}

/// A counter written by one thread at a time (relaxed load + store, never an RMW); any
/// thread may read it.
#[derive(Default)]
pub struct Own(AtomicU64);

impl Own {
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    pub fn sub(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_sub(n), Relaxed);
    }

    pub fn set(&self, v: u64) {
        self.0.store(v, Relaxed);
    }

    /// Raises the counter to `v` if it is lower.
    pub fn raise(&self, v: u64) {
        if v > self.0.load(Relaxed) {
            self.0.store(v, Relaxed);
        }
    }

    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// One worker's counters. Its owner changes only under the pool's thread lock (a retired
/// worker's slot is reused by the next one), so one writer at a time. Aligned to two cache
/// lines (the adjacent-line prefetcher pairs them) so that workers never share one.
#[derive(Default)]
#[repr(align(128))]
pub struct Slot {
    /// Queue messages this worker took (each task is taken exactly once).
    pub dequeued: Own,
    pub completed: Own,
    pub failed: Own,
    pub cancelled: Own,
    /// Tasks this worker runs now (an inline run nests a second one).
    pub running: Own,
    /// The longest queue this worker sampled as it finished a task (an unbounded pool's
    /// peak; `thread_pool` says when it samples).
    pub peak: Own,
}

impl Slot {
    pub fn count(&self, e: Ended) {
        match e {
            Ended::Completed => self.completed.add(1),
            Ended::Failed => self.failed.add(1),
            Ended::Cancelled => self.cancelled.add(1),
        }
    }
}

/// Counters moved on slow paths by any thread (shared atomics are fine there). On lines of
/// their own: helping waiters count here on every task they run.
#[derive(Default)]
#[repr(align(128))]
pub struct Rare {
    /// Tasks accepted without passing through a worker's take (caller runs, inline runs of
    /// a full queue, tasks drained at shutdown or when the pool broke).
    pub submitted: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub cancelled: AtomicU64,
    pub rejected: AtomicU64,
    pub peak: AtomicU64,
    /// Tasks running now on threads that are not workers (waiters that help).
    pub running: AtomicU64,
}

impl Rare {
    pub fn count(&self, e: Ended) {
        let c = match e {
            Ended::Completed => &self.completed,
            Ended::Failed => &self.failed,
            Ended::Cancelled => &self.cancelled,
        };
        c.fetch_add(1, Relaxed);
    }

    pub fn raise_peak(&self, v: u64) {
        if v > self.peak.load(Relaxed) {
            self.peak.fetch_max(v, Relaxed);
        }
    }

    /// Adds these counters into `s` (`submitted` .. `rejected`, and the peak).
    pub fn add_to(&self, s: &mut Stats) {
        s.submitted += self.submitted.load(Relaxed);
        s.completed += self.completed.load(Relaxed);
        s.failed += self.failed.load(Relaxed);
        s.cancelled += self.cancelled.load(Relaxed);
        s.rejected += self.rejected.load(Relaxed);
        s.running += self.running.load(Relaxed);
        s.peak_queued = s.peak_queued.max(self.peak.load(Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_counters_add_and_raise() {
        let s = Slot::default();
        s.count(Ended::Completed);
        s.count(Ended::Failed);
        s.count(Ended::Failed);
        s.running.add(2);
        s.running.sub(1);
        s.peak.raise(5);
        s.peak.raise(3);
        assert_eq!((s.completed.get(), s.failed.get(), s.cancelled.get()), (1, 2, 0));
        assert_eq!((s.running.get(), s.peak.get()), (1, 5));
        let r = Rare::default();
        r.count(Ended::Cancelled);
        r.raise_peak(9);
        let mut st = Stats { peak_queued: 4, ..Default::default() };
        r.add_to(&mut st);
        assert_eq!((st.cancelled, st.peak_queued), (1, 9));
    }
}
