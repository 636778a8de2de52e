//! Completion queues: a pollable fd that an event loop watches to learn which futures are done.
//!
//! Each `watch` adds one done-callback to the future; when it runs (on whichever thread
//! completes or cancels the future, or at once if it is done) it appends the tag to the
//! queue's list. The eventfd mirrors "the list is not empty": the first tag after a drain
//! writes 1, the drain that empties the list reads it back to 0, both under the queue's lock,
//! so the fd is level-triggered and costs one write per batch, not per tag.
//!
//! Closing (the owner's drop) discards waiting tags and closes the eventfd at once; watches
//! still outstanding keep the shared part alive (their callbacks hold an `Arc`) and do nothing
//! when they fire, so nothing is used after free and nothing leaks.

use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::future::Future;
use crate::status::Status;
use crate::sync::{Condvar, Mutex};
use crate::time::Deadline;

/// A completion queue. One owner drains it; any thread may watch futures on it.
pub struct CompletionQueue {
    shared: Arc<Shared>,
}

struct Shared {
    /// The eventfd; closed (under `ready`'s lock) when the owner drops the queue.
    fd: RawFd,
    ready: Mutex<Ready>,
    cond: Condvar,
}

struct Ready {
    tags: VecDeque<u64>,
    /// The eventfd's counter is non-zero (set with the first tag after a drain).
    signalled: bool,
    closed: bool,
    /// Threads blocked in `wait`: a completion notifies only when someone sleeps.
    sleepers: u32,
}

impl CompletionQueue {
    /// A new queue with its own eventfd (non-blocking, close-on-exec). Fails with
    /// `NoMemory` when the process or system is out of file descriptors or memory.
    pub fn new() -> Result<CompletionQueue> {
        // SAFETY: eventfd takes no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            let err = std::io::Error::last_os_error();
            return Err(Error::new(Status::NoMemory, format!("eventfd: {err}")));
        }
        let ready = Ready { tags: VecDeque::new(), signalled: false, closed: false, sleepers: 0 };
        Ok(CompletionQueue { shared: Arc::new(Shared { fd, ready: Mutex::new(ready), cond: Condvar::new() }) })
    }

    /// The eventfd: readable while at least one tag waits. Valid until the queue is dropped.
    pub fn fd(&self) -> RawFd {
        self.shared.fd
    }

    /// Delivers `tag` once `future` is done (now, on this thread, if it already is). The
    /// caller may drop its `future` right after: the future's callback holds the queue.
    pub fn watch(&self, future: &Future, tag: u64) {
        let shared = self.shared.clone();
        future.add_done_callback(Box::new(move |_| shared.push(tag)));
    }

    /// Moves up to `out.len()` waiting tags, oldest first, into `out`; returns how many.
    /// When this takes the last one the fd stops being readable.
    pub fn drain(&self, out: &mut [u64]) -> usize {
        // SAFETY: `MaybeUninit<u64>` has u64's layout, and only initialised u64s are written.
        let out = unsafe { &mut *(out as *mut [u64] as *mut [MaybeUninit<u64>]) };
        self.drain_uninit(out)
    }

    /// `drain` into memory that need not be initialised (a C caller's array): the first
    /// `n` returned elements are written.
    pub fn drain_uninit(&self, out: &mut [MaybeUninit<u64>]) -> usize {
        let mut r = self.shared.ready.lock();
        let n = out.len().min(r.tags.len());
        for (slot, tag) in out.iter_mut().zip(r.tags.drain(..n)) {
            slot.write(tag);
        }
        self.shared.settle(&mut r);
        n
    }

    /// Every waiting tag, oldest first.
    pub fn drain_all(&self) -> Vec<u64> {
        let mut r = self.shared.ready.lock();
        let tags: Vec<u64> = r.tags.drain(..).collect();
        self.shared.settle(&mut r);
        tags
    }

    /// Blocks until a tag waits or the deadline passes; true if a tag waits. Takes nothing.
    pub fn wait(&self, deadline: Deadline) -> bool {
        let mut r = self.shared.ready.lock();
        while r.tags.is_empty() {
            let timed_out = match deadline {
                Deadline::Poll => return false,
                Deadline::Never => {
                    r.sleepers += 1;
                    self.shared.cond.wait(&mut r);
                    false
                }
                Deadline::At(t) => {
                    r.sleepers += 1;
                    self.shared.cond.wait_until(&mut r, t).timed_out()
                }
            };
            r.sleepers -= 1;
            if timed_out {
                return !r.tags.is_empty();
            }
        }
        true
    }

    /// How many tags wait now (a snapshot).
    pub fn len(&self) -> usize {
        self.shared.ready.lock().tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Watches that have not fired yet (their futures are not done, or are done and their
    /// callbacks are about to run).
    pub fn outstanding(&self) -> usize {
        Arc::strong_count(&self.shared) - 1
    }
}

impl Drop for CompletionQueue {
    fn drop(&mut self) {
        let mut r = self.shared.ready.lock();
        r.closed = true;
        r.tags = VecDeque::new();
        // Closed under the lock: a late `push` checks `closed` first, so it never writes to
        // a descriptor number the process may have reused.
        // SAFETY: the fd is ours and closed once (`closed` was false).
        unsafe { libc::close(self.shared.fd) };
    }
}

impl Shared {
    fn push(&self, tag: u64) {
        let mut r = self.ready.lock();
        if r.closed {
            return;
        }
        r.tags.push_back(tag);
        if !r.signalled {
            r.signalled = true;
            self.eventfd_write();
        }
        if r.sleepers > 0 {
            self.cond.notify_all();
        }
    }

    /// Clears the fd once the list is empty (called under the lock after taking tags).
    fn settle(&self, r: &mut Ready) {
        if r.tags.is_empty() && r.signalled {
            r.signalled = false;
            self.eventfd_read();
        }
    }

    fn eventfd_write(&self) {
        let one: u64 = 1;
        loop {
            // SAFETY: writes 8 bytes from a live u64 to our open eventfd.
            let n = unsafe { libc::write(self.fd, (&one as *const u64).cast(), 8) };
            if n == 8 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return; // the counter is at most 1, so EAGAIN (overflow) cannot happen
            }
        }
    }

    fn eventfd_read(&self) {
        let mut v: u64 = 0;
        loop {
            // SAFETY: reads 8 bytes into a live u64 from our open eventfd.
            let n = unsafe { libc::read(self.fd, (&mut v as *mut u64).cast(), 8) };
            if n == 8 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return;
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
#[path = "cq_tests.rs"]
mod tests;
