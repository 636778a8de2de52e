//! Turning a function pointer into a reference another process can resolve, and back.
//!
//! Parent, at submit: `dl_iterate_phdr` finds the loaded object whose executable segment
//! holds the address; the reference is (object path, GNU build-id, offset from the load
//! address). Main-executable functions get an empty path. No symbol is needed, so static
//! (unexported) functions work, and position-independent executables too (the offset is
//! taken from the load bias, which differs between processes).
//!
//! Worker: the object is found among the loaded ones by build-id (or path), `dlopen`ed if
//! it is not loaded yet, its build-id checked, and the address is base + offset.

use std::collections::BTreeMap;
use std::ffi::{c_int, c_void, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::sync::{Arc, Mutex, OnceLock};

use super::proto::FnRef;

/// One loaded object, as `dl_iterate_phdr` shows it.
struct Object {
    index: usize,
    name: Vec<u8>,
    base: usize,
    build_id: Vec<u8>,
    /// Executable segments, as absolute [start, end).
    text: Vec<(usize, usize)>,
}

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const PF_X: u32 = 1;
const NT_GNU_BUILD_ID: u32 = 3;

/// Reads the GNU build-id note from a PT_NOTE segment in memory.
///
/// # Safety
/// `[start, start + len)` must be a mapped note segment.
unsafe fn build_id_in(start: usize, len: usize) -> Option<Vec<u8>> {
    let mut p = start;
    let end = start + len;
    while p + 12 <= end {
        // SAFETY: 12 bytes at `p` lie inside the segment (checked above), which the caller
        // guarantees is mapped.
        let (namesz, descsz, ty) = unsafe {
            let w = p as *const u32;
            (w.read_unaligned() as usize, w.add(1).read_unaligned() as usize, w.add(2).read_unaligned())
        };
        let name = p + 12;
        let desc = name + namesz.div_ceil(4) * 4;
        let next = desc + descsz.div_ceil(4) * 4;
        if next > end {
            return None;
        }
        if ty == NT_GNU_BUILD_ID && namesz == 4 {
            // SAFETY: the name and descriptor lie inside the segment (`next <= end`).
            let (n, d) = unsafe { (std::slice::from_raw_parts(name as *const u8, 4), std::slice::from_raw_parts(desc as *const u8, descsz)) };
            if n == b"GNU\0" {
                return Some(d.to_vec());
            }
        }
        p = next;
    }
    None
}

/// `dl_iterate_phdr` callback: appends each loaded object to the `Vec<Object>` at `data`.
///
/// # Safety
/// `info` must be the loader's description of one object and `data` a `Vec<Object>`.
unsafe extern "C" fn collect(info: *mut libc::dl_phdr_info, _size: usize, data: *mut c_void) -> c_int {
    // SAFETY: as the caller (the loader, for `objects`) guarantees.
    let (out, info) = unsafe { (&mut *(data as *mut Vec<Object>), &*info) };
    let name = if info.dlpi_name.is_null() {
        Vec::new()
    } else {
        // SAFETY: the loader's object name is a C string.
        unsafe { CStr::from_ptr(info.dlpi_name) }.to_bytes().to_vec()
    };
    let base = info.dlpi_addr as usize;
    let mut build_id = Vec::new();
    let mut text = Vec::new();
    for i in 0..info.dlpi_phnum as usize {
        // SAFETY: the object has `dlpi_phnum` program headers at `dlpi_phdr`.
        let ph = unsafe { &*info.dlpi_phdr.add(i) };
        let start = base.wrapping_add(ph.p_vaddr as usize);
        if ph.p_type == PT_LOAD && ph.p_flags & PF_X != 0 {
            text.push((start, start + ph.p_memsz as usize));
        } else if ph.p_type == PT_NOTE && build_id.is_empty() {
            // SAFETY: a PT_NOTE segment of a loaded object is mapped.
            if let Some(b) = unsafe { build_id_in(start, ph.p_memsz as usize) } {
                build_id = b;
            }
        }
    }
    out.push(Object { index: out.len(), name, base, build_id, text });
    0
}

fn objects() -> Vec<Object> {
    let mut v: Vec<Object> = Vec::new();
    // SAFETY: the callback only reads the phdr info it is given, while the loader lock is
    // held; `v` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(collect), &mut v as *mut Vec<Object> as *mut c_void) };
    v
}

/// Where a function lives, as found in this process.
#[derive(Clone, Debug)]
pub struct Located {
    pub fnref: FnRef,
    /// The function is in the main executable (the reference is only valid for a worker
    /// running the same executable).
    pub in_main: bool,
}

/// Finds the loaded object holding the code at `addr`.
pub fn locate_uncached(addr: usize) -> Result<Located, String> {
    if addr == 0 {
        return Err("the task function is NULL".into());
    }
    for o in objects() {
        if !o.text.iter().any(|&(s, e)| addr >= s && addr < e) {
            continue;
        }
        let in_main = o.index == 0;
        let path = if in_main {
            Vec::new()
        } else if o.name.starts_with(b"/") {
            o.name.clone()
        } else {
            // A relative dlopen name or the vDSO: make it absolute or give up.
            let os = std::ffi::OsStr::from_bytes(&o.name);
            match std::fs::canonicalize(os) {
                Ok(p) => p.as_os_str().as_bytes().to_vec(),
                Err(_) => {
                    return Err(format!(
                        "the task function {addr:#x} is in '{}', which has no path a worker process could load",
                        String::from_utf8_lossy(&o.name)
                    ))
                }
            }
        };
        return Ok(Located {
            fnref: FnRef { path, build_id: o.build_id, offset: (addr - o.base) as u64 },
            in_main,
        });
    }
    Err(format!(
        "the task function {addr:#x} is not inside the code of any loaded executable or shared library \
         (a JIT-compiled or heap trampoline cannot run in a worker process)"
    ))
}

/// The cache, valid while no object has been unloaded since it was filled. A BTreeMap, not a
/// HashMap: its blocks are held by pointers to their starts, so leak checkers (valgrind) see
/// this process-lifetime cache as reachable rather than "possibly lost".
type Cache = Mutex<(u64, BTreeMap<usize, Arc<(Located, Vec<u8>)>>)>;

/// `dl_iterate_phdr` callback: writes the unload count to the `u64` at `data` and stops.
///
/// # Safety
/// `info` must be the loader's description of an object and `data` a `u64`.
unsafe extern "C" fn read_subs(info: *mut libc::dl_phdr_info, _size: usize, data: *mut c_void) -> c_int {
    // SAFETY: as the caller (the loader, for `unloads`) guarantees.
    unsafe { *(data as *mut u64) = (*info).dlpi_subs };
    1
}

/// How many objects have been unloaded (dlclose) in this process so far.
fn unloads() -> u64 {
    let mut subs = 0u64;
    // SAFETY: the callback writes one u64 and stops the iteration.
    unsafe { libc::dl_iterate_phdr(Some(read_subs), &mut subs as *mut u64 as *mut c_void) };
    subs
}

/// `locate_uncached` with a per-process cache; also returns the encoded reference. The
/// cache is dropped whenever a library was unloaded, since another one may then be
/// loaded at the same addresses.
pub fn locate(addr: usize) -> Result<Arc<(Located, Vec<u8>)>, String> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let subs = unloads();
    {
        let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
        if c.0 != subs {
            c.0 = subs;
            c.1.clear();
        }
        if let Some(hit) = c.1.get(&addr) {
            return Ok(hit.clone());
        }
    }
    let l = locate_uncached(addr)?;
    let enc = l.fnref.encode();
    let v = Arc::new((l, enc));
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    if c.0 == subs {
        c.1.insert(addr, v.clone());
    }
    Ok(v)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn find(r: &FnRef) -> Option<Object> {
    objects().into_iter().find(|o| {
        if r.path.is_empty() {
            o.index == 0
        } else if !r.build_id.is_empty() && o.build_id == r.build_id {
            true
        } else {
            o.index != 0 && o.name == r.path
        }
    })
}

/// Resolves a reference in this process (the worker): the function's address.
pub fn resolve(r: &FnRef) -> Result<usize, String> {
    let obj = match find(r) {
        Some(o) => o,
        None => {
            let path = CString::new(r.path.clone()).map_err(|_| "bad path".to_string())?;
            // SAFETY: a NUL-terminated path; the handle is kept for the worker's life.
            let h = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if h.is_null() {
                // SAFETY: dlerror returns NULL or a C string valid until the next dl call.
                let e = unsafe { libc::dlerror() };
                let msg = if e.is_null() {
                    "unknown error".into()
                } else {
                    // SAFETY: a non-NULL dlerror result is a C string.
                    unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
                };
                return Err(format!("cannot load {} in the worker: {msg}", String::from_utf8_lossy(&r.path)));
            }
            find(r).ok_or_else(|| format!("{} was loaded but cannot be found", String::from_utf8_lossy(&r.path)))?
        }
    };
    let what = if r.path.is_empty() { "the main executable".to_string() } else { String::from_utf8_lossy(&r.path).into_owned() };
    if !r.build_id.is_empty() && obj.build_id != r.build_id {
        return Err(format!(
            "{what} in the worker has build-id {} but the parent's has {}: a different build",
            hex(&obj.build_id),
            hex(&r.build_id)
        ));
    }
    let addr = obj.base.wrapping_add(r.offset as usize);
    if !obj.text.iter().any(|&(s, e)| addr >= s && addr < e) {
        return Err(format!("offset {:#x} is not code in {what} in the worker", r.offset));
    }
    Ok(addr)
}

// Not under Miri: it has no dl_iterate_phdr / dladdr.
#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    extern "C" fn local_fn(x: i32) -> i32 {
        x + 1
    }

    #[test]
    fn a_function_of_this_binary_round_trips() {
        let addr = local_fn as *const () as usize;
        let l = locate_uncached(addr).unwrap();
        assert!(l.in_main, "a test binary function lives in the main executable");
        assert!(l.fnref.path.is_empty());
        assert!(!l.fnref.build_id.is_empty(), "rustc links with a build-id");
        assert_eq!(resolve(&l.fnref).unwrap(), addr);
        let cached = locate(addr).unwrap();
        assert_eq!(cached.0.fnref, l.fnref);
    }

    #[test]
    fn a_libc_function_is_in_a_shared_object() {
        let addr = libc::strlen as *const () as usize;
        let l = locate_uncached(addr).unwrap();
        assert!(!l.in_main);
        assert!(l.fnref.path.starts_with(b"/"), "{:?}", String::from_utf8_lossy(&l.fnref.path));
        assert_eq!(resolve(&l.fnref).unwrap(), addr);
    }

    #[test]
    fn bad_references_are_refused() {
        let x = 5u64;
        assert!(locate_uncached(&x as *const u64 as usize).is_err(), "stack data is not code");
        assert!(locate_uncached(0).is_err());
        let mut l = locate_uncached(local_fn as *const () as usize).unwrap().fnref;
        l.build_id = vec![0; 20];
        assert!(resolve(&l).unwrap_err().contains("build-id"));
        let missing = FnRef { path: b"/nonexistent/libnope.so".to_vec(), build_id: vec![], offset: 0 };
        assert!(resolve(&missing).unwrap_err().contains("cannot load"));
    }
}
