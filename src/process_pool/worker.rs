//! The worker side: the ELF constructor that takes a re-executed host over before `main`,
//! and the loop that runs tasks received over fd 3.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

use super::locate::resolve;
use super::proto::{self, FnRef, Header, MapChunk};
use super::sys::{read_exact, write_all};
use crate::future::{Sink, Value};
use crate::status::Status;
use crate::task::{run_bytes, run_map_chunk, BytesFn, ChunkMemory, MapFn};

/// Environment of a worker process, set by the parent: the socket's descriptor number.
pub const ENV_FD: &str = "CFUT_WORKER_FD";
/// The parent's pid, checked after `PR_SET_PDEATHSIG`.
pub const ENV_PPID: &str = "CFUT_WORKER_PPID";
/// Set when the parent added libcfutures to `LD_PRELOAD`; the saved value is restored.
pub const ENV_PRELOADED: &str = "CFUT_WORKER_PRELOADED";
pub const ENV_SAVED_PRELOAD: &str = "CFUT_WORKER_SAVED_PRELOAD";

static mut IN_WORKER: bool = false;

/// True inside a worker process.
pub fn in_worker() -> bool {
    // SAFETY: written once, before any other thread exists.
    unsafe { IN_WORKER }
}

fn getenv(name: &CStr) -> Option<&'static CStr> {
    // SAFETY: called before main, single-threaded; the string lives in environ.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    // SAFETY: a non-NULL getenv result is a C string in environ.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
}

/// Why `fd` is not a channel from a pool in our parent (`None`: it is). A stray or forged
/// `CFUT_WORKER_FD` must not turn a program into a worker that calls whatever a frame
/// names: never in a set-uid/set-gid/capability exec (AT_SECURE, where glibc also drops
/// `LD_PRELOAD`), and only on a socket created by our parent process (the pool makes the
/// pair, `SO_PEERCRED` records its creator) under our own uid.
fn untrusted_channel(fd: RawFd, ppid: libc::pid_t) -> Option<&'static str> {
    // SAFETY: getauxval, fstat, getsockopt, getppid and getuid with valid out-pointers.
    unsafe {
        if libc::getauxval(libc::AT_SECURE) != 0 {
            return Some("a secure-execution (set-uid, set-gid or capability) program never serves a pool");
        }
        let mut st: libc::stat = std::mem::zeroed();
        if fd < 0 || libc::fstat(fd, &mut st) != 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return Some("it names no socket");
        }
        let mut cred: libc::ucred = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        let rc = libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED, (&mut cred as *mut libc::ucred).cast(), &mut len);
        let parent = libc::getppid();
        if rc != 0 || cred.uid != libc::getuid() || cred.pid != parent || (ppid != 0 && ppid != parent) {
            return Some("the socket was not made by the parent process under this user");
        }
    }
    None
}

/// Runs before `main` in every process that loads this library. In a worker (the
/// environment carries `CFUT_WORKER_FD`) it never returns: the process becomes a worker.
extern "C" fn worker_hook(_argc: c_int, _argv: *const *const c_char, _envp: *const *const c_char) {
    let Some(fd) = getenv(c"CFUT_WORKER_FD") else { return };
    let fd: RawFd = fd.to_str().ok().and_then(|s| s.parse().ok()).unwrap_or(-1);
    let zygote = getenv(c"CFUT_WORKER_ZYGOTE").is_some();
    let ppid: libc::pid_t = getenv(c"CFUT_WORKER_PPID").and_then(|s| s.to_str().ok()?.parse().ok()).unwrap_or(0);
    let refusal = untrusted_channel(fd, ppid);
    // SAFETY: single-threaded, before main: nobody else reads the environment now.
    unsafe {
        if getenv(c"CFUT_WORKER_PRELOADED").is_some() {
            match getenv(c"CFUT_WORKER_SAVED_PRELOAD") {
                Some(v) => {
                    let v = v.to_owned();
                    libc::setenv(c"LD_PRELOAD".as_ptr(), v.as_ptr(), 1);
                }
                None => {
                    libc::unsetenv(c"LD_PRELOAD".as_ptr());
                }
            }
        }
        for n in [c"CFUT_WORKER_FD", c"CFUT_WORKER_PPID", c"CFUT_WORKER_PRELOADED", c"CFUT_WORKER_SAVED_PRELOAD", c"CFUT_WORKER_ZYGOTE"] {
            libc::unsetenv(n.as_ptr());
        }
    }
    if let Some(why) = refusal {
        // Not started by a pool: run the program as itself (the variables are gone).
        eprintln!("cfutures: ignoring CFUT_WORKER_FD: {why}");
        return;
    }
    if zygote {
        // SAFETY: a fresh, single-threaded process: it becomes the pool's fork server.
        unsafe { super::zygote::zygote_main(fd, ppid, None, true) };
    }
    let _ = std::panic::catch_unwind(|| worker_main(fd, ppid, true, true));
    // SAFETY: _exit is always safe.
    unsafe { libc::_exit(112) }
}

// Miri calls constructors without glibc's (argc, argv, envp); it never starts workers anyway.
#[cfg(not(miri))]
#[used]
#[link_section = ".init_array"]
static WORKER_HOOK: extern "C" fn(c_int, *const *const c_char, *const *const c_char) = worker_hook;

/// The worker: parent-death protection, a watchdog for the channel (not in a forked
/// worker, where starting threads is unsafe), then the task loop. Never returns.
pub fn worker_main(fd: RawFd, ppid: libc::pid_t, check_ppid: bool, watchdog: bool) -> ! {
    // SAFETY: process-level set-up calls with valid arguments.
    unsafe {
        IN_WORKER = true;
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
        if check_ppid && libc::getppid() != ppid {
            libc::_exit(113);
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    // The watchdog sees the parent hang up while the main thread runs a long task.
    if watchdog {
        start_watchdog(fd);
    }
    let mut w = Worker { fd, max_tasks: 0, done: 0, cache: HashMap::new(), buf: Vec::new(), rbuf: vec![0; 64 * 1024], rpos: 0, rlen: 0, spin: Spin::new(50) };
    w.run()
}

/// Leaves when the parent hangs up (or dies), even while a task runs. `poll` wakes every
/// 200 ms: a `poll` in progress keeps the socket open even if a task closes fd 3, so the
/// parent would never see the hang-up; the next `poll` then reports the closed descriptor.
fn start_watchdog(fd: RawFd) {
    // SAFETY: getppid never fails.
    let ppid = unsafe { libc::getppid() };
    let _ = std::thread::Builder::new().name("cfut-watchdog".into()).spawn(move || loop {
        let mut p = libc::pollfd { fd, events: libc::POLLRDHUP, revents: 0 };
        // SAFETY: polls one pollfd.
        let r = unsafe { libc::poll(&mut p, 1, 200) };
        let hung_up = r > 0 && p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0;
        // SAFETY: getppid never fails; leaving at once is the point.
        if hung_up || unsafe { libc::getppid() } != ppid {
            // SAFETY: leaving at once is the point.
            unsafe { libc::_exit(0) };
        }
    });
}

/// Adaptive spinning before blocking: waking a sleeping process costs more than a short
/// poll when the next message follows at once (a stream of tasks), but spinning only
/// burns CPU when it does not (idle pools, or a machine so loaded that the other side is
/// not running). After a spin that ends in blocking, the next wait blocks at once (a
/// longer back-off lets both sides settle into never spinning, halving throughput).
/// `CFUT_PROCESS_SPIN_US` in the environment sets the budget (0 = never spin).
pub struct Spin {
    skip: u32,
    budget: std::time::Duration,
}

impl Spin {
    pub fn new(default_us: u64) -> Spin {
        let us = std::env::var("CFUT_PROCESS_SPIN_US").ok().and_then(|v| v.parse().ok()).unwrap_or(default_us);
        Spin { skip: 0, budget: std::time::Duration::from_micros(us) }
    }

    /// How long to spin before this wait blocks.
    pub fn budget(&mut self) -> std::time::Duration {
        if self.skip > 0 {
            self.skip -= 1;
            return std::time::Duration::ZERO;
        }
        self.budget
    }

    /// Reports whether the spin found what it waited for.
    pub fn record(&mut self, found: bool) {
        if !found {
            self.skip = 1;
        }
    }
}

struct Worker {
    fd: RawFd,
    max_tasks: u64,
    done: u64,
    cache: HashMap<Vec<u8>, usize>,
    /// 16-aligned payload buffer.
    buf: Vec<u128>,
    /// Bytes read from the socket and not yet consumed: `rbuf[rpos..rlen]`.
    rbuf: Vec<u8>,
    rpos: usize,
    rlen: usize,
    spin: Spin,
}

/// The exit code of a worker that cannot allocate room for a message from the parent.
const EXIT_NO_MEMORY: i32 = 116;

fn leave(code: i32) -> ! {
    // SAFETY: flush the task's buffered stdio output, then leave without running the
    // host's atexit handlers.
    unsafe {
        libc::fflush(std::ptr::null_mut());
        libc::_exit(code)
    }
}


impl Worker {
    fn send(&self, kind: u32, id: u64, arg: u64, payload: &[u8]) {
        let h = Header { kind, id, arg, len: payload.len() as u64 }.encode();
        let r = if payload.len() <= 64 * 1024 {
            let mut v = Vec::with_capacity(proto::HEADER + payload.len());
            v.extend_from_slice(&h);
            v.extend_from_slice(payload);
            write_all(self.fd, &v)
        } else {
            write_all(self.fd, &h).and_then(|_| write_all(self.fd, payload))
        };
        if r.is_err() {
            leave(0);
        }
    }

    /// Reads more bytes into the read buffer: first polling without blocking for a short
    /// while (the next task usually follows at once, and waking a sleeping process costs
    /// more than the spin), then blocking. Leaves on EOF.
    fn fill(&mut self) {
        if self.rpos == self.rlen {
            self.rpos = 0;
            self.rlen = 0;
        } else if self.rpos > 0 {
            self.rbuf.copy_within(self.rpos..self.rlen, 0);
            self.rlen -= self.rpos;
            self.rpos = 0;
        }
        let start = std::time::Instant::now();
        let budget = self.spin.budget();
        let mut spun = false;
        let mut i = 0u32;
        loop {
            let spin = start.elapsed() < budget;
            if !spin && spun {
                self.spin.record(false);
            }
            let flags = if spin { libc::MSG_DONTWAIT } else { 0 };
            let room = &mut self.rbuf[self.rlen..];
            // SAFETY: receives into the free part of our buffer.
            let n = unsafe { libc::recv(self.fd, room.as_mut_ptr() as *mut c_void, room.len(), flags) };
            if n > 0 {
                if spin && budget > std::time::Duration::ZERO {
                    self.spin.record(true);
                }
                self.rlen += n as usize;
                return;
            }
            if n == 0 {
                leave(0);
            }
            spun = spin;
            let e = std::io::Error::last_os_error().raw_os_error();
            if e != Some(libc::EAGAIN) && e != Some(libc::EINTR) {
                leave(0);
            }
            i = i.wrapping_add(1);
            if i % 64 == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Reads one frame; the payload lands in `self.buf` (16-aligned). Leaves on EOF.
    fn recv(&mut self) -> (Header, usize) {
        while self.rlen - self.rpos < proto::HEADER {
            self.fill();
        }
        let hb: [u8; proto::HEADER] = self.rbuf[self.rpos..self.rpos + proto::HEADER].try_into().unwrap();
        self.rpos += proto::HEADER;
        let Some(h) = Header::decode(&hb) else { leave(114) };
        let len = h.len as usize;
        let words = len.div_ceil(16);
        if self.buf.len() < words {
            // The parent sends at most `MAX_PAYLOAD`; if even that cannot be had, the
            // worker leaves (its task fails with its exit code) rather than abort.
            if self.buf.try_reserve_exact(words - self.buf.len()).is_err() {
                leave(EXIT_NO_MEMORY);
            }
            self.buf.resize(words, 0);
        }
        // SAFETY: the buffer holds at least `len` bytes.
        let bytes = unsafe { std::slice::from_raw_parts_mut(self.buf.as_mut_ptr() as *mut u8, len) };
        let have = len.min(self.rlen - self.rpos);
        bytes[..have].copy_from_slice(&self.rbuf[self.rpos..self.rpos + have]);
        self.rpos += have;
        if have < len && !matches!(read_exact(self.fd, &mut bytes[have..]), Ok(true)) {
            leave(0);
        }
        (h, len)
    }

    fn body(&self, len: usize) -> &[u8] {
        // SAFETY: `recv` filled `len` bytes.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr() as *const u8, len) }
    }

    fn resolve(&mut self, body_ref: &[u8]) -> Result<(usize, usize), String> {
        let (r, used) = FnRef::decode(body_ref).ok_or("malformed task reference")?;
        if let Some(a) = self.cache.get(&body_ref[..used]) {
            return Ok((*a, used));
        }
        let a = resolve(&r)?;
        self.cache.insert(body_ref[..used].to_vec(), a);
        Ok((a, used))
    }

    fn run(&mut self) -> ! {
        loop {
            let (h, len) = self.recv();
            match h.kind {
                proto::CONFIG => self.configure(len),
                proto::RUN_BYTES => {
                    self.arm(h.id);
                    let outcome = self.run_bytes(len);
                    self.finish(h.id, outcome);
                }
                proto::RUN_MAP => {
                    self.arm(h.id);
                    let outcome = self.run_map(len);
                    self.finish(h.id, outcome);
                }
                // A request that came after its task ended (the parent sent it before it
                // read the DONE).
                proto::CANCEL => {}
                _ => leave(0),
            }
        }
    }

    /// `CONFIG`: `u64 max_tasks | u64 has_initializer | [fnref | input]`.
    fn configure(&mut self, len: usize) {
        let body: &[u8] = self.body(len);
        // SAFETY: `body` borrows `self.buf`, which `resolve` does not touch.
        let body: &[u8] = unsafe { std::slice::from_raw_parts(body.as_ptr(), body.len()) };
        if body.len() < 16 {
            leave(115);
        }
        self.max_tasks = u64::from_le_bytes(body[0..8].try_into().unwrap());
        let has_init = u64::from_le_bytes(body[8..16].try_into().unwrap()) != 0;
        if has_init {
            let rest = &body[16..];
            let r = self.resolve(rest);
            let failure = match r {
                Err(m) => Some((Status::Unsupported as i32, m)),
                Ok((addr, used)) => {
                    match call_bytes(addr, &rest[used..]) {
                        Ok(_) => None,
                        Err((code, msg)) => Some((code, msg.unwrap_or_default())),
                    }
                }
            };
            if let Some((code, msg)) = failure {
                self.send(proto::INIT_FAILED, 0, code as u32 as u64, msg.as_bytes());
                leave(0);
            }
        }
        // SAFETY: getpid never fails.
        let pid = unsafe { libc::getpid() };
        self.send(proto::READY, 0, pid as u64, &[]);
    }

    fn run_bytes(&mut self, len: usize) -> Result<Option<Vec<u8>>, (i32, Option<String>)> {
        let body: &[u8] = self.body(len);
        // SAFETY: `body` borrows `self.buf`, which `resolve` does not touch.
        let body: &[u8] = unsafe { std::slice::from_raw_parts(body.as_ptr(), body.len()) };
        let (addr, used) = self.resolve(body).map_err(|m| (Status::Unsupported as i32, Some(m)))?;
        call_bytes(addr, &body[used..])
    }

    fn run_map(&mut self, len: usize) -> Result<Option<Vec<u8>>, (i32, Option<String>)> {
        let body: &[u8] = self.body(len);
        // SAFETY: as in run_bytes.
        let body: &[u8] = unsafe { std::slice::from_raw_parts(body.as_ptr(), body.len()) };
        let (addr, used) = self.resolve(body).map_err(|m| (Status::Unsupported as i32, Some(m)))?;
        let bad = || (Status::InvalidArgument as i32, Some("malformed map chunk".to_string()));
        let c = MapChunk::layout(body, used).ok_or_else(bad)?;
        let (count, isz, rsz, items_at, out_len) = (c.count, c.item_size, c.result_size, c.items_at, c.out_len);
        let mut results: Vec<u128> = Vec::new();
        if results.try_reserve_exact(out_len.div_ceil(16)).is_err() {
            return Err((Status::NoMemory as i32, Some(format!("cannot allocate {out_len} bytes of map results in the worker"))));
        }
        results.resize(out_len.div_ceil(16), 0);
        // SAFETY: the parent located a map function (`task::MapFn`) at this reference.
        let f: MapFn = unsafe { std::mem::transmute::<usize, MapFn>(addr) };
        let ctx = if c.ctx.is_empty() { std::ptr::null() } else { body[c.ctx.start..].as_ptr() as *const c_void };
        let rp = results.as_mut_ptr() as *mut u8;
        let mem = ChunkMemory { ctx, items: body[items_at..].as_ptr(), item_size: isz, results: rp, result_size: rsz };
        // SAFETY: `body` holds the context and `count` items (checked above), `results`
        // has room for `count` result slots, and nothing else touches them.
        let report = unsafe { run_map_chunk(f, mem, 0..count, 0, cancel_probe) };
        if report.stopped {
            WATCH.acked.store(true, Ordering::Relaxed);
        }
        let errors: Vec<(u64, i32)> = report.errors.iter().map(|e| (e.index as u64, e.code)).collect();
        // SAFETY: `results` holds count * rsz initialised bytes.
        let res = unsafe { std::slice::from_raw_parts(rp, count * rsz) };
        Ok(Some(proto::encode_chunk_result(&errors, res)))
    }

    /// Before a task runs: the cancellation watch names it. Frames the parent sent behind
    /// the task (only `CANCEL` and `QUIT` headers: a task is sent to an idle worker only)
    /// may already sit in the read buffer; a header cut by the buffer's end is completed
    /// first, so the socket itself starts at a frame boundary for `cancel_probe`'s peeks.
    fn arm(&mut self, id: u64) {
        while (self.rlen - self.rpos) % proto::HEADER != 0 {
            self.fill();
        }
        WATCH.fd.store(self.fd, Ordering::Relaxed);
        WATCH.id.store(id, Ordering::Relaxed);
        WATCH.acked.store(false, Ordering::Relaxed);
        WATCH.next_look.store(0, Ordering::Relaxed);
        let seen = cancel_in(&self.rbuf[self.rpos..self.rlen], id);
        WATCH.requested.store(seen, Ordering::Relaxed);
    }

    fn finish(&mut self, id: u64, outcome: Result<Option<Vec<u8>>, (i32, Option<String>)>) {
        self.done += 1;
        let retiring = self.max_tasks > 0 && self.done >= self.max_tasks;
        let mut arg = if retiring { proto::DONE_RETIRING } else { 0 };
        WATCH.id.store(0, Ordering::Relaxed);
        if WATCH.acked.swap(false, Ordering::Relaxed) {
            self.send(proto::DONE, id, arg | proto::DONE_CANCELLED, &[]);
            if retiring {
                leave(0);
            }
            return;
        }
        let outcome = match outcome {
            Ok(Some(v)) if v.len() > proto::MAX_PAYLOAD => {
                Err((Status::InvalidArgument as i32, Some(format!("the result of {} bytes is larger than a process-pool message can carry", v.len()))))
            }
            o => o,
        };
        match outcome {
            Ok(Some(v)) => self.send(proto::DONE, id, arg, &v),
            Ok(None) => self.send(proto::DONE, id, arg | proto::DONE_EMPTY, &[]),
            Err((code, msg)) => {
                arg |= proto::DONE_ERROR | ((code as u32 as u64) << 32);
                self.send(proto::DONE, id, arg, msg.as_deref().unwrap_or("").as_bytes())
            }
        }
        if retiring {
            leave(0);
        }
    }
}

/// Calls a bytes task and turns its sink into (value bytes or none) / (code, message).
fn call_bytes(addr: usize, input: &[u8]) -> Result<Option<Vec<u8>>, (i32, Option<String>)> {
    if addr == 0 {
        return Ok(None);
    }
    // SAFETY: the parent located a bytes task (`task::BytesFn`) at this reference.
    let f: BytesFn = unsafe { std::mem::transmute::<usize, BytesFn>(addr) };
    let mut sink = Sink::new(false);
    sink.watch_probe(cancel_probe);
    let rc = run_bytes(f, input, &mut sink);
    if sink.cancel_acknowledged() {
        WATCH.acked.store(true, Ordering::Relaxed);
    }
    match sink.into_outcome(rc) {
        Ok(Value::Bytes(b)) => Ok(Some(b.into_vec())),
        Ok(_) => Ok(None),
        Err(e) => Err((e.code, e.message.map(|m| m.to_string_lossy().into_owned()))),
    }
}


/// The running task's cancellation watch (one task at a time per worker). The parent sends
/// a `CANCEL` header on the task's channel; the task's polls of `cfut_result_cancel_requested`
/// peek at the channel (without consuming: the task loop reads the frame afterwards), at
/// most every `LOOK_EVERY_NS`. No watcher thread: nothing wakes per task, and FORK workers
/// (where starting threads is unsafe) work the same.
struct Watch {
    fd: AtomicI32,
    /// The running task's id; 0 between tasks.
    id: AtomicU64,
    requested: AtomicBool,
    /// The task acknowledged (`cfut_result_set_cancelled`, or a map chunk that stopped).
    acked: AtomicBool,
    /// CLOCK_MONOTONIC nanoseconds before which the channel is not looked at again.
    next_look: AtomicU64,
}

static WATCH: Watch = Watch {
    fd: AtomicI32::new(-1),
    id: AtomicU64::new(0),
    requested: AtomicBool::new(false),
    acked: AtomicBool::new(false),
    next_look: AtomicU64::new(0),
};

const LOOK_EVERY_NS: u64 = 100_000;

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes one timespec; CLOCK_MONOTONIC always exists (vDSO, no system call).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// True if `bytes` (whole headers) hold a `CANCEL` for task `id`.
fn cancel_in(bytes: &[u8], id: u64) -> bool {
    bytes.chunks_exact(proto::HEADER).any(|c| {
        let hb: &[u8; proto::HEADER] = c.try_into().expect("a whole header");
        matches!(Header::decode(hb), Some(h) if h.kind == proto::CANCEL && h.id == id)
    })
}

/// `Sink::cancel_requested` in a worker: was the running task asked to stop?
pub fn cancel_probe() -> bool {
    if WATCH.requested.load(Ordering::Relaxed) {
        return true;
    }
    let id = WATCH.id.load(Ordering::Relaxed);
    if id == 0 {
        return false;
    }
    let now = monotonic_ns();
    let next = WATCH.next_look.load(Ordering::Relaxed);
    // One thread looks at a time (a task may poll from several threads).
    if now < next || WATCH.next_look.compare_exchange(next, now + LOOK_EVERY_NS, Ordering::Relaxed, Ordering::Relaxed).is_err() {
        return false;
    }
    let mut buf = [0u8; 4 * proto::HEADER];
    // SAFETY: peeks into our buffer without blocking; the data stays in the socket.
    let n = unsafe {
        libc::recv(WATCH.fd.load(Ordering::Relaxed), buf.as_mut_ptr() as *mut c_void, buf.len(), libc::MSG_PEEK | libc::MSG_DONTWAIT)
    };
    if n > 0 && cancel_in(&buf[..n as usize / proto::HEADER * proto::HEADER], id) {
        WATCH.requested.store(true, Ordering::Relaxed);
        return true;
    }
    false
}
