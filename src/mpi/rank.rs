//! A worker rank's side of an MPI pool: inside `cfut_mpi_pool_new`, the calling thread
//! receives tasks from the root, runs them in a local pool (a process pool for isolation
//! PROCESS, a thread pool for NONE), and sends each result back as a `DONE` frame, until the
//! root says `QUIT`.
//!
//! The loop polls MPI (`MPI_Iprobe`, never a blocking receive, which would burn a core
//! while idle) with a capped back-off, and sleeps on a condition variable that local
//! completions signal, so a result goes out as soon as it exists.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::link::{Link, Recv};
use super::{Backoff, Isolation, MpiOptions, DONE_STATUS_SHIFT};
use crate::error::{Error, Result};
use crate::future::{Future, Job, State, Value};
use crate::map::ChunkReport;
use crate::process_pool::proto::{self, FnRef, Header, MapChunk};
use crate::process_pool::{locate, ProcessPool, ProcessPoolOptions};
use crate::status::Status;
use crate::sync::{Condvar, Mutex};
use crate::time::Deadline;
use crate::task::{run_map_chunk, BytesFn, ChunkMemory, MapFn};
use crate::thread_pool::{ThreadPool, ThreadPoolOptions};

enum Local {
    Procs(ProcessPool),
    Threads(ThreadPool),
}

/// Local futures that completed, by the root's task id.
#[derive(Default)]
struct Done {
    ids: Mutex<Vec<u64>>,
    cond: Condvar,
}

struct Running {
    fut: Future,
    /// Arrival order: the root counts this rank's oldest `slots` tasks as running.
    seq: u64,
    /// A process-pool map chunk's result slots (16-aligned), copied in before it completes.
    results: Option<(Vec<u128>, usize)>,
}

struct Rank {
    link: Link,
    root: usize,
    local: Option<Local>,
    running: HashMap<u64, Running>,
    done: Arc<Done>,
    /// Resolved task references (the reference's bytes → address).
    cache: HashMap<Vec<u8>, usize>,
    quit: bool,
    slots: usize,
    received: u64,
}

/// The rank's CPUs.
fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Serves the root until it says `QUIT`. The transport is closed (and MPI finalised if this
/// call initialised it) before returning.
pub(super) fn serve(link: Link, root: usize, opts: &MpiOptions) -> Result<()> {
    let slots = if opts.workers_per_rank == 0 { cpus() } else { opts.workers_per_rank };
    let local = match opts.isolation {
        Isolation::Process => {
            let o = ProcessPoolOptions { max_workers: slots, cancel_kills: opts.cancel_kills, ..Default::default() };
            ProcessPool::new(o).map(Local::Procs)
        }
        Isolation::None => Ok(Local::Threads(ThreadPool::new(ThreadPoolOptions { max_workers: slots, ..Default::default() }))),
    };
    let mut r = Rank { link, root, local: None, running: HashMap::new(), done: Arc::default(), cache: HashMap::new(), quit: false, slots, received: 0 };
    match local {
        Ok(l) => {
            r.local = Some(l);
            r.link.queue_header(root, proto::READY, 0, slots as u64);
        }
        Err(e) => r.link.queue_parts(root, proto::INIT_FAILED, 0, 0, e.to_string().as_bytes()),
    }
    let outcome = r.run();
    let tr = r.link.tr;
    drop(r); // the local pool ends here (its workers are reaped)
    tr.close();
    outcome
}

impl Rank {
    fn run(&mut self) -> Result<()> {
        let mut backoff = Backoff::default();
        loop {
            let mut busy = false;
            loop {
                match self.link.receive(Some(self.root)) {
                    Recv::Nothing => break,
                    Recv::Failed => return self.failure(),
                    Recv::Got(_, msg) => {
                        busy = true;
                        for (h, payload) in msg.frames() {
                            self.on_frame(h, payload);
                        }
                    }
                }
            }
            busy |= self.send_done();
            if !self.link.flush().is_empty() {
                return self.failure();
            }
            let (sent, failed) = self.link.progress();
            if !failed.is_empty() {
                return self.failure();
            }
            busy |= sent;
            if self.quit && self.running.is_empty() && !self.link.in_flight() {
                return Ok(());
            }
            if busy {
                backoff.reset();
                continue;
            }
            let mut ids = self.done.ids.lock();
            if ids.is_empty() {
                match backoff.next() {
                    Some(d) => {
                        self.done.cond.wait_until(&mut ids, Instant::now() + d);
                    }
                    None => {
                        drop(ids);
                        std::thread::yield_now();
                    }
                }
            }
        }
    }

    /// The root (or the link to it) failed: with ULFM, return; without, end the job.
    fn failure(&mut self) -> Result<()> {
        if self.link.tr.failed().is_none() {
            eprintln!("cfutures: MPI pool: MPI reported a communication failure on rank {} and this MPI has no ULFM: ending the job", self.link.tr.rank);
            self.link.tr.abort(1);
        }
        if let Some(Local::Procs(p)) = &self.local {
            p.terminate_workers(libc::SIGKILL);
        }
        Err(Error::new(Status::Broken, format!("MPI pool: the root rank {} failed", self.root)))
    }

    fn on_frame(&mut self, h: Header, payload: &[u8]) {
        match h.kind {
            proto::RUN_BYTES | proto::RUN_MAP => {
                let started = match h.kind {
                    proto::RUN_BYTES => self.start_bytes(payload),
                    _ => self.start_map(payload),
                };
                match started {
                    Ok(mut run) => {
                        run.seq = self.received;
                        self.received += 1;
                        let d = self.done.clone();
                        let id = h.id;
                        self.running.insert(id, run);
                        let fut = self.running[&id].fut.clone();
                        fut.add_done_callback(Box::new(move |_| {
                            d.ids.lock().push(id);
                            d.cond.notify_all();
                        }));
                    }
                    Err(e) => {
                        let arg = proto::DONE_ERROR | ((e.status() as u64) << DONE_STATUS_SHIFT);
                        self.link.queue_parts(self.root, proto::DONE, h.id, arg, e.to_string().as_bytes());
                    }
                }
            }
            // Id 0: shutdown(cancel_futures) on the root: the tasks sent ahead (all but the
            // oldest `slots`, which the root counts as running) that have not started.
            proto::CANCEL if h.id == 0 => {
                let mut seqs: Vec<u64> = self.running.values().map(|r| r.seq).collect();
                seqs.sort_unstable();
                let Some(&first_ahead) = seqs.get(self.slots) else { return };
                for r in self.running.values().filter(|r| r.seq >= first_ahead) {
                    r.fut.cancel();
                }
            }
            proto::CANCEL => {
                if let Some(r) = self.running.get(&h.id) {
                    r.fut.request_cancel();
                }
            }
            proto::QUIT => self.quit = true,
            _ => {}
        }
    }

    fn resolve(&mut self, body: &[u8]) -> std::result::Result<(usize, usize), String> {
        let (r, used) = FnRef::decode(body).ok_or("malformed task reference")?;
        if let Some(a) = self.cache.get(&body[..used]) {
            return Ok((*a, used));
        }
        let a = locate::resolve(&r)?;
        self.cache.insert(body[..used].to_vec(), a);
        Ok((a, used))
    }

    fn local(&self) -> Result<&Local> {
        self.local.as_ref().ok_or_else(|| Error::new(Status::Broken, "this rank could not start its pool"))
    }

    fn start_bytes(&mut self, body: &[u8]) -> Result<Running> {
        let (addr, used) = self.resolve(body).map_err(|m| Error::new(Status::Unsupported, m))?;
        // SAFETY: the root located a bytes task (`task::BytesFn`) at this reference.
        let f: BytesFn = unsafe { std::mem::transmute::<usize, BytesFn>(addr) };
        let fut = match self.local()? {
            Local::Procs(p) => p.submit_task(f, &body[used..])?,
            Local::Threads(p) => p.submit_bytes(f, &body[used..])?,
        };
        Ok(Running { fut, seq: 0, results: None })
    }

    fn start_map(&mut self, body: &[u8]) -> Result<Running> {
        let (addr, used) = self.resolve(body).map_err(|m| Error::new(Status::Unsupported, m))?;
        let bad = || Error::new(Status::InvalidArgument, "malformed map chunk");
        let c = MapChunk::layout(body, used).ok_or_else(bad)?;
        let (count, isz, rsz, items_at, out_len, ctx_at) = (c.count, c.item_size, c.result_size, c.items_at, c.out_len, c.ctx.start);
        // SAFETY: the root located a map function (`task::MapFn`) at this reference.
        let f: MapFn = unsafe { std::mem::transmute::<usize, MapFn>(addr) };
        let ctx = &body[c.ctx.clone()];
        match self.local()? {
            Local::Procs(p) => {
                let mut results: Vec<u128> = vec![0; out_len.div_ceil(16)];
                let dst = results.as_mut_ptr() as usize;
                // SAFETY: the items are in `body` (checked above) for the call; `results`
                // has `count * rsz` bytes and lives in `Running` until the chunk is done.
                let fut = unsafe { p.submit_map_chunk(f, ctx, body[items_at..].as_ptr(), count, isz, rsz, dst, 0, Deadline::Never) }?;
                Ok(Running { fut, seq: 0, results: Some((results, out_len)) })
            }
            Local::Threads(p) => {
                // The chunk runs after this message is gone: it gets its own aligned copy.
                let mut copy: Vec<u128> = vec![0; body.len().div_ceil(16)];
                // SAFETY: `copy` has room for `body.len()` bytes.
                unsafe { std::ptr::copy_nonoverlapping(body.as_ptr(), copy.as_mut_ptr() as *mut u8, body.len()) };
                let (ctx_len, n) = (c.ctx.len(), count);
                let fut = p.submit(Job::boxed(move |sink| {
                    let base = copy.as_ptr() as *const u8;
                    let mut results: Vec<u128> = vec![0; out_len.div_ceil(16)];
                    let rp = results.as_mut_ptr() as *mut u8;
                    let mem = ChunkMemory {
                        ctx: if ctx_len == 0 { std::ptr::null() } else { base.wrapping_add(ctx_at) as *const _ },
                        items: base.wrapping_add(items_at),
                        item_size: isz,
                        results: if rsz == 0 { std::ptr::null_mut() } else { rp },
                        result_size: rsz,
                    };
                    // SAFETY: `copy` holds the context and `n` items (checked before the
                    // copy); `results` has `n * rsz` bytes; both are this job's own.
                    let report = unsafe { run_map_chunk(f, mem, 0..n, 0, || sink.cancel_requested()) };
                    if report.stopped {
                        sink.set_cancelled();
                    }
                    let errors: Vec<(u64, i32)> = report.errors.iter().map(|e| (e.index as u64, e.code)).collect();
                    // SAFETY: `results` holds `out_len` initialised bytes.
                    let res = unsafe { std::slice::from_raw_parts(rp as *const u8, out_len) };
                    sink.set_bytes(&proto::encode_chunk_result(&errors, res));
                    0
                }))?;
                Ok(Running { fut, seq: 0, results: None })
            }
        }
    }

    /// Queues a `DONE` frame for every local task that completed.
    fn send_done(&mut self) -> bool {
        let ids = std::mem::take(&mut *self.done.ids.lock());
        for id in &ids {
            if let Some(r) = self.running.remove(id) {
                self.queue_done(*id, r);
            }
        }
        !ids.is_empty()
    }

    fn queue_done(&mut self, id: u64, r: Running) {
        let root = self.root;
        if r.fut.state() == State::Cancelled {
            return self.link.queue_header(root, proto::DONE, id, proto::DONE_CANCELLED);
        }
        match r.fut.outcome() {
            Some(Ok(Value::Bytes(b))) => self.link.queue_parts(root, proto::DONE, id, 0, b),
            Some(Ok(Value::Any(a))) => {
                let report = a.downcast_ref::<ChunkReport>();
                let errors: Vec<(u64, i32)> = report.map_or(Vec::new(), |rep| rep.errors.iter().map(|e| (e.index as u64, e.code)).collect());
                let res = r.results.as_ref().map_or(&[][..], |(v, n)| {
                    // SAFETY: the vector holds at least `n` bytes, written by the chunk.
                    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, *n) }
                });
                self.link.queue_parts(root, proto::DONE, id, 0, &proto::encode_chunk_result(&errors, res));
            }
            Some(Ok(Value::Foreign(_))) => {
                let arg = proto::DONE_ERROR | ((Status::Unsupported as i32 as u32 as u64) << 32);
                self.link.queue_parts(root, proto::DONE, id, arg, b"the task set a pointer result, which cannot leave its rank: use cfut_result_set_bytes");
            }
            Some(Ok(Value::Empty)) => self.link.queue_header(root, proto::DONE, id, proto::DONE_EMPTY),
            Some(Err(e)) => {
                let mut arg = proto::DONE_ERROR | ((e.code as u32 as u64) << 32);
                if e.status != Status::TaskFailed {
                    arg |= (e.status as u64) << DONE_STATUS_SHIFT;
                }
                let msg = e.message.as_ref().map_or(String::new(), |m| m.to_string_lossy().into_owned());
                self.link.queue_parts(root, proto::DONE, id, arg, msg.as_bytes());
            }
            None => self.link.queue_header(root, proto::DONE, id, proto::DONE_CANCELLED),
        }
    }
}
