//! A bounded lock-free MPMC ring (Vyukov's sequence-numbered slots), the fast part of the
//! thread pool's task queue.
//!
//! Written here rather than taken from a channel crate for one query a channel does not
//! offer: `ready`, whether a message waits at the head, which reads the head slot (the line
//! a consumer's next pop needs anyway) instead of the producers' position. A worker asks it
//! after every task; with a channel's `len` each such read pulled the producers' line away
//! from a submitter in the middle of its next push.

use std::mem::MaybeUninit;

use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::cell::UnsafeCell;

/// A value on cache lines of its own (128 bytes: the adjacent-line prefetcher pairs lines),
/// for words that different threads write often.
#[repr(align(128))]
pub struct Line<T>(pub T);

impl<T> std::ops::Deref for Line<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Asks the CPU to fetch `p`'s cache line for writing: a hint (PREFETCHW) that lets a miss
/// on a line another thread wrote last overlap with the work before the write that needs
/// it. A no-op off x86-64 and under Miri and loom.
#[inline]
pub fn prefetch_write<T>(p: &T) {
    #[cfg(all(target_arch = "x86_64", not(loom), not(miri)))]
    // SAFETY: PREFETCHW reads no value, writes nothing and cannot fault; a CPU without it
    // runs it as a no-op.
    unsafe {
        std::arch::asm!("prefetchw [{}]", in(reg) p as *const T, options(nostack, preserves_flags, readonly))
    };
    #[cfg(not(all(target_arch = "x86_64", not(loom), not(miri))))]
    let _ = p;
}

struct Slot<T> {
    /// `pos`: free for the push at position `pos`; `pos + 1`: holds the message pushed at
    /// `pos`. A pop at `pos` frees the slot for `pos + capacity`.
    seq: AtomicUsize,
    msg: UnsafeCell<MaybeUninit<T>>,
}

pub struct Ring<T> {
    /// The next position to pop (written by consumers).
    head: Line<AtomicUsize>,
    /// The next position to push (written by producers).
    tail: Line<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    mask: usize,
}

// SAFETY: a message is written by exactly one producer (the one whose CAS took its position)
// and read by exactly one consumer (the one whose CAS took it), ordered by the slot's
// Release/Acquire sequence number; so the ring moves `T`s between threads and needs only
// `T: Send`.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; `&Ring` gives no access to a message except by moving it out once.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring of `capacity` slots (a power of two).
    pub fn new(capacity: usize) -> Ring<T> {
        assert!(capacity.is_power_of_two(), "ring capacity {capacity} is not a power of two");
        let slots = (0..capacity)
            .map(|i| Slot { seq: AtomicUsize::new(i), msg: UnsafeCell::new(MaybeUninit::uninit()) })
            .collect();
        Ring {
            head: Line(AtomicUsize::new(0)),
            tail: Line(AtomicUsize::new(0)),
            slots,
            mask: capacity - 1,
        }
    }

    /// Prefetches, for writing, the slot the next push will take (a consumer wrote it last,
    /// and the idle consumer polls it).
    #[inline]
    pub fn prefetch_push(&self) {
        prefetch_write(&self.slots[self.tail.load(Ordering::Relaxed) & self.mask]);
    }

    /// Appends `msg`, or gives it back when the ring is full (or its oldest message is being
    /// taken right now).
    pub fn push(&self, msg: T) -> Result<(), T> {
        let mut pos = self.tail.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            let seq = slot.seq.load(Ordering::Acquire);
            let lag = seq.wrapping_sub(pos) as isize;
            if lag == 0 {
                match self.tail.compare_exchange_weak(pos, pos.wrapping_add(1), Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => {
                        // SAFETY: the CAS made this thread the only one to own position `pos`,
                        // and `seq == pos` says its consumer of the previous lap is done.
                        slot.msg.with_mut(|p| unsafe { (*p).write(msg) });
                        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(now) => pos = now,
                }
            } else if lag < 0 {
                return Err(msg);
            } else {
                // Another producer took `pos`.
                pos = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Takes the oldest message; `None` when none is ready (a push that took its position
    /// but has not stored its message yet is not ready).
    pub fn pop(&self) -> Option<T> {
        let mut pos = self.head.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            let seq = slot.seq.load(Ordering::Acquire);
            let lag = seq.wrapping_sub(pos.wrapping_add(1)) as isize;
            if lag == 0 {
                match self.head.compare_exchange_weak(pos, pos.wrapping_add(1), Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => {
                        // SAFETY: `seq == pos + 1` (Acquire) says the message at `pos` was
                        // written; the CAS made this thread its only reader.
                        let msg = slot.msg.with(|p| unsafe { (*p).assume_init_read() });
                        slot.seq.store(pos.wrapping_add(self.slots.len()), Ordering::Release);
                        return Some(msg);
                    }
                    Err(now) => pos = now,
                }
            } else if lag < 0 {
                return None;
            } else {
                // Another consumer took `pos`.
                pos = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Whether a message is ready at the head: what the next `pop` would find, read from
    /// the head slot only.
    pub fn ready(&self) -> bool {
        let mut pos = self.head.load(Ordering::Relaxed);
        loop {
            if self.slots[pos & self.mask].seq.load(Ordering::Acquire) == pos.wrapping_add(1) {
                return true;
            }
            // Not ready, unless a consumer took that message meanwhile: then look again.
            let now = self.head.load(Ordering::Relaxed);
            if now == pos {
                return false;
            }
            pos = now;
        }
    }

    /// Messages pushed and not yet popped, counting pushes still storing their message.
    pub fn len(&self) -> usize {
        // Head first: the tail read after it is never behind it.
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        tail.wrapping_sub(head).min(self.slots.len())
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn fills_refuses_and_wraps_in_order() {
        let r = Ring::new(4);
        assert!(!r.ready());
        for lap in 0..3 {
            for i in 0..4 {
                assert!(r.push(lap * 10 + i).is_ok());
            }
            assert_eq!(r.push(99), Err(99), "full");
            assert_eq!(r.len(), 4);
            assert!(r.ready());
            for i in 0..4 {
                assert_eq!(r.pop(), Some(lap * 10 + i));
            }
            assert_eq!(r.pop(), None);
            assert!(!r.ready());
            assert_eq!(r.len(), 0);
        }
    }

    #[test]
    fn drops_what_is_left_once() {
        let token = Arc::new(());
        let r = Ring::new(8);
        for _ in 0..5 {
            r.push(token.clone()).unwrap();
        }
        drop(r.pop());
        assert_eq!(Arc::strong_count(&token), 5);
        drop(r);
        assert_eq!(Arc::strong_count(&token), 1);
    }

    #[test]
    fn concurrent_pushes_and_pops_deliver_each_message_once() {
        let r = Arc::new(Ring::new(64));
        let per = if cfg!(miri) { 200 } else { 100_000usize };
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let r = r.clone();
                std::thread::spawn(move || {
                    for i in 0..per {
                        let mut m = (p, i);
                        while let Err(back) = r.push(m) {
                            m = back;
                            std::hint::spin_loop();
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut last = [None, None];
                    while got.len() < per {
                        match r.pop() {
                            Some((p, i)) => {
                                assert!(last[p] < Some(i), "producer {p}'s order broken for one consumer");
                                last[p] = Some(i);
                                got.push((p, i));
                            }
                            None => std::hint::spin_loop(),
                        }
                    }
                    got
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut all: Vec<_> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 2 * per, "lost or duplicated");
        assert!(r.pop().is_none() && !r.ready());
    }
}
