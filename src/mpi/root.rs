//! The root rank's executor: submits queue tasks as process-pool frames; one manager thread
//! (`cfut-mpi`), the only thread that calls MPI on the root, hands each task to a rank with
//! a free slot, reads results, and completes futures (their done-callbacks run there).
//!
//! A rank gets tasks beyond its free slots (`AHEAD_TIME`), so that its local pool never
//! waits a round trip to the root for its next task. A task leaves the queue only for
//! that room: a pending future can always be cancelled here. One sent ahead counts as
//! running (as a process pool's call queue in Python); its cancellation request travels to
//! its rank as a `CANCEL` frame and cancels it there if it has not started, and
//! `shutdown(cancel_futures)` sends every rank a `CANCEL` for the tasks sent ahead that it
//! has not started.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::link::{Link, Recv};
use super::plugin::Transport;
use super::{Backoff, Finish, DONE_STATUS_SHIFT};
use crate::error::{Error, Result};
use crate::future::{Future, Outcome, TaskError, Value};
use crate::process_pool::{locate, proto};
use crate::status::Status;
use crate::sync::{Condvar, Mutex};
use crate::stats::{Own, Stats};
use crate::task::{BytesFn, MapFn};

/// How much work a rank is sent beyond its slots: what it completes in `AHEAD_TIME` at its
/// measured rate (several round trips to the root, which take ~3 ms on a loaded host), at
/// least one task, at most `AHEAD_MAX` per slot. Long tasks get one task ahead, so that at
/// the end of a run no rank sits on a queue while another is idle.
const AHEAD_TIME: f64 = 0.016;
const AHEAD_MAX: usize = 32;
/// A rank's completion rate is measured over windows of at least this long.
const RATE_WINDOW: Duration = Duration::from_millis(5);

struct Task {
    id: u64,
    fut: Future,
    frame: Vec<u8>,
    finish: Option<Finish>,
}

#[derive(Default)]
struct St {
    pending: VecDeque<Task>,
    cancels: Vec<u64>,
    /// `shutdown(cancel_futures)`: the ranks must cancel what they have not started.
    cancel_ahead: bool,
    shutdown: bool,
    /// Something changed for the manager (submit, cancel, shutdown).
    dirty: bool,
    broken: Option<String>,
    /// Start-up result: `Some` once every rank said READY (or failed).
    started: Option<std::result::Result<(), String>>,
    /// Counters kept under the lock (submits and shutdown's cancellations).
    submitted: u64,
    cancelled_pending: u64,
    peak_queued: u64,
}

struct Shared {
    st: Mutex<St>,
    cond: Condvar,
    /// Tasks this pool runs at once: the ranks' slots.
    slots: AtomicUsize,
    next_id: std::sync::atomic::AtomicU64,
    /// Written by the manager thread only (`stats`): tasks running on ranks, and tasks sent
    /// ahead that wait in a rank's queue.
    running: Own,
    ahead: Own,
    completed: Own,
    failed: Own,
    cancelled: Own,
}

impl Shared {
    fn poke(&self, st: &mut St) {
        st.dirty = true;
        self.cond.notify_all();
    }
}

/// The executor the root rank gets from `cfut_mpi_pool_new`.
pub struct MpiPool {
    sh: Arc<Shared>,
    manager: Mutex<Option<JoinHandle<()>>>,
    tr: Transport,
    fork_gen: u64,
}

enum PeerState {
    Starting,
    Ready(usize),
    /// Alive but not serving (it could not start): still told to quit.
    Gone,
    /// Failed (ULFM): never spoken to again.
    Dead,
}

struct Running {
    fut: Future,
    finish: Option<Finish>,
}

struct Peer {
    state: PeerState,
    running: HashMap<u64, Running>,
    /// Completions a second (0 until measured), and the current window's start and count.
    rate: f64,
    window: Option<(Instant, u32)>,
}

impl Peer {
    /// Room for tasks: its slots and the tasks it may hold ahead, minus those it has.
    fn free(&self) -> usize {
        match self.state {
            PeerState::Ready(s) => {
                let ahead = ((self.rate * AHEAD_TIME) as usize).clamp(1, AHEAD_MAX * s.max(1));
                (s + ahead).saturating_sub(self.running.len())
            }
            _ => 0,
        }
    }

    /// Slots with nothing to run.
    fn idle_slots(&self) -> usize {
        match self.state {
            PeerState::Ready(s) => s.saturating_sub(self.running.len()),
            _ => 0,
        }
    }

    /// (running, waiting ahead) of the tasks it was sent.
    fn split(&self) -> (usize, usize) {
        let slots = match self.state {
            PeerState::Ready(s) => s,
            _ => 0,
        };
        let n = self.running.len();
        (n.min(slots), n.saturating_sub(slots))
    }

    /// Counts a completion into the rate.
    fn completed_one(&mut self, now: Instant) {
        let (start, n) = self.window.get_or_insert((now, 0));
        *n += 1;
        let took = now.duration_since(*start);
        if took >= RATE_WINDOW {
            let r = *n as f64 / took.as_secs_f64();
            self.rate = if self.rate == 0.0 { r } else { (self.rate + r) / 2.0 };
            self.window = Some((now, 0));
        }
    }
}

struct Manager {
    sh: Arc<Shared>,
    link: Link,
    peers: Vec<Peer>,
    /// Where the search for a free slot starts: ties go round the ranks.
    cursor: usize,
    done: Vec<(Future, Outcome)>,
    cancelled: Vec<Future>,
    quitting: bool,
}

impl MpiPool {
    /// Starts the manager and waits until every worker rank reported (READY or a failure).
    pub(super) fn start(tr: Transport, root: usize) -> Result<MpiPool> {
        let sh = Arc::new(Shared {
            st: Mutex::new(St::default()),
            cond: Condvar::new(),
            slots: AtomicUsize::new(0),
            next_id: std::sync::atomic::AtomicU64::new(1),
            running: Own::default(),
            ahead: Own::default(),
            completed: Own::default(),
            failed: Own::default(),
            cancelled: Own::default(),
        });
        let mut peers: Vec<Peer> = (0..tr.size).map(|_| Peer { state: PeerState::Starting, running: HashMap::new(), rate: 0.0, window: None }).collect();
        peers[root].state = PeerState::Dead;
        let m = Manager { sh: sh.clone(), link: Link::new(tr), peers, cursor: 0, done: Vec::new(), cancelled: Vec::new(), quitting: false };
        let handle = std::thread::Builder::new()
            .name("cfut-mpi".into())
            .spawn(move || {
                crate::current::set_manager(Arc::as_ptr(&m.sh) as usize);
                m.run()
            })
            .map_err(|e| Error::new(Status::NoMemory, format!("cannot start the MPI pool's thread: {e}")))?;
        let pool = MpiPool { sh, manager: Mutex::new(Some(handle)), tr, fork_gen: crate::fork::generation() };
        let started = {
            let mut st = pool.sh.st.lock();
            while st.started.is_none() {
                pool.sh.cond.wait(&mut st);
            }
            st.started.clone().expect("set")
        };
        match started {
            Ok(()) => Ok(pool),
            Err(m) => Err(Error::new(Status::Broken, m)), // dropping the pool ends the ranks
        }
    }

    /// True when the MPI library reports failed ranks (ULFM): a dead rank's tasks fail
    /// with `WorkerDied` and the pool goes on; otherwise a dead rank ends the job.
    pub fn survives_rank_death(&self) -> bool {
        self.tr.ulfm()
    }

    /// Tasks run at once at most (the worker ranks' slots).
    pub fn max_workers(&self) -> usize {
        self.sh.slots.load(Ordering::Relaxed).max(1)
    }

    fn foreign(&self) -> bool {
        crate::fork::forked_since(self.fork_gen)
    }

    fn enqueue(&self, id: u64, frame: Vec<u8>, finish: Option<Finish>) -> Result<Future> {
        if self.foreign() {
            return Err(Error::new(Status::Unsupported, "this MPI pool belongs to the parent process (the host forked after creating it)"));
        }
        let fut = Future::for_executor();
        let weak = Arc::downgrade(&self.sh);
        fut.on_cancel_request(Box::new(move || {
            if let Some(sh) = weak.upgrade() {
                let mut st = sh.st.lock();
                st.cancels.push(id);
                sh.poke(&mut st);
            }
        }));
        let mut st = self.sh.st.lock();
        if let Some(m) = &st.broken {
            return Err(Error::new(Status::Broken, m.clone()));
        }
        if st.shutdown {
            return Err(Status::Shutdown.into());
        }
        st.pending.push_back(Task { id, fut: fut.clone(), frame, finish });
        st.submitted += 1;
        st.peak_queued = st.peak_queued.max(st.pending.len() as u64);
        self.sh.poke(&mut st);
        Ok(fut)
    }

    fn locate(func: usize) -> Result<Arc<(locate::Located, Vec<u8>)>> {
        locate::locate(func).map_err(|m| Error::new(Status::Unsupported, m))
    }

    /// Submits `func(input)` to a worker rank; `input` is copied.
    pub fn submit_task(&self, func: BytesFn, input: &[u8]) -> Result<Future> {
        let l = Self::locate(func as usize)?;
        let id = self.sh.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = frame(proto::RUN_BYTES, id, &[&l.1, input], "the task's input")?;
        self.enqueue(id, frame, None)
    }

    /// A map chunk, as `ProcessPool::submit_map_chunk` (same frame, same result).
    ///
    /// # Safety
    /// `items` must be valid for `count * item_size` bytes of reads during the call, and
    /// `dst` for `count * result_size` bytes of writes until the returned future is done.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn submit_map_chunk(
        &self,
        func: MapFn,
        ctx: &[u8],
        items: *const u8,
        count: usize,
        item_size: usize,
        result_size: usize,
        dst: usize,
        first_index: usize,
    ) -> Result<Future> {
        let l = Self::locate(func as usize)?;
        let id = self.sh.next_id.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        let frame = unsafe { crate::process_pool::map_chunk_frame(&l.1, id, ctx, items, count, item_size, result_size) }?;
        // The rank's report is checked as a local worker's is (lengths, indices in the chunk).
        let finish: Finish = crate::process_pool::chunk_finish(count, result_size, dst, first_index);
        self.enqueue(id, frame, Some(finish))
    }

    /// The pool's counters: `workers` are the live ranks' task slots (fewer after a rank
    /// died under ULFM); exact once the pool is quiet.
    pub fn stats(&self) -> Stats {
        let st = self.sh.st.lock();
        let workers = self.sh.slots.load(Ordering::Relaxed) as u64;
        let running = self.sh.running.get();
        Stats {
            workers: workers.min(u32::MAX as u64) as u32,
            idle_workers: workers.saturating_sub(running).min(u32::MAX as u64) as u32,
            queued: st.pending.len() as u64 + self.sh.ahead.get(),
            running,
            submitted: st.submitted,
            completed: self.sh.completed.get(),
            failed: self.sh.failed.get(),
            cancelled: self.sh.cancelled.get() + st.cancelled_pending,
            rejected: 0,
            peak_queued: st.peak_queued,
            worker_restarts: 0,
        }
    }

    /// No more submits; `cancel_futures` cancels what no rank runs yet; `wait` blocks until
    /// every task is done and the ranks were told to return.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<()> {
        if self.foreign() {
            return Ok(());
        }
        let cancelled = {
            let mut st = self.sh.st.lock();
            st.shutdown = true;
            self.sh.poke(&mut st);
            let taken = if cancel_futures { std::mem::take(&mut st.pending) } else { VecDeque::new() };
            st.cancel_ahead |= cancel_futures;
            st.cancelled_pending += taken.len() as u64;
            taken
        };
        for t in cancelled {
            t.fut.cancel();
        }
        if wait {
            if crate::current::manager() == Arc::as_ptr(&self.sh) as usize {
                return Err(Status::WouldDeadlock.into());
            }
            if let Some(h) = self.manager.lock().take() {
                let _ = h.join();
            }
        }
        Ok(())
    }
}

impl Drop for MpiPool {
    fn drop(&mut self) {
        if self.foreign() {
            return;
        }
        // From the manager thread itself (a done-callback dropped the last reference) the
        // join is refused: MPI stays open there rather than be closed under the running loop.
        if self.shutdown(true, false).is_ok() {
            // The manager thread has ended: this thread may call MPI now.
            self.tr.close();
        }
    }
}

fn frame(kind: u32, id: u64, parts: &[&[u8]], what: &str) -> Result<Vec<u8>> {
    let len: u128 = parts.iter().map(|p| p.len() as u128).sum();
    if len > super::MAX_FRAME as u128 {
        return Err(Error::new(
            Status::InvalidArgument,
            format!("{what} would take {len} bytes, more than an MPI pool message carries ({} bytes)", super::MAX_FRAME),
        ));
    }
    proto::try_frame(kind, id, 0, parts).map_err(|_| Error::new(Status::NoMemory, format!("cannot allocate a message for {what}")))
}

impl Manager {
    fn run(mut self) {
        let mut backoff = Backoff::default();
        loop {
            let mut busy = self.intake();
            for dest in self.link.flush() {
                self.on_failure(Some(dest));
            }
            busy |= self.receive();
            let (sent, failed) = self.link.progress();
            busy |= sent;
            for dest in failed {
                self.on_failure(Some(dest));
            }
            self.complete();
            self.report_start();
            if self.quitting && !self.link.in_flight() {
                return;
            }
            if !self.quitting && self.may_quit() {
                self.quit();
                continue;
            }
            if busy {
                backoff.reset();
                continue;
            }
            self.idle(&mut backoff);
        }
    }

    /// Waits for something to do: briefly (polling MPI) while ranks owe answers, else
    /// until a submit, cancel or shutdown (after the back-off's yields: in a submit-and-wait
    /// loop the next submit comes within them).
    fn idle(&mut self, backoff: &mut Backoff) {
        let expecting = self.link.in_flight()
            || self.peers.iter().any(|p| !p.running.is_empty() || matches!(p.state, PeerState::Starting));
        let mut st = self.sh.st.lock();
        if st.dirty {
            return;
        }
        match backoff.next() {
            None => {
                drop(st);
                std::thread::yield_now();
            }
            Some(d) if expecting => {
                self.sh.cond.wait_until(&mut st, Instant::now() + d);
            }
            Some(_) => self.sh.cond.wait(&mut st),
        }
    }

    /// Hands pending tasks to free slots and collects cancellation requests.
    fn intake(&mut self) -> bool {
        let mut st = self.sh.st.lock();
        st.dirty = false;
        let cancels = std::mem::take(&mut st.cancels);
        let cancel_ahead = std::mem::take(&mut st.cancel_ahead);
        let mut busy = !cancels.is_empty() || cancel_ahead;
        let n = self.peers.len();
        while !st.pending.is_empty() {
            // The rank with the most idle slots, else the most room ahead (an idle slot
            // anywhere beats a queue); the first one from the cursor on a tie.
            let best = (0..n)
                .map(|k| (self.cursor + k) % n)
                .map(|i| (i, (self.peers[i].idle_slots(), self.peers[i].free())))
                .filter(|x| x.1 .1 > 0)
                .min_by_key(|x| std::cmp::Reverse(x.1));
            let Some((r, _)) = best else { break };
            self.cursor = (r + 1) % n;
            let t = st.pending.pop_front().expect("not empty");
            if !t.fut.set_running_or_notify_cancel() {
                self.sh.cancelled.add(1);
                continue;
            }
            self.link.queue(r, &t.frame);
            self.peers[r].running.insert(t.id, Running { fut: t.fut, finish: t.finish });
            busy = true;
        }
        drop(st);
        for id in cancels {
            if let Some(r) = self.peers.iter().position(|p| p.running.contains_key(&id)) {
                self.link.queue_header(r, proto::CANCEL, id, 0);
            }
        }
        if cancel_ahead {
            // Id 0 (no task has it): every task the rank has not started.
            for r in 0..self.peers.len() {
                if matches!(self.peers[r].state, PeerState::Ready(_)) && !self.peers[r].running.is_empty() {
                    self.link.queue_header(r, proto::CANCEL, 0, 0);
                }
            }
        }
        busy
    }

    /// Reads every waiting message.
    fn receive(&mut self) -> bool {
        let mut any = false;
        loop {
            match self.link.receive(None) {
                Recv::Nothing => return any,
                Recv::Failed => {
                    self.on_failure(None);
                    return true;
                }
                Recv::Got(src, msg) => {
                    any = true;
                    for (h, payload) in msg.frames() {
                        self.on_frame(src, h, payload);
                    }
                }
            }
        }
    }

    fn on_frame(&mut self, src: usize, h: proto::Header, payload: &[u8]) {
        match h.kind {
            proto::READY if matches!(self.peers[src].state, PeerState::Starting) => {
                self.peers[src].state = PeerState::Ready(h.arg as usize);
                self.sh.slots.fetch_add(h.arg as usize, Ordering::Relaxed);
            }
            proto::INIT_FAILED => {
                let m = String::from_utf8_lossy(payload);
                eprintln!("cfutures: MPI pool: rank {src} cannot serve tasks: {m}");
                self.gone(src, &format!("rank {src} could not start: {m}"), false);
            }
            proto::DONE => self.on_done(src, h, payload),
            _ => {}
        }
    }

    fn on_done(&mut self, src: usize, h: proto::Header, payload: &[u8]) {
        let Some(r) = self.peers[src].running.remove(&h.id) else { return };
        self.peers[src].completed_one(Instant::now());
        if h.arg & proto::DONE_CANCELLED != 0 {
            self.cancelled.push(r.fut);
            return;
        }
        let outcome = if h.arg & proto::DONE_ERROR != 0 {
            let code = (h.arg >> 32) as u32 as i32;
            let status = Status::from_u32(((h.arg >> DONE_STATUS_SHIFT) & 0xff) as u32).filter(|s| s.is_failure());
            let msg = String::from_utf8_lossy(payload);
            match status {
                Some(s) if s != Status::TaskFailed => Err(TaskError::new(s, code, Some(&format!("on rank {src}: {msg}")))),
                _ => Err(TaskError::new(Status::TaskFailed, code, (!msg.is_empty()).then_some(&*msg))),
            }
        } else if h.arg & proto::DONE_EMPTY != 0 {
            Ok(Value::Empty)
        } else {
            match r.finish {
                Some(f) => f(payload.to_vec()),
                None => Ok(Value::Bytes(payload.into())),
            }
        };
        self.done.push((r.fut, outcome));
    }

    /// A communication failure: with ULFM, the failed ranks leave the pool and their
    /// tasks fail; without it the job ends, as any MPI program's would.
    fn on_failure(&mut self, dest: Option<usize>) {
        match self.link.tr.failed() {
            Some(ranks) if !ranks.is_empty() || dest.is_some() => {
                for r in ranks {
                    self.gone(r, &format!("rank {r} died (MPI reported a process failure)"), true);
                }
                if let Some(d) = dest {
                    self.gone(d, &format!("rank {d} cannot be reached"), true);
                }
            }
            _ => {
                eprintln!("cfutures: MPI pool: MPI reported a communication failure (a rank died?) and this MPI has no ULFM: ending the job");
                self.link.tr.abort(1);
            }
        }
    }

    /// Rank `r` leaves the pool (`dead`: it failed): its running tasks fail with `WorkerDied`.
    fn gone(&mut self, r: usize, why: &str, dead: bool) {
        let Some(p) = self.peers.get_mut(r) else { return };
        if let PeerState::Ready(s) = p.state {
            self.sh.slots.fetch_sub(s, Ordering::Relaxed);
        }
        if matches!(p.state, PeerState::Dead) {
            return;
        }
        p.state = if dead { PeerState::Dead } else { PeerState::Gone };
        for (_, run) in p.running.drain() {
            self.done.push((run.fut, Err(TaskError::new(Status::WorkerDied, 0, Some(&format!("{why}; the task was sent there (running or queued)"))))));
        }
        self.link.forget(r);
        if self.peers.iter().all(|p| matches!(p.state, PeerState::Gone | PeerState::Dead)) {
            let mut st = self.sh.st.lock();
            let m = format!("no worker rank is left ({why}); the MPI pool is not usable anymore");
            let pending = std::mem::take(&mut st.pending);
            st.broken.get_or_insert(m.clone());
            drop(st);
            for t in pending {
                if t.fut.set_running_or_notify_cancel() {
                    self.done.push((t.fut, Err(TaskError::new(Status::Broken, 0, Some(&m)))));
                }
            }
        }
    }

    fn complete(&mut self) {
        let (running, ahead) = self.peers.iter().map(|p| p.split()).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        self.sh.running.set(running as u64);
        self.sh.ahead.set(ahead as u64);
        for (f, o) in self.done.drain(..) {
            if o.is_ok() { self.sh.completed.add(1) } else { self.sh.failed.add(1) }
            let _ = f.complete(o);
        }
        for f in self.cancelled.drain(..) {
            self.sh.cancelled.add(1);
            f.end_cancelled();
        }
    }

    /// Tells `MpiPool::start` once no rank is starting anymore.
    fn report_start(&mut self) {
        if self.peers.iter().any(|p| matches!(p.state, PeerState::Starting)) {
            return;
        }
        let mut st = self.sh.st.lock();
        if st.started.is_some() {
            return;
        }
        st.started = Some(match self.peers.iter().any(|p| matches!(p.state, PeerState::Ready(_))) {
            true => Ok(()),
            false => Err(st.broken.clone().unwrap_or_else(|| "no worker rank could start".into())),
        });
        if let Some(Err(_)) = &st.started {
            st.shutdown = true;
        }
        self.sh.cond.notify_all();
    }

    /// Shut down, nothing left to run, every rank past its start.
    fn may_quit(&self) -> bool {
        let st = self.sh.st.lock();
        st.shutdown
            && st.pending.is_empty()
            && self.peers.iter().all(|p| p.running.is_empty() && !matches!(p.state, PeerState::Starting))
    }

    /// Tells every rank to return from `cfut_mpi_pool_new`; the loop ends once sent.
    fn quit(&mut self) {
        for r in 0..self.peers.len() {
            if r != self.link.tr.rank && !matches!(self.peers[r].state, PeerState::Dead) {
                self.link.queue_header(r, proto::QUIT, 0, 0);
            }
        }
        self.quitting = true;
    }
}
