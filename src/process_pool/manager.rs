//! The manager thread: one per pool, a non-blocking `poll` loop over the workers'
//! channels and pidfds, the FORK zygote's control socket and a wake-up eventfd.
//!
//! Each turn has four phases: `intake` (terminate requests, dispatch, starting workers,
//! shutdown), `deadlines` (task timeouts, workers that hung up but do not exit), `wait`
//! (spin briefly, then `poll`) and `events` (read frames, write queued frames, reap). The
//! decisions are `Crew`'s; this module carries them out on the processes.

use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::channel::{Link, ReadEnd};
use super::crew::{Crew, Order, Rules};
use super::launch::Launch;
use super::proto::Header;
use super::sys::{self, Exit};
use super::{worker, zygote, Shared};
use crate::future::TaskError;
use crate::status::Status;

/// How long a worker whose channel hung up may take to exit before it is killed.
const HANG_UP_GRACE: Duration = Duration::from_millis(100);

pub(crate) struct Manager {
    sh: Arc<Shared>,
    crew: Crew,
    /// The processes and channels of `crew.members`, index for index.
    links: Vec<Link>,
    seen: u64,
    scratch: Vec<u8>,
    frames: Vec<(Header, Vec<u8>)>,
    pfds: Vec<libc::pollfd>,
    pids_dirty: bool,
    spin: worker::Spin,
    /// Workers that exited before shutdown and were not replaced yet (restart counter).
    unreplaced: u64,
}

/// What `intake` decided about the loop.
enum Next {
    Go { finishing: bool, spawn: usize },
    Stop,
}

impl Manager {
    pub fn new(sh: Arc<Shared>) -> Manager {
        let rules = Rules { max_workers: sh.max_workers, timeout: sh.timeout, break_on_death: sh.break_on_death, cancel_kills: sh.cancel_kills };
        Manager {
            sh,
            crew: Crew::new(rules),
            links: Vec::new(),
            seen: 0,
            scratch: vec![0; 256 * 1024],
            frames: Vec::new(),
            pfds: Vec::new(),
            pids_dirty: false,
            spin: worker::Spin::new(50),
            unreplaced: 0,
        }
    }

    pub fn run(mut self) {
        loop {
            let (finishing, spawn) = match self.intake() {
                Next::Stop => return self.stop(),
                Next::Go { finishing, spawn } => (finishing, spawn),
            };
            self.start_workers(spawn, finishing);
            for l in &mut self.links {
                l.flush();
            }
            let next = self.deadlines();
            self.collect();
            if !self.crew.done.is_empty() || !self.crew.cancelled.is_empty() {
                self.complete_all();
                continue;
            }
            if self.wait(next) {
                self.events();
            }
            self.collect();
            self.complete_all();
        }
    }

    /// Carries out decisions on the processes.
    fn apply(&mut self, orders: Vec<Order>) {
        for o in orders {
            match o {
                Order::Send(i, frame) => self.links[i].queue(frame),
                Order::Signal(i, sig) => self.links[i].signal(sig),
                Order::Kill(i) => {
                    self.links[i].kill_hard();
                    self.pids_dirty = true;
                }
            }
        }
    }

    /// Completes the turn's futures outside any lock, counting each first (so whoever
    /// sees a result sees it counted).
    fn complete_all(&mut self) {
        if let Some((code, m)) = self.crew.breaks.take() {
            self.break_pool(code, m);
        }
        self.publish_gauges();
        let c = &self.sh.counts;
        if self.crew.skipped > 0 {
            c.cancelled.add(std::mem::take(&mut self.crew.skipped));
        }
        for (f, o) in self.crew.done.drain(..) {
            if !f.done() {
                if o.is_ok() { c.completed.add(1) } else { c.failed.add(1) }
            }
            let _ = f.complete(o);
        }
        for f in self.crew.cancelled.drain(..) {
            c.cancelled.add(1);
            f.end_cancelled();
        }
    }

    /// Workers alive, idle and busy, for `ProcessPool::stats`.
    fn publish_gauges(&self) {
        let (live, idle, busy) = self.crew.gauges();
        let c = &self.sh.counts;
        c.workers.set(live);
        c.idle.set(idle);
        c.running.set(busy);
    }

    /// Phase 1, under the pool's lock: a terminate request, dispatch to idle workers, how
    /// many workers to start, whether the pool winds down or is done.
    fn intake(&mut self) -> Next {
        let (orders, spawn, finishing, stop) = {
            let mut st = self.sh.st.lock();
            let mut orders = match st.terminate.take() {
                Some(sig) => self.crew.terminate(sig),
                None => Vec::new(),
            };
            for id in std::mem::take(&mut st.cancels) {
                orders.extend(self.crew.cancel(id));
            }
            let before = st.pending.len();
            orders.extend(self.crew.dispatch(&mut st.pending, Instant::now()));
            if let Some(room) = &self.sh.room {
                for _ in st.pending.len()..before {
                    room.give();
                }
            }
            let spawn = self.crew.to_start(st.pending.len(), st.broken.is_some() || st.terminated);
            let finishing = st.shutdown && st.pending.is_empty();
            if self.pids_dirty {
                st.pids = self.crew.pids();
                self.pids_dirty = false;
            }
            let stop = (finishing || st.broken.is_some()) && st.pending.is_empty() && self.crew.members.is_empty();
            (orders, spawn, finishing, stop)
        };
        self.apply(orders);
        self.complete_all();
        if stop { Next::Stop } else { Next::Go { finishing, spawn } }
    }

    fn start_workers(&mut self, n: usize, finishing: bool) {
        for _ in 0..n {
            let launched = self.sh.launch.lock().worker();
            match launched {
                Ok(l) => {
                    self.sh.spawned.fetch_add(1, Ordering::AcqRel);
                    if self.unreplaced > 0 {
                        self.unreplaced -= 1;
                        self.sh.counts.restarts.add(1);
                    }
                    self.crew.started(l.pid);
                    self.links.push(Link::new(l, self.sh.config_frame.clone()));
                    self.pids_dirty = true;
                }
                Err(m) => {
                    self.break_pool(-1, format!("{m}; the process pool is not usable anymore"));
                    break;
                }
            }
        }
        self.complete_all();
        if finishing {
            let orders = self.crew.wind_down();
            self.apply(orders);
        }
    }

    /// The loop is done: no worker is left. Ends the zygote (it sees its control socket
    /// close) and reaps it.
    fn stop(&mut self) {
        self.sh.st.lock().pids.clear();
        let old = std::mem::replace(&mut *self.sh.launch.lock(), Launch::Fork(zygote::Zygote::placeholder()));
        drop(old);
    }

    /// Breaks the pool: every pending and running future fails with `Broken`, every worker
    /// is killed, later submits are refused.
    fn break_pool(&mut self, code: i32, message: String) {
        let (pending, (code, message)) = {
            let mut st = self.sh.st.lock();
            let first = st.broken.get_or_insert((code, message)).clone();
            (std::mem::take(&mut st.pending), first)
        };
        if let Some(room) = &self.sh.room {
            for _ in 0..pending.len() {
                room.give();
            }
        }
        for t in pending {
            self.crew.done.push((t.fut, Err(TaskError::new(Status::Broken, code, Some(&message)))));
        }
        let orders = self.crew.break_all(code, &message);
        self.apply(orders);
    }

    /// Phase 2: task deadlines, and workers whose channel hung up but which do not exit.
    /// Returns when the next deadline is due.
    fn deadlines(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let (orders, mut next) = self.crew.deadlines(now);
        self.apply(orders);
        let mut soonest = |d: Instant| next = Some(next.map_or(d, |n: Instant| n.min(d)));
        for i in 0..self.links.len() {
            let Some(t) = self.crew.members[i].hung_up else { continue };
            if self.links[i].reaped {
                continue;
            }
            let l = &self.links[i];
            if l.pidfd.is_none() && !l.by_zygote {
                // No pidfd to poll (old kernel, valgrind): check by pid every few ms.
                match sys::reap_pid(l.pid) {
                    Some(e) => {
                        self.reaped(i, e);
                        soonest(now);
                        continue;
                    }
                    None => soonest(now + Duration::from_millis(2)),
                }
            }
            if t + HANG_UP_GRACE <= now {
                let orders = self.crew.protocol_error(i, "closed its channel to the pool");
                self.apply(orders);
            } else {
                soonest(t + HANG_UP_GRACE);
            }
        }
        next
    }

    /// Phase 3: spins briefly while tasks run (their results usually come within
    /// microseconds), then blocks in `poll` with submitters told to wake us. False when
    /// nothing happened.
    fn wait(&mut self, next: Option<Instant>) -> bool {
        self.fill_pollfds();
        let timeout: i32 = match next {
            None => -1,
            Some(d) => {
                let ms = d.saturating_duration_since(Instant::now()).as_micros().div_ceil(1000);
                ms.min(i32::MAX as u128) as i32
            }
        };
        let budget = if self.crew.any_busy() && timeout != 0 { self.spin.budget() } else { Duration::ZERO };
        let spin_start = Instant::now();
        let r = loop {
            let spinning = !budget.is_zero() && spin_start.elapsed() < budget;
            if !spinning {
                self.sh.sleeping.store(true, Ordering::SeqCst);
            }
            let submits = self.sh.submits.load(Ordering::SeqCst);
            let t = if spinning || submits != self.seen { 0 } else { timeout };
            // SAFETY: polls our own array of pollfds.
            let r = unsafe { libc::poll(self.pfds.as_mut_ptr(), self.pfds.len() as libc::nfds_t, t) };
            if r != 0 || !spinning || submits != self.seen {
                if !budget.is_zero() {
                    self.spin.record(spinning);
                }
                break r;
            }
            std::hint::spin_loop();
        };
        self.sh.sleeping.store(false, Ordering::SeqCst);
        self.seen = self.sh.submits.load(Ordering::SeqCst);
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // poll itself fails (ENOMEM): rather than spin or stall, look at everything
            // every millisecond; each descriptor is non-blocking, so a false alarm costs a
            // read that finds nothing.
            std::thread::sleep(Duration::from_millis(1));
            for p in self.pfds.iter_mut().filter(|p| p.fd >= 0) {
                p.revents = p.events;
            }
            return true;
        }
        r > 0
    }

    /// The wake-up eventfd, then per worker its channel and its pidfd (workers whose
    /// zygote reports their exit are not polled by pidfd), then the zygote's socket.
    fn fill_pollfds(&mut self) {
        self.pfds.clear();
        self.pfds.push(libc::pollfd { fd: self.sh.wake.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        for l in &self.links {
            let events = if l.wants_to_write() { libc::POLLIN | libc::POLLOUT } else { libc::POLLIN };
            self.pfds.push(libc::pollfd { fd: l.sock_fd(), events, revents: 0 });
            let pfd = match (&l.pidfd, l.by_zygote || l.reaped) {
                (Some(p), false) => p.as_raw_fd(),
                _ => -1,
            };
            self.pfds.push(libc::pollfd { fd: pfd, events: libc::POLLIN, revents: 0 });
        }
        let zfd = match &*self.sh.launch.lock() {
            Launch::Fork(z) => z.fd(),
            _ => -1,
        };
        self.pfds.push(libc::pollfd { fd: zfd, events: libc::POLLIN, revents: 0 });
    }

    /// Phase 4: what `poll` reported.
    fn events(&mut self) {
        if self.pfds[0].revents != 0 {
            sys::eventfd_drain(self.sh.wake.as_raw_fd());
        }
        if self.pfds.last().is_some_and(|p| p.fd >= 0) {
            self.zygote_events();
        }
        for i in 0..self.links.len() {
            let s = self.pfds[1 + 2 * i].revents;
            let p = self.pfds[2 + 2 * i].revents;
            if s & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                self.read(i);
            }
            if s & libc::POLLOUT != 0 {
                self.links[i].flush();
            }
            if p != 0 && !self.links[i].reaped {
                self.read(i);
                if let Some(e) = self.links[i].pidfd.as_ref().and_then(|fd| sys::reap(fd, false)) {
                    self.reaped(i, e);
                }
            }
        }
    }

    /// FORK and FORKSERVER: exit statuses reported by the zygote, and its own death.
    fn zygote_events(&mut self) {
        let (exits, dead, name) = match &mut *self.sh.launch.lock() {
            Launch::Fork(z) => (z.read_exits(), z.dead(), z.name()),
            _ => (Vec::new(), false, ""),
        };
        for (pid, e) in exits {
            if let Some(i) = self.links.iter().position(|l| l.pid == pid && !l.reaped) {
                self.read(i);
                self.reaped(i, e);
            }
        }
        if dead {
            // Its workers' exits are nobody's to report now: watch them directly.
            for l in &mut self.links {
                l.by_zygote = false;
            }
            if self.sh.st.lock().broken.is_none() {
                self.break_pool(-1, format!("{name} died; the process pool is not usable anymore"));
            }
        }
    }

    /// Worker `i` is gone: the crew decides what its exit means.
    fn reaped(&mut self, i: usize, exit: Exit) {
        self.links[i].reaped = true;
        if !self.sh.st.lock().shutdown {
            self.unreplaced += 1;
        }
        self.crew.exited(i, exit);
        self.pids_dirty = true;
    }

    /// Forgets reaped workers.
    fn collect(&mut self) {
        let links = &mut self.links;
        if self.crew.collect(|i| {
            links.swap_remove(i);
        }) {
            self.pids_dirty = true;
        }
    }

    /// Reads whatever worker `i` sent, and acts on each whole frame.
    fn read(&mut self, i: usize) {
        let mut frames = std::mem::take(&mut self.frames);
        let end = self.links[i].read(&mut self.scratch, &mut frames);
        for (h, payload) in frames.drain(..) {
            let orders = self.crew.on_frame(i, h, payload);
            self.apply(orders);
        }
        self.frames = frames;
        match end {
            ReadEnd::Drained => {}
            ReadEnd::HungUp => {
                self.crew.members[i].hung_up.get_or_insert_with(Instant::now);
            }
            ReadEnd::Bad(why) => {
                let orders = self.crew.protocol_error(i, why);
                self.apply(orders);
            }
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        // Only on a panic of the manager: kill and reap everything, fail what is left.
        if !std::thread::panicking() {
            return;
        }
        let why = "the process pool's manager failed";
        let _ = self.crew.break_all(-1, why);
        for l in &mut self.links {
            l.kill_hard();
            if let Some(fd) = &l.pidfd {
                sys::reap(fd, true);
            }
        }
        for (f, _) in self.crew.done.drain(..) {
            let _ = f.fail(TaskError::new(Status::Broken, -1, Some(why)));
        }
        let pending = {
            let mut st = self.sh.st.lock();
            st.broken.get_or_insert((-1, why.into()));
            std::mem::take(&mut st.pending)
        };
        for t in pending {
            let _ = t.fut.fail(TaskError::new(Status::Broken, -1, Some(why)));
        }
    }
}
