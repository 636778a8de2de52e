//! Reduced model of idle retirement against submitters that claim an idle worker
//! (src/thread_pool.rs `enqueue`, `claim_idle`, `adjust_workers`; src/thread_pool/idle.rs
//! `retire`, `try_withdraw_idle`) over the real queue: the same counters and fences. An idle
//! timeout is modelled as "found nothing": the worker then tries to retire. Waking and
//! parking are the other model's (pool_wake); here a live worker simply polls.
//!
//! A pool at `max_workers` neither claims nor counts idle workers, as in the code.
//! Checked: a message is never left queued with no worker alive and none started for it;
//! and that the pool without the `started` check after a claimed push strands one (the
//! claimed worker took another message, counted itself idle afresh and retired first).

use std::sync::atomic::Ordering::SeqCst as S;
use std::sync::Arc;

use loom::sync::atomic::{fence, AtomicUsize};
use loom::thread;

use super::model;
use crate::queue::Queue;

struct Pool {
    queue: Queue<u8>,
    idle: AtomicUsize,
    started: AtomicUsize,
    /// Workers a submitter started (the model does not run them: they would find the queue).
    spawned: AtomicUsize,
    max_workers: usize,
    /// False only in the mutation check: a claimed submit trusts its claim.
    checks_started: bool,
}

impl Pool {
    fn try_withdraw_idle(&self) -> bool {
        let mut idle = self.idle.load(S);
        while idle > 0 {
            match self.idle.compare_exchange(idle, idle - 1, S, S) {
                Ok(_) => return true,
                Err(v) => idle = v,
            }
        }
        false
    }

    /// A full pool neither claims nor counts idle workers (`Shared::full`).
    fn full(&self) -> bool {
        self.started.load(S) >= self.max_workers
    }

    fn submit(&self, m: u8) {
        let full = self.full();
        let claimed = !full && self.try_withdraw_idle();
        self.queue.push(m);
        fence(S); // `push`'s fence
        if !(claimed || full) || (self.checks_started && self.started.load(S) == 0) {
            if self.started.load(S) < self.max_workers {
                self.started.fetch_add(1, S);
                self.spawned.fetch_add(1, S);
            }
        }
    }

    fn retire(&self) -> bool {
        self.started.fetch_sub(1, S);
        fence(S);
        if !self.queue.is_empty() {
            self.started.fetch_add(1, S);
            return false;
        }
        true
    }

    /// One worker, counted idle at the start; a bounded number of steps (one leaving the
    /// model alive is still a worker that will look at the queue).
    fn worker(&self) {
        let mut counted = self.idle.load(S) > 0;
        for _ in 0..4 {
            if self.queue.pop().is_some() {
                if counted {
                    self.try_withdraw_idle();
                }
                counted = false;
                // Finished with nothing queued: count idle before the result is visible.
                if !self.queue.ready() && !self.full() {
                    self.idle.fetch_add(1, S);
                    counted = true;
                }
                continue;
            }
            if !counted && !self.full() {
                self.idle.fetch_add(1, S);
                counted = true;
                continue;
            }
            // Idle for the whole timeout.
            if counted && !self.try_withdraw_idle() {
                continue; // claimed: a task is on its way
            }
            counted = false;
            if self.retire() {
                return;
            }
        }
    }
}

fn run(checks_started: bool, max_workers: usize) {
    let p = Arc::new(Pool {
        queue: Queue::with_ring(4), // no overflow: the queue models check that path
        idle: AtomicUsize::new(1),
        started: AtomicUsize::new(1),
        spawned: AtomicUsize::new(0),
        max_workers,
        checks_started,
    });
    let w = {
        let p = p.clone();
        thread::spawn(move || p.worker())
    };
    let s = {
        let p = p.clone();
        thread::spawn(move || p.submit(1))
    };
    p.submit(2);
    s.join().unwrap();
    w.join().unwrap();
    let left = p.queue.len();
    assert!(left == 0 || p.started.load(S) > 0, "{left} message(s) queued with no worker alive or started");
}

/// One worker that retires when idle, two submitters: nothing is stranded, in a full
/// pool (no claims) and in one with room for a second worker (claims).
#[test]
fn a_claimed_submit_never_loses_its_worker() {
    model(|| run(true, 1));
    model(|| run(true, 2));
}

/// Without the check after a claimed push, the model finds the stranded message.
#[test]
#[should_panic(expected = "queued with no worker alive or started")]
fn trusting_the_claim_strands_a_message() {
    model(|| run(false, 2));
}
