use super::super::*;
use crate::future::Value;
use crate::deadlock;
use crate::time::Deadline;
use crate::wait::{AsCompleted, ReturnWhen};
use std::sync::mpsc;
use std::thread::{self, ThreadId};

fn helping(n: usize) -> ThreadPool {
    ThreadPool::new(ThreadPoolOptions { max_workers: n, inline_waits_any_thread: true, ..Default::default() })
}

/// A one-shot gate tasks block on until the test opens it.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn wait(&self) {
        let mut open = self.0 .0.lock();
        while !*open {
            self.0 .1.wait(&mut open);
        }
    }
    fn open(&self) {
        *self.0 .0.lock() = true;
        self.0 .1.notify_all();
    }
}

/// Occupies the pool's only worker until `gate` opens; returns once the task runs.
fn block_worker(p: &ThreadPool, gate: &Gate) -> Future {
    let (tx, rx) = mpsc::channel();
    let g = gate.clone();
    let f = p.submit_fn(move |_| {
        tx.send(()).unwrap();
        g.wait();
        0
    }).unwrap();
    rx.recv().unwrap();
    f
}

/// Submits a task that records the thread it ran on.
fn record_thread(p: &ThreadPool, ran_on: &Arc<Mutex<Vec<ThreadId>>>) -> Future {
    let r = ran_on.clone();
    p.submit_fn(move |_| {
        r.lock().push(thread::current().id());
        0
    }).unwrap()
}

#[test]
fn a_waiting_caller_runs_its_pending_task_and_the_stats_count_it() {
    let p = helping(1);
    let gate = Gate::default();
    let blocker = block_worker(&p, &gate);
    let ran_on = Arc::new(Mutex::new(Vec::new()));
    let f = record_thread(&p, &ran_on);
    assert_eq!(deadlock::wait(&f, Deadline::Never), Ok(true));
    assert_eq!(*ran_on.lock(), vec![thread::current().id()]);
    assert_eq!(p.stats().running, 1, "only the blocked worker's task runs now");
    gate.open();
    assert_eq!(deadlock::wait(&blocker, Deadline::Never), Ok(true));
    p.shutdown(true, false).unwrap();
    let st = p.stats();
    assert_eq!((st.submitted, st.completed, st.running, st.queued), (2, 2, 0, 0));
    assert_eq!(ran_on.lock().len(), 1, "the worker skipped the task the caller ran");
}

#[test]
fn without_the_option_tasks_run_on_workers_only() {
    let p = ThreadPool::new(ThreadPoolOptions { max_workers: 1, ..Default::default() });
    let gate = Gate::default();
    block_worker(&p, &gate);
    let ran_on = Arc::new(Mutex::new(Vec::new()));
    let f = record_thread(&p, &ran_on);
    assert_eq!(deadlock::wait(&f, Deadline::after_ns(30_000_000)), Ok(false));
    gate.open();
    assert_eq!(deadlock::wait(&f, Deadline::Never), Ok(true));
    assert_ne!(ran_on.lock()[0], thread::current().id());
}

#[test]
fn collective_waits_run_pending_tasks_in_input_order() {
    let p = helping(1);
    let gate = Gate::default();
    block_worker(&p, &gate);
    let order = Arc::new(Mutex::new(Vec::new()));
    let fs: Vec<Future> = (0..5)
        .map(|i| {
            let o = order.clone();
            p.submit_fn(move |_| {
                o.lock().push(i);
                0
            }).unwrap()
        })
        .collect();
    let refs: Vec<&Future> = fs.iter().rev().collect();
    let (st, done) = crate::wait::wait(&refs, Deadline::Never, ReturnWhen::AllCompleted);
    assert_eq!(st, Status::Ok);
    assert!(done.iter().all(|d| *d));
    assert_eq!(*order.lock(), vec![4, 3, 2, 1, 0]);

    // as_completed: the first pending one runs here, and is the first yielded.
    let more: Vec<Future> = (0..3).map(|_| record_thread(&p, &Arc::new(Mutex::new(Vec::new())))).collect();
    let refs: Vec<&Future> = more.iter().collect();
    let mut it = AsCompleted::new(&refs, Deadline::Never);
    assert_eq!(it.next(), Ok(0));
    assert!(more[0].done() && !more[1].done());
    gate.open();
}

#[test]
fn shutdown_waits_for_tasks_running_on_helping_threads() {
    let (exited_tx, exited) = mpsc::channel();
    let exited_tx = Mutex::new(exited_tx);
    let p = Arc::new(ThreadPool::new(ThreadPoolOptions {
        max_workers: 1,
        inline_waits_any_thread: true,
        on_worker_exit: Some(Arc::new(move || exited_tx.lock().send(()).unwrap())),
        ..Default::default()
    }));
    let (worker_gate, helper_gate) = (Gate::default(), Gate::default());
    block_worker(&p, &worker_gate);
    let done = Arc::new(AtomicBool::new(false));
    let (started_tx, started) = mpsc::channel();
    let (g, d) = (helper_gate.clone(), done.clone());
    let f = p.submit_fn(move |_| {
        started_tx.send(()).unwrap();
        g.wait();
        d.store(true, Ordering::SeqCst);
        0
    }).unwrap();
    let helper = thread::spawn(move || deadlock::wait(&f, Deadline::Never));
    started.recv().unwrap();
    let (q, d) = (p.clone(), done.clone());
    let (returned_tx, returned) = mpsc::channel();
    thread::spawn(move || {
        q.shutdown(true, false).unwrap();
        returned_tx.send(d.load(Ordering::SeqCst)).unwrap();
    });
    // The worker finishes and exits; only the helper's task keeps the shutdown waiting.
    worker_gate.open();
    exited.recv().unwrap();
    assert!(
        returned.recv_timeout(Duration::from_millis(100)).is_err(),
        "shutdown(wait) returned while a helping thread still ran a task"
    );
    helper_gate.open();
    assert_eq!(returned.recv(), Ok(true));
    assert_eq!(helper.join().unwrap(), Ok(true));
}

#[test]
fn shutdown_or_the_last_drop_inside_a_helped_task_does_not_wait_for_itself() {
    let p = Arc::new(helping(1));
    let gate = Gate::default();
    let blocker = block_worker(&p, &gate);
    let q = p.clone();
    let f = p.submit_fn(move |s| {
        s.set_bytes(&[q.shutdown(true, false).unwrap_err().status() as u8]);
        0
    }).unwrap();
    assert_eq!(deadlock::wait(&f, Deadline::Never), Ok(true));
    assert!(matches!(f.result(Deadline::Poll), Ok(Value::Bytes(b)) if b[0] == Status::WouldDeadlock as u8));
    gate.open();
    blocker.wait(Deadline::Never);

    // The pool's last handle, dropped by the task a waiting caller runs.
    let p = helping(1);
    let gate = Gate::default();
    block_worker(&p, &gate);
    let slot: Arc<Mutex<Option<ThreadPool>>> = Arc::new(Mutex::new(None));
    let s = slot.clone();
    let f = p.submit_fn(move |_| {
        drop(s.lock().take());
        0
    }).unwrap();
    *slot.lock() = Some(p);
    assert_eq!(deadlock::wait(&f, Deadline::Never), Ok(true));
    assert!(slot.lock().is_none());
    gate.open();
}

#[test]
fn callers_and_workers_racing_for_tasks_run_each_exactly_once() {
    let (threads, each) = if cfg!(miri) { (2, 20) } else { (4, 2000) };
    let p = Arc::new(helping(2));
    let runs = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..threads)
        .map(|_| {
            let (p, runs) = (p.clone(), runs.clone());
            thread::spawn(move || {
                for i in 0..each as u32 {
                    let r = runs.clone();
                    let f = p.submit_fn(move |s| {
                        r.fetch_add(1, Ordering::Relaxed);
                        s.set_bytes(&i.to_le_bytes());
                        0
                    }).unwrap();
                    assert_eq!(deadlock::wait(&f, Deadline::Never), Ok(true));
                    assert!(matches!(f.result(Deadline::Poll), Ok(Value::Bytes(b)) if **b == i.to_le_bytes()));
                }
            })
        })
        .collect();
    for c in callers {
        c.join().unwrap();
    }
    p.shutdown(true, false).unwrap();
    let n = threads as u64 * each as u64;
    assert_eq!(runs.load(Ordering::Relaxed) as u64, n);
    let st = p.stats();
    assert_eq!((st.submitted, st.completed, st.running, st.queued), (n, n, 0, 0));
}
