//! The real `Future` (src/future): completion against waits, cancellation, callbacks,
//! waiters and cancel requests.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use loom::thread;

use super::model;
use crate::future::{Future, Job, State, TaskError, Value};
use crate::status::Status;
use crate::time::Deadline;
use crate::waiter::Waiter;

fn bytes(b: &[u8]) -> Result<Value, TaskError> {
    Ok(Value::Bytes(b.into()))
}

/// A blocked `wait` is woken by `complete` on another thread whatever the order of the
/// sleeper count, the state store and the notify; the outcome it reads was fully
/// published (the `Published` cell's accesses are checked against happens-before).
#[test]
fn complete_wakes_a_blocked_waiter_and_publishes_the_outcome() {
    model(|| {
        let f = Future::new();
        let g = f.clone();
        let t = thread::spawn(move || {
            g.complete(bytes(b"ok")).unwrap();
        });
        let v = f.result(Deadline::Never).unwrap();
        assert_eq!(v.as_ptr_len().1, 2);
        t.join().unwrap();
    });
}

/// Two waiters and one completer: both wake (notify_all after a sleeper count read under
/// the lock).
#[test]
fn two_waiters_both_wake() {
    model(|| {
        let f = Future::new();
        let (a, b) = (f.clone(), f.clone());
        let ta = thread::spawn(move || assert!(a.wait(Deadline::Never)));
        let tb = thread::spawn(move || assert!(b.wait(Deadline::Never)));
        f.fail(TaskError::new(Status::TaskFailed, 3, None)).unwrap();
        ta.join().unwrap();
        tb.join().unwrap();
        assert_eq!(f.state(), State::Failed);
    });
}

/// `cancel` racing a worker's `start`: exactly one wins; the job runs only if start won,
/// and the job is dropped exactly once either way.
#[test]
fn cancel_races_start_exactly_one_wins() {
    model(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let f = Future::with_job(Job::boxed(move |_| {
            r.fetch_add(1, SeqCst);
            0
        }));
        let w = f.clone();
        let t = thread::spawn(move || w.run(true));
        let cancelled = f.cancel();
        t.join().unwrap();
        assert!(f.done());
        assert_eq!(cancelled, ran.load(SeqCst) == 0, "both or neither won");
        assert_eq!(f.cancelled(), cancelled);
        assert_eq!(Arc::strong_count(&ran), 1, "the job was not dropped");
    });
}

/// A done-callback added while another thread completes runs exactly once, after the
/// outcome is visible, on one of the two threads.
#[test]
fn callback_added_during_completion_runs_once() {
    model(|| {
        let f = Future::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let g = f.clone();
        let t = thread::spawn(move || {
            g.complete(bytes(b"x")).unwrap();
        });
        let c = calls.clone();
        f.add_done_callback(Box::new(move |fut| {
            assert!(fut.done());
            assert!(fut.outcome().is_some());
            c.fetch_add(1, SeqCst);
        }));
        t.join().unwrap();
        assert_eq!(calls.load(SeqCst), 1);
    });
}

/// A collective wait's waiter installed while the future completes is notified exactly
/// once if `add_waiter` returned true, never if it returned false.
#[test]
fn waiter_notified_once_iff_installed() {
    model(|| {
        let f = Future::new();
        let w = Waiter::new(false);
        let g = f.clone();
        let t = thread::spawn(move || {
            g.complete(bytes(b"x")).unwrap();
        });
        let installed = f.add_waiter(&w);
        t.join().unwrap();
        let s = w.state.lock();
        assert_eq!(s.completed, installed as usize);
    });
}

/// `request_cancel` racing completion of a running task: the cancel-request hook runs at
/// most once, and only if the request reached the task while it ran; the future ends in
/// exactly one done state.
#[test]
fn request_cancel_races_completion() {
    model(|| {
        let f = Future::new();
        assert!(f.set_running_or_notify_cancel());
        let hooks = Arc::new(AtomicUsize::new(0));
        let h = hooks.clone();
        f.on_cancel_request(Box::new(move || {
            h.fetch_add(1, SeqCst);
        }));
        let g = f.clone();
        let t = thread::spawn(move || g.request_cancel());
        let first = f.complete(bytes(b"done"));
        let cancelled_pending = t.join().unwrap();
        assert!(!cancelled_pending, "a running future is never cancelled by a request");
        assert!(first.is_ok());
        assert_eq!(f.state(), State::Finished);
        assert!(hooks.load(SeqCst) <= 1);
        assert_eq!(hooks.load(SeqCst) == 1, f.cancel_requested());
    });
}

/// A task that acknowledges a request (`end_cancelled`) racing `complete` from an
/// executor: one outcome, and a completion after it is refused.
#[test]
fn end_cancelled_races_complete() {
    model(|| {
        let f = Future::new();
        assert!(f.set_running_or_notify_cancel());
        let g = f.clone();
        let t = thread::spawn(move || g.end_cancelled());
        let completed = f.complete(bytes(b"v")).is_ok();
        let ended = t.join().unwrap();
        assert!(completed != ended, "exactly one of complete / end_cancelled wins");
        assert_eq!(f.cancelled(), ended);
    });
}

/// Failures with this code are the unobserved-hook models' own (other models fail futures
/// too, on other test threads, while the process-wide hook is set).
const UNREAD: i32 = 4242;

static REPORTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_unread_reports() {
    crate::future::unobserved::set_hook(Some(Arc::new(|e: &TaskError| {
        if e.code == UNREAD {
            REPORTS.fetch_add(1, SeqCst);
        }
    })));
}

/// Two threads drop the last two references of a failure nobody read: the hook runs
/// exactly once, whichever drop is last.
#[test]
fn an_unread_failure_reports_once_from_the_last_drop() {
    count_unread_reports();
    model(|| {
        REPORTS.store(0, SeqCst);
        let f = Future::new();
        f.fail(TaskError::new(Status::TaskFailed, UNREAD, None)).unwrap();
        let g = f.clone();
        let t = thread::spawn(move || drop(g));
        drop(f);
        t.join().unwrap();
        assert_eq!(REPORTS.load(SeqCst), 1);
    });
}

/// A failure read on one thread while another completes and drops its reference: never
/// reported, whichever thread drops last.
#[test]
fn a_failure_read_while_completing_never_reports() {
    count_unread_reports();
    model(|| {
        REPORTS.store(0, SeqCst);
        let f = Future::new();
        let g = f.clone();
        let t = thread::spawn(move || {
            g.fail(TaskError::new(Status::TaskFailed, UNREAD, None)).unwrap();
        });
        assert_eq!(f.error(Deadline::Never).unwrap().map(|e| e.code), Some(UNREAD));
        drop(f);
        t.join().unwrap();
        assert_eq!(REPORTS.load(SeqCst), 0);
    });
}
