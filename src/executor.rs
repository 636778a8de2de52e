//! What every executor kind offers; the C `cfut_executor` is one of these.

use crate::future::{Future, Job, Sink};
use crate::status::Status;
use crate::task::{run_bytes, BytesFn};

/// A task given as a function over input bytes. `func` is the function's address (a
/// process pool resolves it again in the worker); `call` runs it in this process.
#[derive(Clone, Copy)]
pub struct BytesTask {
    pub func: usize,
    pub call: fn(func: usize, input: &[u8], sink: &mut Sink) -> i32,
}

impl BytesTask {
    /// The task that runs `f`.
    pub fn new(f: BytesFn) -> BytesTask {
        BytesTask { func: f as usize, call: call_bytes }
    }
}

fn call_bytes(func: usize, input: &[u8], sink: &mut Sink) -> i32 {
    // SAFETY: `func` was made from a `BytesFn` by `BytesTask::new`.
    let f = unsafe { std::mem::transmute::<usize, BytesFn>(func) };
    run_bytes(f, input, sink)
}

/// The executor kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Threads,
    Processes,
}

pub trait Executor: Send + Sync {
    fn kind(&self) -> Kind;

    /// Queues `job`. On error the job is dropped (its argument's destructor runs).
    fn submit(&self, job: Job) -> Result<Future, Status>;

    /// Queues a bytes task; `input` is copied.
    fn submit_bytes(&self, task: BytesTask, input: &[u8]) -> Result<Future, Status>;

    /// Stops accepting work; `cancel_futures` cancels everything not started; `wait` blocks
    /// until every worker has exited. Idempotent.
    fn shutdown(&self, wait: bool, cancel_futures: bool) -> Status;

    /// How many workers run tasks at once at most.
    fn max_workers(&self) -> usize;

    /// The process pool behind this executor, if it is one (map chunks need its own entry).
    fn as_process_pool(&self) -> Option<&crate::process_pool::ProcessPool> {
        None
    }
}
