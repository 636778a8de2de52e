use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::flow::{Admit, WhenFull};
use crate::future::Job;
use crate::status::Status;
use crate::thread_pool::{ThreadPool, ThreadPoolOptions};
use crate::time::Deadline;

fn bounded(workers: usize, max_queued: usize, when_full: WhenFull) -> ThreadPool {
    ThreadPool::new(ThreadPoolOptions { max_workers: workers, max_queued, when_full, ..Default::default() })
}

/// A task holding its worker until the barrier's other side arrives.
fn hold(b: &Arc<Barrier>) -> Job {
    let b = b.clone();
    Job::boxed(move |_| {
        b.wait();
        0
    })
}

/// Submits a task that holds `p`'s worker and returns once it runs: its future, and the
/// barrier whose `wait` releases it.
fn held(p: &ThreadPool) -> (crate::future::Future, Arc<Barrier>) {
    let started = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let (s2, r2) = (started.clone(), release.clone());
    let f = p
        .submit(Job::boxed(move |_| {
            s2.wait();
            r2.wait();
            0
        }))
        .unwrap();
    started.wait();
    (f, release)
}

#[test]
fn reject_hands_the_job_back() {
    let p = bounded(1, 2, WhenFull::Reject);
    let (first, release) = held(&p);
    let queued: Vec<_> = (0..2).map(|_| p.submit(Job::boxed(|_| 0)).unwrap()).collect();
    let refused = p.submit_with(Job::boxed(|_| 0), Admit::Policy).err().expect("full");
    assert_eq!(refused.error.status(), Status::QueueFull);
    assert!(refused.job.is_some(), "QueueFull hands the job back");
    let t0 = Instant::now();
    let refused = p.submit_with(Job::boxed(|_| 0), Admit::Wait(Deadline::after(Duration::from_millis(30)))).err().expect("full");
    assert!(refused.job.is_some() && t0.elapsed() >= Duration::from_millis(25));
    let s = p.stats();
    assert_eq!((s.queued, s.running, s.rejected, s.peak_queued), (2, 1, 2, 2));
    release.wait();
    for f in queued.iter().chain([&first]) {
        assert!(f.wait(Deadline::Never));
    }
    p.shutdown(true, false).unwrap();
    let s = p.stats();
    assert_eq!((s.submitted, s.completed, s.queued, s.running), (3, 3, 0, 0));
}

#[test]
fn four_submitters_stay_within_the_bound() {
    let p = Arc::new(bounded(2, 4, WhenFull::Block));
    let done = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let (p, done) = (p.clone(), done.clone());
            std::thread::spawn(move || {
                for _ in 0..300 {
                    let d = done.clone();
                    p.submit(Job::boxed(move |_| {
                        d.fetch_add(1, Ordering::SeqCst);
                        0
                    }))
                    .unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    p.shutdown(true, false).unwrap();
    let s = p.stats();
    assert_eq!(done.load(Ordering::SeqCst), 1200);
    assert!(s.peak_queued <= 4, "peak {}", s.peak_queued);
    assert_eq!((s.submitted, s.completed, s.rejected), (1200, 1200, 0));
}

#[test]
fn caller_runs_on_the_submitting_thread() {
    let p = bounded(1, 1, WhenFull::CallerRuns);
    let b = Arc::new(Barrier::new(2));
    let first = p.submit(hold(&b)).unwrap();
    // Fill the one place: either still queued or taken; submit until one runs here.
    let me = std::thread::current().id();
    let mut ran_here = false;
    for _ in 0..3 {
        let f = p
            .submit_fn(move |sink| {
                sink.set_any(Box::new(std::thread::current().id() == me));
                0
            })
            .unwrap();
        if f.done() && f.outcome().and_then(|o| o.ok()).and_then(|v| v.downcast_ref::<bool>().copied()) == Some(true) {
            ran_here = true;
        }
    }
    assert!(ran_here);
    b.wait();
    first.wait(Deadline::Never);
}

#[test]
fn idle_workers_retire_and_start_again() {
    let exits = Arc::new(AtomicUsize::new(0));
    let e2 = exits.clone();
    let p = ThreadPool::new(ThreadPoolOptions {
        max_workers: 2,
        idle_timeout: Some(Duration::from_millis(20)),
        on_worker_exit: Some(Arc::new(move || {
            e2.fetch_add(1, Ordering::SeqCst);
        })),
        ..Default::default()
    });
    let b = Arc::new(Barrier::new(3));
    let fs = [p.submit(hold(&b)).unwrap(), p.submit(hold(&b)).unwrap()];
    b.wait();
    for f in &fs {
        f.wait(Deadline::Never);
    }
    let until = Instant::now() + Duration::from_secs(20);
    while p.stats().workers > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(p.stats().workers, 0);
    assert_eq!(exits.load(Ordering::SeqCst), 2);
    let f = p.submit_fn(|_| 0).unwrap();
    assert!(f.wait(Deadline::Never));
    assert_eq!(p.stats().worker_restarts, 1);
    p.shutdown(true, false).unwrap();
    assert_eq!(exits.load(Ordering::SeqCst), 3);
}

#[test]
fn submitters_racing_retirement_lose_nothing() {
    // Workers retire after 10 µs idle: submits from 3 threads keep meeting retiring workers.
    let p = Arc::new(ThreadPool::new(ThreadPoolOptions {
        max_workers: 2,
        idle_timeout: Some(Duration::from_micros(10)),
        ..Default::default()
    }));
    let hs: Vec<_> = (0..3)
        .map(|i| {
            let p = p.clone();
            std::thread::spawn(move || {
                for k in 0..400 {
                    let f = p.submit_fn(|_| 0).unwrap();
                    assert!(f.wait(Deadline::after(Duration::from_secs(20))), "a task was stranded");
                    if (k + i) % 97 == 0 {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    p.shutdown(true, false).unwrap();
    let s = p.stats();
    assert_eq!((s.submitted, s.completed, s.workers), (1200, 1200, 0));
}

/// Without a bound, the peak outlives the queue only through the workers' samples: the
/// one taken as the blocking task ends, with all 40 still queued.
#[test]
fn unbounded_peak_is_sampled_as_tasks_end() {
    let p = ThreadPool::new(ThreadPoolOptions { max_workers: 1, ..Default::default() });
    let (first, release) = held(&p);
    let queued: Vec<_> = (0..40).map(|_| p.submit(Job::boxed(|_| 0)).unwrap()).collect();
    assert_eq!(p.stats().peak_queued, 40, "the length read by stats itself");
    release.wait();
    for f in queued.iter().chain([&first]) {
        assert!(f.wait(Deadline::Never));
    }
    p.shutdown(true, false).unwrap();
    let s = p.stats();
    assert_eq!((s.queued, s.completed, s.peak_queued), (0, 41, 40));
}

/// A full pool neither claims nor counts idle workers (no submit could start a thread); one
/// with room counts its worker idle before the result is visible, so a sequential submitter
/// reuses it.
#[test]
fn a_full_pool_keeps_no_idle_count() {
    let full = ThreadPool::new(ThreadPoolOptions { max_workers: 1, ..Default::default() });
    let room = ThreadPool::new(ThreadPoolOptions { max_workers: 2, ..Default::default() });
    for p in [&full, &room] {
        for _ in 0..20 {
            assert!(p.submit_fn(|_| 0).unwrap().result(Deadline::Never).is_ok());
        }
    }
    assert_eq!(full.shared.idle.load(Ordering::SeqCst), 0);
    assert_eq!(room.shared.idle.load(Ordering::SeqCst), 1);
    assert_eq!((full.threads_started(), room.threads_started()), (1, 1));
}
