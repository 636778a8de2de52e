use super::*;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

fn ok_bytes(b: &[u8]) -> Outcome {
    Ok(Value::Bytes(b.into()))
}

#[test]
#[cfg(target_pointer_width = "64")]
fn a_future_fits_glibc_fastbins() {
    // Arc's two counts + Inner must stay within a 128-byte malloc chunk (120 bytes
    // requested): frees then take glibc's fastbin path, and a million outstanding
    // futures stay near 130 MB.
    assert!(std::mem::size_of::<Inner>() + 16 <= 120, "Inner is {} bytes", std::mem::size_of::<Inner>());
}

#[test]
fn state_transitions_follow_cpython() {
    let f = Future::new();
    assert_eq!(f.state(), State::Pending);
    assert!(!f.done() && !f.running() && !f.cancelled());
    assert!(f.set_running_or_notify_cancel());
    assert!(f.running());
    assert!(!f.cancel(), "a running future cannot be cancelled");
    assert!(!f.set_running_or_notify_cancel());
    f.complete(ok_bytes(b"42")).unwrap();
    assert_eq!(f.state(), State::Finished);
    assert!(!f.cancel());
    assert_eq!(f.complete(ok_bytes(b"x")), Err(Status::InvalidState));
    let (p, n) = f.result(Deadline::Poll).unwrap().as_ptr_len();
    // SAFETY: the bytes value lives as long as the future, which `f` holds.
    assert_eq!(unsafe { std::slice::from_raw_parts(p as *const u8, n) }, b"42");
}

#[test]
fn cancel_is_sticky_and_blocks_start() {
    let f = Future::new();
    assert!(f.cancel());
    assert!(f.cancel());
    assert!(f.cancelled() && f.done());
    assert!(!f.set_running_or_notify_cancel());
    assert_eq!(f.result(Deadline::Poll).err(), Some(Status::Cancelled));
    assert_eq!(f.error(Deadline::Poll).err(), Some(Status::Cancelled));
    assert_eq!(f.complete(ok_bytes(b"")), Err(Status::InvalidState));
}

#[test]
fn timeouts_on_pending_and_running() {
    let f = Future::new();
    assert_eq!(f.result(Deadline::Poll).err(), Some(Status::Timeout));
    let t = std::time::Instant::now();
    assert_eq!(f.result(Deadline::after(Duration::from_millis(20))).err(), Some(Status::Timeout));
    assert!(t.elapsed() >= Duration::from_millis(20));
}

#[test]
fn errors_are_reported_and_kept() {
    let f = Future::new();
    f.fail(TaskError::new(Status::TaskFailed, 7, Some("boom"))).unwrap();
    assert_eq!(f.result(Deadline::Poll).err(), Some(Status::TaskFailed));
    let e = f.error(Deadline::Poll).unwrap().unwrap();
    assert_eq!((e.code, e.message.as_deref().unwrap().to_str().unwrap()), (7, "boom"));
    assert!(f.fail(TaskError::new(Status::TaskFailed, 8, None)).is_err());
    assert_eq!(f.error(Deadline::Poll).unwrap().unwrap().code, 7);
}

#[test]
fn blocked_result_wakes_on_set_and_cancel() {
    let f = Future::new();
    let g = f.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        g.complete(ok_bytes(b"1")).unwrap();
    });
    assert!(f.result(Deadline::Never).is_ok());
    t.join().unwrap();

    let f = Future::new();
    let g = f.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        assert!(g.cancel());
    });
    assert_eq!(f.result(Deadline::Never).err(), Some(Status::Cancelled));
    t.join().unwrap();
}

#[test]
fn callbacks_run_once_in_order_and_immediately_when_done() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let f = Future::new();
    for i in 0..3 {
        let l = log.clone();
        f.add_done_callback(Box::new(move |fut| {
            assert!(fut.done());
            l.lock().push(i)
        }));
    }
    assert!(log.lock().is_empty());
    f.complete(ok_bytes(b"")).unwrap();
    assert_eq!(*log.lock(), vec![0, 1, 2]);
    let l = log.clone();
    f.add_done_callback(Box::new(move |_| l.lock().push(9)));
    assert_eq!(*log.lock(), vec![0, 1, 2, 9]);
    assert!(f.complete(ok_bytes(b"")).is_err());
    assert_eq!(log.lock().len(), 4);
}

#[test]
fn a_panicking_callback_does_not_stop_the_next() {
    let hits = Arc::new(AtomicUsize::new(0));
    let f = Future::new();
    f.add_done_callback(Box::new(|_| panic!("doh!")));
    let h = hits.clone();
    f.add_done_callback(Box::new(move |_| {
        h.fetch_add(1, Ordering::SeqCst);
    }));
    assert!(f.cancel());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn sink_outcomes() {
    let mut s = Sink::new(true);
    s.set_bytes(b"ab");
    assert!(matches!(s.into_outcome(0), Ok(Value::Bytes(_))));
    let mut s = Sink::new(true);
    s.set_error(5, Some(c"bad"));
    let e = s.into_outcome(9).err().unwrap();
    assert_eq!(e.code, 9, "the task's non-zero return wins");
    assert_eq!(e.message.unwrap().to_str().unwrap(), "bad");
    let mut s = Sink::new(true);
    s.set_error(5, None);
    assert_eq!(s.into_outcome(0).err().unwrap().code, 5);
    let mut s = Sink::new(false);
    assert_eq!(s.set_value(Owned::borrowed(std::ptr::null_mut())), Status::Unsupported);
}

#[test]
fn boxed_job_panic_becomes_task_failure() {
    let f = Future::with_job(Job::boxed(|_| panic!("inside")));
    f.run(true);
    let e = f.error(Deadline::Poll).unwrap().unwrap();
    assert_eq!(e.status, Status::TaskFailed);
    assert!(e.message.as_ref().unwrap().to_str().unwrap().contains("inside"));
}

#[test]
fn request_cancel_cancels_pending_flags_running_and_leaves_done_alone() {
    let f = Future::new();
    assert!(f.request_cancel(), "pending: cancelled as by cancel()");
    assert!(f.cancelled());

    let hits = Arc::new(AtomicUsize::new(0));
    let f = Future::new();
    let h = hits.clone();
    f.on_cancel_request(Box::new(move || {
        h.fetch_add(1, Ordering::SeqCst);
    }));
    assert!(f.set_running_or_notify_cancel());
    assert!(!f.cancel_requested());
    assert!(!f.request_cancel(), "running: only flagged");
    assert!(!f.request_cancel());
    assert!(f.cancel_requested() && f.running());
    assert_eq!(hits.load(Ordering::SeqCst), 1, "hooks run once");
    let h = hits.clone();
    f.on_cancel_request(Box::new(move || {
        h.fetch_add(10, Ordering::SeqCst);
    }));
    assert_eq!(hits.load(Ordering::SeqCst), 11, "a hook added after the request runs at once");
    let cb = Arc::new(AtomicUsize::new(0));
    let c = cb.clone();
    f.add_done_callback(Box::new(move |d: &Future| {
        assert!(d.cancelled());
        c.fetch_add(1, Ordering::SeqCst);
    }));
    assert!(f.end_cancelled());
    assert!(f.cancelled() && f.done() && f.wait(Deadline::Never));
    assert_eq!(cb.load(Ordering::SeqCst), 1);
    assert_eq!(f.result(Deadline::Poll).err(), Some(Status::Cancelled));
    assert!(!f.end_cancelled());
    assert!(f.request_cancel(), "done and cancelled");

    let f = Future::new();
    f.complete(ok_bytes(b"x")).unwrap();
    assert!(!f.request_cancel(), "done: left alone");
}

#[test]
fn a_task_that_acknowledges_ends_cancelled_and_its_value_drops_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let started = Arc::new(std::sync::Barrier::new(2));
    let s = started.clone();
    let f = Future::with_job(Job::boxed(move |sink| {
        s.wait();
        while !sink.cancel_requested() {
            std::hint::spin_loop();
        }
        sink.set_any(Box::new(DropCount(d)));
        sink.set_cancelled();
        0
    }));
    let g = f.clone();
    let t = std::thread::spawn(move || g.run(true));
    started.wait();
    assert!(!f.request_cancel());
    t.join().unwrap();
    assert!(f.cancelled());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn unread_failures_reach_the_hook_once() {
    use std::sync::Arc;
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    unobserved::set_hook(Some(Arc::new(|e: &TaskError| {
        if e.code == 31_337 {
            SEEN.fetch_add(1, Ordering::SeqCst);
        }
    })));
    let failing = || {
        let f = Future::new();
        f.fail(TaskError::new(Status::TaskFailed, 31_337, Some("x"))).unwrap();
        f
    };
    drop(failing());
    assert_eq!(SEEN.load(Ordering::SeqCst), 1);
    let read = failing();
    assert_eq!(read.result(Deadline::Poll).err(), Some(Status::TaskFailed));
    drop(read);
    let kept = failing();
    let clone = kept.clone();
    drop(kept);
    assert_eq!(SEEN.load(Ordering::SeqCst), 1, "a reference is still held");
    drop(clone);
    assert_eq!(SEEN.load(Ordering::SeqCst), 2);
    let cancelled = Future::new();
    cancelled.cancel();
    drop(cancelled);
    unobserved::set_hook(None);
    drop(failing());
    assert_eq!(SEEN.load(Ordering::SeqCst), 2);
}

#[test]
fn a_released_block_serves_the_next_future_built_on_its_thread_as_new() {
    use std::sync::Arc;
    std::thread::spawn(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let f = Future::new();
        let id = f.id();
        assert!(f.set_running_or_notify_cancel());
        f.0.cancel_requested.store(true, Ordering::Relaxed);
        f.complete(Ok(Value::Any(Box::new(DropCount(drops.clone()))))).unwrap();
        assert!(f.result(Deadline::Poll).is_ok(), "marks the outcome observed");
        let before = spare::len();
        drop(f);
        assert_eq!(drops.load(Ordering::SeqCst), 1, "the value goes with the last handle, not at reuse");
        assert_eq!(spare::len(), before + 1);
        let g = Future::new();
        assert_eq!(g.id(), id, "the next future reuses the block");
        assert_eq!(spare::len(), before);
        assert_eq!(g.state(), State::Pending);
        assert!(!g.cancel_requested() && !g.was_started());
        assert!(g.outcome().is_none());
        assert_eq!(g.0.sleepers.load(Ordering::Relaxed), 0, "no sleeper, STARTED or OBSERVED bit survives");
        assert!(g.set_running_or_notify_cancel());
        g.complete(ok_bytes(b"again")).unwrap();
        assert_eq!(g.result(Deadline::Poll).unwrap().as_ptr_len().1, 5);
    })
    .join()
    .unwrap();
}

#[test]
fn a_thread_that_builds_no_futures_keeps_no_blocks() {
    let f = Future::new();
    std::thread::spawn(move || {
        drop(f);
        assert_eq!(spare::len(), 0, "freed, not kept by a thread that never builds one");
    })
    .join()
    .unwrap();
}
