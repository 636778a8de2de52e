//! Unit tests of the manager's decisions: no process is started.

use super::*;
use crate::time::Deadline;

fn rules(max_workers: usize) -> Rules {
    Rules { max_workers, timeout: None, break_on_death: false, cancel_kills: false }
}

fn task(id: u64) -> Task {
    Task { id, fut: Future::new(), frame: proto::frame(proto::RUN_BYTES, id, 0, &[b"in"]), finish: None }
}

fn frame(kind: u32, id: u64, arg: u64) -> Header {
    Header { kind, id, arg, len: 0 }
}

fn kinds(orders: &[Order]) -> Vec<(usize, u32)> {
    orders
        .iter()
        .map(|o| match o {
            Order::Send(i, f) => (*i, proto::Header::decode(f[..32].try_into().unwrap()).unwrap().kind),
            Order::Signal(i, s) => (*i, 1000 + *s as u32),
            Order::Kill(i) => (*i, 2000),
        })
        .collect()
}

fn ready_crew(n: usize, r: Rules) -> Crew {
    let mut c = Crew::new(r);
    for p in 0..n {
        c.started(100 + p as i32);
        c.on_frame(p, frame(proto::READY, 0, 0), Vec::new());
    }
    c
}

fn status_of(f: &Future) -> Option<Status> {
    f.error(Deadline::Never).unwrap().map(|e| e.status)
}

fn complete(c: &mut Crew) {
    for (f, o) in c.done.drain(..) {
        let _ = f.complete(o);
    }
}

#[test]
fn intake_starts_workers_for_pending_tasks_up_to_the_limit() {
    let mut c = Crew::new(rules(2));
    assert_eq!(c.to_start(5, false), 2);
    c.started(1);
    // One starting worker covers one pending task.
    assert_eq!(c.to_start(1, false), 0);
    assert_eq!(c.to_start(3, false), 1);
    assert_eq!(c.to_start(3, true), 0, "a broken or terminated pool starts nothing");
}

#[test]
fn dispatch_goes_to_idle_workers_only_and_skips_cancelled_tasks() {
    let mut c = ready_crew(2, rules(2));
    c.started(200); // still starting: gets nothing
    let mut pending: VecDeque<Task> = (1..=4).map(task).collect();
    assert!(pending[0].fut.cancel());
    let orders = c.dispatch(&mut pending, Instant::now());
    assert_eq!(kinds(&orders), vec![(0, proto::RUN_BYTES), (1, proto::RUN_BYTES)]);
    assert_eq!(pending.len(), 1, "task 4 waits for a worker");
    assert!(matches!(c.members[0].life, Life::Busy(Running { id: 2, .. })));
    assert!(matches!(c.members[1].life, Life::Busy(Running { id: 3, .. })));
    assert!(c.dispatch(&mut pending, Instant::now()).is_empty(), "busy workers get nothing more");
    // A result frees the worker, which takes the next task.
    c.on_frame(0, frame(proto::DONE, 2, proto::DONE_EMPTY), Vec::new());
    assert_eq!(kinds(&c.dispatch(&mut pending, Instant::now())), vec![(0, proto::RUN_BYTES)]);
}

#[test]
fn retire_after_max_tasks_and_replace() {
    let mut c = ready_crew(1, rules(1));
    let mut pending: VecDeque<Task> = [task(1), task(2)].into();
    let f1 = pending[0].fut.clone();
    c.dispatch(&mut pending, Instant::now());
    c.on_frame(0, frame(proto::DONE, 1, proto::DONE_RETIRING), b"ok".to_vec());
    assert!(matches!(c.members[0].life, Life::Retiring));
    complete(&mut c);
    assert!(f1.done() && status_of(&f1).is_none(), "the last result is delivered normally");
    assert!(c.dispatch(&mut pending, Instant::now()).is_empty(), "a retiring worker gets no task");
    assert_eq!(c.to_start(1, false), 1, "its replacement starts at once");
    c.exited(0, Exit::Code(0));
    assert!(c.breaks.is_none() && c.done.is_empty());
    assert!(c.collect(|_| {}));
    assert!(c.members.is_empty());
}

#[test]
fn a_dead_worker_fails_its_task_alone_and_is_replaced() {
    let mut c = ready_crew(2, rules(2));
    let mut pending: VecDeque<Task> = [task(1)].into();
    let f = pending[0].fut.clone();
    c.dispatch(&mut pending, Instant::now());
    c.exited(0, Exit::Signal(libc::SIGSEGV));
    complete(&mut c);
    let e = f.error(Deadline::Never).unwrap().unwrap();
    assert_eq!((e.status, e.code), (Status::WorkerDied, -libc::SIGSEGV));
    assert!(e.message.as_ref().unwrap().to_str().unwrap().contains("SIGSEGV"));
    assert!(c.breaks.is_none());
    c.collect(|_| {});
    assert_eq!(c.to_start(1, false), 1);
    // An idle death is replaced too; with break_on_death it breaks the pool.
    let mut b = ready_crew(1, Rules { break_on_death: true, ..rules(1) });
    b.exited(0, Exit::Code(3));
    assert!(b.breaks.as_ref().unwrap().1.contains("exited with code 3"));
    // A worker that exits before it is ready breaks the pool.
    let mut s = Crew::new(rules(1));
    s.started(9);
    s.exited(0, Exit::Code(1));
    assert!(s.breaks.as_ref().unwrap().1.contains("could not start"));
}

#[test]
fn shutdown_tells_idle_workers_to_quit_and_kills_starting_ones() {
    let mut c = ready_crew(2, rules(3));
    c.started(300);
    let mut pending: VecDeque<Task> = [task(1)].into();
    c.dispatch(&mut pending, Instant::now());
    let orders = c.wind_down();
    assert_eq!(kinds(&orders), vec![(1, proto::QUIT), (2, 2000)]);
    assert!(matches!(c.members[0].life, Life::Busy(_)), "the busy worker finishes its task");
    // Once it is done, it is idle and quits on the next turn.
    c.on_frame(0, frame(proto::DONE, 1, proto::DONE_EMPTY), Vec::new());
    assert_eq!(kinds(&c.wind_down()), vec![(0, proto::QUIT)]);
    for i in 0..3 {
        c.exited(i, Exit::Code(0));
    }
    assert!(c.breaks.is_none(), "expected exits break nothing");
}

#[test]
fn terminate_fails_running_tasks_and_a_survivor_still_quits() {
    let mut c = ready_crew(2, rules(2));
    let mut pending: VecDeque<Task> = [task(1)].into();
    let f = pending[0].fut.clone();
    c.dispatch(&mut pending, Instant::now());
    let orders = c.terminate(libc::SIGTERM);
    let term = 1000 + libc::SIGTERM as u32;
    assert_eq!(kinds(&orders), vec![(0, term), (0, proto::QUIT), (1, term), (1, proto::QUIT)]);
    complete(&mut c);
    let e = f.error(Deadline::Never).unwrap().unwrap();
    assert_eq!((e.status, e.code), (Status::Broken, -libc::SIGTERM));
    // The task ignored SIGTERM and returns: its result is dropped, the worker stays
    // on its way out (QUIT is queued behind the task) and nothing is sent twice.
    c.on_frame(0, frame(proto::DONE, 1, 0), b"late".to_vec());
    assert!(c.done.is_empty());
    assert!(matches!(c.members[0].life, Life::Killing(Kill::Terminate(_), None)));
    assert!(c.terminate(libc::SIGTERM).len() == 4 && c.wind_down().is_empty());
    c.exited(0, Exit::Code(0));
    c.exited(1, Exit::Signal(libc::SIGTERM));
    assert!(c.breaks.is_none() && c.done.is_empty());
    assert_eq!(c.to_start(5, true), 0);
}

#[test]
fn timeouts_kill_and_protocol_errors_fail_the_task_at_exit() {
    let mut c = ready_crew(2, Rules { timeout: Some(Duration::from_millis(10)), ..rules(2) });
    let mut pending: VecDeque<Task> = [task(1), task(2)].into();
    let (f1, f2) = (pending[0].fut.clone(), pending[1].fut.clone());
    let t0 = Instant::now();
    c.dispatch(&mut pending, t0);
    let (orders, next) = c.deadlines(t0);
    assert!(orders.is_empty());
    assert_eq!(next, Some(t0 + Duration::from_millis(10)));
    let (orders, _) = c.deadlines(t0 + Duration::from_millis(10));
    assert_eq!(kinds(&orders), vec![(0, 2000), (1, 2000)]);
    complete(&mut c);
    assert_eq!(status_of(&f1), Some(Status::Timeout));
    assert_eq!(status_of(&f2), Some(Status::Timeout));

    let mut c = ready_crew(1, rules(1));
    let mut pending: VecDeque<Task> = [task(7)].into();
    let f = pending[0].fut.clone();
    c.dispatch(&mut pending, t0);
    assert_eq!(kinds(&c.on_frame(0, frame(99, 0, 0), Vec::new())), vec![(0, 2000)]);
    assert!(c.done.is_empty(), "the task fails when the worker is gone");
    c.exited(0, Exit::Signal(libc::SIGKILL));
    complete(&mut c);
    let e = f.error(Deadline::Never).unwrap().unwrap();
    assert_eq!(e.status, Status::WorkerDied);
    assert!(e.message.as_ref().unwrap().to_str().unwrap().contains("malformed"));
}

#[test]
fn cancel_requests_tell_the_worker_or_kill_it() {
    let t0 = Instant::now();
    let mut c = ready_crew(1, rules(1));
    let mut pending: VecDeque<Task> = [task(3)].into();
    let f = pending[0].fut.clone();
    c.dispatch(&mut pending, t0);
    assert!(c.cancel(99).is_empty(), "a task not running is left alone");
    assert_eq!(kinds(&c.cancel(3)), vec![(0, proto::CANCEL)]);
    c.on_frame(0, frame(proto::DONE, 3, proto::DONE_CANCELLED), Vec::new());
    assert!(c.done.is_empty());
    assert_eq!(c.cancelled.len(), 1);
    for f in c.cancelled.drain(..) {
        assert!(f.end_cancelled());
    }
    assert!(f.cancelled());
    assert!(matches!(c.members[0].life, Life::Idle));

    let mut c = ready_crew(1, Rules { cancel_kills: true, ..rules(1) });
    let mut pending: VecDeque<Task> = [task(4)].into();
    c.dispatch(&mut pending, t0);
    assert_eq!(kinds(&c.cancel(4)), vec![(0, 2000)]);
    assert_eq!(c.cancelled.len(), 1);
    c.exited(0, Exit::Signal(libc::SIGKILL));
    assert!(c.done.is_empty() && c.breaks.is_none(), "the killed worker's exit fails nothing");
}
