//! The pool's side of one worker: its process handle and its non-blocking channel (frames
//! queued for writing, frames being read).

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};

use super::launch::Launched;
use super::proto::{self, Header, Reader};
use super::sys;

pub(crate) struct Link {
    pub pid: i32,
    pub pidfd: Option<OwnedFd>,
    sock: OwnedFd,
    rx: Reader,
    tx: VecDeque<Vec<u8>>,
    tx_off: usize,
    /// FORK and FORKSERVER: the zygote is the parent, reaps it and reports its exit.
    pub by_zygote: bool,
    /// The channel hung up (EOF or an error): nothing more is read or written.
    pub closed: bool,
    /// Reaped: the pid may belong to another process now.
    pub reaped: bool,
}

/// What a read found besides frames.
pub(crate) enum ReadEnd {
    /// Nothing more for now.
    Drained,
    /// The worker's end closed.
    HungUp,
    /// The stream breaks the protocol (why).
    Bad(&'static str),
}

impl Link {
    pub fn new(l: Launched, config: Vec<u8>) -> Link {
        let tx = VecDeque::from([config]);
        Link { pid: l.pid, pidfd: l.pidfd, sock: l.sock, rx: Reader::default(), tx, tx_off: 0, by_zygote: l.by_zygote, closed: false, reaped: false }
    }

    pub fn sock_fd(&self) -> i32 {
        if self.closed { -1 } else { self.sock.as_raw_fd() }
    }

    pub fn wants_to_write(&self) -> bool {
        !self.tx.is_empty()
    }

    pub fn queue(&mut self, frame: Vec<u8>) {
        self.tx.push_back(frame);
    }

    pub fn signal(&self, sig: i32) {
        if self.reaped {
            return;
        }
        // A stopped worker (SIGSTOP, a debugger) would hold a signal other than SIGKILL
        // pending forever, and shutdown with it: continue it.
        let sigs: &[i32] = if sig == libc::SIGKILL { &[sig] } else { &[sig, libc::SIGCONT] };
        for &s in sigs {
            match &self.pidfd {
                Some(fd) => {
                    sys::pidfd_kill(fd, s);
                }
                // SAFETY: the child is not reaped yet, so its pid is still ours.
                None => unsafe {
                    libc::kill(self.pid, s);
                },
            }
        }
    }

    /// Kills the worker and its process group (task grandchildren included).
    pub fn kill_hard(&self) {
        if self.reaped {
            return;
        }
        self.signal(libc::SIGKILL);
        // SAFETY: the worker leads its own group, and is not reaped yet.
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
    }

    /// Writes queued frames until the socket is full.
    pub fn flush(&mut self) {
        while let Some(front) = self.tx.front() {
            if self.closed || self.reaped {
                self.tx.clear();
                break;
            }
            let buf = &front[self.tx_off..];
            // SAFETY: sends from a valid buffer on our non-blocking socket.
            let n = unsafe {
                libc::send(self.sock.as_raw_fd(), buf.as_ptr() as *const libc::c_void, buf.len(), libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
            };
            if n < 0 {
                let e = std::io::Error::last_os_error().raw_os_error();
                if e == Some(libc::EINTR) {
                    continue;
                }
                if e != Some(libc::EAGAIN) {
                    // The worker is gone; its exit will be reported by its pidfd.
                    self.tx.clear();
                    self.tx_off = 0;
                }
                break;
            }
            self.tx_off += n as usize;
            if self.tx_off == front.len() {
                self.tx.pop_front();
                self.tx_off = 0;
            }
        }
    }

    /// Reads whatever the worker sent, appending whole frames to `frames`.
    pub fn read(&mut self, scratch: &mut [u8], frames: &mut Vec<(Header, Vec<u8>)>) -> ReadEnd {
        if self.closed {
            return ReadEnd::Drained;
        }
        loop {
            let remaining = self.rx.body_remaining();
            let step = if remaining >= 64 * 1024 { self.read_body(remaining, frames) } else { self.read_some(scratch, frames) };
            match step {
                Step::More => {}
                Step::Stop(ReadEnd::HungUp) => {
                    self.closed = true;
                    return ReadEnd::HungUp;
                }
                Step::Stop(end) => return end,
            }
        }
    }

    /// Frames and headers: through the scratch buffer.
    fn read_some(&mut self, scratch: &mut [u8], frames: &mut Vec<(Header, Vec<u8>)>) -> Step {
        // SAFETY: reads into the caller's scratch buffer.
        let n = unsafe { libc::read(self.sock.as_raw_fd(), scratch.as_mut_ptr() as *mut libc::c_void, scratch.len()) };
        if n <= 0 {
            return after_error(n);
        }
        if let Err(e) = self.rx.feed(&scratch[..n as usize], frames) {
            return Step::Stop(ReadEnd::Bad(why(e)));
        }
        // A short read: nothing more for now.
        if (n as usize) < scratch.len() { Step::Stop(ReadEnd::Drained) } else { Step::More }
    }

    /// A large payload: read straight into it.
    fn read_body(&mut self, remaining: usize, frames: &mut Vec<(Header, Vec<u8>)>) -> Step {
        let fd = self.sock.as_raw_fd();
        let Some(body) = self.rx.body_mut() else { return Step::Stop(ReadEnd::Drained) };
        if body.try_reserve(remaining).is_err() {
            return Step::Stop(ReadEnd::Bad("sent a message too large to receive"));
        }
        let spare = body.spare_capacity_mut();
        let want = remaining.min(spare.len());
        // SAFETY: reads into the spare capacity, then commits what was read.
        let n = unsafe { libc::read(fd, spare.as_mut_ptr() as *mut libc::c_void, want) };
        if n <= 0 {
            return after_error(n);
        }
        // SAFETY: `n` bytes of the spare capacity were just written.
        unsafe { body.set_len(body.len() + n as usize) };
        if let Some(f) = self.rx.take_complete() {
            frames.push(f);
        }
        if (n as usize) < want { Step::Stop(ReadEnd::Drained) } else { Step::More }
    }
}

/// What a stream that breaks the protocol did, for the worker's kill message.
pub(super) fn why(e: proto::ReadError) -> &'static str {
    match e {
        proto::ReadError::BadMagic => "sent a malformed message",
        proto::ReadError::TooLong(_) => "announced a message longer than the protocol allows",
        proto::ReadError::NoMemory => "sent a message too large to receive",
    }
}

enum Step {
    More,
    Stop(ReadEnd),
}

/// A `read` that returned 0 (EOF) or -1.
fn after_error(n: isize) -> Step {
    if n == 0 {
        return Step::Stop(ReadEnd::HungUp);
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EINTR) => Step::More,
        Some(libc::EAGAIN) => Step::Stop(ReadEnd::Drained),
        _ => Step::Stop(ReadEnd::HungUp),
    }
}
