use super::*;
use crate::future::Value;
use crate::time::Deadline;
use std::sync::atomic::AtomicBool;
use std::sync::Barrier;

fn pool(n: usize) -> ThreadPool {
    ThreadPool::new(ThreadPoolOptions { max_workers: n, ..Default::default() })
}

#[test]
fn submit_runs_and_returns_bytes() {
    let p = pool(2);
    let f = p.submit_fn(|s| {
        s.set_bytes(&256u32.to_le_bytes());
        0
    }).unwrap();
    let v = f.result(Deadline::Never).unwrap();
    assert!(matches!(v, Value::Bytes(b) if **b == 256u32.to_le_bytes()));
}

#[test]
fn saturation_starts_exactly_max_workers() {
    let p = pool(4);
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let fs: Vec<Future> = (0..60)
        .map(|_| {
            let g = gate.clone();
            p.submit_fn(move |_| {
                let mut open = g.0.lock();
                while !*open {
                    g.1.wait(&mut open);
                }
                0
            })
            .unwrap()
        })
        .collect();
    assert_eq!(p.threads_started(), 4);
    *gate.0.lock() = true;
    gate.1.notify_all();
    for f in &fs {
        assert!(f.result(Deadline::Never).is_ok());
    }
    assert_eq!(p.threads_started(), 4);
}

#[test]
fn sequential_tasks_reuse_one_thread() {
    let p = pool(8);
    for _ in 0..20 {
        p.submit_fn(|_| 0).unwrap().result(Deadline::Never).unwrap();
    }
    assert_eq!(p.threads_started(), 1);
}

#[test]
fn shutdown_is_idempotent_and_rejects_submits() {
    let p = pool(2);
    let f = p.submit_fn(|_| 0).unwrap();
    assert_eq!(p.shutdown(true, false), Ok(()));
    assert!(f.done());
    assert_eq!(p.shutdown(true, true), Ok(()));
    assert_eq!(p.submit_fn(|_| 0).err().map(|e| e.status()), Some(Status::Shutdown));
}

#[test]
fn cancel_futures_cancels_queued_work() {
    let p = pool(1);
    let started = Arc::new(Barrier::new(2));
    let release = Arc::new(AtomicBool::new(false));
    let (s2, r2) = (started.clone(), release.clone());
    let first = p.submit_fn(move |_| {
        s2.wait();
        while !r2.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        0
    }).unwrap();
    started.wait();
    let rest: Vec<Future> = (0..10).map(|_| p.submit_fn(|_| 0).unwrap()).collect();
    assert_eq!(p.shutdown(false, true), Ok(()));
    assert!(rest.iter().all(|f| f.cancelled()));
    release.store(true, Ordering::SeqCst);
    assert!(first.result(Deadline::Never).is_ok());
    assert_eq!(p.shutdown(true, false), Ok(()));
}

#[test]
fn failing_initializer_breaks_the_pool() {
    let p = ThreadPool::new(ThreadPoolOptions {
        max_workers: 2,
        initializer: Some(Arc::new(|| 3)),
        ..Default::default()
    });
    let f = match p.submit_fn(|_| 0) {
        Ok(f) => f,
        Err(s) => {
            assert_eq!(s.status(), Status::Broken);
            return;
        }
    };
    assert_eq!(f.result(Deadline::Never).err(), Some(Status::Broken));
    assert_eq!(f.error(Deadline::Poll).unwrap().unwrap().code, 3);
    assert_eq!(p.submit_fn(|_| 0).err().map(|e| e.status()), Some(Status::Broken));
    assert_eq!(p.broken_reason().unwrap().0, 3);
}

#[test]
fn shutdown_wait_from_own_worker_would_deadlock() {
    let p = Arc::new(pool(1));
    let q = p.clone();
    let f = p.submit_fn(move |s| {
        s.set_bytes(&[q.shutdown(true, false).unwrap_err().status() as u8]);
        0
    }).unwrap();
    match f.result(Deadline::Never).unwrap() {
        Value::Bytes(b) => assert_eq!(b[0], Status::WouldDeadlock as u8),
        _ => panic!("expected bytes"),
    }
}

#[test]
fn thread_names_use_the_prefix() {
    let p = ThreadPool::new(ThreadPoolOptions {
        max_workers: 1,
        thread_name_prefix: Some("Special".into()),
        ..Default::default()
    });
    let f = p.submit_fn(|s| {
        s.set_bytes(std::thread::current().name().unwrap().as_bytes());
        0
    }).unwrap();
    assert!(matches!(f.result(Deadline::Never).unwrap(), Value::Bytes(b) if &**b == b"Special_0"));
}

/// In the child, checks the inherited pool and the parent's futures; returns an exit code.
fn fork_child_checks(p: &ThreadPool, running: &Future, queued: &Future, help: bool) -> i32 {
    let fresh = ThreadPool::new(ThreadPoolOptions { max_workers: 2, inline_waits_any_thread: help, ..Default::default() });
    let f = match fresh.submit_fn(|_| 0) {
        Ok(f) => f,
        Err(_) => return 10,
    };
    if crate::deadlock::wait(&f, Deadline::Never) != Ok(true) || f.result(Deadline::Poll).is_err() {
        return 11;
    }
    drop(fresh);
    if p.submit_fn(|_| 0).err().map(|e| e.status()) != Some(Status::Unsupported) {
        return 20;
    }
    // A waiting thread never runs a task the parent queued, helping pool or not: it fails.
    for f in [running, queued] {
        if crate::deadlock::wait(f, Deadline::Never) != Ok(true) || f.result(Deadline::Poll).err() != Some(Status::Broken) {
            return 21;
        }
    }
    if p.shutdown(true, false).is_err() {
        return 22;
    }
    // What dropping the inherited pool does after its shutdown: returns at once.
    super::help::unregister(&p.shared);
    0
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot fork")]
fn inherited_pool_is_dead_in_a_forked_child() {
    for help in [false, true] {
        inherited_pool_case(help);
    }
}

fn inherited_pool_case(help: bool) {
    let p = ThreadPool::new(ThreadPoolOptions { max_workers: 1, inline_waits_any_thread: help, ..Default::default() });
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let started = Arc::new(Barrier::new(2));
    let (g, s2) = (gate.clone(), started.clone());
    let running = p
        .submit_fn(move |_| {
            s2.wait();
            let mut open = g.0.lock();
            while !*open {
                g.1.wait(&mut open);
            }
            0
        })
        .unwrap();
    let queued = p.submit_fn(|_| 0).unwrap();
    started.wait();
    // SAFETY: the child only runs library code and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fork_child_checks(&p, &running, &queued, help)
        }))
        .unwrap_or(30);
        // SAFETY: ends the child without running the parent's destructors or atexit.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let code = loop {
        // SAFETY: plain waitpid/kill on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        }
        if std::time::Instant::now() > deadline {
            // SAFETY: as above.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(1)); // poll interval of the timeout
    };
    *gate.0.lock() = true;
    gate.1.notify_all();
    assert_eq!(code, Some(0), "child failed or hung");
    assert!(running.result(Deadline::Never).is_ok(), "the parent's pool is unaffected");
    assert!(queued.result(Deadline::Never).is_ok());
}

#[test]
fn a_one_worker_pool_runs_a_nested_wait_inline() {
    use crate::deadlock;
    let pool = Arc::new(ThreadPool::new(ThreadPoolOptions { max_workers: 1, ..Default::default() }));
    let p = pool.clone();
    let outer = pool
        .submit_fn(move |sink| {
            let inner = p.submit_fn(|s| {
                s.set_any(Box::new(25u32));
                0
            });
            let inner = inner.expect("submit");
            let done = deadlock::wait(&inner, Deadline::Never).expect("no deadlock");
            let v = inner.outcome().and_then(|o| o.ok()).and_then(|v| v.downcast_ref::<u32>().copied());
            sink.set_any(Box::new((done, v)));
            0
        })
        .unwrap();
    assert!(outer.wait(Deadline::after(std::time::Duration::from_secs(20))));
    let got = outer.outcome().and_then(|o| o.ok()).and_then(|v| v.downcast_ref::<(bool, Option<u32>)>().copied());
    assert_eq!(got, Some((true, Some(25))));
}

#[test]
fn a_task_waiting_on_itself_would_deadlock() {
    use crate::deadlock;
    let pool = ThreadPool::new(ThreadPoolOptions { max_workers: 2, ..Default::default() });
    let slot: Arc<std::sync::OnceLock<Future>> = Arc::new(std::sync::OnceLock::new());
    let s2 = slot.clone();
    let f = pool
        .submit_fn(move |sink| {
            while s2.get().is_none() {
                std::thread::yield_now();
            }
            let me = s2.get().unwrap();
            let st = deadlock::wait(me, Deadline::Never).map_err(|e| e.status());
            sink.set_any(Box::new(st));
            0
        })
        .unwrap();
    let _ = slot.set(f.clone());
    assert!(f.wait(Deadline::after(std::time::Duration::from_secs(20))));
    let got = f.outcome().and_then(|o| o.ok()).and_then(|v| v.downcast_ref::<std::result::Result<bool, Status>>().copied());
    assert_eq!(got, Some(Err(Status::WouldDeadlock)));
}

#[test]
fn wait_all_from_a_task_runs_the_group_inline() {
    use crate::deadlock;
    let pool = Arc::new(ThreadPool::new(ThreadPoolOptions { max_workers: 1, ..Default::default() }));
    let p = pool.clone();
    let outer = pool
        .submit_fn(move |sink| {
            let kids: Vec<Future> = (0..4).map(|_| p.submit_fn(|_| 0).expect("submit")).collect();
            let refs: Vec<&Future> = kids.iter().collect();
            sink.set_any(Box::new(deadlock::wait_all(&refs, Deadline::Never).map_err(|e| e.status())));
            0
        })
        .unwrap();
    assert!(outer.wait(Deadline::after(std::time::Duration::from_secs(20))));
    let got = outer.outcome().and_then(|o| o.ok()).and_then(|v| v.downcast_ref::<std::result::Result<bool, Status>>().copied());
    assert_eq!(got, Some(Ok(true)));
}

/// Tasks that come one per idle period (a timer tick): the workers' spin budgets shrink to
/// nothing, so each task finds its worker parked, and every one still runs, on the same
/// workers (nothing retires or is started for them).
#[test]
#[cfg_attr(miri, ignore = "wall-clock idle periods")]
fn tasks_after_long_idle_periods_find_their_parked_workers() {
    let p = pool(2);
    p.submit_fn(|_| 0).unwrap().wait(Deadline::Never);
    for i in 0..12u32 {
        std::thread::sleep(std::time::Duration::from_millis(1));
        let f = p.submit_fn(move |s| {
            s.set_bytes(&i.to_le_bytes());
            0
        })
        .unwrap();
        let v = f.result(Deadline::Never).unwrap();
        assert!(matches!(v, Value::Bytes(b) if **b == i.to_le_bytes()));
    }
    assert_eq!(p.threads_started(), 1, "one worker served every tick");
}

/// A wake takes the worker parked last (it ran most recently, so its CPU is likeliest
/// free): two workers park one after the other, and the next task runs on the second.
#[test]
fn a_wake_takes_the_most_recently_parked_worker() {
    use std::sync::Mutex as StdMutex;
    let p = pool(2);
    let ran_on = Arc::new(StdMutex::new(vec![String::new(); 3]));
    let gates = [Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2))];
    let record = |i: usize, gate: Option<Arc<Barrier>>| {
        let ran_on = ran_on.clone();
        p.submit_fn(move |_| {
            ran_on.lock().unwrap()[i] = std::thread::current().name().unwrap_or("").to_string();
            if let Some(g) = gate {
                g.wait();
            }
            0
        })
        .unwrap()
    };
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !done() {
            assert!(std::time::Instant::now() < give_up, "{what}");
            std::thread::yield_now();
        }
    };
    let held: Vec<_> = gates.iter().enumerate().map(|(i, g)| record(i, Some(g.clone()))).collect();
    until("both workers running", &|| ran_on.lock().unwrap()[..2].iter().all(|n| !n.is_empty()));
    for (i, g) in gates.iter().enumerate() {
        g.wait();
        assert!(held[i].wait(Deadline::Never));
        until("the worker parked", &|| p.shared.park.parked.load(Ordering::SeqCst) == i + 1);
    }
    assert!(record(2, None).wait(Deadline::Never));
    let names = ran_on.lock().unwrap().clone();
    assert_ne!(names[0], names[1]);
    assert_eq!(names[2], names[1], "the task went to the worker parked last");
}
