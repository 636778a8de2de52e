//! The thread pool's task queue: an unbounded MPMC FIFO that does not allocate per message.
//!
//! A linked-block queue (crossbeam's unbounded channel) allocates its blocks on the submitting
//! thread and frees them on the workers; with glibc every such free takes the submitter's
//! arena lock, and the submitter then pays futex wake-ups in its own `malloc`. Here a fixed
//! lock-free ring (`crate::ring`) takes the messages while it has room, and an overflow
//! deque, touched only when the ring is full, takes the rest. Once anything overflows, new messages go to the
//! overflow until it is empty again, and consumers move overflow messages into the ring in
//! batches, so one producer's messages keep their order.

use std::collections::VecDeque;
use crate::ring::Ring;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Mutex;

/// Ring slots, 16 bytes each for an 8-byte message (128 KiB per pool). With 1024, two
/// submitters outran two workers and lived in the overflow (its lock then cost ~30 % of their
/// throughput); with 8192 they stay in the ring.
#[cfg(not(any(loom, miri)))]
const RING: usize = 8192;
/// Under Miri the tests overflow a small ring in a few hundred messages.
#[cfg(all(miri, not(loom)))]
const RING: usize = 64;
/// The loom model (tests/loom) overflows after two messages.
#[cfg(loom)]
const RING: usize = 2;

pub struct Queue<T> {
    ring: Ring<T>,
    overflow: Mutex<VecDeque<T>>,
    /// Messages in `overflow` (read without its lock to keep the common path lock-free).
    overflowed: AtomicUsize,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue::new()
    }
}

impl<T> Queue<T> {
    pub fn new() -> Queue<T> {
        Queue::with_ring(RING)
    }

    /// A queue whose ring has `slots` places (a power of two); the loom models of the pool's
    /// wake-up protocol use one no burst of theirs overflows.
    pub fn with_ring(slots: usize) -> Queue<T> {
        Queue {
            ring: Ring::new(slots),
            overflow: Mutex::new(VecDeque::new()),
            overflowed: AtomicUsize::new(0),
        }
    }

    /// See `Ring::prefetch_push`.
    #[inline]
    pub fn prefetch_push(&self) {
        self.ring.prefetch_push();
    }

    pub fn push(&self, msg: T) {
        let msg = if self.overflowed.load(Ordering::SeqCst) == 0 {
            match self.ring.push(msg) {
                Ok(()) => return,
                Err(m) => m,
            }
        } else {
            msg
        };
        let mut o = self.overflow.lock();
        o.push_back(msg);
        self.overflowed.fetch_add(1, Ordering::SeqCst);
    }

    /// The oldest message, if any.
    pub fn pop(&self) -> Option<T> {
        if let Some(m) = self.ring.pop() {
            return Some(m);
        }
        if self.overflowed.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut o = self.overflow.lock();
        // Ring messages are older than the overflow's (another consumer may also have refilled
        // the ring meanwhile): take them first, including one whose push took its place but
        // has not stored it yet (that push runs no user code and takes no lock).
        loop {
            if let Some(m) = self.ring.pop() {
                return Some(m);
            }
            if self.ring.len() == 0 {
                break;
            }
            crate::sync::yield_now();
        }
        let first = o.pop_front()?;
        self.overflowed.fetch_sub(1, Ordering::SeqCst);
        // Move a batch into the ring so the next consumers need no lock. Each message is in
        // the ring before it leaves the count, so the queue never looks empty while it is not.
        while let Some(m) = o.pop_front() {
            match self.ring.push(m) {
                Ok(()) => {
                    self.overflowed.fetch_sub(1, Ordering::SeqCst);
                }
                Err(m) => {
                    o.push_front(m);
                    break;
                }
            }
        }
        Some(first)
    }

    /// How many messages are queued (exact when nothing is pushed or popped concurrently).
    pub fn len(&self) -> usize {
        self.ring.len() + self.overflowed.load(Ordering::SeqCst)
    }

    /// Whether a message waits to be popped, read without touching the producers' lines (the
    /// ring's head slot and the overflow count, which only changes once the ring is full).
    /// It can miss a push still in progress: that pusher's own wake-up check covers it.
    pub fn ready(&self) -> bool {
        self.ring.ready() || self.overflowed.load(Ordering::SeqCst) > 0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn fifo_across_the_overflow() {
        let q = Queue::new();
        let n = 3 * RING + 7;
        for i in 0..n {
            q.push(i);
        }
        assert_eq!(q.len(), n);
        for i in 0..n / 2 {
            assert_eq!(q.pop(), Some(i));
        }
        // Pushes while the overflow is non-empty queue behind it.
        for i in n..n + 10 {
            q.push(i);
        }
        for i in n / 2..n + 10 {
            assert_eq!(q.pop(), Some(i));
        }
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
        // Back to the ring once the overflow drained.
        q.push(1);
        assert_eq!(q.overflowed.load(Ordering::SeqCst), 0);
        assert_eq!(q.pop(), Some(1));
    }

    #[test]
    fn concurrent_producers_and_consumers_lose_nothing() {
        let q = Arc::new(Queue::new());
        let producers = 3;
        let per = if cfg!(miri) { 100 } else { 50_000usize };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for p in 0..producers {
            let q = q.clone();
            hs.push(std::thread::spawn(move || {
                for i in 0..per {
                    q.push((p, i));
                }
            }));
        }
        let mut cs = Vec::new();
        for _ in 0..2 {
            let (q, seen, done) = (q.clone(), seen.clone(), done.clone());
            cs.push(std::thread::spawn(move || {
                let mut local = Vec::new();
                while done.load(Ordering::SeqCst) < producers * per {
                    if let Some(m) = q.pop() {
                        local.push(m);
                        done.fetch_add(1, Ordering::SeqCst);
                    } else {
                        std::hint::spin_loop();
                    }
                }
                seen.lock().extend(local);
            }));
        }
        for h in hs.into_iter().chain(cs) {
            h.join().unwrap();
        }
        let mut all = std::mem::take(&mut *seen.lock());
        assert_eq!(all.len(), producers * per);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), producers * per, "a message was delivered twice");
        assert!(q.is_empty());
    }

    #[test]
    fn one_producer_keeps_its_order_with_consumers_running() {
        let q = Arc::new(Queue::new());
        let n = if cfg!(miri) { 3 * RING } else { 20 * RING };
        let consumer = {
            let q = q.clone();
            std::thread::spawn(move || {
                let mut next = 0;
                while next < n {
                    if let Some(m) = q.pop() {
                        assert_eq!(m, next, "out of order");
                        next += 1;
                    } else {
                        std::hint::spin_loop();
                    }
                }
            })
        };
        for i in 0..n {
            q.push(i);
        }
        consumer.join().unwrap();
    }
}
