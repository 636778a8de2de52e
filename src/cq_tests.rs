use super::*;
use crate::future::{Outcome, Value};
use crate::thread_pool::{ThreadPool, ThreadPoolOptions};
use std::collections::HashSet;
use std::sync::Barrier;

fn ok() -> Outcome {
    Ok(Value::Bytes(b"x"[..].into()))
}

/// Asked through epoll, as an event loop asks (and as Miri can answer).
fn readable(cq: &CompletionQueue) -> bool {
    // SAFETY: a fresh epoll instance watching the queue's fd, one event out, no timeout;
    // closed before returning.
    unsafe {
        let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        assert!(ep >= 0);
        // Edge-triggered (all Miri models): a fresh instance still reports the current state.
        let mut ev = libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLET) as u32, u64: 0 };
        assert_eq!(libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, cq.fd(), &mut ev), 0);
        let mut out = libc::epoll_event { events: 0, u64: 0 };
        let n = libc::epoll_wait(ep, &mut out, 1, 0);
        libc::close(ep);
        n == 1 && out.events & libc::EPOLLIN as u32 != 0
    }
}

#[test]
fn a_done_future_yields_at_once_and_the_fd_follows_the_list() {
    let cq = CompletionQueue::new().unwrap();
    assert!(!readable(&cq));
    let f = Future::new();
    f.complete(ok()).unwrap();
    cq.watch(&f, 7);
    assert!(readable(&cq));
    let mut out = [0u64; 4];
    assert_eq!(cq.drain(&mut out), 1);
    assert_eq!(out[0], 7);
    assert!(!readable(&cq), "the drain took every tag: not readable");
    assert_eq!(cq.drain(&mut out), 0);
    let g = Future::new();
    cq.watch(&g, 8);
    assert!(!readable(&cq));
    g.complete(ok()).unwrap();
    assert!(readable(&cq), "readable again on the next completion");
    assert_eq!(cq.drain_all(), vec![8]);
    assert!(!readable(&cq));
}

#[test]
fn a_partial_drain_leaves_the_fd_readable() {
    let cq = CompletionQueue::new().unwrap();
    let fs: Vec<Future> = (0..5).map(|_| Future::new()).collect();
    for (i, f) in fs.iter().enumerate() {
        cq.watch(f, i as u64);
    }
    for f in &fs {
        f.complete(ok()).unwrap();
    }
    let mut out = [0u64; 2];
    assert_eq!(cq.drain(&mut out), 2);
    assert_eq!(out, [0, 1]);
    assert!(readable(&cq));
    assert_eq!(cq.drain(&mut []), 0);
    assert_eq!(cq.drain_all(), vec![2, 3, 4]);
    assert!(!readable(&cq));
}

#[test]
fn cancelled_and_failed_futures_yield_once() {
    let cq = CompletionQueue::new().unwrap();
    let a = Future::new();
    let b = Future::new();
    cq.watch(&a, 1);
    cq.watch(&b, 2);
    assert!(a.cancel());
    assert!(a.cancel());
    b.fail(crate::future::TaskError::new(Status::WorkerDied, -9, None)).unwrap();
    let mut tags = cq.drain_all();
    tags.sort();
    assert_eq!(tags, vec![1, 2]);
    assert!(cq.drain_all().is_empty());
    assert_eq!(cq.outstanding(), 0);
}

#[test]
fn the_tag_arrives_after_the_caller_released_its_future() {
    let pool = ThreadPool::new(ThreadPoolOptions { max_workers: 2, ..Default::default() });
    let cq = CompletionQueue::new().unwrap();
    for i in 0..100 {
        let f = pool.submit_fn(|_| 0).unwrap();
        cq.watch(&f, i);
        drop(f);
    }
    let mut seen = HashSet::new();
    while seen.len() < 100 {
        assert!(cq.wait(Deadline::after_ns(10_000_000_000)));
        for t in cq.drain_all() {
            assert!(seen.insert(t), "tag {t} twice");
        }
    }
    assert!(!readable(&cq));
}

#[test]
fn wait_times_out_then_sees_a_completion_from_another_thread() {
    let cq = CompletionQueue::new().unwrap();
    assert!(!cq.wait(Deadline::Poll));
    assert!(!cq.wait(Deadline::after_ns(1_000_000)));
    let f = Future::new();
    cq.watch(&f, 3);
    let g = f.clone();
    let t = std::thread::spawn(move || g.complete(ok()).unwrap());
    assert!(cq.wait(Deadline::Never));
    t.join().unwrap();
    assert!(cq.wait(Deadline::Poll), "wait takes nothing");
    assert_eq!(cq.drain_all(), vec![3]);
}

#[test]
fn eight_threads_watch_while_one_drains() {
    const PER: u64 = if cfg!(miri) { 20 } else { 2000 };
    let pool = ThreadPool::new(ThreadPoolOptions { max_workers: 4, ..Default::default() });
    let cq = CompletionQueue::new().unwrap();
    let start = Barrier::new(9);
    let mut seen = HashSet::new();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (pool, cq, start) = (&pool, &cq, &start);
            s.spawn(move || {
                start.wait();
                for i in 0..PER {
                    let f = if i % 3 == 0 { Future::new() } else { pool.submit_fn(|_| 0).unwrap() };
                    cq.watch(&f, t * PER + i);
                    if i % 3 == 0 {
                        f.complete(ok()).unwrap(); // done by the watcher itself
                    }
                }
            });
        }
        start.wait();
        let mut buf = [0u64; 64];
        while seen.len() < (8 * PER) as usize {
            assert!(cq.wait(Deadline::after_ns(30_000_000_000)), "tags stopped arriving");
            let n = cq.drain(&mut buf);
            for &tag in &buf[..n] {
                assert!(seen.insert(tag), "tag {tag} twice");
            }
        }
    });
    assert_eq!(seen.len(), (8 * PER) as usize);
    assert!(cq.drain_all().is_empty());
    assert!(!readable(&cq));
}

#[test]
fn dropping_the_queue_with_pending_watches_is_safe() {
    let cq = CompletionQueue::new().unwrap();
    let fs: Vec<Future> = (0..3).map(|_| Future::new()).collect();
    for (i, f) in fs.iter().enumerate() {
        cq.watch(f, i as u64);
    }
    fs[0].complete(ok()).unwrap();
    assert_eq!(cq.outstanding(), 2);
    drop(cq);
    // The late completions find the queue closed; the shared part goes with the last one.
    fs[1].complete(ok()).unwrap();
    assert!(fs[2].cancel());
    drop(fs);
}
