//! Waiting threads that run a pool's pending task themselves (`inline_waits_any_thread`).
//!
//! A future knows its pool only by a 16-bit tag, so pools with the option register their
//! `Shared` here, one entry per tag. The table is lock-free (a lock held by a parent thread
//! at `fork` would block a child forever): a helper announces itself in the entry's
//! `window`, reads the pointer, and takes a strong reference before leaving the window;
//! `unregister` clears the pointer and then waits for the window to empty. Of the two
//! sequences (window += 1, fence, read pointer / clear pointer, fence, read window; SeqCst
//! fences, as in the pool's wake-up protocol, so the loom model `help_registry` checks the
//! same sequence) at least one sees the other, so a helper either finds the pointer gone or
//! holds its reference before the pool's handle lets go of its own. The window covers no
//! user code: the wait is a few instructions long.

use std::cell::RefCell;
use std::sync::atomic::{fence, AtomicPtr, AtomicUsize, Ordering};
use std::sync::Arc;

use super::Shared;
use crate::future::{Future, State};
use crate::spin::spin_until;

struct Entry {
    pool: AtomicPtr<Shared>,
    /// Helpers between reading `pool` and holding a reference.
    window: AtomicUsize,
}

const TAGS: usize = 1 << 16;

/// One entry per future tag (1 MiB of zero pages, touched only by pools that register).
static TABLE: [Entry; TAGS] = [const { Entry { pool: AtomicPtr::new(std::ptr::null_mut()), window: AtomicUsize::new(0) } }; TAGS];

/// Registered pools: while none is, waits skip the table without touching it.
static REGISTERED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Ids of the pools whose tasks this thread runs as a helper now (nested helps stack).
    static HELPING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Lets any thread's blocking wait run `pool`'s pending tasks. Tag 0 (every tag taken) is
/// never registered: such a pool's waiters simply wait.
pub(super) fn register(pool: &Arc<Shared>) {
    let tag = pool.tag.0;
    if tag == 0 {
        return;
    }
    REGISTERED.fetch_add(1, Ordering::SeqCst);
    TABLE[tag as usize].pool.store(Arc::as_ptr(pool) as *mut Shared, Ordering::SeqCst);
}

/// Withdraws a registered pool; on return no helper can reach it through the table.
/// Helpers already holding it keep their reference (and so its tag) until they finish.
pub(super) fn unregister(pool: &Arc<Shared>) {
    let tag = pool.tag.0 as usize;
    let entry = &TABLE[tag];
    if tag == 0 || !std::ptr::eq(entry.pool.load(Ordering::SeqCst), Arc::as_ptr(pool)) {
        return;
    }
    entry.pool.store(std::ptr::null_mut(), Ordering::SeqCst);
    fence(Ordering::SeqCst);
    // In a child forked after the pool's creation the window may count a parent thread
    // that was inside it at the fork and does not exist here: nobody else can be in it.
    if !pool.foreign() {
        spin_until(std::time::Duration::MAX, || entry.window.load(Ordering::SeqCst) == 0);
    }
    REGISTERED.fetch_sub(1, Ordering::SeqCst);
}

/// True while some pool lets waiters help (one relaxed load).
pub fn enabled() -> bool {
    REGISTERED.load(Ordering::Relaxed) != 0
}

/// True while this thread runs a task of pool `id` as a helper.
pub(super) fn helping(id: usize) -> bool {
    HELPING.with(|h| h.borrow().contains(&id))
}

/// Runs `fut`'s task on this thread if it is still pending and its pool lets waiters help.
/// Returns whether it ran here. The caller is a blocking wait about to block on `fut`.
pub fn run_pending(fut: &Future) -> bool {
    let tag = fut.pool() as usize;
    if tag == 0 || !enabled() || fut.state() != State::Pending {
        return false;
    }
    // A task queued before the host forked belongs to the parent's pool, whatever pool
    // holds its tag in this child: it fails instead (see `Future::wait`).
    fut.fail_if_orphaned();
    if fut.state() != State::Pending {
        return false;
    }
    let entry = &TABLE[tag];
    if entry.pool.load(Ordering::Relaxed).is_null() {
        return false;
    }
    entry.window.fetch_add(1, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    let p = entry.pool.load(Ordering::SeqCst);
    let pool = (!p.is_null()).then(|| {
        // SAFETY: `p` came from `Arc::as_ptr` of a registered pool. We entered the window
        // before reading it, so `unregister` (pointer cleared, then the window waited out)
        // has not returned and the pool's handle still holds its strong reference.
        unsafe {
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        }
    });
    entry.window.fetch_sub(1, Ordering::SeqCst);
    match pool {
        // Tags are unique among live pools, and a tag is freed only with its pool's last
        // reference, after every future it queued ended: a pending future's tag names the
        // pool that queued it (in a forked child, `fail_if_orphaned` above took care of the
        // parent's).
        Some(pool) if !pool.foreign() => pool.run_helped(fut),
        _ => false,
    }
}

impl Shared {
    /// Runs a pending task of this pool on a waiting thread (not one of its workers),
    /// counted in the pool's stats. The worker that dequeues it later skips it.
    fn run_helped(&self, fut: &Future) -> bool {
        self.helpers.fetch_add(1, Ordering::SeqCst);
        HELPING.with(|h| h.borrow_mut().push(self.id));
        self.rare.running.fetch_add(1, Ordering::Relaxed);
        let ran = crate::current::run_nested(fut.id(), || {
            fut.run_then_complete(true, |e| {
                self.rare.count(e);
                self.rare.running.fetch_sub(1, Ordering::Relaxed);
            })
        });
        if !ran {
            self.rare.running.fetch_sub(1, Ordering::Relaxed);
        }
        HELPING.with(|h| h.borrow_mut().pop());
        // Pairs with `join` (flag set, then the count read): one side sees the other, so a
        // joiner is notified, under its lock, unless it saw this helper gone.
        if self.helpers.fetch_sub(1, Ordering::SeqCst) == 1 && self.joining.load(Ordering::SeqCst) {
            drop(self.threads.lock());
            self.threads_cond.notify_all();
        }
        ran
    }
}

#[cfg(test)]
#[path = "help_tests.rs"]
mod tests;
