//! Reduced model of the thread pool's hand-off (src/thread_pool.rs `push`, `wait_idle`,
//! `park`, `pass_baton`) over the real queue: the same counters, fences and lock (each
//! parked worker on its own condvar, the most recently parked woken first), the
//! spin reduced to one poll. The real pool starts OS threads and counts time, which loom
//! cannot run; this copy must follow any change to those four functions.
//!
//! Checked: a pushed message is never left queued while every worker sleeps (that
//! execution would end with the main thread blocked in `join`, which loom reports as a
//! deadlock), and every message is taken exactly once; and that a broken variant (the
//! `waking` flag never cleared) is caught.

use std::sync::atomic::Ordering::SeqCst as S;
use std::sync::Arc;

use loom::sync::atomic::{fence, AtomicBool, AtomicUsize};
use loom::thread;

use super::{model, model_bounded};
use crate::queue::Queue;
use crate::sync::{Condvar, Mutex};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Msg {
    Run(u8),
    Stop,
}

struct Pool {
    queue: Queue<Msg>,
    spinners: AtomicUsize,
    parked: AtomicUsize,
    waking: AtomicBool,
    /// The parked workers' condvars, most recently parked last (a wake takes the last).
    park_lock: Mutex<Vec<Arc<Condvar>>>,
    ran: AtomicUsize,
    /// False only in the mutation check below: a woken worker that never clears `waking`.
    clears_waking: bool,
}

impl Pool {
    fn push(&self, m: Msg) {
        self.queue.push(m);
        fence(S);
        if self.parked.load(S) > 0 && self.spinners.load(S) == 0 && !self.waking.load(S) {
            self.wake_one();
        }
    }

    fn wake_one(&self) {
        let mut g = self.park_lock.lock();
        if self.parked.load(S) > 0 && !self.waking.load(S) {
            self.waking.store(true, S);
            if let Some(c) = g.pop() {
                c.notify_one();
            }
        }
    }

    fn pass_baton(&self) {
        fence(S);
        if self.parked.load(S) > 0
            && self.queue.ready()
            && self.spinners.load(S) == 0
            && !self.waking.load(S)
        {
            self.wake_one();
        }
    }

    fn park(&self, me: &Arc<Condvar>) -> Msg {
        loop {
            let mut g = self.park_lock.lock();
            self.parked.fetch_add(1, S);
            fence(S);
            if let Some(m) = self.queue.pop() {
                self.parked.fetch_sub(1, S);
                return m;
            }
            g.push(me.clone());
            me.wait(&mut g);
            self.parked.fetch_sub(1, S);
            if let Some(i) = g.iter().rposition(|c| Arc::ptr_eq(c, me)) {
                g.remove(i);
            }
            if self.clears_waking {
                self.waking.store(false, S);
            }
            drop(g);
            fence(S);
            if let Some(m) = self.queue.pop() {
                return m;
            }
        }
    }

    /// `spins`: false for a worker whose adaptive budget fell to zero (it parks at once
    /// and never counts itself a spinner).
    fn wait_idle(&self, spins: bool, me: &Arc<Condvar>) -> Msg {
        let mut got = None;
        if spins {
            if self.spinners.fetch_add(1, S) == 0 {
                got = self.queue.pop(); // the spin, reduced to one poll
            }
            self.spinners.fetch_sub(1, S);
        }
        let m = match got {
            Some(m) => m,
            None => self.park(me),
        };
        self.pass_baton();
        m
    }

    fn worker(&self, spins: bool) {
        let me = Arc::new(Condvar::new());
        loop {
            let m = match self.queue.pop() {
                Some(m) => m,
                None => self.wait_idle(spins, &me),
            };
            match m {
                Msg::Run(_) => {
                    self.ran.fetch_add(1, S);
                }
                Msg::Stop => {
                    self.push(Msg::Stop);
                    return;
                }
            }
        }
    }
}

fn run(workers: usize, tasks: u8) {
    run_with(workers, tasks, true)
}

fn run_with(workers: usize, tasks: u8, clears_waking: bool) {
    let p = Arc::new(Pool {
        queue: Queue::with_ring(4), // no overflow: the queue models check that path
        spinners: AtomicUsize::new(0),
        parked: AtomicUsize::new(0),
        waking: AtomicBool::new(false),
        park_lock: Mutex::new(Vec::new()),
        ran: AtomicUsize::new(0),
        clears_waking,
    });
    // The first worker spins, any other has an adaptive budget at zero.
    let hs: Vec<_> = (0..workers)
        .map(|w| {
            let p = p.clone();
            thread::spawn(move || p.worker(w == 0))
        })
        .collect();
    for i in 0..tasks {
        p.push(Msg::Run(i));
    }
    p.push(Msg::Stop);
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(p.ran.load(S), tasks as usize);
    assert_eq!(p.queue.pop(), Some(Msg::Stop));
}

/// Two workers, one task then the stop: every execution ends with both workers joined.
#[test]
fn two_workers_never_strand_a_message() {
    model(|| run(2, 1));
}

/// One worker, a burst of two tasks (the second may land while the worker parks).
#[test]
fn one_worker_takes_a_burst() {
    model(|| run(1, 2));
}

/// Two workers, a burst of two tasks: wake-ups fan out (push and the baton) and nothing is
/// stranded. Bound 2: over the lock-free ring, bound 3 explores for four minutes (2.4 s
/// over the channel stand-in it had before).
#[test]
fn two_workers_take_a_burst() {
    model_bounded(2, || run(2, 2));
}

/// The model still catches a stranded message: with a woken worker that never clears
/// `waking`, a later push wakes nobody and loom reports the main thread blocked in `join`.
#[test]
#[should_panic]
fn a_stuck_waking_flag_strands_a_message() {
    model(|| run_with(1, 2, false));
}
