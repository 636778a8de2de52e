//! The process-pool executor: tasks run in worker processes, so a crash in a task cannot
//! take the host down.
//!
//! - Workers are fresh processes (SPAWN): the host executable is re-executed with
//!   libcfutures preloaded, and the library's ELF constructor turns it into a worker before
//!   `main` runs (`worker.rs`). FORK (opt-in) forks a zygote once, at pool creation, and the
//!   zygote forks the workers (`zygote.rs`).
//! - A task is a function pointer plus input bytes. The pointer travels as (object,
//!   build-id, offset) (`locate.rs`); results come back as bytes.
//! - One private socketpair per worker; one manager thread per pool runs a non-blocking
//!   `poll` loop over the sockets, the workers' pidfds and a wake-up eventfd. A task is
//!   sent only to an idle worker, so pending tasks stay cancellable and a dead worker had
//!   exactly one task.
//! - A death fails only that task's future with `WorkerDied` (or breaks the whole pool
//!   with `break_pool_on_death`, CPython's behaviour); a per-task timeout kills the worker
//!   and fails the future with `Timeout`; workers that cannot start break the pool.

pub mod locate;
pub mod proto;
pub mod sys;
pub mod worker;
mod zygote;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::executor::{BytesTask, Executor, Kind};
use crate::future::{Future, Job, Outcome, TaskError, Value};
use crate::map::{ChunkReport, ItemError};
use crate::status::Status;
use proto::{Header, MapChunk, Reader};
use sys::Exit;

/// How workers are started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StartMethod {
    /// A fresh process: the host executable (or `worker_exe`) re-executed.
    #[default]
    Spawn,
    /// A zygote forked from the host at pool creation forks every worker.
    Fork,
    /// A zygote started as a fresh process (as SPAWN workers are) forks every worker:
    /// SPAWN's isolation with faster worker starts (CPython's forkserver).
    ForkServer,
}

#[derive(Clone, Default)]
pub struct ProcessPoolOptions {
    /// 0 = available CPUs.
    pub max_workers: usize,
    /// 0 = unlimited; else a worker exits after this many tasks and is replaced.
    pub max_tasks_per_child: u64,
    /// Per task, counted from dispatch to a worker; `None` = no limit.
    pub task_timeout: Option<Duration>,
    /// CPython's semantics: any worker death breaks the whole pool.
    pub break_pool_on_death: bool,
    pub start_method: StartMethod,
    /// A `cfut_bytes_fn`-shaped function's address and its input, run in each worker.
    pub initializer: Option<(usize, Vec<u8>)>,
    /// The program workers run (SPAWN); `None` = the host executable itself.
    pub worker_exe: Option<PathBuf>,
}

/// Counts forks of this process (a `pthread_atfork` child handler): a pool belongs to the
/// process that created it, and its manager thread does not exist in a forked child.
static FORK_GEN: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_fork_child() {
    FORK_GEN.fetch_add(1, Ordering::Relaxed);
}

fn watch_forks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: registers an async-signal-safe handler (one atomic increment).
    ONCE.call_once(|| unsafe {
        libc::pthread_atfork(None, None, Some(on_fork_child));
    });
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Records why a call failed on this thread (read by `cfut_last_error_message`).
pub fn set_last_error(msg: &str) {
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(crate::future::to_cstring(msg)));
}

/// The message of the last failure recorded on this thread, or NULL.
pub fn last_error_ptr() -> *const std::ffi::c_char {
    LAST_ERROR.with(|l| l.borrow().as_ref().map_or(std::ptr::null(), |c| c.as_ptr()))
}

/// Turns the result bytes of a successful task into its outcome (map chunks copy their
/// results into the caller's array here, on the manager thread, before the future ends).
type Finish = Box<dyn FnOnce(Vec<u8>) -> Outcome + Send>;

struct Task {
    id: u64,
    fut: Future,
    frame: Vec<u8>,
    finish: Option<Finish>,
}

#[derive(Default)]
struct St {
    pending: VecDeque<Task>,
    shutdown: bool,
    broken: Option<(i32, String)>,
    /// A terminate/kill request not yet carried out by the manager.
    terminate: Option<i32>,
    terminated: bool,
    pids: Vec<i32>,
}

/// How workers are launched.
enum Launch {
    Spawn { exe: CString, argv: Vec<CString>, envp: Vec<CString> },
    Fork(zygote::Zygote),
}

struct Shared {
    st: Mutex<St>,
    wake: OwnedFd,
    sleeping: AtomicBool,
    submits: AtomicU64,
    next_id: AtomicU64,
    spawned: AtomicUsize,
    max_workers: usize,
    timeout: Option<Duration>,
    break_on_death: bool,
    config_frame: Vec<u8>,
    launch: Mutex<Launch>,
    /// Functions of the main executable are valid in the workers.
    main_ok: bool,
}

thread_local! {
    /// On a manager thread, its pool's shared state (as an address; 0 elsewhere). Not
    /// `std::thread::current()`, which would create a `Thread` handle in every caller.
    static MANAGER_OF: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// True on a process pool's manager thread (where its futures complete and their
/// done-callbacks run).
pub fn on_manager_thread() -> bool {
    MANAGER_OF.with(|m| m.get()) != 0
}

/// The manager thread's start-up report. Not an mpsc channel: a blocking `recv` creates
/// the waiting thread's std `Thread` handle, which valgrind reports as possibly lost at exit
/// in every host that made a pool.
#[derive(Default)]
struct StartUp {
    outcome: Mutex<Option<Result<(), (Status, String)>>>,
    cond: Condvar,
}

impl StartUp {
    fn wait(&self) -> Result<(), (Status, String)> {
        let mut g = self.outcome.lock();
        loop {
            if let Some(r) = g.take() {
                return r;
            }
            self.cond.wait(&mut g);
        }
    }
}

/// Reports once; if dropped without reporting (the thread panicked), reports that.
struct StartUpSender(Option<Arc<StartUp>>);

impl StartUpSender {
    fn report(&mut self, r: Result<(), (Status, String)>) {
        if let Some(s) = self.0.take() {
            *s.outcome.lock() = Some(r);
            s.cond.notify_all();
        }
    }

    fn send(&mut self, r: Result<(), String>) {
        self.report(r.map_err(|m| (Status::Broken, m)));
    }
}

impl Drop for StartUpSender {
    fn drop(&mut self) {
        self.report(Err((Status::Panic, "the manager thread ended during start-up".into())));
    }
}

/// Python's `ProcessPoolExecutor`, with crash isolation.
pub struct ProcessPool {
    sh: Arc<Shared>,
    manager: Mutex<Option<JoinHandle<()>>>,
    /// `FORK_GEN` when the pool was created.
    fork_gen: u64,
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The shared object (or executable) this library's code is in: `None` when it is linked
/// into the main executable.
fn own_object() -> Option<Vec<u8>> {
    let here = own_object as *const () as usize;
    match locate::locate_uncached(here) {
        Ok(l) if !l.in_main => Some(l.fnref.path),
        _ => None,
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

fn cstring(b: impl Into<Vec<u8>>) -> Result<CString, (Status, String)> {
    CString::new(b).map_err(|_| (Status::InvalidArgument, "a path or environment entry contains a NUL byte".into()))
}

/// The program, arguments and environment of a SPAWN worker, and whether functions of the
/// host's main executable are valid there.
fn spawn_launch(worker_exe: Option<&PathBuf>) -> Result<(Launch, bool), (Status, String)> {
    let self_exe = std::fs::read_link("/proc/self/exe").ok().filter(|p| p.exists());
    let (exe, main_ok) = match worker_exe {
        Some(p) => {
            let c = cstring(p.as_os_str().as_bytes())?;
            // A directory passes access(X_OK) too: require a regular file.
            let regular = std::fs::metadata(p).is_ok_and(|m| m.is_file());
            // SAFETY: access(2) on a NUL-terminated path.
            if !regular || unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 {
                return Err((Status::InvalidArgument, format!("worker_exe '{}' is not an executable file", p.display())));
            }
            let same = self_exe.as_ref().is_some_and(|s| same_file(s, p));
            (c, same)
        }
        None => match &self_exe {
            Some(p) => (cstring(p.as_os_str().as_bytes())?, true),
            None => (cstring("/proc/self/exe")?, true),
        },
    };
    let preload = own_object();
    let mut envp = Vec::new();
    let mut saved_preload = None;
    let mut asan = None;
    for (k, v) in std::env::vars_os() {
        let kb = k.as_bytes();
        if kb.starts_with(b"CFUT_WORKER_") {
            continue;
        }
        if preload.is_some() && kb == b"LD_PRELOAD" {
            saved_preload = Some(v);
            continue;
        }
        if preload.is_some() && kb == b"ASAN_OPTIONS" {
            asan = Some(v);
            continue;
        }
        let mut e = kb.to_vec();
        e.push(b'=');
        e.extend_from_slice(v.as_bytes());
        envp.push(cstring(e)?);
    }
    // SAFETY: getpid never fails.
    let pid = unsafe { libc::getpid() };
    envp.push(cstring(format!("{}=3", worker::ENV_FD))?);
    envp.push(cstring(format!("{}={pid}", worker::ENV_PPID))?);
    if let Some(lib) = preload {
        // The worker must run this library's constructor even if the host loaded it with
        // dlopen (or not at all at start-up): preload it. The worker restores LD_PRELOAD.
        let mut e = b"LD_PRELOAD=".to_vec();
        e.extend_from_slice(&lib);
        if let Some(old) = &saved_preload {
            e.push(b' ');
            e.extend_from_slice(old.as_bytes());
            let mut s = format!("{}=", worker::ENV_SAVED_PRELOAD).into_bytes();
            s.extend_from_slice(old.as_bytes());
            envp.push(cstring(s)?);
        }
        envp.push(cstring(e)?);
        envp.push(cstring(format!("{}=1", worker::ENV_PRELOADED))?);
        // An ASAN-instrumented host refuses to start with another library before its
        // runtime; the preloaded library is not instrumented, so the check can go. A
        // worker ends without freeing what it holds (by design), so no leak report either:
        // it would turn a task's `exit(n)` into another exit code.
        let mut a = b"ASAN_OPTIONS=".to_vec();
        if let Some(old) = &asan {
            a.extend_from_slice(old.as_bytes());
            a.push(b':');
        }
        a.extend_from_slice(b"verify_asan_link_order=0:detect_leaks=0");
        envp.push(cstring(a)?);
    }
    let argv = vec![cstring("cfutures-worker")?];
    Ok((Launch::Spawn { exe, argv, envp }, main_ok))
}

impl ProcessPool {
    /// Creates the pool and its manager thread (workers start on demand). On failure the
    /// status and a message.
    pub fn new(opts: ProcessPoolOptions) -> Result<ProcessPool, (Status, String)> {
        watch_forks();
        let fork_gen = FORK_GEN.load(Ordering::Relaxed);
        let max_workers = if opts.max_workers == 0 { default_workers() } else { opts.max_workers };
        let (launch, main_ok) = match opts.start_method {
            StartMethod::Spawn => spawn_launch(opts.worker_exe.as_ref())?,
            StartMethod::Fork => (Launch::Fork(zygote::Zygote::placeholder()), true),
            StartMethod::ForkServer => spawn_launch(opts.worker_exe.as_ref())?,
        };
        let mut config = Vec::new();
        config.extend_from_slice(&opts.max_tasks_per_child.to_le_bytes());
        match &opts.initializer {
            None => config.extend_from_slice(&0u64.to_le_bytes()),
            Some((addr, input)) => {
                let l = locate::locate(*addr).map_err(|m| (Status::Unsupported, format!("initializer: {m}")))?;
                if l.0.in_main && !main_ok {
                    return Err((Status::Unsupported, format!("initializer: {}", not_in_main_msg())));
                }
                config.extend_from_slice(&1u64.to_le_bytes());
                config.extend_from_slice(&l.1);
                config.extend_from_slice(input);
            }
        }
        let config_frame = proto::frame(proto::CONFIG, 0, 0, &[&config]);
        let wake = sys::eventfd().map_err(|e| (Status::NoMemory, format!("eventfd: {e}")))?;
        let sh = Arc::new(Shared {
            st: Mutex::new(St::default()),
            wake,
            sleeping: AtomicBool::new(false),
            submits: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
            spawned: AtomicUsize::new(0),
            max_workers,
            timeout: opts.task_timeout,
            break_on_death: opts.break_pool_on_death,
            config_frame,
            launch: Mutex::new(launch),
            main_ok,
        });
        let ready = Arc::new(StartUp::default());
        let mut ready_tx = StartUpSender(Some(ready.clone()));
        let method = opts.start_method;
        let msh = sh.clone();
        let handle = std::thread::Builder::new()
            .name("cfut-procpool".into())
            .spawn(move || {
                MANAGER_OF.with(|m| m.set(Arc::as_ptr(&msh) as usize));
                // The zygote is started by this long-lived thread, so that its
                // parent-death signal is tied to the manager, not to the caller.
                let started = match method {
                    StartMethod::Spawn => None,
                    StartMethod::Fork => Some(zygote::Zygote::start()),
                    StartMethod::ForkServer => {
                        let spawned = match &*msh.launch.lock() {
                            Launch::Spawn { exe, argv, envp } => Some(zygote::Zygote::spawn(exe, argv, envp)),
                            Launch::Fork(_) => None,
                        };
                        spawned
                    }
                };
                match started {
                    Some(Ok(z)) => *msh.launch.lock() = Launch::Fork(z),
                    Some(Err(e)) => {
                        ready_tx.send(Err(e));
                        return;
                    }
                    None => {}
                }
                ready_tx.send(Ok(()));
                Manager::new(msh).run();
            })
            .map_err(|e| (Status::NoMemory, format!("cannot start the manager thread: {e}")))?;
        match ready.wait() {
            Ok(()) => {}
            Err((status, m)) => {
                let _ = handle.join();
                return Err((status, m));
            }
        }
        Ok(ProcessPool { sh, manager: Mutex::new(Some(handle)), fork_gen })
    }

    /// How many worker processes were started so far (replacements included).
    pub fn workers_started(&self) -> usize {
        self.sh.spawned.load(Ordering::Acquire)
    }

    /// The pids of the live workers, as of the manager's last turn.
    pub fn pids(&self) -> Vec<i32> {
        self.sh.st.lock().pids.clone()
    }

    /// Why the pool broke, if it did.
    pub fn broken_reason(&self) -> Option<(i32, String)> {
        self.sh.st.lock().broken.clone()
    }

    fn locate(&self, func: usize) -> Result<Arc<(locate::Located, Vec<u8>)>, Status> {
        let l = locate::locate(func).map_err(|m| {
            set_last_error(&m);
            Status::Unsupported
        })?;
        if l.0.in_main && !self.sh.main_ok {
            set_last_error(&not_in_main_msg());
            return Err(Status::Unsupported);
        }
        Ok(l)
    }

    /// True in a child the host forked after creating this pool.
    fn foreign(&self) -> bool {
        FORK_GEN.load(Ordering::Relaxed) != self.fork_gen
    }

    fn enqueue(&self, id: u64, frame: Vec<u8>, finish: Option<Finish>) -> Result<Future, Status> {
        if self.foreign() {
            set_last_error(IN_CHILD);
            return Err(Status::Unsupported);
        }
        let fut = Future::new();
        {
            let mut st = self.sh.st.lock();
            if let Some((_, m)) = &st.broken {
                let m = m.clone();
                drop(st);
                set_last_error(&m);
                return Err(Status::Broken);
            }
            if st.shutdown {
                return Err(Status::Shutdown);
            }
            st.pending.push_back(Task { id, fut: fut.clone(), frame, finish });
        }
        self.sh.submits.fetch_add(1, Ordering::SeqCst);
        if self.sh.sleeping.swap(false, Ordering::SeqCst) {
            sys::eventfd_signal(self.sh.wake.as_raw_fd());
        }
        Ok(fut)
    }

    /// Submits `func(input)` (a `cfut_bytes_fn`), input copied.
    pub fn submit_task(&self, func: usize, input: &[u8]) -> Result<Future, Status> {
        let l = self.locate(func)?;
        let id = self.sh.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = build_frame(proto::RUN_BYTES, id, &[&l.1, input], "the task's input")?;
        self.enqueue(id, frame, None)
    }

    /// Submits a map chunk: `func(ctx, item, slot)` (a `cfut_map_fn`) over `count` items.
    /// On success the results are copied to `dst` (as `count * result_size` bytes) on the
    /// manager thread before the future completes; item failures are reported with indices
    /// counted from `first_index`.
    ///
    /// # Safety
    /// `items` must be valid for `count * item_size` bytes of reads during the call, and
    /// `dst` for `count * result_size` bytes of writes until the returned future is done
    /// (or was cancelled before it started).
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn submit_map_chunk(
        &self,
        func: usize,
        ctx: &[u8],
        items: *const u8,
        count: usize,
        item_size: usize,
        result_size: usize,
        dst: usize,
        first_index: usize,
    ) -> Result<Future, Status> {
        let l = self.locate(func)?;
        // Both directions must fit in a frame: the items now, the results (and one error
        // record per item, at worst) when the chunk is done.
        let items_len = count as u128 * item_size as u128;
        let out = proto::payload_len(&[8, 16 * count as u128, count as u128 * result_size as u128]);
        if let Err(proto::FrameError::TooLong(n)) = out {
            set_last_error(&too_long("the map chunk's results", n));
            return Err(Status::InvalidArgument);
        }
        let head_len = (l.1.len() + MapChunk::SIZE + proto::pad16(ctx.len())) as u128;
        if let Err(proto::FrameError::TooLong(n)) = proto::payload_len(&[head_len, items_len]) {
            set_last_error(&too_long("the map chunk's context and items", n));
            return Err(Status::InvalidArgument);
        }
        // SAFETY: the caller passes `count * item_size` readable bytes (checked to fit above).
        let items = unsafe { std::slice::from_raw_parts(items, items_len as usize) };
        let id = self.sh.next_id.fetch_add(1, Ordering::Relaxed);
        let head = MapChunk { ctx_len: ctx.len() as u64, item_size: item_size as u64, result_size: result_size as u64, count: count as u64 }.encode();
        let pad = [0u8; 16];
        let padn = proto::pad16(ctx.len()) - ctx.len();
        let frame = build_frame(proto::RUN_MAP, id, &[&l.1, &head, ctx, &pad[..padn], items], "the map chunk")?;
        let finish: Finish = Box::new(move |payload: Vec<u8>| {
            let Some((errors, results)) = proto::decode_chunk_result(&payload) else {
                return Err(TaskError::new(Status::TaskFailed, Status::InvalidArgument as i32, Some("malformed chunk result")));
            };
            let n = (count * result_size).min(results.len());
            if n > 0 {
                // SAFETY: guaranteed by the caller of `submit_map_chunk`.
                unsafe { std::ptr::copy_nonoverlapping(results.as_ptr(), dst as *mut u8, n) };
            }
            let report = ChunkReport {
                errors: errors
                    .into_iter()
                    .map(|(i, code)| ItemError { index: first_index + i as usize, code, message: None })
                    .collect(),
            };
            Ok(Value::Any(Box::new(report)))
        });
        self.enqueue(id, frame, Some(finish))
    }

    /// CPython 3.14's `terminate_workers()` / `kill_workers()`: shuts down (cancelling
    /// pending work), then sends `sig` to every worker. Running futures fail with `Broken`.
    pub fn terminate_workers(&self, sig: i32) {
        if self.foreign() {
            return;
        }
        let cancelled = {
            let mut st = self.sh.st.lock();
            st.shutdown = true;
            if !st.terminated {
                st.terminate = Some(sig);
                st.terminated = true;
            }
            std::mem::take(&mut st.pending)
        };
        for t in cancelled {
            t.fut.cancel();
        }
        sys::eventfd_signal(self.sh.wake.as_raw_fd());
    }
}

fn too_long(what: &str, n: u128) -> String {
    format!("{what} would take {n} bytes, more than a process-pool message can carry ({} bytes)", proto::MAX_PAYLOAD)
}

/// A task's frame, or why it cannot be built (recorded as the last error).
fn build_frame(kind: u32, id: u64, parts: &[&[u8]], what: &str) -> Result<Vec<u8>, Status> {
    proto::try_frame(kind, id, 0, parts).map_err(|e| match e {
        proto::FrameError::TooLong(n) => {
            set_last_error(&too_long(what, n));
            Status::InvalidArgument
        }
        proto::FrameError::NoMemory => {
            set_last_error(&format!("cannot allocate a message for {what}"));
            Status::NoMemory
        }
    })
}

const IN_CHILD: &str = "this process pool belongs to the parent process: the host forked after creating it, \
    and the pool's manager thread and workers do not exist in the child";

fn not_in_main_msg() -> String {
    "the task function is in the main executable, but the workers run a different program (worker_exe): \
     put it in a shared library, or leave worker_exe NULL so that workers re-execute the host"
        .into()
}

impl Executor for ProcessPool {
    fn kind(&self) -> Kind {
        Kind::Processes
    }

    fn submit(&self, job: Job) -> Result<Future, Status> {
        drop(job);
        set_last_error(
            "cfut_executor_submit: a pointer argument means nothing in another process; \
             use cfut_executor_submit_bytes on a process pool",
        );
        Err(Status::Unsupported)
    }

    fn submit_bytes(&self, task: BytesTask, input: &[u8]) -> Result<Future, Status> {
        self.submit_task(task.func, input)
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) -> Status {
        if self.foreign() {
            // The manager thread and the workers belong to the parent: nothing to do here
            // (joining a thread that does not exist in this process would never return).
            return Status::Ok;
        }
        let cancelled = {
            let mut st = self.sh.st.lock();
            st.shutdown = true;
            if cancel_futures {
                std::mem::take(&mut st.pending)
            } else {
                VecDeque::new()
            }
        };
        for t in cancelled {
            t.fut.cancel();
        }
        sys::eventfd_signal(self.sh.wake.as_raw_fd());
        if wait {
            if MANAGER_OF.with(|m| m.get()) == Arc::as_ptr(&self.sh) as usize {
                return Status::WouldDeadlock;
            }
            let mut m = self.manager.lock();
            if let Some(h) = m.take() {
                let _ = h.join();
            }
        }
        Status::Ok
    }

    fn max_workers(&self) -> usize {
        self.sh.max_workers
    }

    fn as_process_pool(&self) -> Option<&ProcessPool> {
        Some(self)
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

// ---------------------------------------------------------------------------------------
// The manager thread.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kill {
    Timeout,
    Terminate(i32),
    Broken,
    Protocol(&'static str),
}

struct Running {
    id: u64,
    fut: Future,
    finish: Option<Finish>,
    deadline: Option<Instant>,
}

struct Worker {
    pid: i32,
    pidfd: Option<OwnedFd>,
    sock: OwnedFd,
    ready: bool,
    retiring: bool,
    quitting: bool,
    task: Option<Running>,
    kill: Option<Kill>,
    rx: Reader,
    tx: VecDeque<Vec<u8>>,
    tx_off: usize,
    eof_at: Option<Instant>,
    exit: Option<Exit>,
    /// FORK mode: the zygote is the parent, reaps it and reports its exit.
    by_zygote: bool,
}

impl Worker {
    fn idle(&self) -> bool {
        self.ready && !self.retiring && !self.quitting && self.task.is_none() && self.kill.is_none() && self.eof_at.is_none()
    }

    /// Will take tasks now or once started.
    fn capable(&self) -> bool {
        !self.retiring && !self.quitting && self.kill.is_none() && self.eof_at.is_none()
    }

    fn signal(&self, sig: i32) {
        if self.exit.is_some() {
            return;
        }
        match &self.pidfd {
            Some(fd) => {
                sys::pidfd_kill(fd, sig);
            }
            // SAFETY: the child is not reaped yet, so its pid is still ours.
            None => unsafe {
                libc::kill(self.pid, sig);
            },
        }
    }

    /// Kills the worker and its process group (task grandchildren included).
    fn kill_hard(&mut self, why: Kill) {
        if self.kill.is_none() {
            self.kill = Some(why);
        }
        self.signal(libc::SIGKILL);
        // SAFETY: the worker leads its own group, and is not reaped yet.
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
    }
}

/// Pidfds are used when the kernel has them; `CFUT_PROCESS_NO_PIDFD` in the environment
/// forces the pid-based fallback (for tests).
fn no_pidfd() -> bool {
    static NO: OnceLock<bool> = OnceLock::new();
    *NO.get_or_init(|| std::env::var_os("CFUT_PROCESS_NO_PIDFD").is_some())
}

/// Events a turn of the loop found, acted on after the loop, outside any lock.
type Completions = Vec<(Future, Outcome)>;

struct Manager {
    sh: Arc<Shared>,
    workers: Vec<Worker>,
    seen: u64,
    scratch: Vec<u8>,
    frames: Vec<(Header, Vec<u8>)>,
    done: Completions,
    pids_dirty: bool,
    spin: worker::Spin,
}

fn describe(pid: i32, exit: Exit) -> (i32, String) {
    match exit {
        Exit::Code(c) => (c, format!("worker {pid} exited with code {c}")),
        Exit::Signal(s) => {
            let extra = if s == libc::SIGKILL { ", possibly by the OOM killer" } else { "" };
            (-s, format!("worker {pid} was killed by signal {s} ({}){extra}", sys::signal_name(s)))
        }
        Exit::Unknown => (0, format!("worker {pid} ended (its exit status was collected by someone else)")),
    }
}

impl Manager {
    fn new(sh: Arc<Shared>) -> Manager {
        Manager { sh, workers: Vec::new(), seen: 0, scratch: vec![0; 256 * 1024], frames: Vec::new(), done: Vec::new(), pids_dirty: false, spin: worker::Spin::new(50) }
    }

    fn complete_all(&mut self) {
        for (f, o) in self.done.drain(..) {
            let _ = f.complete(o);
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let (parent, child) = sys::socketpair().map_err(|e| format!("socketpair: {e}"))?;
        sys::set_buffers(parent.as_raw_fd(), 1 << 20);
        sys::set_buffers(child.as_raw_fd(), 1 << 20);
        let (pid, pidfd, by_zygote) = {
            let mut launch = self.sh.launch.lock();
            match &mut *launch {
                Launch::Spawn { exe, argv, envp } => {
                    let (pid, pidfd) = sys::spawn(exe, argv, envp, &child, !no_pidfd())
                        .map_err(|e| format!("cannot start a worker process ({}): {e}", exe.to_string_lossy()))?;
                    (pid, pidfd, false)
                }
                Launch::Fork(z) => {
                    let (pid, fd) = z.fork_worker(child)?;
                    (pid, fd, true)
                }
            }
        };
        sys::set_nonblocking(parent.as_raw_fd()).map_err(|e| format!("fcntl: {e}"))?;
        self.sh.spawned.fetch_add(1, Ordering::AcqRel);
        let mut tx = VecDeque::new();
        tx.push_back(self.sh.config_frame.clone());
        self.workers.push(Worker {
            pid,
            pidfd,
            sock: parent,
            ready: false,
            retiring: false,
            quitting: false,
            task: None,
            kill: None,
            rx: Reader::default(),
            tx,
            tx_off: 0,
            eof_at: None,
            exit: None,
            by_zygote,
        });
        self.pids_dirty = true;
        Ok(())
    }

    /// Breaks the pool: every pending and running future fails with `Broken`, every worker
    /// is killed, later submits are refused.
    fn break_pool(&mut self, code: i32, message: String) {
        let pending = {
            let mut st = self.sh.st.lock();
            if st.broken.is_none() {
                st.broken = Some((code, message.clone()));
            }
            std::mem::take(&mut st.pending)
        };
        let (code, message) = self.sh.st.lock().broken.clone().unwrap_or((code, message));
        for t in pending {
            self.done.push((t.fut, Err(TaskError::new(Status::Broken, code, Some(&message)))));
        }
        for w in &mut self.workers {
            if let Some(r) = w.task.take() {
                self.done.push((r.fut, Err(TaskError::new(Status::Broken, code, Some(&message)))));
            }
            w.kill_hard(Kill::Broken);
        }
    }

    fn run(mut self) {
        let mut pfds: Vec<libc::pollfd> = Vec::new();
        loop {
            // Intake: apply requests, dispatch to idle workers, decide how many to start.
            let (spawn_n, finishing, stop) = {
                let mut st = self.sh.st.lock();
                if let Some(sig) = st.terminate.take() {
                    for w in &mut self.workers {
                        if let Some(r) = w.task.take() {
                            let m = format!(
                                "worker {} was stopped by cfut_process_pool_terminate (signal {sig}, {}) while running this task; \
                                 the process pool was forcefully shut down",
                                w.pid,
                                sys::signal_name(sig)
                            );
                            self.done.push((r.fut, Err(TaskError::new(Status::Broken, -sig, Some(&m)))));
                        }
                        if w.kill.is_none() {
                            w.kill = Some(Kill::Terminate(sig));
                        }
                        w.signal(sig);
                        // A worker that survives the signal (its task ignores it) quits
                        // once the task returns.
                        w.tx.push_back(proto::frame(proto::QUIT, 0, 0, &[]));
                    }
                }
                let now = Instant::now();
                for w in self.workers.iter_mut() {
                    if !w.idle() {
                        continue;
                    }
                    while let Some(t) = st.pending.pop_front() {
                        if !t.fut.set_running_or_notify_cancel() {
                            continue;
                        }
                        w.tx.push_back(t.frame);
                        w.task = Some(Running {
                            id: t.id,
                            fut: t.fut,
                            finish: t.finish,
                            deadline: self.sh.timeout.map(|d| now + d),
                        });
                        break;
                    }
                }
                let capable = self.workers.iter().filter(|w| w.capable()).count();
                let starting = self.workers.iter().filter(|w| w.capable() && !w.ready).count();
                let mut n = st.pending.len().saturating_sub(starting).min(self.sh.max_workers.saturating_sub(capable));
                if st.broken.is_some() || st.terminated {
                    n = 0;
                }
                let finishing = st.shutdown && st.pending.is_empty();
                if self.pids_dirty {
                    st.pids = self.workers.iter().filter(|w| w.exit.is_none()).map(|w| w.pid).collect();
                    self.pids_dirty = false;
                }
                let stop = (finishing || st.broken.is_some()) && st.pending.is_empty() && self.workers.is_empty();
                (n, finishing, stop)
            };
            self.complete_all();
            if stop {
                self.sh.st.lock().pids.clear();
                // Ends the FORK zygote (it sees its control socket close) and reaps it.
                let old = std::mem::replace(&mut *self.sh.launch.lock(), Launch::Fork(zygote::Zygote::placeholder()));
                drop(old);
                return;
            }
            for _ in 0..spawn_n {
                if let Err(m) = self.spawn() {
                    self.break_pool(-1, format!("{m}; the process pool is not usable anymore"));
                    break;
                }
            }
            self.complete_all();
            if finishing {
                for w in &mut self.workers {
                    if w.idle() {
                        w.quitting = true;
                        w.tx.push_back(proto::frame(proto::QUIT, 0, 0, &[]));
                    } else if !w.ready && w.kill.is_none() && w.exit.is_none() {
                        // Still starting and nothing left to run: a worker that would never
                        // become ready (a worker_exe that does not load the library) must
                        // not hold the shutdown forever.
                        w.kill_hard(Kill::Terminate(libc::SIGKILL));
                        self.pids_dirty = true;
                    }
                }
            }
            for i in 0..self.workers.len() {
                self.flush(i);
            }

            // Deadlines: task timeouts and workers that hung up but do not exit.
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            for w in &mut self.workers {
                if let Some(d) = w.task.as_ref().and_then(|r| r.deadline) {
                    if d <= now {
                        let r = w.task.take().unwrap();
                        let ms = self.sh.timeout.map_or(0, |t| t.as_millis());
                        let m = format!(
                            "the task ran longer than its timeout of {ms} ms; worker {} was killed and will be replaced",
                            w.pid
                        );
                        self.done.push((r.fut, Err(TaskError::new(Status::Timeout, 0, Some(&m)))));
                        w.kill_hard(Kill::Timeout);
                        self.pids_dirty = true;
                    } else {
                        next = Some(next.map_or(d, |n| n.min(d)));
                    }
                }
                if let (Some(_), None, None, false) = (w.eof_at, w.exit, &w.pidfd, w.by_zygote) {
                    // No pidfd to poll (old kernel, valgrind): after the hang-up, check by
                    // pid every few milliseconds.
                    match sys::reap_pid(w.pid) {
                        Some(e) => {
                            w.exit = Some(e);
                            next = Some(now);
                        }
                        None => {
                            let d = now + Duration::from_millis(2);
                            next = Some(next.map_or(d, |n| n.min(d)));
                        }
                    }
                }
                if let (Some(t), None) = (w.eof_at, w.exit) {
                    let d = t + Duration::from_millis(100);
                    if d <= now {
                        if w.kill.is_none() {
                            w.kill_hard(Kill::Protocol("closed its channel to the pool"));
                        }
                    } else {
                        next = Some(next.map_or(d, |n| n.min(d)));
                    }
                }
            }
            self.collect_exits();
            if !self.done.is_empty() {
                self.complete_all();
                continue;
            }

            // Poll.
            pfds.clear();
            pfds.push(libc::pollfd { fd: self.sh.wake.as_raw_fd(), events: libc::POLLIN, revents: 0 });
            for w in &self.workers {
                let mut ev = libc::POLLIN;
                if !w.tx.is_empty() {
                    ev |= libc::POLLOUT;
                }
                let fd = if w.eof_at.is_some() { -1 } else { w.sock.as_raw_fd() };
                pfds.push(libc::pollfd { fd, events: ev, revents: 0 });
                let pfd = if w.by_zygote { -1 } else { w.pidfd.as_ref().map_or(-1, |p| p.as_raw_fd()) };
                pfds.push(libc::pollfd { fd: pfd, events: libc::POLLIN, revents: 0 });
            }
            let timeout: i32 = match next {
                None => -1,
                Some(d) => {
                    let ms = d.saturating_duration_since(Instant::now()).as_micros().div_ceil(1000);
                    ms.min(i32::MAX as u128) as i32
                }
            };
            // Workers without a pidfd (FORK mode) are checked by their zygote; poll it.
            let zfd = match &*self.sh.launch.lock() {
                Launch::Fork(z) => z.fd(),
                _ => -1,
            };
            pfds.push(libc::pollfd { fd: zfd, events: libc::POLLIN, revents: 0 });
            // Spin briefly while tasks run (their results usually come within
            // microseconds), then block with the submitters told to wake us.
            let busy = self.workers.iter().any(|w| w.task.is_some());
            let budget = if busy && timeout != 0 { self.spin.budget() } else { Duration::ZERO };
            let spin_start = Instant::now();
            let mut r;
            loop {
                let spinning = !budget.is_zero() && spin_start.elapsed() < budget;
                let t = if spinning { 0 } else { timeout };
                if !spinning {
                    self.sh.sleeping.store(true, Ordering::SeqCst);
                }
                let submits = self.sh.submits.load(Ordering::SeqCst);
                let t = if submits != self.seen { 0 } else { t };
                // SAFETY: polls our own array of pollfds.
                r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, t) };
                if r != 0 || !spinning || submits != self.seen {
                    if !budget.is_zero() {
                        self.spin.record(spinning);
                    }
                    break;
                }
                std::hint::spin_loop();
            }
            self.sh.sleeping.store(false, Ordering::SeqCst);
            self.seen = self.sh.submits.load(Ordering::SeqCst);
            if r <= 0 {
                continue;
            }
            if pfds[0].revents != 0 {
                sys::eventfd_drain(self.sh.wake.as_raw_fd());
            }
            if zfd >= 0 {
                self.zygote_events();
            }
            for i in 0..self.workers.len() {
                let s = pfds[1 + 2 * i].revents;
                let p = pfds[2 + 2 * i].revents;
                if s & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                    self.read(i);
                }
                if s & libc::POLLOUT != 0 {
                    self.flush(i);
                }
                if p != 0 && self.workers[i].exit.is_none() {
                    self.read(i);
                    if let Some(fd) = &self.workers[i].pidfd {
                        if let Some(e) = sys::reap(fd, false) {
                            self.workers[i].exit = Some(e);
                        }
                    }
                }
            }
            self.collect_exits();
            self.complete_all();
        }
    }

    /// FORK mode: exit statuses reported by the zygote.
    fn zygote_events(&mut self) {
        let (exits, dead, name) = match &mut *self.sh.launch.lock() {
            Launch::Fork(z) => {
                let e = z.read_exits();
                (e, z.dead(), z.name())
            }
            _ => (Vec::new(), false, ""),
        };
        for (pid, e) in exits {
            if let Some(i) = self.workers.iter().position(|w| w.pid == pid && w.exit.is_none()) {
                self.read(i);
                self.workers[i].exit = Some(e);
            }
        }
        if dead {
            // Its workers' exits are nobody's to report now: watch them directly.
            for w in &mut self.workers {
                w.by_zygote = false;
            }
        }
        if dead && self.sh.st.lock().broken.is_none() {
            self.break_pool(-1, format!("{name} died; the process pool is not usable anymore"));
        }
    }

    /// Handles every worker whose exit status is known, and forgets it.
    fn collect_exits(&mut self) {
        let mut i = 0;
        while i < self.workers.len() {
            if self.workers[i].exit.is_none() {
                i += 1;
                continue;
            }
            let mut w = self.workers.swap_remove(i);
            self.pids_dirty = true;
            self.on_exit(&mut w);
        }
    }

    fn on_exit(&mut self, w: &mut Worker) {
        let exit = w.exit.unwrap_or(Exit::Unknown);
        let (code, desc) = describe(w.pid, exit);
        match (w.task.take(), w.kill) {
            (Some(r), Some(Kill::Timeout)) => {
                self.done.push((r.fut, Err(TaskError::new(Status::Timeout, 0, Some(&desc)))));
            }
            (Some(r), Some(Kill::Terminate(_) | Kill::Broken)) => {
                self.done.push((r.fut, Err(TaskError::new(Status::Broken, code, Some(&desc)))));
            }
            (Some(r), Some(Kill::Protocol(why))) => {
                let m = format!("worker {} {why} and was killed", w.pid);
                self.done.push((r.fut, Err(TaskError::new(Status::WorkerDied, code, Some(&m)))));
            }
            (Some(r), None) => {
                let m = format!("{desc} without a result");
                if self.sh.break_on_death {
                    self.done.push((r.fut, Err(TaskError::new(Status::Broken, code, Some(&m)))));
                    self.break_pool(
                        code,
                        format!("a process in the process pool was terminated abruptly ({m}); the process pool is not usable anymore"),
                    );
                } else {
                    self.done.push((r.fut, Err(TaskError::new(Status::WorkerDied, code, Some(&m)))));
                }
            }
            (None, None) if !w.ready => {
                self.break_pool(code, format!("a worker process could not start: {desc} before it was ready; the process pool is not usable anymore"));
            }
            (None, None) if !w.retiring && !w.quitting && self.sh.break_on_death => {
                self.break_pool(
                    code,
                    format!("a process in the process pool was terminated abruptly ({desc}); the process pool is not usable anymore"),
                );
            }
            _ => {}
        }
    }

    fn flush(&mut self, i: usize) {
        let w = &mut self.workers[i];
        while let Some(front) = w.tx.front() {
            if w.eof_at.is_some() || w.exit.is_some() {
                w.tx.clear();
                break;
            }
            let buf = &front[w.tx_off..];
            // SAFETY: sends from a valid buffer on our non-blocking socket.
            let n = unsafe {
                libc::send(w.sock.as_raw_fd(), buf.as_ptr() as *const libc::c_void, buf.len(), libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
            };
            if n < 0 {
                let e = std::io::Error::last_os_error().raw_os_error();
                if e == Some(libc::EINTR) {
                    continue;
                }
                if e != Some(libc::EAGAIN) {
                    // The worker is gone; its exit will be reported by its pidfd.
                    w.tx.clear();
                    w.tx_off = 0;
                }
                break;
            }
            w.tx_off += n as usize;
            if w.tx_off == front.len() {
                w.tx.pop_front();
                w.tx_off = 0;
            }
        }
    }

    /// Reads whatever the worker sent, and acts on each whole frame.
    fn read(&mut self, i: usize) {
        let mut frames = std::mem::take(&mut self.frames);
        let mut bad = None;
        {
            let w = &mut self.workers[i];
            if w.eof_at.is_none() {
                loop {
                    let fd = w.sock.as_raw_fd();
                    let remaining = w.rx.body_remaining();
                    let n = if remaining >= 64 * 1024 {
                        // A large payload: read straight into it.
                        let body = w.rx.body_mut().unwrap();
                        if body.try_reserve(remaining).is_err() {
                            bad = Some("sent a message too large to receive");
                            break;
                        }
                        let spare = body.spare_capacity_mut();
                        let want = remaining.min(spare.len());
                        // SAFETY: reads into the spare capacity, then commits what was read.
                        let n = unsafe { libc::read(fd, spare.as_mut_ptr() as *mut libc::c_void, want) };
                        if n > 0 {
                            unsafe { body.set_len(body.len() + n as usize) };
                            if let Some(f) = w.rx.take_complete() {
                                frames.push(f);
                            }
                        }
                        if n > 0 && (n as usize) < want {
                            break; // a short read: nothing more for now
                        }
                        n
                    } else {
                        // SAFETY: reads into our scratch buffer.
                        let n = unsafe { libc::read(fd, self.scratch.as_mut_ptr() as *mut libc::c_void, self.scratch.len()) };
                        if n > 0 {
                            if let Err(e) = w.rx.feed(&self.scratch[..n as usize], &mut frames) {
                                bad = Some(match e {
                                    proto::ReadError::BadMagic => "sent a malformed message",
                                    proto::ReadError::TooLong(_) => "announced a message longer than the protocol allows",
                                    proto::ReadError::NoMemory => "sent a message too large to receive",
                                });
                                break;
                            }
                        }
                        if n > 0 && (n as usize) < self.scratch.len() {
                            break; // a short read: nothing more for now
                        }
                        n
                    };
                    if n == 0 {
                        w.eof_at = Some(Instant::now());
                        break;
                    }
                    if n < 0 {
                        let e = std::io::Error::last_os_error().raw_os_error();
                        if e == Some(libc::EINTR) {
                            continue;
                        }
                        if e != Some(libc::EAGAIN) {
                            w.eof_at = Some(Instant::now());
                        }
                        break;
                    }
                }
            }
        }
        for (h, payload) in frames.drain(..) {
            self.on_frame(i, h, payload);
        }
        self.frames = frames;
        if let Some(why) = bad {
            self.workers[i].kill_hard(Kill::Protocol(why));
        }
    }

    fn on_frame(&mut self, i: usize, h: Header, payload: Vec<u8>) {
        match h.kind {
            proto::READY => {
                self.workers[i].ready = true;
            }
            proto::INIT_FAILED => {
                let code = h.arg as u32 as i32;
                let pid = self.workers[i].pid;
                let msg = String::from_utf8_lossy(&payload);
                let m = format!(
                    "the pool initializer failed in worker {pid} with code {code}{}{msg}; the process pool is not usable anymore",
                    if msg.is_empty() { "" } else { ": " }
                );
                self.workers[i].retiring = true;
                self.break_pool(code, m);
            }
            proto::DONE => {
                let w = &mut self.workers[i];
                if h.arg & proto::DONE_RETIRING != 0 {
                    w.retiring = true;
                    self.pids_dirty = true;
                }
                let Some(r) = w.task.take_if(|r| r.id == h.id) else { return };
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
            _ => self.workers[i].kill_hard(Kill::Protocol("sent a malformed message")),
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        // Only on a panic of the manager: kill and reap everything, fail what is left.
        if !std::thread::panicking() {
            return;
        }
        for w in &mut self.workers {
            w.kill_hard(Kill::Broken);
            if let Some(fd) = &w.pidfd {
                sys::reap(fd, true);
            }
            if let Some(r) = w.task.take() {
                let _ = r.fut.fail(TaskError::new(Status::Broken, -1, Some("the process pool's manager failed")));
            }
        }
        let pending = {
            let mut st = self.sh.st.lock();
            if st.broken.is_none() {
                st.broken = Some((-1, "the process pool's manager failed".into()));
            }
            std::mem::take(&mut st.pending)
        };
        for t in pending {
            let _ = t.fut.fail(TaskError::new(Status::Broken, -1, Some("the process pool's manager failed")));
        }
    }
}


#[cfg(test)]
mod tests {
    //! The pool end to end, with task functions of this test binary (workers re-execute it
    //! and the library's constructor takes them over before the test harness starts).
    use super::*;
    use crate::ffi::cfut_result;
    use crate::ffi::result::cfut_result_set_bytes;
    use crate::time::Deadline;
    use std::ffi::c_void;

    extern "C" fn double_it(input: *const c_void, len: usize, out: *mut cfut_result) -> i32 {
        // SAFETY: the pool passes `len` readable bytes.
        let b = unsafe { std::slice::from_raw_parts(input as *const u8, len) };
        let v = u64::from_le_bytes(b.try_into().unwrap_or([0; 8])) * 2;
        cfut_result_set_bytes(out, v.to_le_bytes().as_ptr() as *const c_void, 8) as i32
    }

    extern "C" fn die(_: *const c_void, _: usize, _: *mut cfut_result) -> i32 {
        // SAFETY: ends this worker process, which is the point.
        unsafe { libc::_exit(7) }
    }

    extern "C" fn hang(_: *const c_void, _: usize, _: *mut cfut_result) -> i32 {
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    fn value(f: &Future) -> u64 {
        match f.result(Deadline::after(Duration::from_secs(30))) {
            Ok(Value::Bytes(b)) => u64::from_le_bytes((&b[..]).try_into().unwrap()),
            _ => panic!("no bytes"),
        }
    }

    #[test]
    fn tasks_deaths_and_timeouts() {
        for method in [StartMethod::Spawn, StartMethod::ForkServer] {
            let pool = ProcessPool::new(ProcessPoolOptions {
                max_workers: 2,
                task_timeout: Some(Duration::from_millis(300)),
                start_method: method,
                ..Default::default()
            })
            .unwrap();
            let fs: Vec<Future> = (0..20u64).map(|i| pool.submit_task(double_it as *const () as usize, &i.to_le_bytes()).unwrap()).collect();
            for (i, f) in fs.iter().enumerate() {
                assert_eq!(value(f), 2 * i as u64);
            }
            let d = pool.submit_task(die as *const () as usize, &[]).unwrap();
            let e = d.error(Deadline::Never).unwrap().unwrap();
            assert_eq!((e.status, e.code), (Status::WorkerDied, 7));
            let h = pool.submit_task(hang as *const () as usize, &[]).unwrap();
            assert_eq!(h.error(Deadline::Never).unwrap().unwrap().status, Status::Timeout);
            assert_eq!(value(&pool.submit_task(double_it as *const () as usize, &21u64.to_le_bytes()).unwrap()), 42);
            assert_eq!(pool.submit(Job::boxed(|_| 0)).err(), Some(Status::Unsupported));
            assert_eq!(pool.shutdown(true, false), Status::Ok);
            assert_eq!(pool.submit_task(double_it as *const () as usize, &[]).err(), Some(Status::Shutdown));
            assert!(pool.pids().is_empty());
        }
    }
}
