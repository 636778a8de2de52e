//! The FORK start method: a zygote forked from the host once, at pool creation, by the
//! manager thread; it stays single-threaded and forks every worker on request.
//!
//! Hazards (documented in the header): the fork copies a multithreaded host, so locks held
//! by other threads at that moment stay held in the zygote and in every worker; runtimes
//! with threads (OpenMP, BLAS, Go, tokio, this library's thread pools) are unusable there.
//! The zygote's own loop uses raw system calls and stack buffers only.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::sys::{self, Exit};

/// Messages from the zygote: `[kind, pid, how, value]` as four i32.
const SPAWNED: i32 = 1;
const EXITED: i32 = 2;
const FORK_FAILED: i32 = 3;

pub struct Zygote {
    /// What the pool's messages call it: "the fork zygote" (FORK) or "the fork server".
    name: &'static str,
    /// Started as a fresh process (FORKSERVER), not forked from the host.
    spawned: bool,
    pid: libc::pid_t,
    ctl: Option<OwnedFd>,
    exits: Vec<(i32, Exit)>,
    dead: bool,
}

/// glibc's `__fpurge` and the `stdout` / `stderr` streams, looked up before the fork
/// (an `extern` block here would leak into the generated header).
#[derive(Clone, Copy)]
pub(crate) struct Purge {
    fpurge: usize,
    streams: [usize; 2],
}

fn purge_symbols() -> Purge {
    // SAFETY: dlsym with NUL-terminated names; absent symbols give NULL.
    unsafe {
        let f = libc::dlsym(libc::RTLD_DEFAULT, c"__fpurge".as_ptr()) as usize;
        let o = libc::dlsym(libc::RTLD_DEFAULT, c"stdout".as_ptr()) as usize;
        let e = libc::dlsym(libc::RTLD_DEFAULT, c"stderr".as_ptr()) as usize;
        Purge { fpurge: f, streams: [o, e] }
    }
}

fn send_msg(fd: RawFd, m: [i32; 4]) {
    // SAFETY: sends 16 bytes from a local array.
    unsafe { libc::send(fd, m.as_ptr() as *const libc::c_void, 16, libc::MSG_NOSIGNAL) };
}

/// The zygote's loop. Never returns.
///
/// # Safety
/// Only in a single-threaded process that exists to be the zygote (a fresh fork of the
/// manager thread, or a fresh FORKSERVER process), with `ctl` its control socket.
pub(crate) unsafe fn zygote_main(ctl: RawFd, ppid: libc::pid_t, purge: Option<Purge>, watchdog: bool) -> ! {
    // SAFETY: process-level calls with valid arguments; leaving at once is the point.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
        if libc::getppid() != ppid {
            libc::_exit(0);
        }
    }
    if let Some(purge) = purge {
        // SAFETY: the symbols were looked up in this (forked) process before the fork.
        unsafe { discard_host_output(purge) };
    }
    let none = reset_signals();
    // The control socket becomes fd 3; everything else the host had open goes.
    // SAFETY: descriptor calls on this process's own table.
    unsafe {
        if ctl != 3 {
            libc::dup2(ctl, 3);
        }
        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
    }
    let ctl = 3;
    let sfd = child_signals();
    // SAFETY: getpid never fails.
    let me = unsafe { libc::getpid() };
    loop {
        let mut p = [libc::pollfd { fd: ctl, events: libc::POLLIN, revents: 0 }, libc::pollfd { fd: sfd, events: libc::POLLIN, revents: 0 }];
        // SAFETY: polls a local array of two pollfds.
        if unsafe { libc::poll(p.as_mut_ptr(), 2, -1) } < 0 {
            continue;
        }
        if p[1].revents != 0 {
            report_exits(ctl, sfd);
        }
        if p[0].revents != 0 {
            if let Some(fd) = receive_request(ctl) {
                fork_worker(ctl, sfd, fd, me, &none, watchdog);
            }
        }
    }
}

/// Output the host had buffered must not be written again by a worker.
///
/// # Safety
/// `purge` must come from `purge_symbols` in this process's memory image.
unsafe fn discard_host_output(purge: Purge) {
    if purge.fpurge == 0 {
        return;
    }
    // SAFETY: `fpurge` is glibc's `__fpurge`, and each stream address is `stdout` or
    // `stderr`, a `FILE *` variable (caller's guarantee).
    unsafe {
        let f: unsafe extern "C" fn(*mut libc::FILE) = std::mem::transmute::<usize, unsafe extern "C" fn(*mut libc::FILE)>(purge.fpurge);
        for s in purge.streams {
            if s != 0 {
                f(*(s as *const *mut libc::FILE));
            }
        }
    }
}

/// Nothing of the host's signal set-up survives (a FORK zygote is a copy of the host):
/// with SIGCHLD ignored the kernel would reap the workers before we learn how they ended,
/// and a blocked or ignored SIGTERM would make `terminate` a no-op. Own process group,
/// SIGINT and SIGPIPE ignored. Returns the empty signal set (the workers' mask).
fn reset_signals() -> libc::sigset_t {
    // SAFETY: signal-state calls of this single-threaded process, on local structures.
    unsafe {
        libc::setpgid(0, 0);
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        for sig in 1..libc::SIGRTMAX() + 1 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        none
    }
}

/// SIGCHLD blocked and delivered through a signalfd (returned).
fn child_signals() -> RawFd {
    // SAFETY: signal-mask calls on local sets; creates one descriptor.
    unsafe {
        let mut chld: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut chld);
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &chld, std::ptr::null_mut());
        libc::signalfd(-1, &chld, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
    }
}

/// Reaps every exited worker and reports how each ended.
fn report_exits(ctl: RawFd, sfd: RawFd) {
    let mut buf = [0u8; 128 * 4];
    // SAFETY: drains the non-blocking signalfd into a local buffer.
    while unsafe { libc::read(sfd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) } > 0 {}
    loop {
        let mut st = 0;
        // SAFETY: this process's only children are its workers.
        let pid = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
        if pid <= 0 {
            break;
        }
        let m = if libc::WIFEXITED(st) { [EXITED, pid, 0, libc::WEXITSTATUS(st)] } else { [EXITED, pid, 1, libc::WTERMSIG(st)] };
        send_msg(ctl, m);
    }
}

/// A fork request: the channel descriptor it carries. Leaves when the pool is gone.
fn receive_request(ctl: RawFd) -> Option<RawFd> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr() as *mut libc::c_void, iov_len: 1 };
    let mut cbuf = [0u64; 8];
    // SAFETY: a zeroed msghdr is valid; it points at the local iovec and control buffer,
    // and the control message is read only if the kernel wrote one.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = std::mem::size_of_val(&cbuf);
        let n = libc::recvmsg(ctl, &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n == 0 || (n < 0 && *libc::__errno_location() != libc::EINTR) {
            // The pool is gone: workers follow through their parent-death signal.
            libc::_exit(0);
        }
        if n < 0 {
            return None;
        }
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
            return None;
        }
        Some((libc::CMSG_DATA(c) as *const RawFd).read_unaligned())
    }
}

/// Forks a worker whose fd 3 is `fd`, and reports its pid (or the failure).
fn fork_worker(ctl: RawFd, sfd: RawFd, fd: RawFd, me: libc::pid_t, none: &libc::sigset_t, watchdog: bool) {
    // SAFETY: this process is single-threaded, so the child may run anything; the child
    // only rearranges its own descriptors and signal mask before becoming a worker.
    let pid = unsafe { libc::fork() };
    // SAFETY: errno is this thread's.
    let errno = unsafe { *libc::__errno_location() };
    if pid == 0 {
        // SAFETY: as above, in the child.
        unsafe {
            libc::sigprocmask(libc::SIG_SETMASK, none, std::ptr::null_mut());
            libc::close(sfd);
            libc::dup2(fd, 3);
            libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
            libc::setpgid(0, 0);
        }
        super::worker::worker_main(3, me, true, watchdog);
    }
    // SAFETY: the received descriptor is ours to close.
    unsafe { libc::close(fd) };
    if pid < 0 {
        send_msg(ctl, [FORK_FAILED, 0, 0, errno]);
    } else {
        send_msg(ctl, [SPAWNED, pid, 0, 0]);
    }
}

/// How long the zygote may take to answer a fork request (it normally answers in well
/// under a millisecond).
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a zygote may take to exit after its control socket closed.
const EXIT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

impl Zygote {
    /// A zygote not started yet.
    pub fn placeholder() -> Zygote {
        Zygote { name: "the fork zygote", spawned: false, pid: 0, ctl: None, exits: Vec::new(), dead: false }
    }

    /// Forks the zygote. Must run on the manager thread.
    pub fn start() -> Result<Zygote, String> {
        let mut fds = [0; 2];
        // SAFETY: socketpair into a local array.
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } < 0 {
            return Err(format!("socketpair: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: fresh descriptors we own.
        let (mine, theirs) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: getpid never fails.
        let me = unsafe { libc::getpid() };
        let purge = purge_symbols();
        // SAFETY: the child only runs `zygote_main`, which uses raw system calls.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("cannot fork the zygote: {}", std::io::Error::last_os_error()));
        }
        if pid == 0 {
            // SAFETY: in the child.
            unsafe { zygote_main(theirs.as_raw_fd(), me, Some(purge), false) };
        }
        drop(theirs);
        Ok(Zygote { name: "the fork zygote", spawned: false, pid, ctl: Some(mine), exits: Vec::new(), dead: false })
    }

    /// Starts the zygote as a fresh process (FORKSERVER): the worker program with
    /// `CFUT_WORKER_ZYGOTE=1`, which the library's constructor turns into a zygote.
    pub fn spawn(exe: &std::ffi::CString, argv: &[std::ffi::CString], envp: &[std::ffi::CString]) -> Result<Zygote, String> {
        let mut fds = [0; 2];
        // SAFETY: socketpair into a local array.
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } < 0 {
            return Err(format!("socketpair: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: fresh descriptors we own.
        let (mine, theirs) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let mut env = envp.to_vec();
        env.push(c"CFUT_WORKER_ZYGOTE=1".to_owned());
        let (pid, _) = sys::spawn(exe, argv, &env, &theirs, false)
            .map_err(|e| format!("cannot start the fork server ({}): {e}", exe.to_string_lossy()))?;
        drop(theirs);
        Ok(Zygote { name: "the fork server", spawned: true, pid, ctl: Some(mine), exits: Vec::new(), dead: false })
    }

    /// What the pool's messages call it.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The control socket to poll for exit reports, or -1.
    pub fn fd(&self) -> RawFd {
        if self.dead {
            return -1;
        }
        self.ctl.as_ref().map_or(-1, |f| f.as_raw_fd())
    }

    pub fn dead(&self) -> bool {
        self.dead
    }

    fn recv(&mut self, block: bool) -> Option<[i32; 4]> {
        let fd = self.ctl.as_ref()?.as_raw_fd();
        let mut m = [0i32; 4];
        loop {
            // SAFETY: reads one 16-byte record into a local.
            let n = unsafe { libc::recv(fd, m.as_mut_ptr() as *mut libc::c_void, 16, if block { 0 } else { libc::MSG_DONTWAIT }) };
            if n == 16 {
                return Some(m);
            }
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            if n == 0 || (n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN)) {
                self.dead = true;
            }
            return None;
        }
    }

    fn note(&mut self, m: [i32; 4]) {
        if m[0] == EXITED {
            self.exits.push((m[1], if m[2] == 0 { Exit::Code(m[3]) } else { Exit::Signal(m[3]) }));
        }
    }

    /// Asks the zygote for a worker whose fd 3 is `sock`: its pid and a pidfd to signal it.
    pub fn fork_worker(&mut self, sock: OwnedFd) -> Result<(libc::pid_t, Option<OwnedFd>), String> {
        let fd = self.ctl.as_ref().filter(|_| !self.dead).ok_or_else(|| format!("{} is gone", self.name))?.as_raw_fd();
        // SAFETY: a one-byte message carrying one descriptor with SCM_RIGHTS.
        unsafe {
            let mut byte = [b'F'];
            let mut iov = libc::iovec { iov_base: byte.as_mut_ptr() as *mut libc::c_void, iov_len: 1 };
            let mut cbuf = [0u64; 8];
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
            (libc::CMSG_DATA(c) as *mut RawFd).write_unaligned(sock.as_raw_fd());
            if libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) < 0 {
                self.dead = true;
                return Err(format!("{} is gone: {}", self.name, std::io::Error::last_os_error()));
            }
        }
        drop(sock);
        let deadline = std::time::Instant::now() + ANSWER_TIMEOUT;
        loop {
            if !self.await_message(deadline) {
                // A server that never answers (a worker_exe that does not load the library)
                // would hold the manager thread, and with it the whole pool, forever.
                // SAFETY: signals our own child by pid; it is reaped in `drop`.
                unsafe { libc::kill(self.pid, libc::SIGKILL) };
                self.dead = true;
                let hint = if self.spawned { " (a worker_exe must be a dynamically linked program that loads libcfutures)" } else { "" };
                return Err(format!("{} (pid {}) did not answer within {} s{hint}", self.name, self.pid, ANSWER_TIMEOUT.as_secs()));
            }
            let name = self.name;
            let m = self.recv(true).ok_or_else(|| format!("{name} is gone"))?;
            match m[0] {
                SPAWNED => {
                    let pidfd = sys::pidfd_open(m[1]).ok();
                    return Ok((m[1], pidfd));
                }
                FORK_FAILED => return Err(format!("{} cannot fork: {}", self.name, std::io::Error::from_raw_os_error(m[3]))),
                _ => self.note(m),
            }
        }
    }

    /// Waits until the control socket is readable (a message or the hang-up); false if the
    /// deadline passed first.
    fn await_message(&self, deadline: std::time::Instant) -> bool {
        let Some(fd) = self.ctl.as_ref().map(|f| f.as_raw_fd()) else { return true };
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
            let ms = left.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: polls one descriptor we own.
            let n = unsafe { libc::poll(&mut p, 1, ms) };
            if n > 0 {
                return true;
            }
            if n == 0 {
                return false;
            }
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return true; // let recv report the error
            }
        }
    }

    /// Exit reports received so far.
    pub fn read_exits(&mut self) -> Vec<(i32, Exit)> {
        while let Some(m) = self.recv(false) {
            self.note(m);
        }
        std::mem::take(&mut self.exits)
    }
}

impl Drop for Zygote {
    fn drop(&mut self) {
        // Closing the control socket ends the zygote; reap exactly it, killing it if it
        // does not go (a server that never ran the library's code ignores the socket).
        self.ctl = None;
        if self.pid > 0 {
            let mut st = 0;
            let give_up = std::time::Instant::now() + EXIT_GRACE;
            // SAFETY: waits for (and if need be kills) our own child by pid.
            unsafe {
                while libc::waitpid(self.pid, &mut st, libc::WNOHANG) == 0 {
                    if std::time::Instant::now() >= give_up {
                        libc::kill(self.pid, libc::SIGKILL);
                        libc::waitpid(self.pid, &mut st, 0);
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        }
    }
}
