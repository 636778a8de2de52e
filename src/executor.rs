//! The executor kinds behind one type: the C `cfut_executor` holds one of these.

use crate::error::Result;
use crate::flow::{Admit, Refused};
use crate::future::{Future, Job};
use crate::stats::Stats;
use crate::time::Deadline;
use crate::process_pool::ProcessPool;
use crate::task::BytesFn;
use crate::thread_pool::ThreadPool;

/// The executor kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Threads,
    Processes,
}

/// A thread pool or a process pool.
pub enum Executor {
    Threads(ThreadPool),
    Processes(ProcessPool),
}

impl Executor {
    pub fn kind(&self) -> Kind {
        match self {
            Executor::Threads(_) => Kind::Threads,
            Executor::Processes(_) => Kind::Processes,
        }
    }

    /// Queues `job`. On error the job is dropped (its argument's destructor runs); a
    /// process pool always refuses (a pointer means nothing in a worker).
    pub fn submit(&self, job: Job) -> Result<Future> {
        match self {
            Executor::Threads(p) => p.submit(job),
            Executor::Processes(p) => p.submit_job(job),
        }
    }

    /// Queues `job`, a full bounded queue handled as `admit` says; on `QueueFull` the job
    /// comes back untouched (`Refused::job`), on any other error it is dropped.
    pub fn submit_with(&self, job: Job, admit: Admit) -> std::result::Result<Future, Refused> {
        match self {
            Executor::Threads(p) => p.submit_with(job, admit),
            Executor::Processes(p) => p.submit_job(job).map_err(Refused::from),
        }
    }

    /// `submit_with` returning a job refused with `QueueFull` through `back` (the submit
    /// path's common case then returns a plain `Result<Future>`).
    #[inline]
    pub fn submit_keep(&self, job: Job, admit: Admit, back: &mut Option<Job>) -> Result<Future> {
        match self {
            Executor::Threads(p) => p.submit_keep(job, admit, back),
            Executor::Processes(p) => p.submit_job(job),
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
        }
    }

    /// A thread-pool map chunk: waits for room in a bounded queue until `deadline` (runs
    /// inline on the pool's own worker instead of waiting).
    pub fn submit_waiting(&self, job: Job, deadline: Deadline) -> Result<Future> {
        match self {
            Executor::Threads(p) => p.submit_waiting(job, deadline),
            Executor::Processes(p) => p.submit_job(job),
        }
    }

    /// The executor's counters.
    pub fn stats(&self) -> Stats {
        match self {
            Executor::Threads(p) => p.stats(),
            Executor::Processes(p) => p.stats(),
        }
    }

    /// Queues `f(input)`; `input` is copied.
    pub fn submit_bytes(&self, f: BytesFn, input: &[u8]) -> Result<Future> {
        match self {
            Executor::Threads(p) => p.submit_bytes(f, input),
            Executor::Processes(p) => p.submit_task(f, input),
        }
    }

    /// Stops accepting work; `cancel_futures` cancels everything not started; `wait` blocks
    /// until every worker has exited. Idempotent.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<()> {
        match self {
            Executor::Threads(p) => p.shutdown(wait, cancel_futures),
            Executor::Processes(p) => p.shutdown(wait, cancel_futures),
        }
    }

    /// How many tasks run at once at most.
    pub fn max_workers(&self) -> usize {
        match self {
            Executor::Threads(p) => p.max_workers(),
            Executor::Processes(p) => p.max_workers(),
        }
    }

    /// The process pool, when this is one (terminate, pids and map chunks need it).
    pub fn process_pool(&self) -> Option<&ProcessPool> {
        match self {
            Executor::Processes(p) => Some(p),
            Executor::Threads(_) => None,
        }
    }
}
