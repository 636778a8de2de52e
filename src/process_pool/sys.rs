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
    match wait_for(libc::P_PIDFD, fd.as_raw_fd() as libc::id_t, block) {
        // Reaped by the kernel (the host ignores SIGCHLD): the pidfd still knows.
        Some(Exit::Unknown) => Some(exit_info(fd).unwrap_or(Exit::Unknown)),
        e => e,
    }
}

/// `struct pidfd_info` up to `exit_code` (`PIDFD_INFO_SIZE_VER0`).
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    ids: [u32; 11],
    exit_code: i32,
}

/// How the process behind a pidfd ended, from the kernel's record (Linux 6.15+), which
/// survives its reaping by someone else. `None` on older kernels.
fn exit_info(fd: &OwnedFd) -> Option<Exit> {
    const PIDFD_GET_INFO: libc::c_ulong = 0xC040_FF0B; // _IOWR(0xFF, 11, 64 bytes)
    const PIDFD_INFO_EXIT: u64 = 1 << 3;
    // The record is written as the process is released, just after the pidfd turns
    // readable: give it a moment.
    for _ in 0..100 {
        let mut info = PidfdInfo { mask: PIDFD_INFO_EXIT, ..Default::default() };
        // SAFETY: the ioctl writes at most `size_of::<PidfdInfo>()` bytes (encoded in its number).
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), PIDFD_GET_INFO, &mut info as *mut PidfdInfo) };
        if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH) {
            return None;
        }
        if r == 0 && info.mask & PIDFD_INFO_EXIT != 0 {
            let st = info.exit_code;
            return Some(if libc::WIFEXITED(st) { Exit::Code(libc::WEXITSTATUS(st)) } else { Exit::Signal(libc::WTERMSIG(st)) });
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    None
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

/// What the child of `spawn` needs, prepared before the clone (the child may not allocate).
struct ChildArgs {
    exe: *const libc::c_char,
    argv: *const *mut libc::c_char,
    envp: *const *mut libc::c_char,
    sock: RawFd,
    /// Written by the child when `execve` fails (the memory is shared until then).
    errno: libc::c_int,
}

/// The child of `spawn`: runs on its own stack in the parent's memory (`CLONE_VM`, the
/// parent suspended) and so makes raw system calls only (no libc function a sanitizer
/// could intercept), then becomes `exe`.
extern "C" fn spawn_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's `ChildArgs`, alive while the parent is suspended.
    let a = unsafe { &mut *(arg as *mut ChildArgs) };
    // SAFETY: system calls on this process's own state; every pointer is valid.
    unsafe {
        // Default dispositions for every signal (a handler of the host must never run
        // here, and an ignored SIGTERM or SIGCHLD must not reach the worker), then an
        // empty mask (every signal was blocked across the clone).
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        for sig in 1..65 {
            libc::syscall(libc::SYS_rt_sigaction, sig, &dfl as *const libc::sigaction, std::ptr::null_mut::<libc::sigaction>(), 8usize);
        }
        libc::syscall(libc::SYS_setpgid, 0, 0);
        let moved = if a.sock == 3 {
            libc::syscall(libc::SYS_fcntl, 3, libc::F_SETFD, 0)
        } else {
            libc::syscall(libc::SYS_dup3, a.sock, 3, 0)
        };
        if moved >= 0 {
            libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
            let empty = 0u64;
            libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &empty as *const u64, std::ptr::null_mut::<u64>(), 8usize);
            libc::syscall(libc::SYS_execve, a.exe, a.argv, a.envp);
        }
        a.errno = *libc::__errno_location();
        // Not `_exit`, which a sanitizer runtime intercepts.
        libc::syscall(libc::SYS_exit, 127);
        127
    }
}

/// Starts `exe` with `argv` and `envp`, with `child_sock` as its fd 3, stdio inherited,
/// every other descriptor closed, an empty signal mask, default signal dispositions and
/// its own process group. Returns the pid and, if `want_pidfd`, a pidfd.
///
/// The child is created as `posix_spawn` does (`CLONE_VM | CLONE_VFORK`), with
/// `CLONE_PIDFD`: the pidfd exists before the child can exit, so its exit status can be
/// read from it even when the kernel reaps it at once (a host ignoring SIGCHLD). Where
/// such a clone is refused (valgrind), `posix_spawn` and `pidfd_open` are the fallback.
pub fn spawn(exe: &CString, argv: &[CString], envp: &[CString], child_sock: &OwnedFd, want_pidfd: bool) -> io::Result<(libc::pid_t, Option<OwnedFd>)> {
    let mut argv_p: Vec<*mut libc::c_char> = argv.iter().map(|a| a.as_ptr() as *mut _).collect();
    argv_p.push(std::ptr::null_mut());
    let mut envp_p: Vec<*mut libc::c_char> = envp.iter().map(|a| a.as_ptr() as *mut _).collect();
    envp_p.push(std::ptr::null_mut());
    let mut args = ChildArgs { exe: exe.as_ptr(), argv: argv_p.as_ptr(), envp: envp_p.as_ptr(), sock: child_sock.as_raw_fd(), errno: 0 };
    const STACK: usize = 64 * 1024;
    // SAFETY: a private anonymous mapping, unmapped below.
    let stack = unsafe {
        libc::mmap(std::ptr::null_mut(), STACK, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK, -1, 0)
    };
    if stack == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let mut pidfd: libc::c_int = -1;
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD | if want_pidfd { libc::CLONE_PIDFD } else { 0 };
    let all = u64::MAX;
    let mut old = 0u64;
    // SAFETY: every signal is blocked across the clone so that no handler of the host runs
    // in the child, which shares the parent's memory until it execs; the child runs
    // `spawn_child` on the fresh stack (its top passed, as the stack grows down) and the
    // parent resumes once it has exec'd or exited. `args` and the vectors outlive that.
    let pid = unsafe {
        libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &all as *const u64, &mut old as *mut u64, 8usize);
        let top = (stack as *mut u8).add(STACK) as *mut libc::c_void;
        let pid = libc::clone(spawn_child, top, flags, &mut args as *mut ChildArgs as *mut libc::c_void, &mut pidfd as *mut libc::c_int);
        let e = io::Error::last_os_error();
        libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &old as *const u64, std::ptr::null_mut::<u64>(), 8usize);
        libc::munmap(stack, STACK);
        if pid < 0 {
            return match e.raw_os_error() {
                Some(libc::EINVAL | libc::ENOSYS | libc::EPERM) => posix_spawn(exe, &argv_p, &envp_p, child_sock, want_pidfd),
                _ => Err(e),
            };
        }
        pid
    };
    // SAFETY: CLONE_PIDFD gave us a fresh descriptor.
    let fd = (want_pidfd && pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    if args.errno != 0 {
        // The child could not exec and has exited: reap it.
        if let Some(f) = &fd {
            reap(f, true);
        } else {
            wait_for(libc::P_PID, pid as libc::id_t, true);
        }
        return Err(io::Error::from_raw_os_error(args.errno));
    }
    Ok((pid, fd))
}

/// `spawn` by `posix_spawn` (the child reports its exit with SIGCHLD).
fn posix_spawn(exe: &CString, argv_p: &[*mut libc::c_char], envp_p: &[*mut libc::c_char], child_sock: &OwnedFd, want_pidfd: bool) -> io::Result<(libc::pid_t, Option<OwnedFd>)> {
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
        Ok((pid, if want_pidfd { pidfd_open(pid).ok() } else { None }))
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
