//! MPI pools: one executor over the ranks of an MPI job (SPMD: every rank runs the same
//! program, as mpi4py's `MPICommExecutor`).
//!
//! - `start` is collective over `MPI_COMM_WORLD`. The root rank gets an `MpiPool`
//!   (`root.rs`); every other rank serves tasks inside the call (`rank.rs`) and returns once
//!   the root's pool ends.
//! - Tasks travel as process-pool frames (`process_pool::proto`): a bytes task or a map
//!   chunk is (object, build-id, offset) plus bytes, which resolves on every rank because
//!   every rank runs the same binary. Results come back as `DONE` frames.
//! - MPI itself is behind a plugin (`plugin.rs`, `plugin.c`), loaded on demand: the library
//!   never links MPI. Messages batch frames per peer (`link.rs`).

mod link;
mod plugin;
mod rank;
mod root;

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::future::Outcome;
use crate::status::Status;

pub use plugin::PLUGIN;
pub use root::MpiPool;

/// Turns the result bytes of a successful task into its outcome (a map chunk copies its
/// results into the caller's array here, on the manager thread).
type Finish = Box<dyn FnOnce(Vec<u8>) -> Outcome + Send>;

/// `DONE` frames from a rank carry a failure's status (when it is not `TaskFailed`, e.g.
/// `WorkerDied` from the rank's process pool) in bits 8..16 of `arg`; `process_pool::proto`
/// uses the low bits for flags and the high 32 for the code.
const DONE_STATUS_SHIFT: u64 = 8;

/// The largest task input or map chunk an MPI pool sends (the process pool's frame limit).
const MAX_FRAME: usize = crate::process_pool::proto::MAX_PAYLOAD;

/// Where a worker rank runs its tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Isolation {
    /// In a local process pool: a crashing task fails its future, the rank lives on.
    #[default]
    Process,
    /// On threads of the rank itself.
    None,
}

/// What `start` needs.
#[derive(Clone, Debug, Default)]
pub struct MpiOptions {
    pub root: usize,
    pub isolation: Isolation,
    /// 0 = the rank's CPUs.
    pub workers_per_rank: usize,
    /// The plugin's path; `None` = next to this library, then the loader's search path.
    pub plugin_path: Option<String>,
    /// Isolation PROCESS: a cancellation request kills the task's worker process.
    pub cancel_kills: bool,
}

/// Collective: the root gets `Some(pool)`; other ranks serve until the root's pool ends
/// and get `None`. Errors are the same on every rank (a missing plugin, no launcher, too
/// few ranks, a root out of range or not the same on every rank), except a failure of the
/// root or of MPI itself.
pub fn start(opts: &MpiOptions) -> Result<Option<MpiPool>> {
    let tr = plugin::Transport::open(opts.plugin_path.as_deref())?;
    let refuse = |e: Error| {
        tr.close();
        Err(e)
    };
    if tr.size < 2 {
        return refuse(Error::new(
            Status::Unsupported,
            format!(
                "MPI pool ({}): the job has one rank; the root hands tasks to the other ranks, so run at least 2 (mpirun -np N, N >= 2)",
                tr.library()
            ),
        ));
    }
    // Ranks that disagree on the root would each wait for the other: refuse on all of them.
    if !tr.agree(opts.root as i64) {
        return refuse(Error::new(Status::InvalidArgument, "MPI pool: the ranks passed different roots; every rank must pass the same root"));
    }
    if opts.root >= tr.size {
        return refuse(Error::new(Status::InvalidArgument, format!("MPI pool: root {} is not a rank of this job of {}", opts.root, tr.size)));
    }
    if tr.rank == opts.root {
        return MpiPool::start(tr, opts.root).map(Some);
    }
    rank::serve(link::Link::new(tr), opts.root, opts).map(|()| None)
}

/// Polling back-off for loops that must poll MPI. For `SPIN` after the last activity the
/// loop only yields: the next message of a busy exchange usually comes within that (on a
/// loaded host a sleeping thread waits for a scheduler tick, ~4 ms, to run again). Then it
/// sleeps, from 20 µs doubling up to 1 ms, and 4 ms after ~100 ms without anything to do
/// (each wake-up is a timed futex wait and an `MPI_Iprobe` through Open MPI's progress
/// engine, ~20 µs: 1000 a second cost ~2% of a core, 250 a second ~0.5%).
#[derive(Default)]
struct Backoff {
    since: Option<Instant>,
    sleeps: u32,
}

impl Backoff {
    const SPIN: Duration = Duration::from_micros(200);
    const CAP: Duration = Duration::from_millis(1);
    const IDLE_CAP: Duration = Duration::from_millis(4);
    /// Sleeps before the idle cap applies (~100 ms at 1 ms each).
    const BEFORE_IDLE: u32 = 110;

    fn reset(&mut self) {
        self.since = None;
        self.sleeps = 0;
    }

    /// `None`: yield once; `Some(d)`: sleep up to `d`.
    fn next(&mut self) -> Option<Duration> {
        let now = Instant::now();
        if now.duration_since(*self.since.get_or_insert(now)) < Self::SPIN {
            return None;
        }
        self.sleeps = self.sleeps.saturating_add(1);
        if self.sleeps > Self::BEFORE_IDLE {
            return Some(Self::IDLE_CAP);
        }
        let shift = (self.sleeps - 1).min(10);
        Some((Duration::from_micros(20) * (1 << shift)).min(Self::CAP))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_yields_then_sleeps_up_to_the_cap() {
        let mut b = Backoff::default();
        assert_eq!(b.next(), None);
        b.since = Some(Instant::now() - Backoff::SPIN);
        assert_eq!(b.next(), Some(Duration::from_micros(20)));
        assert_eq!(b.next(), Some(Duration::from_micros(40)));
        for _ in 0..20 {
            b.next();
        }
        assert_eq!(b.next(), Some(Backoff::CAP));
        for _ in 0..200 {
            b.next();
        }
        assert_eq!(b.next(), Some(Backoff::IDLE_CAP));
        b.reset();
        assert_eq!(b.next(), None);
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot dlopen")]
    fn a_missing_plugin_is_unsupported_and_names_it() {
        let o = MpiOptions { plugin_path: Some("/nonexistent/libcfutures_mpi.so".into()), ..Default::default() };
        let e = start(&o).err().expect("no plugin there");
        assert_eq!(e.status(), Status::Unsupported);
        assert!(e.message().unwrap().contains("libcfutures_mpi.so"), "{e}");
    }
}
