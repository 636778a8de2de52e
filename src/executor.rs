//! The executor kinds behind one type: the C `cfut_executor` holds one of these.

use crate::error::{Error, Result};
use crate::flow::{Admit, Refused};
use crate::future::{Future, Job};
use crate::mpi::MpiPool;
use crate::parallel_for::{check_range, RangeOutcome};
use crate::stats::Stats;
use crate::time::Deadline;
use crate::process_pool::ProcessPool;
use crate::status::Status;
use crate::task::{BytesFn, MapFn};
use crate::thread_pool::ThreadPool;

/// The executor kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Threads,
    Processes,
    Mpi,
}

/// A thread pool, a process pool, or an MPI pool (on its root rank).
pub enum Executor {
    Threads(ThreadPool),
    Processes(ProcessPool),
    Mpi(MpiPool),
}

impl Executor {
    pub fn kind(&self) -> Kind {
        match self {
            Executor::Threads(_) => Kind::Threads,
            Executor::Processes(_) => Kind::Processes,
            Executor::Mpi(_) => Kind::Mpi,
        }
    }

    /// Queues `job`. On error the job is dropped (its argument's destructor runs); a
    /// process pool always refuses (a pointer means nothing in a worker).
    pub fn submit(&self, job: Job) -> Result<Future> {
        match self {
            Executor::Threads(p) => p.submit(job),
            Executor::Processes(p) => p.submit_job(job),
            Executor::Mpi(_) => {
                drop(job);
                Err(Error::new(
                    Status::Unsupported,
                    "cfut_executor_submit: a pointer argument means nothing on another rank; use cfut_executor_submit_bytes on an MPI pool",
                ))
            }
        }
    }

    /// Queues `job`, a full bounded queue handled as `admit` says; on `QueueFull` the job
    /// comes back untouched (`Refused::job`), on any other error it is dropped.
    pub fn submit_with(&self, job: Job, admit: Admit) -> std::result::Result<Future, Refused> {
        match self {
            Executor::Threads(p) => p.submit_with(job, admit),
            Executor::Processes(_) | Executor::Mpi(_) => self.submit(job).map_err(Refused::from),
        }
    }

    /// `submit_with` returning a job refused with `QueueFull` through `back` (the submit
    /// path's common case then returns a plain `Result<Future>`).
    #[inline]
    pub fn submit_keep(&self, job: Job, admit: Admit, back: &mut Option<Job>) -> Result<Future> {
        match self {
            Executor::Threads(p) => p.submit_keep(job, admit, back),
            Executor::Processes(_) | Executor::Mpi(_) => self.submit(job),
        }
    }

    /// `submit_bytes` with a full bounded queue handled as `admit` says.
    pub fn submit_bytes_with(&self, f: BytesFn, input: &[u8], admit: Admit) -> std::result::Result<Future, Refused> {
        match self {
            Executor::Threads(p) => {
                let data: Box<[u8]> = input.into();
                p.submit_with(Job::boxed(move |sink| crate::task::run_bytes(f, &data, sink)), admit)
            }
            Executor::Processes(p) => p.submit_task_with(f, input, admit),
            // An MPI pool has no bound: tasks wait at the root for a free slot.
            Executor::Mpi(p) => p.submit_task(f, input).map_err(Refused::from),
        }
    }

    /// A thread-pool map chunk: waits for room in a bounded queue until `deadline` (runs
    /// inline on the pool's own worker instead of waiting).
    pub fn submit_waiting(&self, job: Job, deadline: Deadline) -> Result<Future> {
        match self {
            Executor::Threads(p) => p.submit_waiting(job, deadline),
            Executor::Processes(_) | Executor::Mpi(_) => self.submit(job),
        }
    }

    /// The executor's counters.
    pub fn stats(&self) -> Stats {
        match self {
            Executor::Threads(p) => p.stats(),
            Executor::Processes(p) => p.stats(),
            Executor::Mpi(p) => p.stats(),
        }
    }

    /// Queues `f(input)`; `input` is copied.
    pub fn submit_bytes(&self, f: BytesFn, input: &[u8]) -> Result<Future> {
        match self {
            Executor::Threads(p) => p.submit_bytes(f, input),
            Executor::Processes(p) => p.submit_task(f, input),
            Executor::Mpi(p) => p.submit_task(f, input),
        }
    }

    /// Stops accepting work; `cancel_futures` cancels everything not started; `wait` blocks
    /// until every worker has exited. Idempotent.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<()> {
        match self {
            Executor::Threads(p) => p.shutdown(wait, cancel_futures),
            Executor::Processes(p) => p.shutdown(wait, cancel_futures),
            Executor::Mpi(p) => p.shutdown(wait, cancel_futures),
        }
    }

    /// How many tasks run at once at most.
    pub fn max_workers(&self) -> usize {
        match self {
            Executor::Threads(p) => p.max_workers(),
            Executor::Processes(p) => p.max_workers(),
            Executor::Mpi(p) => p.max_workers(),
        }
    }

    /// Runs `body` over disjoint ranges covering `[begin, end)` on the pool's workers and
    /// this thread (`crate::parallel_for`). Process and MPI pools: `Unsupported` (the body
    /// runs on this process's memory).
    pub fn parallel_for<F>(&self, begin: usize, end: usize, grain: usize, body: &F) -> Result<RangeOutcome>
    where
        F: Fn(usize, usize) -> i32 + Sync,
    {
        check_range(begin, end)?;
        match self {
            Executor::Threads(p) => crate::parallel_for::parallel_for(p, begin, end, grain, body),
            Executor::Processes(_) | Executor::Mpi(_) => Err(Error::new(
                Status::Unsupported,
                "parallel_for runs its function on this process's memory: use a thread pool",
            )),
        }
    }

    /// The process pool, when this is one (terminate, pids and map chunks need it).
    pub fn process_pool(&self) -> Option<&ProcessPool> {
        match self {
            Executor::Processes(p) => Some(p),
            _ => None,
        }
    }

    /// Submits a map chunk where tasks run in other processes (process and MPI pools), as
    /// `ProcessPool::submit_map_chunk` (a bounded process pool waits for room until
    /// `deadline`); `Unsupported` on a thread pool.
    ///
    /// # Safety
    /// As `ProcessPool::submit_map_chunk`.
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
        match self {
            // SAFETY: the caller's contract, passed on.
            Executor::Processes(p) => unsafe { p.submit_map_chunk(func, ctx, items, count, item_size, result_size, dst, first_index, deadline) },
            // SAFETY: the caller's contract, passed on.
            Executor::Mpi(p) => unsafe { p.submit_map_chunk(func, ctx, items, count, item_size, result_size, dst, first_index) },
            Executor::Threads(_) => Err(Status::Unsupported.into()),
        }
    }
}
