//! cfutures: Python's `concurrent.futures` as a native library.
//!
//! The core (futures, executors, collective waits, map) is safe Rust with its own API;
//! `ffi` is the C ABI over it and the only place with `extern "C"` functions.

pub mod array_map;
pub mod cq;
pub mod deadlock;
pub mod error;
pub mod executor;
pub mod flow;
pub mod foreign;
pub mod fork;
pub mod future;
pub mod group;
pub mod map;
pub mod mpi;
pub mod parallel_for;
pub mod process_pool;
pub mod stats;
pub mod status;
pub mod task;
pub mod thread_pool;
pub mod time;
pub mod wait;

mod current;
mod queue;
mod ring;
mod spin;
mod sync;
mod waiter;

// The C ABI, a leaf: nothing else names it (`make check-layers` builds the crate without it).
#[cfg(not(cfutures_core_only))]
pub mod ffi;

pub use cq::CompletionQueue;
pub use executor::{Executor, Kind};
pub use future::{Future, Job, Sink, State, TaskError, Value};
pub use process_pool::{ProcessPool, ProcessPoolOptions, StartMethod};
pub use error::Error;
pub use status::Status;
pub use thread_pool::{ThreadPool, ThreadPoolOptions};
pub use time::Deadline;
