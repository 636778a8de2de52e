//! The manager's decisions, without system calls: each worker's life, which task goes to
//! which worker, what a frame, a deadline or an exit means. Decisions return `Order`s
//! (frames to queue, signals to send) that the manager carries out on the real processes,
//! and completions that it runs outside any lock.
//!
//! # A worker's life
//!
//! ```text
//!              READY             dispatch            DONE
//!   Starting ────────► Idle ───────────► Busy(task) ──────► Idle
//!      │ INIT_FAILED    │ shutdown          │ DONE + RETIRING
//!      ▼                ▼                   ▼
//!   Retiring        Quitting            Retiring
//!
//!   Starting ── shutdown with nothing to run ──► Killing(Abandoned)
//!   Busy ── task deadline ──► Killing(Timeout)          (future fails now: Timeout)
//!   any live ── terminate(sig) ──► Killing(Terminate)   (future fails now: Broken;
//!        the signal is sent and QUIT queued behind the task, so a worker that survives
//!        the signal quits once its task returns: its late DONE is dropped)
//!   any live ── pool breaks ──► Killing(Broken)         (future fails now: Broken)
//!   any live ── malformed frame, or hung up and not gone ──► Killing(Protocol)
//!        (the task, if any, fails at the exit: WorkerDied)
//!   any ── reaped ──► Exited  (see `Crew::exited` for what each state's exit means)
//! ```
//!
//! Beside its life, a worker's channel may have hung up (`Member::hung_up`): it then takes
//! no task, and is killed if it has not exited soon after.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::proto::{self, Header};
use super::sys::{self, Exit};
use crate::future::{Future, Outcome, TaskError, Value};
use crate::status::Status;

/// Turns the result bytes of a successful task into its outcome (map chunks copy their
/// results into the caller's array here, on the manager thread, before the future ends).
pub(crate) type Finish = Box<dyn FnOnce(Vec<u8>) -> Outcome + Send>;

/// A submitted task waiting for a worker.
pub(crate) struct Task {
    pub id: u64,
    pub fut: Future,
    pub frame: Vec<u8>,
    pub finish: Option<Finish>,
}

/// A task a worker is running.
pub(crate) struct Running {
    id: u64,
    fut: Future,
    finish: Option<Finish>,
    deadline: Option<Instant>,
}

/// Why the pool is killing a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kill {
    Timeout,
    Terminate(i32),
    Broken,
    /// Still starting at shutdown with nothing left to run.
    Abandoned,
    Protocol(&'static str),
    /// `cancel_kills`: its task's cancellation was requested (the future ended CANCELLED).
    Cancel,
}

/// A worker's state; the module documentation lists every transition.
pub(crate) enum Life {
    /// Launched and sent its configuration; not ready yet.
    Starting,
    /// Ready for a task.
    Idle,
    /// Running one task.
    Busy(Running),
    /// Leaves by itself (its last task under `max_tasks_per_child` is done, or its
    /// initializer failed).
    Retiring,
    /// Told to quit (shutdown).
    Quitting,
    /// Signalled by the pool; the task is kept only when its future fails at the exit.
    Killing(Kill, Option<Running>),
    /// Reaped; removed by `Crew::collect`.
    Exited,
}

/// One worker as the decisions see it.
pub(crate) struct Member {
    pub pid: i32,
    pub life: Life,
    /// When the worker's end of the channel closed.
    pub hung_up: Option<Instant>,
}

impl Member {
    fn idle(&self) -> bool {
        matches!(self.life, Life::Idle) && self.hung_up.is_none()
    }

    /// Will take tasks now or once started.
    fn capable(&self) -> bool {
        matches!(self.life, Life::Starting | Life::Idle | Life::Busy(_)) && self.hung_up.is_none()
    }

    fn live(&self) -> bool {
        !matches!(self.life, Life::Exited)
    }
}

/// What the manager must do to a worker (by index in `Crew::members`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// Queue this frame on the worker's channel.
    Send(usize, Vec<u8>),
    /// Send this signal to the worker.
    Signal(usize, i32),
    /// SIGKILL the worker and its process group.
    Kill(usize),
}

/// The pool's settings the decisions need.
#[derive(Clone, Copy)]
pub(crate) struct Rules {
    pub max_workers: usize,
    pub timeout: Option<Duration>,
    pub break_on_death: bool,
    /// A cancellation request kills the task's worker instead of telling the task.
    pub cancel_kills: bool,
}

/// Every worker of a pool, and the decisions about them.
pub(crate) struct Crew {
    pub members: Vec<Member>,
    pub rules: Rules,
    /// Futures to complete, outside any lock, after the decisions of a turn.
    pub done: Vec<(Future, Outcome)>,
    /// Running futures to end CANCELLED, likewise.
    pub cancelled: Vec<Future>,
    /// Why the pool must break, decided here and carried out by the manager.
    pub breaks: Option<(i32, String)>,
    /// Pending tasks `dispatch` skipped because they were cancelled (for the counters).
    pub skipped: u64,
}

/// How a worker ended, for messages: its code and a sentence.
pub(crate) fn describe(pid: i32, exit: Exit) -> (i32, String) {
    match exit {
        Exit::Code(c) => (c, format!("worker {pid} exited with code {c}")),
        Exit::Signal(s) => {
            let extra = if s == libc::SIGKILL { ", possibly by the OOM killer" } else { "" };
            (-s, format!("worker {pid} was killed by signal {s} ({}){extra}", sys::signal_name(s)))
        }
        Exit::Unknown => (0, format!("worker {pid} ended (its exit status was collected by someone else)")),
    }
}

fn quit() -> Vec<u8> {
    proto::frame(proto::QUIT, 0, 0, &[])
}

impl Crew {
    pub fn new(rules: Rules) -> Crew {
        Crew { members: Vec::new(), rules, done: Vec::new(), cancelled: Vec::new(), breaks: None, skipped: 0 }
    }

    /// A worker was launched.
    pub fn started(&mut self, pid: i32) {
        self.members.push(Member { pid, life: Life::Starting, hung_up: None });
    }

    /// The pids of workers not reaped yet.
    pub fn pids(&self) -> Vec<i32> {
        self.members.iter().filter(|m| m.live()).map(|m| m.pid).collect()
    }

    pub fn any_busy(&self) -> bool {
        self.members.iter().any(|m| matches!(m.life, Life::Busy(_)))
    }

    /// Workers alive, idle and busy now (for the pool's counters).
    pub fn gauges(&self) -> (u64, u64, u64) {
        let live = self.members.iter().filter(|m| m.live()).count() as u64;
        let idle = self.members.iter().filter(|m| m.idle()).count() as u64;
        let busy = self.members.iter().filter(|m| matches!(m.life, Life::Busy(_))).count() as u64;
        (live, idle, busy)
    }

    fn fail(&mut self, fut: Future, status: Status, code: i32, message: &str) {
        self.done.push((fut, Err(TaskError::new(status, code, Some(message)))));
    }

    /// Moves a live worker to `Killing`, failing its running task now (`fail_now`) or at
    /// the exit (`None`). A worker already being killed keeps its first reason.
    fn kill(&mut self, i: usize, why: Kill, fail_now: Option<(Status, i32, String)>) {
        let life = &mut self.members[i].life;
        if matches!(life, Life::Killing(..) | Life::Exited) {
            return;
        }
        let task = match std::mem::replace(life, Life::Exited) {
            Life::Busy(r) => Some(r),
            _ => None,
        };
        let kept = match (task, fail_now) {
            (Some(r), Some((status, code, m))) => {
                self.fail(r.fut, status, code, &m);
                None
            }
            (task, _) => task,
        };
        self.members[i].life = Life::Killing(why, kept);
    }

    /// `terminate_workers(sig)`: every live worker is signalled and told to quit; running
    /// futures fail now with `Broken`.
    pub fn terminate(&mut self, sig: i32) -> Vec<Order> {
        let mut orders = Vec::new();
        for i in 0..self.members.len() {
            if !self.members[i].live() {
                continue;
            }
            let pid = self.members[i].pid;
            let m = format!(
                "worker {pid} was stopped by cfut_process_pool_terminate (signal {sig}, {}) while running this task; \
                 the process pool was forcefully shut down",
                sys::signal_name(sig)
            );
            self.kill(i, Kill::Terminate(sig), Some((Status::Broken, -sig, m)));
            orders.push(Order::Signal(i, sig));
            orders.push(Order::Send(i, quit()));
        }
        orders
    }

    /// Cancellation was requested for task `id`: its worker is sent a `CANCEL` header, or
    /// with `cancel_kills` killed (the future ends CANCELLED now, the worker is replaced).
    /// A task no longer running (its DONE already read) is left alone.
    pub fn cancel(&mut self, id: u64) -> Vec<Order> {
        let Some(i) = self.members.iter().position(|m| matches!(&m.life, Life::Busy(r) if r.id == id)) else {
            return Vec::new();
        };
        if !self.rules.cancel_kills {
            return vec![Order::Send(i, proto::frame(proto::CANCEL, id, 0, &[]))];
        }
        self.kill(i, Kill::Cancel, None);
        if let Life::Killing(_, task) = &mut self.members[i].life {
            if let Some(r) = task.take() {
                self.cancelled.push(r.fut);
            }
        }
        vec![Order::Kill(i)]
    }

    /// Gives pending tasks to idle workers (skipping cancelled ones).
    pub fn dispatch(&mut self, pending: &mut VecDeque<Task>, now: Instant) -> Vec<Order> {
        let mut orders = Vec::new();
        for i in 0..self.members.len() {
            if !self.members[i].idle() {
                continue;
            }
            while let Some(t) = pending.pop_front() {
                if !t.fut.set_running_or_notify_cancel() {
                    self.skipped += 1;
                    continue;
                }
                orders.push(Order::Send(i, t.frame));
                let deadline = self.rules.timeout.map(|d| now + d);
                self.members[i].life = Life::Busy(Running { id: t.id, fut: t.fut, finish: t.finish, deadline });
                break;
            }
        }
        orders
    }

    /// How many workers to start for `pending` tasks (none once the pool is stopping).
    pub fn to_start(&self, pending: usize, stopping: bool) -> usize {
        if stopping {
            return 0;
        }
        let capable = self.members.iter().filter(|m| m.capable()).count();
        let starting = self.members.iter().filter(|m| m.capable() && matches!(m.life, Life::Starting)).count();
        pending.saturating_sub(starting).min(self.rules.max_workers.saturating_sub(capable))
    }

    /// Shutdown with nothing pending: idle workers are told to quit; workers still
    /// starting are killed (one that never becomes ready must not hold the shutdown).
    pub fn wind_down(&mut self) -> Vec<Order> {
        let mut orders = Vec::new();
        for i in 0..self.members.len() {
            if self.members[i].idle() {
                self.members[i].life = Life::Quitting;
                orders.push(Order::Send(i, quit()));
            } else if matches!(self.members[i].life, Life::Starting) {
                self.kill(i, Kill::Abandoned, None);
                orders.push(Order::Kill(i));
            }
        }
        orders
    }

    /// Kills workers whose task ran past its deadline (the future fails now with
    /// `Timeout`). Returns the orders and the earliest deadline still ahead.
    pub fn deadlines(&mut self, now: Instant) -> (Vec<Order>, Option<Instant>) {
        let mut orders = Vec::new();
        let mut next: Option<Instant> = None;
        for i in 0..self.members.len() {
            let Life::Busy(Running { deadline: Some(d), .. }) = self.members[i].life else { continue };
            if d > now {
                next = Some(next.map_or(d, |n| n.min(d)));
                continue;
            }
            let ms = self.rules.timeout.map_or(0, |t| t.as_millis());
            let m = format!(
                "the task ran longer than its timeout of {ms} ms; worker {} was killed and will be replaced",
                self.members[i].pid
            );
            self.kill(i, Kill::Timeout, Some((Status::Timeout, 0, m)));
            orders.push(Order::Kill(i));
        }
        (orders, next)
    }

    /// A worker sent something the protocol does not allow (or hung up without exiting).
    pub fn protocol_error(&mut self, i: usize, why: &'static str) -> Vec<Order> {
        if matches!(self.members[i].life, Life::Killing(..) | Life::Exited) {
            return Vec::new();
        }
        self.kill(i, Kill::Protocol(why), None);
        vec![Order::Kill(i)]
    }

    /// Breaks the pool's workers: running futures fail with `Broken`, every worker is
    /// killed. (Pending tasks and later submits are the manager's.)
    pub fn break_all(&mut self, code: i32, message: &str) -> Vec<Order> {
        let mut orders = Vec::new();
        for i in 0..self.members.len() {
            if self.members[i].live() {
                self.kill(i, Kill::Broken, Some((Status::Broken, code, message.to_string())));
                orders.push(Order::Kill(i));
            }
        }
        orders
    }

    /// A whole frame from worker `i`.
    pub fn on_frame(&mut self, i: usize, h: Header, payload: Vec<u8>) -> Vec<Order> {
        match h.kind {
            proto::READY => {
                if matches!(self.members[i].life, Life::Starting) {
                    self.members[i].life = Life::Idle;
                }
            }
            proto::INIT_FAILED => {
                let code = h.arg as u32 as i32;
                let msg = String::from_utf8_lossy(&payload);
                let m = format!(
                    "the pool initializer failed in worker {} with code {code}{}{msg}; the process pool is not usable anymore",
                    self.members[i].pid,
                    if msg.is_empty() { "" } else { ": " }
                );
                if matches!(self.members[i].life, Life::Starting) {
                    self.members[i].life = Life::Retiring;
                }
                self.breaks.get_or_insert((code, m));
            }
            proto::DONE => self.on_done(i, h, payload),
            _ => return self.protocol_error(i, "sent a malformed message"),
        }
        Vec::new()
    }

    fn on_done(&mut self, i: usize, h: Header, payload: Vec<u8>) {
        let life = &mut self.members[i].life;
        // Only the running task's result counts: a DONE from a worker being killed (a
        // terminate survivor) is dropped, its future already failed.
        if !matches!(life, Life::Busy(r) if r.id == h.id) {
            return;
        }
        let next = if h.arg & proto::DONE_RETIRING != 0 { Life::Retiring } else { Life::Idle };
        let Life::Busy(r) = std::mem::replace(life, next) else { return };
        if h.arg & proto::DONE_CANCELLED != 0 {
            self.cancelled.push(r.fut);
            return;
        }
        let outcome = if h.arg & proto::DONE_ERROR != 0 {
            let code = (h.arg >> 32) as u32 as i32;
            let msg = (!payload.is_empty()).then(|| String::from_utf8_lossy(&payload).into_owned());
            Err(TaskError::new(Status::TaskFailed, code, msg.as_deref()))
        } else if h.arg & proto::DONE_EMPTY != 0 {
            Ok(Value::Empty)
        } else {
            match r.finish {
                Some(f) => f(payload),
                None => Ok(Value::Bytes(payload.into_boxed_slice())),
            }
        };
        self.done.push((r.fut, outcome));
    }

    /// Worker `i` was reaped: what its state at that moment means.
    /// - `Busy`: its task fails with `WorkerDied` (or, with `break_on_death`, the pool
    ///   breaks and the task fails with `Broken`).
    /// - `Starting`: it could not start: the pool breaks.
    /// - `Idle`: with `break_on_death` the pool breaks; otherwise it is simply replaced.
    /// - `Killing(Protocol)` with a task: the task fails with `WorkerDied`, saying why.
    /// - `Retiring`, `Quitting`, other `Killing`: expected; nothing more to do.
    pub fn exited(&mut self, i: usize, exit: Exit) {
        let pid = self.members[i].pid;
        let (code, desc) = describe(pid, exit);
        match std::mem::replace(&mut self.members[i].life, Life::Exited) {
            Life::Busy(r) => {
                let m = format!("{desc} without a result");
                if self.rules.break_on_death {
                    self.fail(r.fut, Status::Broken, code, &m);
                    self.breaks.get_or_insert((
                        code,
                        format!("a process in the process pool was terminated abruptly ({m}); the process pool is not usable anymore"),
                    ));
                } else {
                    self.fail(r.fut, Status::WorkerDied, code, &m);
                }
            }
            Life::Killing(Kill::Protocol(why), Some(r)) => {
                self.fail(r.fut, Status::WorkerDied, code, &format!("worker {pid} {why} and was killed"));
            }
            Life::Starting => {
                self.breaks.get_or_insert((
                    code,
                    format!("a worker process could not start: {desc} before it was ready; the process pool is not usable anymore"),
                ));
            }
            Life::Idle if self.rules.break_on_death => {
                self.breaks.get_or_insert((
                    code,
                    format!("a process in the process pool was terminated abruptly ({desc}); the process pool is not usable anymore"),
                ));
            }
            _ => {}
        }
    }

    /// Removes reaped workers; `on_remove(i)` is called before `swap_remove(i)` so the
    /// manager can drop the worker's descriptors at the same index.
    pub fn collect(&mut self, mut on_remove: impl FnMut(usize)) -> bool {
        let mut any = false;
        let mut i = 0;
        while i < self.members.len() {
            if self.members[i].live() {
                i += 1;
                continue;
            }
            on_remove(i);
            self.members.swap_remove(i);
            any = true;
        }
        any
    }
}

#[cfg(test)]
#[path = "crew_tests.rs"]
mod tests;
