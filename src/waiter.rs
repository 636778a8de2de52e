//! The waiter a collective wait installs on futures: its own module so that `future` (which
//! notifies it) and `wait` (which blocks on it) do not import each other.

use std::sync::Arc;

use crate::sync::{Condvar, Mutex};

/// Installed on futures by a collective wait; every completion of a future it is installed
/// on notifies it exactly once.
pub(crate) struct Waiter {
    pub(crate) state: Mutex<WaiterState>,
    pub(crate) cond: Condvar,
}

#[derive(Default)]
pub(crate) struct WaiterState {
    pub(crate) completed: usize,
    pub(crate) failed: usize,
    /// Completion order, kept only for `as_completed`.
    pub(crate) order: Option<Vec<usize>>,
}

impl Waiter {
    pub(crate) fn new(record_order: bool) -> Arc<Waiter> {
        Arc::new(Waiter {
            state: Mutex::new(WaiterState {
                order: record_order.then(Vec::new),
                ..Default::default()
            }),
            cond: Condvar::new(),
        })
    }

    pub(crate) fn notify(&self, id: usize, failed: bool) {
        let mut s = self.state.lock();
        s.completed += 1;
        s.failed += failed as usize;
        if let Some(o) = s.order.as_mut() {
            o.push(id);
        }
        drop(s);
        self.cond.notify_all();
    }
}
