//! The executor kinds behind one type: the C `cfut_executor` holds one of these.

use crate::error::{Error, Result};
use crate::future::{Future, Job};
use crate::mpi::MpiPool;
use crate::parallel_for::{check_range, RangeOutcome};
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
    /// `ProcessPool::submit_map_chunk`; `Unsupported` on a thread pool.
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
    ) -> Result<Future> {
        match self {
            // SAFETY: the caller's contract, passed on.
            Executor::Processes(p) => unsafe { p.submit_map_chunk(func, ctx, items, count, item_size, result_size, dst, first_index) },
            // SAFETY: the caller's contract, passed on.
            Executor::Mpi(p) => unsafe { p.submit_map_chunk(func, ctx, items, count, item_size, result_size, dst, first_index) },
            Executor::Threads(_) => Err(Status::Unsupported.into()),
        }
    }
}
