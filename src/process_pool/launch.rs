//! Launching workers: the program, arguments and environment of a SPAWN worker (or of the
//! FORKSERVER server), and starting one worker by the pool's start method.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::OnceLock;

use super::{locate, sys, worker, zygote};
use crate::error::{Error, Result};
use crate::status::Status;

/// How workers are launched.
pub(crate) enum Launch {
    Spawn { exe: CString, argv: Vec<CString>, envp: Vec<CString> },
    Fork(zygote::Zygote),
}

/// Pidfds are used when the kernel has them; `CFUT_PROCESS_NO_PIDFD` in the environment
/// forces the pid-based fallback (for tests).
pub(crate) fn no_pidfd() -> bool {
    static NO: OnceLock<bool> = OnceLock::new();
    *NO.get_or_init(|| std::env::var_os("CFUT_PROCESS_NO_PIDFD").is_some())
}

/// A launched worker: its pid, a pidfd if there is one, the pool's end of its channel, and
/// whether the zygote (its parent) reports its exit.
pub(crate) struct Launched {
    pub pid: i32,
    pub pidfd: Option<OwnedFd>,
    pub sock: OwnedFd,
    pub by_zygote: bool,
}

impl Launch {
    /// Starts one worker whose fd 3 is a fresh channel to the pool.
    pub fn worker(&mut self) -> std::result::Result<Launched, String> {
        let (parent, child) = sys::socketpair().map_err(|e| format!("socketpair: {e}"))?;
        sys::set_buffers(parent.as_raw_fd(), 1 << 20);
        sys::set_buffers(child.as_raw_fd(), 1 << 20);
        let (pid, pidfd, by_zygote) = match self {
            Launch::Spawn { exe, argv, envp } => {
                let (pid, pidfd) = sys::spawn(exe, argv, envp, &child, !no_pidfd())
                    .map_err(|e| format!("cannot start a worker process ({}): {e}", exe.to_string_lossy()))?;
                (pid, pidfd, false)
            }
            Launch::Fork(z) => {
                let (pid, fd) = z.fork_worker(child)?;
                (pid, fd, true)
            }
        };
        sys::set_nonblocking(parent.as_raw_fd()).map_err(|e| format!("fcntl: {e}"))?;
        Ok(Launched { pid, pidfd, sock: parent, by_zygote })
    }
}

/// The shared object (or executable) this library's code is in: `None` when it is linked
/// into the main executable.
pub(super) fn own_object() -> Option<Vec<u8>> {
    let here = own_object as *const () as usize;
    match locate::locate_uncached(here) {
        Ok(l) if !l.in_main => Some(l.fnref.path),
        _ => None,
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

fn cstring(b: impl Into<Vec<u8>>) -> Result<CString> {
    CString::new(b).map_err(|_| Error::new(Status::InvalidArgument, "a path or environment entry contains a NUL byte"))
}

/// The program, arguments and environment of a SPAWN worker, and whether functions of the
/// host's main executable are valid there.
pub(super) fn spawn_launch(worker_exe: Option<&PathBuf>) -> Result<(Launch, bool)> {
    let self_exe = std::fs::read_link("/proc/self/exe").ok().filter(|p| p.exists());
    let (exe, main_ok) = match worker_exe {
        Some(p) => {
            let c = cstring(p.as_os_str().as_bytes())?;
            // A directory passes access(X_OK) too: require a regular file.
            let regular = std::fs::metadata(p).is_ok_and(|m| m.is_file());
            // SAFETY: access(2) on a NUL-terminated path.
            if !regular || unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 {
                return Err(Error::new(Status::InvalidArgument, format!("worker_exe '{}' is not an executable file", p.display())));
            }
            let same = self_exe.as_ref().is_some_and(|s| same_file(s, p));
            (c, same)
        }
        None => match &self_exe {
            Some(p) => (cstring(p.as_os_str().as_bytes())?, true),
            None => (cstring("/proc/self/exe")?, true),
        },
    };
    let preload = own_object();
    let mut envp = Vec::new();
    let mut saved_preload = None;
    let mut asan = None;
    for (k, v) in std::env::vars_os() {
        let kb = k.as_bytes();
        if kb.starts_with(b"CFUT_WORKER_") {
            continue;
        }
        if preload.is_some() && kb == b"LD_PRELOAD" {
            saved_preload = Some(v);
            continue;
        }
        if preload.is_some() && kb == b"ASAN_OPTIONS" {
            asan = Some(v);
            continue;
        }
        let mut e = kb.to_vec();
        e.push(b'=');
        e.extend_from_slice(v.as_bytes());
        envp.push(cstring(e)?);
    }
    // SAFETY: getpid never fails.
    let pid = unsafe { libc::getpid() };
    envp.push(cstring(format!("{}=3", worker::ENV_FD))?);
    envp.push(cstring(format!("{}={pid}", worker::ENV_PPID))?);
    if let Some(lib) = preload {
        // The worker must run this library's constructor even if the host loaded it with
        // dlopen (or not at all at start-up): preload it. The worker restores LD_PRELOAD.
        let mut e = b"LD_PRELOAD=".to_vec();
        e.extend_from_slice(&lib);
        if let Some(old) = &saved_preload {
            e.push(b' ');
            e.extend_from_slice(old.as_bytes());
            let mut s = format!("{}=", worker::ENV_SAVED_PRELOAD).into_bytes();
            s.extend_from_slice(old.as_bytes());
            envp.push(cstring(s)?);
        }
        envp.push(cstring(e)?);
        envp.push(cstring(format!("{}=1", worker::ENV_PRELOADED))?);
        // An ASAN-instrumented host refuses to start with another library before its
        // runtime; the preloaded library is not instrumented, so the check can go. A
        // worker ends without freeing what it holds (by design), so no leak report either:
        // it would turn a task's `exit(n)` into another exit code.
        let mut a = b"ASAN_OPTIONS=".to_vec();
        if let Some(old) = &asan {
            a.extend_from_slice(old.as_bytes());
            a.push(b':');
        }
        a.extend_from_slice(b"verify_asan_link_order=0:detect_leaks=0");
        envp.push(cstring(a)?);
    }
    let argv = vec![cstring("cfutures-worker")?];
    Ok((Launch::Spawn { exe, argv, envp }, main_ok))
}

