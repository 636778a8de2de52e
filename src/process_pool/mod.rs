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
//!
//! Files: `launch.rs` starts workers (`sys.rs` SPAWN, `zygote.rs` FORK and FORKSERVER),
//! `manager.rs` runs the loop, `crew.rs` holds each worker's state and the decisions,
//! `channel.rs` moves frames, `proto.rs` is the wire format, `worker.rs` the worker side,
//! `locate.rs` turns function pointers into references a worker can resolve.

mod channel;
mod crew;
mod flow;
mod launch;
pub mod locate;
mod manager;
pub mod proto;
pub mod sys;
pub mod worker;
mod zygote;

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::sync::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::flow::{Admit, Refused, Room, WhenFull};
use crate::future::{Future, Job, TaskError, Value};
use crate::stats::{Own, Rare};
use crate::time::Deadline;
use crate::map::{ChunkReport, ItemError};
use crate::status::Status;
use crate::task::{BytesFn, MapFn};
use crew::{Finish, Task};
use launch::Launch;
use proto::MapChunk;

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
    /// A `task::BytesFn`'s address and its input, run in each worker.
    pub initializer: Option<(usize, Vec<u8>)>,
    /// The program workers run (SPAWN); `None` = the host executable itself.
    pub worker_exe: Option<PathBuf>,
    /// A cancellation request kills the task's worker (the future ends CANCELLED and the
    /// worker is replaced) instead of telling the task.
    pub cancel_kills: bool,
    /// Tasks accepted but not sent to a worker, at most; 0 = unbounded.
    pub max_queued: usize,
    /// `Block` or `Reject` (`CallerRuns` is refused: a process pool's tasks cannot run on
    /// the caller's thread).
    pub when_full: WhenFull,
}

/// What submitters and the manager share, under the pool's lock.
#[derive(Default)]
struct St {
    pending: VecDeque<Task>,
    shutdown: bool,
    broken: Option<(i32, String)>,
    /// A terminate/kill request not yet carried out by the manager.
    terminate: Option<i32>,
    terminated: bool,
    pids: Vec<i32>,
    /// Running tasks whose cancellation was requested, for the manager's next turn.
    cancels: Vec<u64>,
    /// Tasks accepted since creation, and the most ever pending at once.
    submitted: u64,
    peak: u64,
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
    cancel_kills: bool,
    config_frame: Vec<u8>,
    launch: Mutex<Launch>,
    /// Functions of the main executable are valid in the workers.
    main_ok: bool,
    /// Free places in a bounded queue; `None`: unbounded.
    room: Option<Room>,
    when_full: WhenFull,
    /// Counters the manager alone writes.
    counts: ManagerCounts,
    /// Counters of the slow paths (rejections, cancellations by shutdown).
    rare: Rare,
}

/// What the manager thread counts and publishes (it alone writes these).
#[derive(Default)]
pub(crate) struct ManagerCounts {
    pub completed: Own,
    pub failed: Own,
    pub cancelled: Own,
    pub workers: Own,
    pub idle: Own,
    pub running: Own,
    pub restarts: Own,
}

impl Shared {
    /// Tells the manager there is something new (wakes it if it sleeps).
    fn poke(&self) {
        self.submits.fetch_add(1, Ordering::SeqCst);
        if self.sleeping.swap(false, Ordering::SeqCst) {
            sys::eventfd_signal(self.wake.as_raw_fd());
        }
    }
}

/// True on a process pool's manager thread (where its futures complete and their
/// done-callbacks run). The mark is a thread-local in `crate::current` (not
/// `std::thread::current()`, which would create a `Thread` handle in every caller).
pub fn on_manager_thread() -> bool {
    crate::current::manager() != 0
}

/// The manager thread's start-up report. Not an mpsc channel: a blocking `recv` creates
/// the waiting thread's std `Thread` handle, which valgrind reports as possibly lost at exit
/// in every host that made a pool.
#[derive(Default)]
struct StartUp {
    outcome: Mutex<Option<std::result::Result<(), Error>>>,
    cond: Condvar,
}

impl StartUp {
    fn wait(&self) -> std::result::Result<(), Error> {
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
    fn report(&mut self, r: std::result::Result<(), Error>) {
        if let Some(s) = self.0.take() {
            *s.outcome.lock() = Some(r);
            s.cond.notify_all();
        }
    }

    fn send(&mut self, r: std::result::Result<(), String>) {
        self.report(r.map_err(|m| Error::new(Status::Broken, m)));
    }
}

impl Drop for StartUpSender {
    fn drop(&mut self) {
        self.report(Err(Error::new(Status::Panic, "the manager thread ended during start-up")));
    }
}

/// Python's `ProcessPoolExecutor`, with crash isolation.
pub struct ProcessPool {
    sh: Arc<Shared>,
    manager: Mutex<Option<JoinHandle<()>>>,
    /// The fork generation the pool was created in (`crate::fork`).
    fork_gen: u64,
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The `CONFIG` frame every worker gets first: `u64 max_tasks | u64 has_initializer |
/// [fnref | input]`.
fn config_frame(opts: &ProcessPoolOptions, main_ok: bool) -> Result<Vec<u8>> {
    let mut config = Vec::new();
    config.extend_from_slice(&opts.max_tasks_per_child.to_le_bytes());
    match &opts.initializer {
        None => config.extend_from_slice(&0u64.to_le_bytes()),
        Some((addr, input)) => {
            let l = locate::locate(*addr).map_err(|m| Error::new(Status::Unsupported, format!("initializer: {m}")))?;
            if l.0.in_main && !main_ok {
                return Err(Error::new(Status::Unsupported, format!("initializer: {NOT_IN_MAIN}")));
            }
            config.extend_from_slice(&1u64.to_le_bytes());
            config.extend_from_slice(&l.1);
            config.extend_from_slice(input);
        }
    }
    build_frame(proto::CONFIG, 0, &[&config], "the initializer's input")
}

/// Starts the manager thread; it first starts the FORK zygote or the FORKSERVER server
/// (so that their parent-death signal is tied to this long-lived thread, not to the
/// caller), then reports, then runs the loop.
fn start_manager(sh: &Arc<Shared>, method: StartMethod) -> Result<JoinHandle<()>> {
    let ready = Arc::new(StartUp::default());
    let mut ready_tx = StartUpSender(Some(ready.clone()));
    let msh = sh.clone();
    let handle = std::thread::Builder::new()
        .name("cfut-procpool".into())
        .spawn(move || {
            crate::current::set_manager(Arc::as_ptr(&msh) as usize);
            let started = match method {
                StartMethod::Spawn => None,
                StartMethod::Fork => Some(zygote::Zygote::start()),
                StartMethod::ForkServer => match &*msh.launch.lock() {
                    Launch::Spawn { exe, argv, envp } => Some(zygote::Zygote::spawn(exe, argv, envp)),
                    Launch::Fork(_) => None,
                },
            };
            match started {
                Some(Ok(z)) => *msh.launch.lock() = Launch::Fork(z),
                Some(Err(e)) => return ready_tx.send(Err(e)),
                None => {}
            }
            ready_tx.send(Ok(()));
            manager::Manager::new(msh).run();
        })
        .map_err(|e| Error::new(Status::NoMemory, format!("cannot start the manager thread: {e}")))?;
    if let Err(e) = ready.wait() {
        let _ = handle.join();
        return Err(e);
    }
    Ok(handle)
}

impl ProcessPool {
    /// Creates the pool and its manager thread (workers start on demand).
    pub fn new(opts: ProcessPoolOptions) -> Result<ProcessPool> {
        if opts.when_full == WhenFull::CallerRuns {
            return Err(Error::new(
                Status::InvalidArgument,
                "when_full CALLER_RUNS is for thread pools: a process pool's task cannot run on the submitting thread",
            ));
        }
        let fork_gen = crate::fork::generation();
        let max_workers = if opts.max_workers == 0 { default_workers() } else { opts.max_workers };
        let (launch, main_ok) = match opts.start_method {
            StartMethod::Spawn | StartMethod::ForkServer => launch::spawn_launch(opts.worker_exe.as_ref())?,
            StartMethod::Fork => (Launch::Fork(zygote::Zygote::placeholder()), true),
        };
        let config_frame = config_frame(&opts, main_ok)?;
        let wake = sys::eventfd().map_err(|e| Error::new(Status::NoMemory, format!("eventfd: {e}")))?;
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
            cancel_kills: opts.cancel_kills,
            config_frame,
            launch: Mutex::new(launch),
            main_ok,
            room: (opts.max_queued > 0).then(|| Room::new(opts.max_queued)),
            when_full: opts.when_full,
            counts: ManagerCounts::default(),
            rare: Rare::default(),
        });
        let handle = start_manager(&sh, opts.start_method)?;
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

    /// The most workers the pool runs at once.
    pub fn max_workers(&self) -> usize {
        self.sh.max_workers
    }

    fn locate(&self, func: usize) -> Result<Arc<(locate::Located, Vec<u8>)>> {
        let l = locate::locate(func).map_err(|m| Error::new(Status::Unsupported, m))?;
        if l.0.in_main && !self.sh.main_ok {
            return Err(Error::new(Status::Unsupported, NOT_IN_MAIN));
        }
        Ok(l)
    }

    /// True in a child the host forked after creating this pool.
    fn foreign(&self) -> bool {
        crate::fork::forked_since(self.fork_gen)
    }

    fn enqueue(&self, id: u64, frame: Vec<u8>, finish: Option<Finish>, admit: Admit) -> std::result::Result<Future, Refused> {
        if self.foreign() {
            return Err(Error::new(Status::Unsupported, IN_CHILD).into());
        }
        self.take_room(admit)?;
        let r = self.push(id, frame, finish);
        if r.is_err() {
            if let Some(room) = &self.sh.room {
                room.give();
            }
        }
        Ok(r?)
    }

    fn push(&self, id: u64, frame: Vec<u8>, finish: Option<Finish>) -> Result<Future> {
        let fut = Future::for_executor();
        // A request while the task runs reaches the manager, which tells the worker.
        let weak = Arc::downgrade(&self.sh);
        fut.on_cancel_request(Box::new(move || {
            if let Some(sh) = weak.upgrade() {
                sh.st.lock().cancels.push(id);
                sh.poke();
            }
        }));
        {
            let mut st = self.sh.st.lock();
            if let Some((_, m)) = &st.broken {
                return Err(Error::new(Status::Broken, m.clone()));
            }
            if st.shutdown {
                return Err(Status::Shutdown.into());
            }
            st.pending.push_back(Task { id, fut: fut.clone(), frame, finish });
            st.submitted += 1;
            st.peak = st.peak.max(st.pending.len() as u64);
        }
        self.sh.poke();
        Ok(fut)
    }

    /// Submits `func(input)`, input copied.
    pub fn submit_task(&self, func: BytesFn, input: &[u8]) -> Result<Future> {
        self.submit_task_with(func, input, Admit::Policy).map_err(|r| r.error)
    }

    /// `submit_task` with a full queue handled as `admit` says (see `ThreadPool::submit_with`).
    pub fn submit_task_with(&self, func: BytesFn, input: &[u8], admit: Admit) -> std::result::Result<Future, Refused> {
        let l = self.locate(func as usize)?;
        let id = self.sh.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = build_frame(proto::RUN_BYTES, id, &[&l.1, input], "the task's input")?;
        self.enqueue(id, frame, None, admit)
    }

    /// A pointer task: refused, a pointer means nothing in a
    /// worker. The job is dropped (its argument's drop function runs).
    pub fn submit_job(&self, job: Job) -> Result<Future> {
        drop(job);
        Err(Error::new(
            Status::Unsupported,
            "cfut_executor_submit: a pointer argument means nothing in another process; \
             use cfut_executor_submit_bytes on a process pool",
        ))
    }
    /// Submits a map chunk: `func(ctx, item, slot)` over `count` items.
    /// On success the results are copied to `dst` (as `count * result_size` bytes) on the
    /// manager thread before the future completes; item failures are reported with indices
    /// counted from `first_index`. With a bounded queue it waits for room until `deadline`.
    ///
    /// # Safety
    /// `items` must be valid for `count * item_size` bytes of reads during the call, and
    /// `dst` for `count * result_size` bytes of writes until the returned future is done
    /// (or was cancelled before it started).
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
        deadline: Deadline,
    ) -> Result<Future> {
        let l = self.locate(func as usize)?;
        let id = self.sh.next_id.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        let frame = unsafe { map_chunk_frame(&l.1, id, ctx, items, count, item_size, result_size) }?;
        self.enqueue(id, frame, Some(chunk_finish(count, result_size, dst, first_index)), Admit::Wait(deadline)).map_err(|r| r.error)
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
        self.cancel_drained(cancelled);
        sys::eventfd_signal(self.sh.wake.as_raw_fd());
    }

    /// Cancels tasks taken out of the queue by shutdown or terminate, and counts them.
    fn cancel_drained(&self, tasks: VecDeque<Task>) {
        for t in tasks {
            if let Some(room) = &self.sh.room {
                room.give();
            }
            if !t.fut.was_started() && (t.fut.cancel() || t.fut.cancelled()) {
                self.sh.rare.cancelled.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// `shutdown(wait, cancel_futures)`: no more submits; with `cancel_futures` pending
    /// tasks are cancelled; with `wait`, returns once every worker is reaped.
    /// `WouldDeadlock` on the pool's own manager thread (a done-callback) with `wait`.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<()> {
        if self.foreign() {
            // The manager thread and the workers belong to the parent: nothing to do here
            // (joining a thread that does not exist in this process would never return).
            return Ok(());
        }
        let cancelled = {
            let mut st = self.sh.st.lock();
            st.shutdown = true;
            if cancel_futures { std::mem::take(&mut st.pending) } else { VecDeque::new() }
        };
        self.cancel_drained(cancelled);
        sys::eventfd_signal(self.sh.wake.as_raw_fd());
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

/// The RUN_MAP frame of a chunk (process and MPI pools): refused with `InvalidArgument`
/// when its items, or its results with one error record per item, would not fit a frame.
///
/// # Safety
/// `items` must be valid for `count * item_size` bytes of reads during the call.
pub(crate) unsafe fn map_chunk_frame(
    fnref: &[u8],
    id: u64,
    ctx: &[u8],
    items: *const u8,
    count: usize,
    item_size: usize,
    result_size: usize,
) -> Result<Vec<u8>> {
    let items_len = count as u128 * item_size as u128;
    let out = proto::payload_len(&[8, 16 * count as u128, count as u128 * result_size as u128]);
    if let Err(proto::FrameError::TooLong(n)) = out {
        return Err(Error::new(Status::InvalidArgument, too_long("the map chunk's results", n)));
    }
    let head_len = (fnref.len() + MapChunk::SIZE + proto::pad16(ctx.len())) as u128;
    if let Err(proto::FrameError::TooLong(n)) = proto::payload_len(&[head_len, items_len]) {
        return Err(Error::new(Status::InvalidArgument, too_long("the map chunk's context and items", n)));
    }
    // SAFETY: the caller passes `count * item_size` readable bytes (checked to fit above).
    let items = unsafe { std::slice::from_raw_parts(items, items_len as usize) };
    let head = MapChunk { ctx_len: ctx.len() as u64, item_size: item_size as u64, result_size: result_size as u64, count: count as u64 }.encode();
    let pad = [0u8; 16];
    let padn = proto::pad16(ctx.len()) - ctx.len();
    build_frame(proto::RUN_MAP, id, &[fnref, &head, ctx, &pad[..padn], items], "the map chunk")
}

/// What the manager does with a map chunk's result: checks it (the worker may be corrupt),
/// copies the results to `dst` and reports the failed items with indices counted from
/// `first_index`. Only a result that names items of this chunk and carries exactly
/// `count * result_size` bytes is used; anything else fails the chunk without writing.
/// `dst` must be valid for `count * result_size` bytes of writes (see `submit_map_chunk`).
pub(crate) fn chunk_finish(count: usize, result_size: usize, dst: usize, first_index: usize) -> Finish {
    Box::new(move |payload: Vec<u8>| {
        let malformed = || TaskError::new(Status::TaskFailed, Status::InvalidArgument as i32, Some("malformed chunk result"));
        let Some((errors, results)) = proto::decode_chunk_result(&payload) else {
            return Err(malformed());
        };
        if results.len() as u128 != count as u128 * result_size as u128 || errors.iter().any(|&(i, _)| i >= count as u64) {
            return Err(malformed());
        }
        if !results.is_empty() {
            // SAFETY: `dst` has room for `count * result_size` bytes (the caller of
            // `submit_map_chunk` guarantees it), exactly the length checked above.
            unsafe { std::ptr::copy_nonoverlapping(results.as_ptr(), dst as *mut u8, results.len()) };
        }
        let errors = errors.into_iter().map(|(i, code)| ItemError { index: first_index + i as usize, code, message: None });
        Ok(Value::Any(Box::new(ChunkReport { errors: errors.collect(), stopped: false })))
    })
}

fn too_long(what: &str, n: u128) -> String {
    format!("{what} would take {n} bytes, more than a process-pool message can carry ({} bytes)", proto::MAX_PAYLOAD)
}

/// A task's frame, or why it cannot be built.
fn build_frame(kind: u32, id: u64, parts: &[&[u8]], what: &str) -> Result<Vec<u8>> {
    proto::try_frame(kind, id, 0, parts).map_err(|e| match e {
        proto::FrameError::TooLong(n) => {
            Error::new(Status::InvalidArgument, too_long(what, n))
        }
        proto::FrameError::NoMemory => {
            Error::new(Status::NoMemory, format!("cannot allocate a message for {what}"))
        }
    })
}

const IN_CHILD: &str = "this process pool belongs to the parent process: the host forked after creating it, \
    and the pool's manager thread and workers do not exist in the child";

const NOT_IN_MAIN: &str = "the task function is in the main executable, but the workers run a different program (worker_exe): \
     put it in a shared library, or leave worker_exe NULL so that workers re-execute the host";

/// A thin forwarder while executors are a trait (the C layer calls the inherent methods
/// where it needs an error's message).
impl Drop for ProcessPool {
    fn drop(&mut self) {
        let _ = ProcessPool::shutdown(self, true, false);
    }
}

// Not under Miri: they start worker processes (dl_iterate_phdr, clone, exec).
#[cfg(all(test, not(miri)))]
mod tests;

// The parent's reading of a worker's stream, reachable from fuzz targets (`fuzz/`) and from
// the corpus replay in the unit tests; never in a normal build.
#[cfg(any(fuzzing, test))]
#[doc(hidden)]
pub mod fuzzing;
