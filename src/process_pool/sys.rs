//! Thin wrappers over the Linux calls the process pool uses. Every descriptor is created
//! close-on-exec.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r) }
}

/// A connected pair of close-on-exec stream sockets.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    cvt(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) })?;
    // SAFETY: both are fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain fcntl on a descriptor we own.
    unsafe {
        let fl = cvt(libc::fcntl(fd, libc::F_GETFL))?;
        cvt(libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK))?;
    }
    Ok(())
}

/// Socket buffers big enough that a large payload moves in few system calls.
pub fn set_buffers(fd: RawFd, bytes: libc::c_int) {
    for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
        // SAFETY: setsockopt with a valid int option.
        unsafe {
            libc::setsockopt(fd, libc::SOL_SOCKET, opt, &bytes as *const libc::c_int as *const libc::c_void, 4);
        }
    }
}

pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: creates a fresh descriptor.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    // SAFETY: fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn eventfd_signal(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a local.
    unsafe { libc::write(fd, &one as *const u64 as *const libc::c_void, 8) };
}

pub fn eventfd_drain(fd: RawFd) {
    let mut v: u64 = 0;
    // SAFETY: reads 8 bytes into a local; non-blocking.
    unsafe { libc::read(fd, &mut v as *mut u64 as *mut libc::c_void, 8) };
}

pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2); returns a close-on-exec descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Signals the process behind a pidfd (never a recycled pid).
pub fn pidfd_kill(fd: &OwnedFd, sig: libc::c_int) -> bool {
    // SAFETY: pidfd_send_signal(2) with no siginfo.
    unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), sig, std::ptr::null::<libc::siginfo_t>(), 0) == 0 }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// Someone else reaped it (e.g. the host ignores SIGCHLD): the status is lost.
    Unknown,
}

/// Reaps the child behind `fd` if it has exited: `None` while it is still running.
pub fn reap(fd: &OwnedFd, block: bool) -> Option<Exit> {
    wait_for(libc::P_PIDFD, fd.as_raw_fd() as libc::id_t, block)
}

/// `reap` by pid, where pidfds are not available (kernels before 5.3, valgrind): only
/// for our own unreaped child, so the pid cannot have been reused.
pub fn reap_pid(pid: libc::pid_t) -> Option<Exit> {
    wait_for(libc::P_PID, pid as libc::id_t, false)
}

fn wait_for(idtype: libc::idtype_t, id: libc::id_t, block: bool) -> Option<Exit> {
    // SAFETY: zeroed siginfo is valid; waitid only touches our own child.
    unsafe {
        let mut si: libc::siginfo_t = std::mem::zeroed();
        let flags = libc::WEXITED | if block { 0 } else { libc::WNOHANG };
        loop {
            let r = libc::waitid(idtype, id, &mut si, flags);
            if r == 0 {
                if si.si_pid() == 0 {
                    return None;
                }
                let st = si.si_status();
                return Some(match si.si_code {
                    libc::CLD_EXITED => Exit::Code(st),
                    _ => Exit::Signal(st),
                });
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Some(Exit::Unknown);
        }
    }
}

/// The name of a signal, e.g. "SIGSEGV".
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// Starts `exe` with `argv` and `envp` by `posix_spawn`, with `child_sock` as its fd 3,
/// stdio inherited, every other descriptor closed, an empty signal mask, default signal
/// dispositions and its own process group. Returns the pid.
pub fn spawn(exe: &CString, argv: &[CString], envp: &[CString], child_sock: &OwnedFd) -> io::Result<libc::pid_t> {
    let mut argv_p: Vec<*mut libc::c_char> = argv.iter().map(|a| a.as_ptr() as *mut _).collect();
    argv_p.push(std::ptr::null_mut());
    let mut envp_p: Vec<*mut libc::c_char> = envp.iter().map(|a| a.as_ptr() as *mut _).collect();
    envp_p.push(std::ptr::null_mut());
    // SAFETY: every structure is initialised before use and destroyed after; pointers in
    // argv/envp outlive the call.
    unsafe {
        let mut fa: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut at: libc::posix_spawnattr_t = std::mem::zeroed();
        libc::posix_spawn_file_actions_init(&mut fa);
        libc::posix_spawnattr_init(&mut at);
        // If the socket already is fd 3, dup2 would keep close-on-exec; move it first.
        let mut tmp = None;
        let mut src = child_sock.as_raw_fd();
        if src == 3 {
            let d = libc::fcntl(src, libc::F_DUPFD_CLOEXEC, 10);
            if d < 0 {
                return Err(io::Error::last_os_error());
            }
            tmp = Some(OwnedFd::from_raw_fd(d));
            src = d;
        }
        libc::posix_spawn_file_actions_adddup2(&mut fa, src, 3);
        libc::posix_spawn_file_actions_addclosefrom_np(&mut fa, 4);
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::posix_spawnattr_setsigmask(&mut at, &empty);
        libc::posix_spawnattr_setsigdefault(&mut at, &all);
        libc::posix_spawnattr_setpgroup(&mut at, 0);
        libc::posix_spawnattr_setflags(
            &mut at,
            (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF | libc::POSIX_SPAWN_SETPGROUP) as libc::c_short,
        );
        let mut pid: libc::pid_t = 0;
        let r = libc::posix_spawn(&mut pid, exe.as_ptr(), &fa, &at, argv_p.as_ptr(), envp_p.as_ptr());
        libc::posix_spawn_file_actions_destroy(&mut fa);
        libc::posix_spawnattr_destroy(&mut at);
        drop(tmp);
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        Ok(pid)
    }
}

/// Writes all of `buf` to a blocking descriptor.
pub fn write_all(fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: writes from a valid slice; MSG_NOSIGNAL avoids SIGPIPE.
        let n = unsafe { libc::send(fd, buf.as_ptr() as *const libc::c_void, buf.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// Fills all of `buf` from a blocking descriptor; `Ok(false)` on EOF before the first byte.
pub fn read_exact(fd: RawFd, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reads into the unfilled part of a valid slice.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr() as *mut libc::c_void, buf.len() - got) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            if got == 0 {
                return Ok(false);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += n as usize;
    }
    Ok(true)
}
