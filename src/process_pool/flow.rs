//! The process pool's flow control (a bounded `pending` queue) and its counters.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::ProcessPool;
use crate::error::Error;
use crate::flow::{Admit, Refused, WhenFull};
use crate::stats::Stats;
use crate::status::Status;
use crate::time::Deadline;

impl ProcessPool {
    /// A place in a bounded queue, as `admit` and `when_full` say. The manager thread (a
    /// done-callback) never waits: while it waits no task leaves the queue.
    pub(super) fn take_room(&self, admit: Admit) -> std::result::Result<(), Refused> {
        let Some(room) = &self.sh.room else { return Ok(()) };
        if room.try_take().is_some() {
            return Ok(());
        }
        {
            let st = self.sh.st.lock();
            if let Some((_, m)) = &st.broken {
                return Err(Error::new(Status::Broken, m.clone()).into());
            }
            if st.shutdown {
                return Err(Status::Shutdown.into());
            }
        }
        let on_manager = crate::current::manager() == Arc::as_ptr(&self.sh) as usize;
        let wait = match (admit, self.sh.when_full) {
            _ if on_manager => None,
            (Admit::Wait(d), _) => Some(d),
            (Admit::Policy, WhenFull::Block) => Some(Deadline::Never),
            (Admit::Policy, _) => None,
        };
        if wait.and_then(|d| room.take_by(d)).is_some() {
            return Ok(());
        }
        self.sh.rare.rejected.fetch_add(1, Ordering::Relaxed);
        Err(Error::new(Status::QueueFull, "the process pool's queue is full (max_queued tasks wait for a worker)").into())
    }

    /// The pool's counters (see `Stats`).
    pub fn stats(&self) -> Stats {
        let c = &self.sh.counts;
        let mut st = Stats {
            workers: c.workers.get() as u32,
            idle_workers: c.idle.get() as u32,
            running: c.running.get(),
            completed: c.completed.get(),
            failed: c.failed.get(),
            cancelled: c.cancelled.get(),
            worker_restarts: c.restarts.get(),
            ..Stats::default()
        };
        {
            let g = self.sh.st.lock();
            st.queued = g.pending.len() as u64;
            st.submitted = g.submitted;
            st.peak_queued = g.peak;
        }
        self.sh.rare.add_to(&mut st);
        st
    }
}
