//! The MPI transport plugin (`libcfutures_mpi.so`, built from `plugin.c` with the site's
//! `mpicc`): found, `dlopen`ed and wrapped in safe calls. The library itself never links
//! MPI, so a program that uses no MPI pool needs no MPI installed.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use crate::error::{Error, Result};
use crate::status::Status;

/// The plugin's file name.
pub const PLUGIN: &str = "libcfutures_mpi.so";
const ENTRY: &CStr = c"cfutures_mpi_transport_v1";
const VERSION: u32 = 2;

/// How long `Transport::close` (agreement, communicator, `MPI_Finalize`) may take.
pub const CLOSE_BOUND: std::time::Duration = std::time::Duration::from_secs(60);
/// The exit status of a process whose `Transport::close` overran `CLOSE_BOUND`.
pub const CLOSE_EXIT: c_int = 75;

/// The C table `plugin.c` exports (`struct transport`), field for field.
#[repr(C)]
struct Table {
    version: u32,
    struct_size: u32,
    ulfm: i32,
    open: unsafe extern "C" fn(we_init: *mut c_int, err: *mut c_char, errlen: usize) -> c_int,
    rank: unsafe extern "C" fn() -> c_int,
    size: unsafe extern "C" fn() -> c_int,
    isend: unsafe extern "C" fn(dest: c_int, tag: c_int, buf: *const c_void, len: usize) -> *mut c_void,
    test: unsafe extern "C" fn(req: *mut c_void) -> c_int,
    iprobe: unsafe extern "C" fn(src: c_int, tag: c_int, src_out: *mut c_int, len_out: *mut usize) -> c_int,
    recv: unsafe extern "C" fn(src: c_int, tag: c_int, buf: *mut c_void, len: usize) -> c_int,
    close: unsafe extern "C" fn(finalize: c_int) -> c_int,
    abort: unsafe extern "C" fn(code: c_int),
    failed: unsafe extern "C" fn(out: *mut c_int, max: c_int) -> c_int,
    library: unsafe extern "C" fn() -> *const c_char,
    agree: unsafe extern "C" fn(value: i64) -> c_int,
}

/// An open transport: MPI initialised, the pool's communicator duplicated. Calls must come
/// from one thread at a time (the plugin asks for `MPI_THREAD_SERIALIZED`).
#[derive(Clone, Copy)]
pub struct Transport {
    t: &'static Table,
    /// This process initialised MPI (and so finalises it in `close`).
    pub we_init: bool,
    pub rank: usize,
    pub size: usize,
}

/// A started send; its buffer must stay put until `test` says it is done.
pub struct SendReq(*mut c_void);

// SAFETY: an MPI request is plain data owned by whichever thread holds it; the transport
// is only ever used by one thread at a time.
unsafe impl Send for SendReq {}

/// Where to look for the plugin: the caller's path, next to the object holding this code,
/// then the dynamic loader's search path.
fn candidates(path: Option<&str>) -> Vec<String> {
    if let Some(p) = path {
        return vec![p.to_string()];
    }
    let mut v = Vec::new();
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    // SAFETY: dladdr only reads our own code address and fills `info`.
    let ok = unsafe { libc::dladdr(candidates as *const c_void, info.as_mut_ptr()) } != 0;
    // SAFETY: zero-initialised and filled by dladdr when it succeeds.
    let info = unsafe { info.assume_init() };
    if ok && !info.dli_fname.is_null() {
        // SAFETY: dladdr gives a NUL-terminated path owned by the loader.
        let me = unsafe { CStr::from_ptr(info.dli_fname) }.to_string_lossy().into_owned();
        if let Some(dir) = std::path::Path::new(&me).parent() {
            v.push(dir.join(PLUGIN).to_string_lossy().into_owned());
        }
    }
    v.push(PLUGIN.to_string());
    v
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated message owned by the loader.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        return "unknown error".into();
    }
    // SAFETY: as above.
    unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
}

/// Loads the plugin's table. The library is never unloaded (MPI libraries do not support it).
fn load(path: Option<&str>) -> Result<&'static Table> {
    let mut tried = Vec::new();
    for c in candidates(path) {
        let Ok(cpath) = CString::new(c.clone()) else { continue };
        // RTLD_GLOBAL: MPI libraries load their own components, which look for the MPI
        // library's symbols globally.
        // SAFETY: loads a shared object by path; its constructors are MPI's own.
        let h = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if h.is_null() {
            tried.push(format!("{c}: {}", dlerror()));
            continue;
        }
        // SAFETY: looks a symbol up in the object just opened.
        let sym = unsafe { libc::dlsym(h, ENTRY.as_ptr()) };
        if sym.is_null() {
            return Err(Error::new(Status::Unsupported, format!("{c} is not a cfutures MPI plugin (no {ENTRY:?})")));
        }
        // SAFETY: the plugin's entry point has this signature (plugin.c).
        let entry: unsafe extern "C" fn() -> *const Table = unsafe { std::mem::transmute(sym) };
        // SAFETY: the plugin returns a pointer to a static table.
        let t = unsafe { entry().as_ref() };
        return match t {
            Some(t) if t.version == VERSION && t.struct_size as usize >= std::mem::size_of::<Table>() => Ok(t),
            _ => Err(Error::new(Status::Unsupported, format!("{c} is a cfutures MPI plugin of another version: rebuild it with `make mpi`"))),
        };
    }
    Err(Error::new(
        Status::Unsupported,
        format!(
            "the MPI transport plugin {PLUGIN} is missing (build it with `make mpi`, which needs mpicc, or set plugin_path); tried {}",
            tried.join("; ")
        ),
    ))
}

impl Transport {
    /// Loads the plugin and opens the transport (initialising MPI if the program did not).
    pub fn open(path: Option<&str>) -> Result<Transport> {
        let t = load(path)?;
        let mut we_init: c_int = 0;
        let mut err = [0 as c_char; 512];
        // SAFETY: the table's `open` writes `we_init` and at most `errlen` bytes of `err`.
        let rc = unsafe { (t.open)(&mut we_init, err.as_mut_ptr(), err.len()) };
        if rc != 0 {
            err[err.len() - 1] = 0;
            // SAFETY: NUL-terminated above (snprintf terminates too).
            let m = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy().into_owned();
            return Err(Error::new(Status::Unsupported, format!("MPI pool: {m}")));
        }
        // SAFETY: plain queries on the open communicator.
        let (rank, size) = unsafe { ((t.rank)(), (t.size)()) };
        Ok(Transport { t, we_init: we_init != 0, rank: rank.max(0) as usize, size: size.max(0) as usize })
    }

    /// True when the plugin was built against an MPI with ULFM.
    pub fn ulfm(&self) -> bool {
        self.t.ulfm != 0
    }

    /// The MPI library's version line.
    pub fn library(&self) -> String {
        // SAFETY: returns a static NUL-terminated string.
        unsafe { CStr::from_ptr((self.t.library)()) }.to_string_lossy().into_owned()
    }

    /// Starts sending `buf` (at most `i32::MAX` bytes); `None` if MPI refused.
    pub fn isend(&self, dest: usize, tag: i32, buf: &[u8]) -> Option<SendReq> {
        // SAFETY: the caller keeps `buf` alive and unmoved until `test` reports the send done
        // (Link owns both).
        let r = unsafe { (self.t.isend)(dest as c_int, tag, buf.as_ptr() as *const c_void, buf.len()) };
        (!r.is_null()).then_some(SendReq(r))
    }

    /// `Some(true)`: done; `Some(false)`: not yet; `None`: failed. The request is freed
    /// unless it is still in progress.
    pub fn test(&self, r: &SendReq) -> Option<bool> {
        // SAFETY: `r` came from `isend` and was not reported finished yet.
        match unsafe { (self.t.test)(r.0) } {
            1 => Some(true),
            0 => Some(false),
            _ => None,
        }
    }

    /// A waiting message with `tag` (from `src`, or anyone): `Ok(Some((src, len)))`.
    pub fn iprobe(&self, src: Option<usize>, tag: i32) -> std::result::Result<Option<(usize, usize)>, ()> {
        let (mut s, mut len) = (0 as c_int, 0usize);
        let from = src.map_or(-1, |r| r as c_int);
        // SAFETY: writes the two out-values.
        match unsafe { (self.t.iprobe)(from, tag, &mut s, &mut len) } {
            1 => Ok(Some((s as usize, len))),
            0 => Ok(None),
            _ => Err(()),
        }
    }

    /// Receives the message `iprobe` announced into `buf` (its exact length).
    pub fn recv(&self, src: usize, tag: i32, buf: &mut [u8]) -> bool {
        // SAFETY: `buf` is writable for its length.
        unsafe { (self.t.recv)(src as c_int, tag, buf.as_mut_ptr() as *mut c_void, buf.len()) == 0 }
    }

    /// ULFM: the ranks known to have failed (acknowledged), `None` without ULFM.
    pub fn failed(&self) -> Option<Vec<usize>> {
        let mut out = vec![0 as c_int; self.size.max(1)];
        // SAFETY: `out` has room for `size` ranks.
        let n = unsafe { (self.t.failed)(out.as_mut_ptr(), out.len() as c_int) };
        (n >= 0).then(|| out[..n as usize].iter().filter(|r| **r >= 0).map(|r| *r as usize).collect())
    }

    /// Collective: true if every rank passed the same value.
    pub fn agree(&self, value: i64) -> bool {
        // SAFETY: a collective call on the open communicator; every rank makes it.
        unsafe { (self.t.agree)(value) == 1 }
    }

    /// Collective over the surviving ranks: frees the communicator and finalises MPI if this
    /// process initialised it. Under ULFM, after a rank failure, the survivors agree on it
    /// and finalise without the dead rank (`plugin.c`). MPI may still wait forever on a
    /// peer it cannot tell is gone: if the whole step takes longer than `CLOSE_BOUND`, this
    /// process says so on stderr and ends with `_exit(CLOSE_EXIT)`.
    pub fn close(&self) {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rank = self.rank;
        let watchdog = std::thread::Builder::new().name("cfut-mpi-close".into()).spawn(move || {
            if rx.recv_timeout(CLOSE_BOUND) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                eprintln!(
                    "cfutures: MPI pool: rank {rank}: closing MPI did not finish within {} s (a rank that failed?): ending this process (exit status {CLOSE_EXIT})",
                    CLOSE_BOUND.as_secs()
                );
                // SAFETY: ends the process without running anything else (MPI is stuck).
                unsafe { libc::_exit(CLOSE_EXIT) };
            }
        });
        // SAFETY: called once, after every send is done.
        let failed = unsafe { (self.t.close)(self.we_init as c_int) };
        drop(tx);
        if let Ok(w) = watchdog {
            let _ = w.join();
        }
        if failed < 0 {
            eprintln!("cfutures: MPI pool: rank {rank}: the ranks could not agree on failures at close; MPI was finalised without waiting for the others");
        }
    }

    /// Ends the whole MPI job (what any MPI program does on a fatal communication error).
    pub fn abort(&self, code: i32) -> ! {
        // SAFETY: MPI_Abort does not return; exit in case it does.
        unsafe { (self.t.abort)(code) };
        std::process::exit(code)
    }
}
