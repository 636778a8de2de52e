//! An idle worker's side of the wake-up protocol (see the module documentation of
//! `thread_pool`): the baton, spinning, parking, and retirement after `idle_timeout`.

use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::{Msg, Shared, Sleeper};
use crate::spin::{spin_until, Adaptive};
use crate::sync::Condvar;

impl Shared {
    /// Called by a worker that just took a message: if more work is queued and nobody is
    /// spinning for it, wake a parked worker for it (bursts fan out one wake at a time).
    pub(super) fn pass_baton(&self) {
        fence(Ordering::SeqCst);
        if self.park.parked.load(Ordering::SeqCst) > 0
            && self.queue.ready()
            && self.spinners.load(Ordering::SeqCst) == 0
            && !self.park.waking.load(Ordering::SeqCst)
        {
            self.wake_one();
        }
    }

    /// Sleeps until a message arrives, or until `until` passes (`None`: then nothing came).
    /// The worker sleeps on its own condvar, pushed on `park.lock`'s stack so that a wake
    /// takes the most recently parked worker.
    pub(super) fn park(&self, until: Option<Instant>) -> Option<Msg> {
        thread_local! {
            static ME: Arc<Sleeper> = Arc::new(Sleeper { cond: Condvar::new() });
        }
        let me = ME.with(|m| m.clone());
        loop {
            let mut g = self.park.lock.lock();
            self.park.parked.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            // Announced as parked: a push from now on wakes us, so look once more first.
            if let Some(m) = self.queue.pop() {
                self.park.parked.fetch_sub(1, Ordering::SeqCst);
                return Some(m);
            }
            g.push(me.clone());
            let timed_out = match until {
                None => {
                    me.cond.wait(&mut g);
                    false
                }
                Some(t) => me.cond.wait_until(&mut g, t).timed_out(),
            };
            self.park.parked.fetch_sub(1, Ordering::SeqCst);
            if let Some(i) = g.iter().rposition(|s| Arc::ptr_eq(s, &me)) {
                g.remove(i);
            }
            // Whoever leaves `wait` (notified, timed out or spurious) ends the pending wake,
            // then looks at the queue after a fence: a push that saw `waking` set (and woke
            // nobody) or saw us parked has its message seen here.
            self.park.waking.store(false, Ordering::SeqCst);
            drop(g);
            fence(Ordering::SeqCst);
            if let Some(m) = self.queue.pop() {
                return Some(m);
            }
            if timed_out {
                return None;
            }
        }
    }

    /// Waits for the next message as an idle worker: claimable by submitters, spinning
    /// first if no other worker is spinning, then parked. `None`: the worker retired (idle
    /// for `idle_timeout`).
    /// `already_idle`: the worker counted itself idle before publishing its last result.
    /// `spin`: this worker's budget, adapted to how its waits ended.
    pub(super) fn wait_idle(&self, already_idle: bool, spin: &mut Adaptive) -> Option<Msg> {
        // Looked at here, once per idle period, not after every task: any loop work since
        // the last idle period means the next loop is likely near.
        if crate::spin::take_loop_work() {
            spin.ran_loop();
        }
        let mut counted = already_idle;
        loop {
            if !counted && !self.full() {
                self.idle.fetch_add(1, Ordering::AcqRel);
                counted = true;
            }
            let mut got = None;
            let budget = spin.budget();
            if !budget.is_zero() {
                if self.spinners.fetch_add(1, Ordering::SeqCst) == 0 {
                    spin_until(budget, || match self.queue.pop() {
                        Some(m) => {
                            got = Some(m);
                            true
                        }
                        None => false,
                    });
                }
                self.spinners.fetch_sub(1, Ordering::SeqCst);
            }
            let m = match got {
                Some(m) => {
                    spin.found();
                    Some(m)
                }
                None => {
                    let start = Instant::now();
                    let until = self.idle_timeout.map(|d| start + d);
                    let m = self.park(until);
                    // Woken into a burst (more is queued): work comes in batches here, and
                    // the spin after a batch is what finds the next one.
                    if m.is_some() && !self.queue.is_empty() {
                        spin.found();
                    } else {
                        spin.slept(start.elapsed());
                    }
                    m
                }
            };
            if let Some(m) = m {
                self.pass_baton();
                if counted {
                    self.withdraw_idle();
                }
                return Some(m);
            }
            // Idle for the whole timeout: retire, unless a task is on its way to us.
            if counted && !self.try_withdraw_idle() {
                continue; // a submitter claimed an idle worker: stay for its task
            }
            counted = false;
            if self.retire() {
                return None;
            }
        }
    }

    /// Leaves the pool for good (idle retirement) unless work arrived meanwhile.
    ///
    /// Pairs with `submit`: a submitter pushes, fences (in `push`), then reads `started`
    /// to decide whether to start a thread; this lowers `started`, fences, then looks at
    /// the queue. At least one side sees the other, so a task is never left queued with
    /// its worker gone and no thread started for it.
    pub(super) fn retire(&self) -> bool {
        let mut t = self.threads.lock();
        self.started.fetch_sub(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !self.queue.is_empty() {
            self.started.fetch_add(1, Ordering::SeqCst);
            return false;
        }
        t.retired_unreplaced += 1;
        true
    }

    /// Leaves the idle count if a count is left to leave; false when every idle count was
    /// claimed by submitters (their tasks are on the way).
    #[inline]
    pub(super) fn try_withdraw_idle(&self) -> bool {
        let mut idle = self.idle.load(Ordering::Acquire);
        while idle > 0 {
            match self.idle.compare_exchange_weak(idle, idle - 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(v) => idle = v,
            }
        }
        false
    }

    /// A worker that got work leaves the idle count, unless a submitter already claimed it.
    pub(super) fn withdraw_idle(&self) {
        self.try_withdraw_idle();
    }
}
