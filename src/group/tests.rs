use super::*;
use crate::thread_pool::{ThreadPool, ThreadPoolOptions};
use std::sync::atomic::{AtomicUsize, Ordering};

fn pool(n: usize) -> Arc<Executor> {
    Arc::new(Executor::Threads(ThreadPool::new(ThreadPoolOptions { max_workers: n, ..Default::default() })))
}

#[test]
fn wait_sees_children_submitted_by_tasks() {
    let g = Group::new(pool(4), 0).unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let (g2, c) = (g.clone(), count.clone());
        g.submit(Job::boxed(move |_| {
            for _ in 0..10 {
                let c = c.clone();
                g2.submit(Job::boxed(move |_| {
                    c.fetch_add(1, Ordering::SeqCst);
                    0
                }))
                .unwrap();
            }
            0
        }))
        .unwrap();
    }
    assert_eq!(g.wait(Deadline::Never), Ok(()));
    assert_eq!(count.load(Ordering::SeqCst), 100);
    assert_eq!(g.outstanding(), 0);
}

#[test]
fn first_failure_cancels_the_rest() {
    let g = Group::new(pool(2), CANCEL_ON_FAILURE).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    g.submit(Job::boxed(|s| {
        s.set_error(5, Some(c"boom"));
        5
    }))
    .unwrap();
    for _ in 0..1000 {
        let r = ran.clone();
        let _ = g.submit(Job::boxed(move |s| {
            r.fetch_add(1, Ordering::SeqCst);
            while !s.cancel_requested() {
                std::thread::yield_now();
            }
            s.set_cancelled();
            0
        }));
    }
    let e = g.wait(Deadline::Never).unwrap_err();
    assert_eq!(e.status(), Status::TaskFailed);
    assert_eq!(e.message(), Some("boom"));
    assert!(ran.load(Ordering::SeqCst) < 1000);
    assert_eq!(g.submit(Job::boxed(|_| 0)).err().map(|e| e.status()), Some(Status::Cancelled));
    let f = g.first_failure().unwrap();
    assert_eq!(f.error(Deadline::Poll).unwrap().unwrap().code, 5);
}

#[test]
fn cancel_timeout_and_bad_flags() {
    assert_eq!(Group::new(pool(1), 2).err().unwrap().status(), Status::InvalidArgument);
    let g = Group::new(pool(1), 0).unwrap();
    let gate = Arc::new(std::sync::Barrier::new(2));
    let b = gate.clone();
    g.submit(Job::boxed(move |s| {
        b.wait();
        while !s.cancel_requested() {
            std::thread::yield_now();
        }
        0
    }))
    .unwrap();
    gate.wait();
    assert_eq!(g.wait(Deadline::after_ns(20_000_000)).unwrap_err().status(), Status::Timeout);
    g.cancel();
    assert_eq!(g.wait(Deadline::Never).unwrap_err().status(), Status::Cancelled);
}

#[test]
fn release_from_a_task_returns_at_once() {
    let g = Group::new(pool(2), 0).unwrap();
    let done = Arc::new(std::sync::Barrier::new(2));
    let (g2, d) = (g.clone(), done.clone());
    let owner = std::sync::Mutex::new(Some(g2));
    g.submit(Job::boxed(move |_| {
        let g = owner.lock().unwrap().take().unwrap();
        assert_eq!(g.wait(Deadline::Never).unwrap_err().status(), Status::WouldDeadlock);
        g.release();
        d.wait();
        0
    }))
    .unwrap();
    drop(g);
    done.wait();
}

/// A running task that stops on request frees its worker; a pending task of the group must
/// be cancelled before that worker can start it. The hook below holds the cancelling thread
/// between the running task's request and the rest until the pending task is done, which
/// it becomes by running if cancellation asks the running task first.
#[test]
fn cancel_ends_pending_tasks_before_asking_running_ones() {
    let g = Group::new(pool(1), 0).unwrap();
    let gate = Arc::new(std::sync::Barrier::new(2));
    let b = gate.clone();
    let running = g
        .submit(Job::boxed(move |s| {
            b.wait();
            while !s.cancel_requested() {
                std::thread::yield_now();
            }
            0
        }))
        .unwrap();
    let pending = g.submit(Job::boxed(|_| 0)).unwrap();
    gate.wait();
    let p = pending.clone();
    running.on_cancel_request(Box::new(move || {
        p.wait(Deadline::after_ns(5_000_000_000));
    }));
    g.cancel();
    assert!(pending.cancelled(), "the pending task ran: {:?}", pending.state());
    assert_eq!(g.wait(Deadline::Never).unwrap_err().status(), Status::Cancelled);
}
