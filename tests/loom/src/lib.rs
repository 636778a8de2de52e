//! The core's synchronisation under loom. The future (`src/future`) and the task queue
//! (`src/queue.rs`) are the real sources, included by path and built with `cfg(loom)`, where
//! `crate::sync` is loom's. The thread pool's wake-up protocol and the completion queue are
//! reduced models (`models/`): their real types start OS threads and use eventfds.
#![allow(dead_code, unused_imports, clippy::all)]

pub mod sync;

/// No spinning under the model: a spin only delays the path the model explores anyway.
pub mod spin {
    use std::time::Duration;
    pub const SPIN: Duration = Duration::ZERO;
    pub fn spin_until(_budget: Duration, mut ready: impl FnMut() -> bool) -> bool {
        ready()
    }
}

#[path = "../../../src/status.rs"]
pub mod status;
#[path = "../../../src/time.rs"]
pub mod time;
#[path = "../../../src/foreign.rs"]
pub mod foreign;
#[path = "../../../src/fork.rs"]
pub mod fork;
#[path = "../../../src/waiter.rs"]
pub mod waiter;
#[path = "../../../src/ring.rs"]
pub mod ring;
#[path = "../../../src/queue.rs"]
pub mod queue;
#[path = "../../../src/future/mod.rs"]
pub mod future;
#[path = "../../../src/stats.rs"]
pub mod stats;
#[path = "../../../src/error.rs"]
pub mod error;
#[path = "../../../src/cq.rs"]
pub mod cq;

#[cfg(test)]
mod models;
