//! Chunked map over an array: chunks are submitted as tasks (all at once, or a window of
//! `max_in_flight`), results are yielded in input order, an item's failure does not stop
//! the map, and the whole-map deadline cancels everything not started.

use std::ffi::CString;
use std::ops::Range;

use crate::error::{Error, Result};
use crate::future::Future;
use crate::status::Status;
use crate::time::Deadline;

/// The failure of one item inside a chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemError {
    pub index: usize,
    pub code: i32,
    pub message: Option<CString>,
}

/// What a chunk's future carries as its value (`Value::Any`): the failed items, by index.
#[derive(Default, Debug)]
pub struct ChunkReport {
    pub errors: Vec<ItemError>,
    /// The chunk stopped early on a cancellation request (not every item ran).
    pub stopped: bool,
}

/// Submits the chunk covering a range of items and returns its future.
pub type ChunkSubmitter = Box<dyn Fn(Range<usize>) -> Result<Future> + Send + Sync>;

#[derive(Clone, Copy, Debug)]
pub struct MapOptions {
    /// 0 = automatic.
    pub chunksize: usize,
    pub deadline: Deadline,
    /// 0 = submit every chunk at once.
    pub max_in_flight: usize,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions { chunksize: 0, deadline: Deadline::Never, max_in_flight: 0 }
    }
}

/// Chunks of about `count / (8 * workers)` items: enough chunks to balance the load, few
/// enough that per-chunk costs vanish.
pub fn auto_chunksize(count: usize, workers: usize) -> usize {
    let chunks = 8 * workers.max(1);
    count.div_ceil(chunks).max(1)
}

/// How one item ended, as `Map::next` reports it.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Ok(usize),
    /// The item (or its whole chunk) failed; `status` is `TaskFailed`, `WorkerDied`,
    /// `Broken`, `Cancelled` or `Shutdown`.
    Failed { index: usize, status: Status, code: i32, message: Option<&'a CString> },
}

pub struct Map {
    count: usize,
    chunksize: usize,
    chunks: Vec<Option<Future>>,
    /// Chunks submitted so far (a prefix); a chunk that could not be submitted keeps why.
    submitted: usize,
    unsubmittable: Option<Error>,
    max_in_flight: usize,
    deadline: Deadline,
    cursor: usize,
    finished: bool,
    submit: ChunkSubmitter,
    /// How the chunk holding the cursor ended, read once when the cursor enters it.
    current: Option<(usize, ChunkEnd)>,
    message: Option<CString>,
}

/// How a whole chunk ended.
enum ChunkEnd {
    /// It ran; these items failed (sorted by index), `next_error` is the next to report.
    Ran { errors: Vec<ItemError>, next_error: usize },
    /// No item produced a result: the chunk failed, was cancelled or was never submitted.
    Lost { status: Status, code: i32, message: Option<CString> },
}

impl Map {
    /// Starts the map. Fails (cancelling what was submitted) if the first chunks cannot be
    /// submitted.
    pub fn new(count: usize, workers: usize, opts: MapOptions, submit: ChunkSubmitter) -> Result<Map> {
        let chunksize = if opts.chunksize == 0 { auto_chunksize(count, workers) } else { opts.chunksize };
        let nchunks = count.div_ceil(chunksize);
        let mut m = Map {
            count,
            chunksize,
            chunks: (0..nchunks).map(|_| None).collect(),
            submitted: 0,
            unsubmittable: None,
            max_in_flight: opts.max_in_flight,
            deadline: opts.deadline,
            cursor: 0,
            finished: false,
            submit,
            current: None,
            message: None,
        };
        m.refill(0);
        if let Some(e) = m.unsubmittable.take() {
            m.cancel_rest();
            return Err(e);
        }
        Ok(m)
    }

    pub fn chunksize(&self) -> usize {
        self.chunksize
    }

    /// Submits chunks so that those from `current` on, up to `max_in_flight`, are queued.
    fn refill(&mut self, current: usize) {
        let limit = match self.max_in_flight {
            0 => self.chunks.len(),
            n => (current + n).min(self.chunks.len()),
        };
        while self.submitted < limit && self.unsubmittable.is_none() {
            let k = self.submitted;
            let range = k * self.chunksize..((k + 1) * self.chunksize).min(self.count);
            match (self.submit)(range) {
                Ok(f) => {
                    self.chunks[k] = Some(f);
                    self.submitted += 1;
                }
                Err(e) => self.unsubmittable = Some(e),
            }
        }
    }

    /// Cancels every chunk not started yet and asks the running ones to stop (they end
    /// CANCELLED before their next item); no more chunks will be submitted.
    fn cancel_rest(&mut self) {
        for f in self.chunks.iter().flatten() {
            f.request_cancel();
        }
        self.submitted = self.chunks.len();
        self.finished = true;
    }

    fn chunk_end(&self, k: usize) -> usize {
        ((k + 1) * self.chunksize).min(self.count)
    }

    /// Waits for chunk `k` (the cursor's) and records how it ended. `Err(Timeout)` once the
    /// deadline passes: everything not started is cancelled and the map ends.
    fn enter_chunk(&mut self, k: usize) -> std::result::Result<(), Status> {
        if matches!(self.current, Some((c, _)) if c == k) {
            return Ok(());
        }
        self.refill(k);
        let end = match self.chunks[k].clone() {
            None => match &self.unsubmittable {
                Some(e) => ChunkEnd::Lost { status: e.status(), code: 0, message: e.message().map(crate::future::to_cstring) },
                None => ChunkEnd::Lost { status: Status::Shutdown, code: 0, message: None },
            },
            Some(f) => {
                // On a worker of the chunk's pool this runs the chunk inline if it is pending.
                if !crate::deadlock::wait(&f, self.deadline).map_err(|e| e.status())? {
                    self.cancel_rest();
                    return Err(Status::Timeout);
                }
                // Done with this chunk's future: its outcome is copied out below. It no longer
                // occupies the executor, so the next chunk may start while the consumer reads
                // this one's items (max_in_flight chunks run during consumption, as with
                // CPython's buffersize, never one more).
                self.chunks[k] = None;
                self.refill(k + 1);
                // The map reports this chunk's outcome to its caller (item by item).
                f.mark_observed();
                match f.outcome() {
                    Some(Ok(v)) => {
                        let mut errors = v.downcast_ref::<ChunkReport>().map(|r| r.errors.clone()).unwrap_or_default();
                        errors.sort_by_key(|e| e.index);
                        ChunkEnd::Ran { errors, next_error: 0 }
                    }
                    // A process pool's task timeout killed this chunk's worker: report it as
                    // the worker's death (the message says why), so CFUT_TIMEOUT from the map
                    // keeps one meaning, the whole-map deadline.
                    Some(Err(e)) => ChunkEnd::Lost {
                        status: if e.status == Status::Timeout { Status::WorkerDied } else { e.status },
                        code: e.code,
                        message: e.message.clone(),
                    },
                    None => ChunkEnd::Lost { status: Status::Cancelled, code: 0, message: None },
                }
            }
        };
        self.current = Some((k, end));
        Ok(())
    }

    /// The next item in input order. `Err(Timeout)` once the deadline passes (everything
    /// not started is cancelled and the map ends), `Err(Exhausted)` at the end.
    pub fn next_item(&mut self) -> std::result::Result<Item<'_>, Status> {
        if self.finished || self.cursor >= self.count {
            self.finished = true;
            return Err(Status::Exhausted);
        }
        let i = self.cursor;
        self.enter_chunk(i / self.chunksize)?;
        self.cursor += 1;
        let Some((_, end)) = self.current.as_mut() else { unreachable!("entered above") };
        Ok(match end {
            ChunkEnd::Ran { errors, next_error } => {
                while *next_error < errors.len() && errors[*next_error].index < i {
                    *next_error += 1;
                }
                match errors.get(*next_error) {
                    Some(e) if e.index == i => {
                        self.message = e.message.clone();
                        Item::Failed { index: i, status: Status::TaskFailed, code: e.code, message: self.message.as_ref() }
                    }
                    _ => Item::Ok(i),
                }
            }
            ChunkEnd::Lost { status, code, message } => {
                self.message = message.clone();
                Item::Failed { index: i, status: *status, code: *code, message: self.message.as_ref() }
            }
        })
    }

    /// Consumes the items not yet yielded, a chunk at a time. `Ok(None)` if all succeeded,
    /// `Ok(Some((index, status)))` for the first failure, `Err(Timeout)` if the deadline
    /// passed first.
    pub fn wait_all(&mut self) -> std::result::Result<Option<(usize, Status)>, Status> {
        let mut first = None;
        while !self.finished && self.cursor < self.count {
            let k = self.cursor / self.chunksize;
            self.enter_chunk(k)?;
            let end = self.chunk_end(k);
            let failed = match &self.current {
                Some((_, ChunkEnd::Ran { errors, .. })) => {
                    errors.iter().find(|e| e.index >= self.cursor).map(|e| (e.index, Status::TaskFailed))
                }
                Some((_, ChunkEnd::Lost { status, .. })) => Some((self.cursor, *status)),
                None => None,
            };
            if first.is_none() {
                first = failed;
            }
            self.cursor = end;
        }
        self.finished = true;
        Ok(first)
    }
}

impl Drop for Map {
    /// Cancels what has not started, asks running chunks to stop before their next item,
    /// and waits for them (they write into the caller's results).
    fn drop(&mut self) {
        for f in self.chunks.iter().flatten() {
            f.request_cancel();
        }
        for f in self.chunks.iter().flatten() {
            f.wait(Deadline::Never);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::future::Job;
    use crate::thread_pool::{ThreadPool, ThreadPoolOptions};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// Squares items into a shared results vector; items equal to `fail` fail with code 7.
    fn squares(pool: Arc<ThreadPool>, out: Arc<Vec<AtomicUsize>>, fail: usize, delay_at: usize) -> ChunkSubmitter {
        Box::new(move |range: Range<usize>| {
            let out = out.clone();
            pool.submit(Job::boxed(move |sink| {
                let mut report = ChunkReport::default();
                for i in range {
                    if i == delay_at {
                        std::thread::sleep(Duration::from_millis(300));
                    }
                    if i == fail {
                        report.errors.push(ItemError { index: i, code: 7, message: None });
                    } else {
                        out[i].store(i * i, Ordering::SeqCst);
                    }
                }
                sink.set_any(Box::new(report));
                0
            }))
        })
    }

    fn setup(n: usize) -> (Arc<ThreadPool>, Arc<Vec<AtomicUsize>>) {
        let pool = Arc::new(ThreadPool::new(ThreadPoolOptions { max_workers: 3, ..Default::default() }));
        (pool, Arc::new((0..n).map(|_| AtomicUsize::new(usize::MAX)).collect()))
    }

    #[test]
    fn yields_in_order_and_goes_on_after_a_failure() {
        for chunksize in [0, 1, 3, 100] {
            let (pool, out) = setup(10);
            let opts = MapOptions { chunksize, ..Default::default() };
            let mut m = Map::new(10, 3, opts, squares(pool, out.clone(), 2, usize::MAX)).unwrap();
            for i in 0..10 {
                match m.next_item().unwrap() {
                    Item::Ok(j) => {
                        assert_eq!(j, i);
                        assert_eq!(out[i].load(Ordering::SeqCst), i * i);
                    }
                    Item::Failed { index, status, code, .. } => {
                        assert_eq!((index, status, code), (2, Status::TaskFailed, 7));
                    }
                }
            }
            assert_eq!(m.next_item(), Err(Status::Exhausted));
            assert_eq!(m.next_item(), Err(Status::Exhausted));
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "a 100 ms wall-clock deadline against interpreted tasks")]
    fn timeout_cancels_the_rest_and_ends_the_map() {
        let (pool, out) = setup(30);
        let opts = MapOptions { chunksize: 1, deadline: Deadline::after(Duration::from_millis(100)), max_in_flight: 0 };
        let mut m = Map::new(30, 3, opts, squares(pool, out, usize::MAX, 1)).unwrap();
        assert_eq!(m.next_item(), Ok(Item::Ok(0)));
        assert_eq!(m.next_item(), Err(Status::Timeout));
        assert_eq!(m.next_item(), Err(Status::Exhausted));
    }

    #[test]
    fn max_in_flight_bounds_submissions() {
        let (pool, out) = setup(100);
        let submitted = Arc::new(AtomicUsize::new(0));
        let inner = squares(pool, out, usize::MAX, usize::MAX);
        let s2 = submitted.clone();
        let counting: ChunkSubmitter = Box::new(move |r| {
            s2.fetch_add(1, Ordering::SeqCst);
            inner(r)
        });
        let opts = MapOptions { chunksize: 10, max_in_flight: 2, ..Default::default() };
        let mut m = Map::new(100, 3, opts, counting).unwrap();
        assert_eq!(submitted.load(Ordering::SeqCst), 2);
        assert_eq!(m.next_item(), Ok(Item::Ok(0)));
        // Chunk 0 is done (its items are in the results), so chunks 1 and 2 may run while
        // the consumer reads it: never more than 2 queued or running.
        assert_eq!(submitted.load(Ordering::SeqCst), 3);
        assert_eq!(m.wait_all(), Ok(None));
        assert_eq!(submitted.load(Ordering::SeqCst), 10);
    }

    #[test]
    fn wait_all_reports_the_first_failure() {
        let (pool, out) = setup(50);
        let mut m = Map::new(50, 3, MapOptions::default(), squares(pool, out, 17, usize::MAX)).unwrap();
        assert_eq!(m.wait_all(), Ok(Some((17, Status::TaskFailed))));
    }

    #[test]
    fn submit_after_shutdown_fails_the_map() {
        let (pool, out) = setup(5);
        pool.shutdown(true, false).unwrap();
        assert_eq!(Map::new(5, 3, MapOptions::default(), squares(pool, out, 9, 9)).err(), Some(Status::Shutdown.into()));
    }

    #[test]
    fn auto_chunksize_is_sane() {
        assert_eq!(auto_chunksize(0, 4), 1);
        assert_eq!(auto_chunksize(10, 6), 1);
        assert_eq!(auto_chunksize(10_000_000, 6), 208_334);
    }
}
