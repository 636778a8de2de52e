use super::*;
use crate::thread_pool::ThreadPoolOptions;
use std::sync::atomic::{AtomicU8, AtomicU32};
use std::sync::Barrier;

fn pool(n: usize) -> ThreadPool {
    ThreadPool::new(ThreadPoolOptions { max_workers: n, ..Default::default() })
}

/// Runs a loop counting each index; every count must be exactly 1.
fn check_coverage(p: &ThreadPool, begin: usize, end: usize, grain: usize) {
    let hits: Vec<AtomicU8> = (begin..end).map(|_| AtomicU8::new(0)).collect();
    let calls = AtomicUsize::new(0);
    let r = parallel_for(p, begin, end, grain, &|b, e| {
        assert!(b < e && b >= begin && e <= end, "range [{b}, {e}) outside [{begin}, {end})");
        if grain > 0 && e != end {
            assert!(e - b >= grain, "range [{b}, {e}) below grain {grain}");
        }
        calls.fetch_add(1, Ordering::Relaxed);
        for i in b..e {
            hits[i - begin].fetch_add(1, Ordering::Relaxed);
        }
        0
    });
    assert_eq!(r, Ok(Ok(())));
    for (i, h) in hits.iter().enumerate() {
        assert_eq!(h.load(Ordering::Relaxed), 1, "index {} of [{begin}, {end}) grain {grain}", begin + i);
    }
    if end > begin {
        assert!(calls.load(Ordering::Relaxed) >= 1);
    }
}

/// Loop sizes: Miri interprets every index, so it checks the same shapes smaller.
const fn sized(n: usize) -> usize {
    if cfg!(miri) { if n < 500 { n } else { 500 } } else { n }
}

#[test]
fn covers_each_index_once() {
    for workers in [1, 2, 4] {
        let p = pool(workers);
        for (b, e) in [(0, 1), (5, 6), (0, 2), (0, 1000), (17, 100_003), (0, 1 << 20)] {
            let e = b + sized(e - b);
            for grain in [0, 1, 3, 1000, 1 << 21] {
                check_coverage(&p, b, e, grain);
            }
        }
    }
}

#[test]
fn empty_and_reversed_ranges() {
    let p = pool(2);
    let called = AtomicBool::new(false);
    let body = |_: usize, _: usize| {
        called.store(true, Ordering::Relaxed);
        0
    };
    assert_eq!(parallel_for(&p, 7, 7, 0, &body), Ok(Ok(())));
    assert_eq!(parallel_for(&p, usize::MAX, usize::MAX, 0, &body), Ok(Ok(())));
    let e = parallel_for(&p, 8, 7, 0, &body).unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert!(!called.load(Ordering::Relaxed));
}

/// Ranges are recorded, not walked: the loop covers nearly all of `usize`.
#[test]
fn ranges_near_usize_max_do_not_overflow() {
    let p = pool(2);
    for (b, e, grain) in [
        (0, usize::MAX, 0),
        (1, usize::MAX, usize::MAX / 3),
        (usize::MAX - 10, usize::MAX, 0),
        (usize::MAX - 10, usize::MAX, 4),
        (usize::MAX / 2, usize::MAX, 1 << 60),
    ] {
        let seen = Mutex::new(Vec::new());
        let r = parallel_for(&p, b, e, grain, &|lo, hi| {
            seen.lock().push((lo, hi));
            0
        });
        assert_eq!(r, Ok(Ok(())));
        let mut v = seen.into_inner_for_test();
        v.sort();
        assert_eq!(v.first().map(|r| r.0), Some(b));
        assert_eq!(v.last().map(|r| r.1), Some(e));
        for w in v.windows(2) {
            assert_eq!(w[0].1, w[1].0, "gap or overlap in {v:?}");
        }
    }
}

#[test]
fn first_failure_is_reported_and_stops_new_ranges() {
    let p = pool(2);
    let calls = AtomicUsize::new(0);
    let r = parallel_for(&p, 0, sized(1_000_000), 1, &|b, _| {
        calls.fetch_add(1, Ordering::Relaxed);
        if b == 0 { 42 } else { 0 }
    });
    assert_eq!(r, Ok(Err(42)));
    // The failing range is the first claim; at most a few claimed before it can still run.
    assert!(calls.load(Ordering::Relaxed) < 64, "{} calls after a failure", calls.load(Ordering::Relaxed));

    // Every range fails: one code of them comes back.
    let r = parallel_for(&p, 0, sized(10_000), 1, &|b, _| -((b % 7) as i32) - 1);
    assert!(matches!(r, Ok(Err(c)) if (-7..=-1).contains(&c)), "{r:?}");
}

#[test]
fn a_panic_fails_the_loop_not_the_pool() {
    let p = pool(2);
    let e = parallel_for(&p, 0, 1000, 1, &|b, e| if (b..e).contains(&500) { panic!("boom") } else { 0 })
        .unwrap_err();
    assert_eq!(e.status(), Status::Panic);
    let e = parallel_for(&p, 0, 1000, 0, &|_, _| -> i32 { panic!("always") }).unwrap_err();
    assert_eq!(e.status(), Status::Panic);
    assert!(e.message().unwrap().contains("always"));
    check_coverage(&p, 0, 1000, 0);
}

/// Nested loops on the same pool, from every range, with one worker and with several.
#[test]
fn nested_loops_complete() {
    for workers in [1, 2, 3] {
        let p = pool(workers);
        let n = if cfg!(miri) { 8 } else { 64 };
        let hits: Vec<AtomicU32> = (0..n * n).map(|_| AtomicU32::new(0)).collect();
        let r = parallel_for(&p, 0, n, 1, &|b, e| {
            for i in b..e {
                let inner = parallel_for(&p, 0, n, 0, &|c, d| {
                    for j in c..d {
                        hits[i * n + j].fetch_add(1, Ordering::Relaxed);
                    }
                    0
                });
                assert_eq!(inner, Ok(Ok(())));
            }
            0
        });
        assert_eq!(r, Ok(Ok(())));
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
    }
}

/// From inside a task of a one-worker pool whose only worker is busy: the caller does it all.
#[test]
fn a_worker_with_no_helpers_finishes_alone() {
    let p = Arc::new(pool(1));
    let q = p.clone();
    let f = p
        .submit_fn(move |_| {
            let sum = AtomicUsize::new(0);
            const N: usize = sized(10_000);
            let r = parallel_for(&q, 0, N, 1, &|b, e| {
                sum.fetch_add((b..e).sum::<usize>(), Ordering::Relaxed);
                0
            });
            assert_eq!(r, Ok(Ok(())));
            i32::from(sum.load(Ordering::Relaxed) != N * (N - 1) / 2)
        })
        .unwrap();
    assert!(f.result(crate::time::Deadline::Never).is_ok());
}

/// The caller works: with every worker blocked, the loop still completes.
#[test]
fn the_caller_works_when_workers_are_busy() {
    let p = pool(1);
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let g = gate.clone();
    let blocker = p
        .submit_fn(move |_| {
            let mut open = g.0.lock();
            while !*open {
                g.1.wait(&mut open);
            }
            0
        })
        .unwrap();
    check_coverage(&p, 0, sized(100_000), 0);
    *gate.0.lock() = true;
    gate.1.notify_all();
    assert!(blocker.result(crate::time::Deadline::Never).is_ok());
}

/// A helper that does not start (the idle spinner cannot run: here a phantom one keeps the
/// submit from waking anyone) makes the caller wake a parked worker after `HELPER_LATE`.
#[test]
fn a_caller_whose_helper_is_late_wakes_a_parked_worker() {
    let p = pool(1);
    assert!(p.submit_fn(|_| 0).unwrap().wait(crate::time::Deadline::Never));
    let give_up = Instant::now() + Duration::from_secs(20);
    while p.parked_workers() == 0 {
        assert!(Instant::now() < give_up, "the worker never parked");
        std::thread::yield_now();
    }
    p.hold_phantom_spinner(true);
    let caller = std::thread::current().id();
    let helper_ran = AtomicBool::new(false);
    let r = parallel_for(&p, 0, 1000, 1, &|b, _| {
        if std::thread::current().id() != caller {
            helper_ran.store(true, Ordering::SeqCst);
            return 0;
        }
        // The caller's first range outlasts HELPER_LATE (the watch looks between ranges);
        // its later ones need the helper.
        let start = Instant::now();
        let give_up = start + Duration::from_secs(20);
        while if b == 0 { start.elapsed() < 2 * HELPER_LATE } else { !helper_ran.load(Ordering::SeqCst) } {
            if Instant::now() > give_up {
                return 1;
            }
            std::hint::spin_loop();
        }
        0
    });
    p.hold_phantom_spinner(false);
    let helped = threads_for(&p, 1000, 1) > 1;
    assert_eq!(r.unwrap(), Ok(()));
    assert_eq!(helper_ran.load(Ordering::SeqCst), helped, "a parked worker was woken for the helper");
}

#[test]
fn many_threads_call_at_once() {
    let p = Arc::new(pool(3));
    let start = Arc::new(Barrier::new(8));
    let ts: Vec<_> = (0..8)
        .map(|t| {
            let (p, start) = (p.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for round in 0..if cfg!(miri) { 2 } else { 20 } {
                    check_coverage(&p, t * 1000, t * 1000 + sized(5_000) + round * 97, round % 3);
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
}

#[test]
fn a_shut_down_pool_refuses_non_empty_loops() {
    let p = pool(2);
    p.shutdown(true, false).unwrap();
    let e = parallel_for(&p, 0, 10, 0, &|_, _| 0).unwrap_err();
    assert_eq!(e.status(), Status::Shutdown);
    assert_eq!(parallel_for(&p, 3, 3, 0, &|_, _| 1), Ok(Ok(())));
}

impl<T> Mutex<T> {
    fn into_inner_for_test(self) -> T
    where
        T: Default,
    {
        std::mem::take(&mut *self.lock())
    }
}
