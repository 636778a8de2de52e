//! Reduced model of the helping-waiter registry (src/thread_pool/help.rs `run_pending`,
//! `unregister`): one table entry (`pool` pointer, `window` count) and the pool's strong
//! count. A helper that finds the pointer takes a reference inside the window; the pool's
//! handle clears the pointer, waits the window out, then lets go of its own reference.
//!
//! Loom models SeqCst loads and stores as acquire/release (only SeqCst fences are exact),
//! which is why the real code fences between its two accesses, as the pool's wake-up does.
//!
//! Checked: a helper never takes a reference to a pool whose last reference is gone (the
//! use-after-free the window prevents); and that reading the pointer before entering the
//! window allows exactly that.

use std::sync::atomic::Ordering::{Relaxed, SeqCst as S};
use std::sync::Arc;

use loom::sync::atomic::{fence, AtomicUsize};
use loom::thread;

use super::model;

struct Entry {
    /// 0: no pool registered under this tag; 1: the pool.
    pool: AtomicUsize,
    window: AtomicUsize,
    /// The pool's strong count: its handle holds one.
    strong: AtomicUsize,
    /// False only in the mutation check: read the pointer, then enter the window.
    window_first: bool,
}

impl Entry {
    fn help(&self) {
        if self.pool.load(Relaxed) == 0 {
            return;
        }
        let found = if self.window_first {
            self.window.fetch_add(1, S);
            fence(S);
            self.pool.load(S)
        } else {
            let p = self.pool.load(S);
            self.window.fetch_add(1, S);
            fence(S);
            p
        };
        let took = found != 0 && {
            let before = self.strong.fetch_add(1, S);
            assert!(before > 0, "a helper took a reference to a freed pool");
            true
        };
        self.window.fetch_sub(1, S);
        if took {
            // The helped task runs here; then the helper lets go.
            self.strong.fetch_sub(1, S);
        }
    }

    /// The pool's handle is dropped: unregister, then its own reference goes.
    fn drop_handle(&self) {
        self.pool.store(0, S);
        fence(S);
        while self.window.load(S) != 0 {
            thread::yield_now();
        }
        self.strong.fetch_sub(1, S);
    }
}

fn run(window_first: bool) {
    let e = Arc::new(Entry { pool: AtomicUsize::new(1), window: AtomicUsize::new(0), strong: AtomicUsize::new(1), window_first });
    let helpers: Vec<_> = (0..2)
        .map(|_| {
            let e = e.clone();
            thread::spawn(move || e.help())
        })
        .collect();
    e.drop_handle();
    for h in helpers {
        h.join().unwrap();
    }
    assert_eq!(e.strong.load(S), 0, "every reference taken was given back");
}

/// Two helpers against the pool's drop: no reference is ever taken to a freed pool.
#[test]
fn helpers_never_reach_a_freed_pool() {
    model(|| run(true));
}

/// Entering the window after reading the pointer: the model finds the use after free.
#[test]
#[should_panic(expected = "took a reference to a freed pool")]
fn reading_the_pointer_before_the_window_reaches_a_freed_pool() {
    model(|| run(false));
}
