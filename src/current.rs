//! What the calling thread does for the library: the thread pool it works for, the tasks it
//! is running (a stack: a blocking wait may run another task inline), whether it is a
//! process pool's manager. Thread-locals only, so asking costs no shared memory traffic.

use std::cell::{Cell, RefCell};

thread_local! {
    /// The id of the thread pool this thread works for (0 = none).
    static POOL: Cell<usize> = const { Cell::new(0) };
    /// That pool's future tag when it runs awaited tasks inline (0 = it does not).
    static INLINE_TAG: Cell<u16> = const { Cell::new(0) };
    /// The future whose task this thread runs now (its id; 0 = none).
    static TASK: Cell<usize> = const { Cell::new(0) };
    /// Tasks suspended under an inline run, outermost first.
    static OUTER: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// On a process pool's manager thread, its pool's address (0 elsewhere).
    static MANAGER: Cell<usize> = const { Cell::new(0) };
}

/// Marks this thread as a worker of thread pool `pool`, whose futures carry `inline_tag`
/// when its workers run awaited tasks inline (0: they do not).
pub(crate) fn set_pool(pool: usize, inline_tag: u16) {
    POOL.with(|p| p.set(pool));
    INLINE_TAG.with(|i| i.set(inline_tag));
}

/// The id of the thread pool this thread works for (0 = none).
pub(crate) fn pool() -> usize {
    POOL.with(|p| p.get())
}

/// The tag of the pool whose pending futures this thread runs inline when it waits on
/// them (0 = none).
pub(crate) fn inline_pool() -> u16 {
    INLINE_TAG.with(|i| i.get())
}

/// True while this thread runs a task.
pub(crate) fn in_task() -> bool {
    TASK.with(|t| t.get()) != 0
}

/// Runs `body` as the task of future `id` (the worker loop's outer task).
pub(crate) fn run_task<R>(id: usize, body: impl FnOnce() -> R) -> R {
    TASK.with(|t| t.set(id));
    let r = body();
    TASK.with(|t| t.set(0));
    r
}

/// Runs `body` as the task of future `id`, nested inside the task running now (an inline
/// run from a blocking wait). Task bodies never unwind (jobs catch panics), but the guard
/// restores the stack anyway.
pub(crate) fn run_nested<R>(id: usize, body: impl FnOnce() -> R) -> R {
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            TASK.with(|t| t.set(self.0));
            OUTER.with(|o| o.borrow_mut().pop());
        }
    }
    let outer = TASK.with(|t| t.replace(id));
    OUTER.with(|o| o.borrow_mut().push(outer));
    let _restore = Restore(outer);
    body()
}

/// The tasks this thread is running, outermost first (empty outside tasks).
pub(crate) fn stack() -> Vec<usize> {
    let mut v: Vec<usize> = OUTER.with(|o| o.borrow().iter().copied().filter(|id| *id != 0).collect());
    let t = TASK.with(|t| t.get());
    if t != 0 {
        v.push(t);
    }
    v
}

/// Marks this thread as the manager of the process pool at `addr`.
pub(crate) fn set_manager(addr: usize) {
    MANAGER.with(|m| m.set(addr));
}

/// The address of the process pool this thread manages (0 = none).
pub(crate) fn manager() -> usize {
    MANAGER.with(|m| m.get())
}

thread_local! {
    /// The counters of the thread-pool worker this thread is (none elsewhere).
    static SLOT: std::cell::RefCell<Option<std::sync::Arc<crate::stats::Slot>>> = const { std::cell::RefCell::new(None) };
}

/// Sets (or clears) the counters this worker thread writes.
pub(crate) fn set_slot(slot: Option<std::sync::Arc<crate::stats::Slot>>) {
    SLOT.with(|s| *s.borrow_mut() = slot);
}

/// Runs a pending future of this worker's own pool here (an inline run from a blocking
/// wait), counting it in the worker's counters as its own take would.
pub(crate) fn run_counted(f: &crate::future::Future) {
    let slot = SLOT.with(|s| s.borrow().clone());
    let Some(slot) = slot else {
        f.run(true);
        return;
    };
    slot.running.add(1);
    let ran = f.run_then_complete(true, |e| {
        slot.count(e);
        slot.running.sub(1);
    });
    if !ran {
        slot.running.sub(1);
    }
}
