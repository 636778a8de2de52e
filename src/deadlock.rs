//! Waits that could never end, refused before they start.

use crate::error::{Error, Result};
use crate::future::Future;
use crate::status::Status;
use crate::time::Deadline;

/// True when a wait until `deadline` must not block on this thread: a process pool's
/// manager thread (inside a process-pool done-callback) completes nothing while it waits,
/// so a blocking wait there on a future of its pool would never end.
pub fn must_not_block(deadline: Deadline) -> bool {
    deadline != Deadline::Poll && crate::process_pool::on_manager_thread()
}

/// The deadline a blocking wait on `fut` may use: `WouldDeadlock` where blocking on an
/// unfinished future could never end (see `must_not_block`).
pub fn checked_wait(fut: &Future, deadline: Deadline) -> Result<Deadline> {
    if !fut.done() && must_not_block(deadline) {
        return Err(Error::new(
            Status::WouldDeadlock,
            "a blocking wait inside a process-pool done-callback would stop the pool that must complete it",
        ));
    }
    Ok(deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_threads_may_block() {
        assert!(!must_not_block(Deadline::Never));
        let f = Future::new();
        assert_eq!(checked_wait(&f, Deadline::Never), Ok(Deadline::Never));
    }
}
