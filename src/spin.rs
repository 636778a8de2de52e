//! Bounded spinning before parking. On a VM where waking a halted vCPU costs tens of
//! microseconds, a short spin turns most hand-offs into cache-line transfers.

use std::time::{Duration, Instant};

/// How long a waiter spins before it parks: long enough to cover a back-to-back hand-off
/// (well under a microsecond across vCPUs), short enough that a wake-up from idle does not
/// burn more CPU than the ~30 µs the kernel wake itself costs here.
pub const SPIN: Duration = Duration::from_micros(10);

/// How long the next idle spin lasts after a worker ran part of a parallel loop or a map:
/// loops come back to back (a time step, a pipeline stage), and a worker parked between
/// them must be woken, which on this kernel can leave it queued behind the thread that
/// woke it (that thread keeps its CPU to work on the loop) until the next tick, 4 ms here:
/// the loop then runs on one CPU. OpenMP and TBB workers spin for the same reason
/// (libgomp's GOMP_SPINCOUNT, Intel's KMP_BLOCKTIME). Only one worker spins at a time, and
/// it yields its CPU to anyone who needs it.
pub const LOOP_SPIN: Duration = Duration::from_millis(2);

thread_local! {
    /// This thread ran part of a parallel loop or a map since `take_loop_work` last looked.
    static LOOP_WORK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this thread as having run loop work (a `parallel_for` range, a map chunk).
pub fn note_loop_work() {
    LOOP_WORK.with(|l| l.set(true));
}

/// Whether this thread ran loop work since the last call; clears the mark.
pub fn take_loop_work() -> bool {
    LOOP_WORK.with(|l| l.replace(false))
}

/// How long a spin polls with PAUSE alone before it starts yielding. A yield costs ~0.5 µs
/// here even with nobody else to run, and a hand-off that lands during one waits that long:
/// with both sides of a one-shot submit->result (the waiting caller, the idle worker)
/// yielding from the start its p50 was 0.75 µs, with this phase 0.27 µs (a Go channel pool:
/// 0.29 µs). Kept to about one hand-off round trip, because the thread we wait for may share
/// our CPU and wait for this phase to end; beyond it we yield.
pub const PAUSE_PHASE: Duration = Duration::from_micros(1);

/// Polls `ready` for up to `budget`; true as soon as it returns true.
pub fn spin_until(budget: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let pause = PAUSE_PHASE.min(budget);
    let mut i: u32 = 0;
    loop {
        if ready() {
            return true;
        }
        i = i.wrapping_add(1);
        if i < PAUSE_POLLS_UNTIMED || start.elapsed() < pause {
            std::hint::spin_loop();
            continue;
        }
        // Past the PAUSE phase, yield so a thread we wait for on this CPU can run.
        if i % 16 == 0 && start.elapsed() >= budget {
            return false;
        }
        std::thread::yield_now();
    }
}

/// Polls before the clock is first read (a read costs about one PAUSE).
const PAUSE_POLLS_UNTIMED: u32 = 4;

/// An idle thread's spin budget, adapted to how work has been arriving: full after a spin
/// that found work or a short sleep (work came soon after: spinning would have caught it),
/// halved after each long sleep, down to no spin at all. A pool fed one task per timer tick
/// then stops burning a spin per tick; a burst or a back-to-back caller keeps it full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adaptive {
    budget: Duration,
}

impl Adaptive {
    /// A sleep longer than this had nothing to do with the spin just before it.
    const LONG: Duration = Duration::from_micros(200);
    /// Below this a spin is not worth its yields.
    const MIN: Duration = Duration::from_micros(1);

    pub const fn new() -> Adaptive {
        Adaptive { budget: SPIN }
    }

    /// How long to spin now (zero: park at once).
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// The spin found work.
    pub fn found(&mut self) {
        self.budget = SPIN;
    }

    /// The thread just ran loop work: the next spin waits for the next loop (`LOOP_SPIN`).
    pub fn ran_loop(&mut self) {
        self.budget = LOOP_SPIN;
    }

    /// Nothing came during the spin; the thread then slept `slept` before work came.
    pub fn slept(&mut self, slept: Duration) {
        let budget = self.budget.min(SPIN);
        self.budget = if slept < Self::LONG {
            SPIN
        } else if budget / 2 < Self::MIN {
            Duration::ZERO
        } else {
            budget / 2
        };
    }
}

impl Default for Adaptive {
    fn default() -> Self {
        Adaptive::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sleeps_shrink_the_budget_to_nothing_and_work_restores_it() {
        let mut a = Adaptive::new();
        assert_eq!(a.budget(), SPIN);
        let mut budgets = Vec::new();
        for _ in 0..6 {
            a.slept(Duration::from_millis(1));
            budgets.push(a.budget());
        }
        assert!(budgets.windows(2).all(|w| w[1] < w[0] || w[1].is_zero()), "{budgets:?}");
        assert_eq!(a.budget(), Duration::ZERO);
        a.slept(Duration::from_micros(50));
        assert_eq!(a.budget(), SPIN, "work soon after parking: spin again");
        a.slept(Duration::from_millis(1));
        a.found();
        assert_eq!(a.budget(), SPIN);
    }

    #[test]
    fn loop_work_spins_longer_once_and_a_long_sleep_after_it_halves_the_plain_spin() {
        assert!(!take_loop_work());
        note_loop_work();
        assert!(take_loop_work());
        assert!(!take_loop_work(), "the mark is taken once");
        let mut a = Adaptive::new();
        a.ran_loop();
        assert_eq!(a.budget(), LOOP_SPIN);
        a.slept(Duration::from_millis(5));
        assert_eq!(a.budget(), SPIN / 2);
        a.ran_loop();
        a.slept(Duration::from_micros(50));
        assert_eq!(a.budget(), SPIN);
    }
}
