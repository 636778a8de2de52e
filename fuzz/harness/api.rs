//! An interpreter of API sequences over the C ABI, shared by the fuzz target `api`
//! (`fuzz/fuzz_targets/api.rs`) and the corpus replay (`tests/fuzz_replay.rs`).
//!
//! Each input byte picks an operation (and the next bytes its parameters) on a small world:
//! up to three thread pools, one process pool shared by every run of this process (starting
//! processes is slow) and one per run at most, held futures, groups, maps, a completion
//! queue. Every pointer the library takes ownership of (task arguments, callback arguments,
//! values set by tasks) is an entry of a registry that counts its drops; every future gets a
//! sentinel done-callback that counts its calls. Checked after each step: statuses are
//! the documented ones. Checked at the end, once everything is waited, freed and released:
//! every future ended exactly once, every drop function ran exactly once (a value's drop
//! runs when its future is freed, so a leaked future shows), every completion-queue tag
//! arrived exactly once.
#![allow(clippy::missing_safety_doc)]

use std::ffi::c_void;
use std::ptr::{null, null_mut};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cfutures::ffi::cq::*;
use cfutures::ffi::executor::*;
use cfutures::ffi::future::*;
use cfutures::ffi::group::*;
use cfutures::ffi::map::*;
use cfutures::ffi::process::*;
use cfutures::ffi::result::*;
use cfutures::ffi::wait::*;
use cfutures::ffi::{cfut_drop_fn, cfut_future, cfut_result};
use cfutures::Status;

const OK: u32 = Status::Ok as u32;
const INVALID: u32 = Status::InvalidArgument as u32;
const SHUTDOWN: u32 = Status::Shutdown as u32;

// ---- the registry: what the library must drop or call exactly once ----------------------

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// A task's argument: dropped once.
    Arg,
    /// A done-callback's argument: called once, dropped once.
    Sentinel,
    /// A value a task set: dropped once, when its future is freed.
    Value,
}

struct Entry {
    kind: Kind,
    calls: u32,
    drops: u32,
}

struct Registry {
    entries: Mutex<Vec<Entry>>,
    changed: Condvar,
}

fn reg() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry { entries: Mutex::new(Vec::new()), changed: Condvar::new() })
}

/// A new entry, as the pointer handed to the library (its index + 1: never NULL).
fn entry(kind: Kind) -> *mut c_void {
    let mut e = reg().entries.lock().unwrap();
    e.push(Entry { kind, calls: 0, drops: 0 });
    e.len() as *mut c_void
}

fn touch(p: *mut c_void, call: bool) {
    let r = reg();
    let mut e = r.entries.lock().unwrap();
    let en = &mut e[p as usize - 1];
    if call {
        en.calls += 1;
    } else {
        en.drops += 1;
    }
    r.changed.notify_all();
}

unsafe extern "C" fn reg_drop(p: *mut c_void) {
    touch(p, false);
}

unsafe extern "C" fn sentinel(_f: *mut cfut_future, p: *mut c_void) {
    touch(p, true);
}

/// True once every entry is settled; waits up to `limit` for callbacks still on their way
/// (a process pool's callbacks run on its manager thread after waiters wake).
fn settled(limit: Duration) -> Result<(), String> {
    let r = reg();
    let deadline = Instant::now() + limit;
    let mut e = r.entries.lock().unwrap();
    loop {
        let bad = e.iter().enumerate().find(|(_, en)| en.drops != 1 || (en.kind == Kind::Sentinel && en.calls != 1));
        let Some((i, en)) = bad else { return Ok(()) };
        let over = en.drops > 1 || en.calls > 1;
        let now = Instant::now();
        if over || now >= deadline {
            return Err(format!("entry {i} ({:?}): {} calls, {} drops", en.kind, en.calls, en.drops));
        }
        e = r.changed.wait_timeout(e, deadline - now).unwrap().0;
    }
}

// ---- tasks --------------------------------------------------------------------------------

unsafe extern "C" fn t_value(_arg: *mut c_void, out: *mut cfut_result) -> i32 {
    cfut_result_set_value(out, entry(Kind::Value), Some(reg_drop));
    0
}

unsafe extern "C" fn t_fail(_arg: *mut c_void, out: *mut cfut_result) -> i32 {
    cfut_result_set_error(out, 5, c"fuzz failure".as_ptr());
    5
}

/// Polls for a cancellation request for up to 2 ms.
unsafe extern "C" fn t_poll(_arg: *mut c_void, out: *mut cfut_result) -> i32 {
    for _ in 0..20 {
        if cfut_result_cancel_requested(out) {
            return cfut_result_set_cancelled(out) as i32;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    0
}

/// Waits (5 ms at most) on an earlier future: inline runs and cycle checks.
struct WaitArg {
    reg: *mut c_void,
    fut: *mut cfut_future,
}

unsafe extern "C" fn t_wait(arg: *mut c_void, _out: *mut cfut_result) -> i32 {
    // SAFETY: the library passes the argument given at submit, alive until its drop.
    let a = unsafe { &*(arg as *const WaitArg) };
    let s = cfut_future_wait(a.fut, 5_000_000);
    assert!(s == OK || s == Status::Timeout as u32 || s == Status::WouldDeadlock as u32, "wait in a task: {s}");
    0
}

unsafe extern "C" fn wait_arg_drop(p: *mut c_void) {
    // SAFETY: made by `Box::into_raw` in `submit`, dropped once by the library.
    let a = unsafe { Box::from_raw(p as *mut WaitArg) };
    cfut_future_release(a.fut);
    touch(a.reg, false);
}

unsafe extern "C" fn p_echo(input: *const c_void, len: usize, out: *mut cfut_result) -> i32 {
    cfut_result_set_bytes(out, input, len) as i32
}

unsafe extern "C" fn p_fail(_: *const c_void, _: usize, out: *mut cfut_result) -> i32 {
    cfut_result_set_error(out, 4, c"fuzz failure".as_ptr());
    4
}

unsafe extern "C" fn p_poll(_: *const c_void, _: usize, out: *mut cfut_result) -> i32 {
    for _ in 0..20 {
        if cfut_result_cancel_requested(out) {
            return cfut_result_set_cancelled(out) as i32;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    0
}

unsafe extern "C" fn p_crash(_: *const c_void, _: usize, _: *mut cfut_result) -> i32 {
    // SAFETY: ends the worker process, which is the point.
    unsafe { libc::_exit(3) }
}

unsafe extern "C" fn m_inc(_ctx: *const c_void, item: *const c_void, slot: *mut c_void) -> i32 {
    // SAFETY: the map passes one u64 item and one u64 result slot.
    let v = unsafe { *(item as *const u64) };
    if v % 7 == 3 {
        return 9;
    }
    // SAFETY: as above.
    unsafe { *(slot as *mut u64) = v + 1 };
    0
}

unsafe extern "C" fn cb_release(_f: *mut cfut_future, arg: *mut c_void) {
    cfut_future_release(arg as *mut cfut_future);
}

// ---- the world ----------------------------------------------------------------------------

/// The process pool every run shares (created once; never freed).
fn shared_process_pool() -> *mut cfut_executor {
    struct P(*mut cfut_executor);
    // SAFETY: an executor handle may be used from any thread.
    unsafe impl Send for P {}
    // SAFETY: as above.
    unsafe impl Sync for P {}
    static POOL: OnceLock<P> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut o = std::mem::MaybeUninit::uninit();
        cfut_process_pool_options_init(o.as_mut_ptr());
        // SAFETY: initialised just above.
        let mut o = unsafe { o.assume_init() };
        o.max_workers = 2;
        o.max_tasks_per_child = 50;
        let mut ex = null_mut();
        assert_eq!(cfut_process_pool_new(&o, &mut ex), OK, "shared process pool");
        P(ex)
    })
    .0
}

struct Slot {
    ex: *mut cfut_executor,
    process: bool,
    shut: bool,
    /// This run's own executor (freed at the end), not the shared process pool.
    owned: bool,
}

struct MapRun {
    m: *mut cfut_map,
    items: Vec<u64>,
    results: Vec<u64>,
}

struct World {
    slots: Vec<Option<Slot>>,
    futs: Vec<*mut cfut_future>,
    /// Standalone futures (completed at the end if nobody did).
    standalone: Vec<*mut cfut_future>,
    groups: Vec<(*mut cfut_group, usize)>,
    cq: *mut cfut_cq,
    tags_watched: u64,
    tags_seen: Vec<u64>,
    own_process_pool: bool,
}

/// Input bytes as operations and parameters (0 once exhausted).
struct Bytes<'a>(&'a [u8]);
impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else { return 0 };
        self.0 = rest;
        b
    }
}

const MAX_FUTS: usize = 48;
const MAX_OPS: usize = 64;

/// Runs one input; panics when an invariant breaks.
pub fn run(data: &[u8]) {
    let mut w = World {
        slots: (0..5).map(|_| None).collect(),
        futs: Vec::new(),
        standalone: Vec::new(),
        groups: Vec::new(),
        cq: null_mut(),
        tags_watched: 0,
        tags_seen: Vec::new(),
        own_process_pool: false,
    };
    reg().entries.lock().unwrap().clear();
    let mut b = Bytes(data);
    // Byte 0, bit 0: the shared process pool takes part (slot 3).
    if b.next() & 1 != 0 {
        w.slots[3] = Some(Slot { ex: shared_process_pool(), process: true, shut: false, owned: false });
    }
    w.slots[0] = new_thread_pool(2, true);
    let mut ops = 0;
    while !b.0.is_empty() && ops < MAX_OPS {
        step(&mut w, &mut b);
        ops += 1;
    }
    finish(w);
}

fn new_thread_pool(workers: u32, inline: bool) -> Option<Slot> {
    let mut o = std::mem::MaybeUninit::uninit();
    cfut_thread_pool_options_init(o.as_mut_ptr());
    // SAFETY: initialised just above.
    let mut o = unsafe { o.assume_init() };
    o.max_workers = workers;
    o.inline_waits = inline;
    let mut ex = null_mut();
    assert_eq!(cfut_thread_pool_new(&o, &mut ex), OK);
    Some(Slot { ex, process: false, shut: false, owned: true })
}

fn new_process_pool(p: u8) -> Option<Slot> {
    let mut o = std::mem::MaybeUninit::uninit();
    cfut_process_pool_options_init(o.as_mut_ptr());
    // SAFETY: initialised just above.
    let mut o = unsafe { o.assume_init() };
    o.max_workers = 1;
    o.start_method = (p % 3) as u32;
    o.cancel_kills = p & 4 != 0;
    o.on_worker_death = if p & 8 != 0 { CFUT_BREAK_POOL } else { CFUT_REPLACE_WORKER };
    let mut ex = null_mut();
    assert_eq!(cfut_process_pool_new(&o, &mut ex), OK);
    Some(Slot { ex, process: true, shut: false, owned: true })
}

fn slot(w: &World, p: u8) -> Option<(usize, &Slot)> {
    let i = p as usize % w.slots.len();
    w.slots[i].as_ref().map(|s| (i, s))
}

fn fut(w: &World, p: u8) -> *mut cfut_future {
    if w.futs.is_empty() { null_mut() } else { w.futs[p as usize % w.futs.len()] }
}

/// Holds a new future and gives it its sentinel.
fn hold(w: &mut World, f: *mut cfut_future) {
    assert!(!f.is_null());
    assert_eq!(cfut_future_add_done_callback(f, Some(sentinel), entry(Kind::Sentinel), Some(reg_drop)), OK);
    w.futs.push(f);
}

/// A task function and argument for a thread pool, by kind.
fn task(w: &World, k: u8) -> (cfut_task_fn, *mut c_void, cfut_drop_fn) {
    match k % 4 {
        0 => (Some(t_value), entry(Kind::Arg), Some(reg_drop)),
        1 => (Some(t_fail), entry(Kind::Arg), Some(reg_drop)),
        2 => (Some(t_poll), entry(Kind::Arg), Some(reg_drop)),
        _ => {
            let target = fut(w, k / 4);
            let a = Box::new(WaitArg { reg: entry(Kind::Arg), fut: cfut_future_retain(target) });
            if a.fut.is_null() {
                // No future to wait on yet: a plain value task (the entry is dropped here).
                touch(a.reg, false);
                return (Some(t_value), entry(Kind::Arg), Some(reg_drop));
            }
            (Some(t_wait), Box::into_raw(a) as *mut c_void, Some(wait_arg_drop))
        }
    }
}

fn bytes_task(k: u8) -> cfut_bytes_fn {
    match k % 16 {
        0 => Some(p_crash),
        1..=3 => Some(p_fail),
        4..=6 => Some(p_poll),
        _ => Some(p_echo),
    }
}

fn submit(w: &mut World, p: u8, k: u8, keep: bool) {
    let Some((_, s)) = slot(w, p) else { return };
    let (ex, process, shut) = (s.ex, s.process, s.shut);
    let mut f: *mut cfut_future = null_mut();
    let out = if keep && w.futs.len() < MAX_FUTS { &mut f as *mut _ } else { null_mut() };
    let st = if process {
        let input = [k; 8];
        cfut_executor_submit_bytes(ex, bytes_task(k), input.as_ptr() as *const c_void, input.len(), out)
    } else {
        let (func, arg, drop) = task(w, k);
        cfut_executor_submit(ex, func, arg, drop, out)
    };
    if std::env::var_os("CFUT_FUZZ_VERBOSE").is_some() {
        eprintln!("  submit slot {p} kind {k}: {}", Status::from_u32(st).map_or("?".into(), |s| s.name().to_string_lossy()));
    }
    expect(st, process, shut, "submit");
    if st == OK && !f.is_null() {
        hold(w, f);
    }
}

/// OK, or SHUTDOWN once shut down; a process pool may also be broken (a worker died with
/// `CFUT_BREAK_POOL`).
fn expect(st: u32, process: bool, shut: bool, what: &str) {
    let want = if shut { SHUTDOWN } else { OK };
    assert!(st == want || (process && st == Status::Broken as u32), "{what}: {st}, want {want}");
}

fn step(w: &mut World, b: &mut Bytes) {
    let op = b.next() % 24;
    let p = b.next();
    match op {
        0 => {
            let i = p as usize % 3;
            if w.slots[i].is_none() {
                w.slots[i] = new_thread_pool(1 + (p as u32 / 3) % 3, p & 0x80 == 0);
            }
        }
        1..=3 => submit(w, p, b.next(), true),
        4 => submit(w, p, b.next(), false),
        5 => {
            cfut_future_cancel(fut(w, p));
        }
        6 => {
            cfut_future_request_cancel(fut(w, p));
        }
        7 => {
            // A done-callback that releases a reference of its own.
            let f = fut(w, p);
            if !f.is_null() {
                let r = cfut_future_retain(f);
                assert_eq!(cfut_future_add_done_callback(f, Some(cb_release), r as *mut c_void, None), OK);
            }
        }
        8 => {
            let f = fut(w, p);
            if !f.is_null() {
                let t = [0, 1_000_000, 5_000_000][(p / 64) as usize % 3];
                let s = cfut_future_wait(f, t);
                assert!(s == OK || s == Status::Timeout as u32, "wait: {s}");
            }
        }
        9 => wait_many(w, p),
        10 => as_completed(w, p),
        11 => map(w, p, b.next()),
        12 => {
            if w.groups.len() < 3 {
                if let Some((i, s)) = slot(w, p) {
                    let mut g = null_mut();
                    assert_eq!(cfut_group_new(s.ex, (p as u32 >> 4) & 1, &mut g), OK);
                    w.groups.push((g, i));
                }
            }
        }
        13 => group_submit(w, p, b.next()),
        14 => {
            if let Some(&(g, _)) = w.groups.get(p as usize % 4) {
                let t = [0, 2_000_000, u64::MAX][(p / 64) as usize % 3];
                let s = cfut_group_wait(g, t, null_mut());
                assert!(s != INVALID && s != Status::Panic as u32, "group wait: {s}");
            }
        }
        15 => {
            if let Some(&(g, _)) = w.groups.get(p as usize % 4) {
                cfut_group_cancel(g);
            }
        }
        16 => {
            if (p as usize % 4) < w.groups.len() {
                let (g, _) = w.groups.remove(p as usize % 4);
                cfut_group_free(g);
            }
        }
        17 => cq(w, p),
        18 => {
            if let Some((i, s)) = slot(w, p) {
                if s.owned {
                    assert_eq!(cfut_executor_shutdown(s.ex, p & 0x40 != 0, p & 0x80 != 0), OK);
                    w.slots[i].as_mut().unwrap().shut = true;
                }
            }
        }
        19 => {
            if let Some((i, s)) = slot(w, p) {
                if s.owned {
                    free_executor(w, i);
                }
            }
        }
        20 => {
            if !w.futs.is_empty() {
                let f = w.futs.swap_remove(p as usize % w.futs.len());
                if w.standalone.contains(&f) {
                    // Nobody else could complete it once released.
                    cfut_future_set_error(f, 2, null());
                    w.standalone.retain(|&s| s != f);
                }
                cfut_future_release(f);
            }
        }
        21 => standalone(w, p),
        22 => bad_input(w, p),
        _ => {
            if !w.own_process_pool && w.slots[4].is_none() {
                w.own_process_pool = true;
                w.slots[4] = new_process_pool(p);
            } else if let Some(s) = w.slots[4].as_ref() {
                if p & 1 != 0 {
                    assert_eq!(cfut_process_pool_terminate(s.ex, if p & 2 != 0 { libc::SIGTERM } else { 0 }), OK);
                    w.slots[4].as_mut().unwrap().shut = true;
                }
            }
        }
    }
}

fn wait_many(w: &mut World, p: u8) {
    let n = w.futs.len().min(1 + p as usize % 8);
    let start = if w.futs.is_empty() { 0 } else { (p as usize / 8) % w.futs.len() };
    let fs: Vec<_> = (0..n).map(|i| w.futs[(start + i) % w.futs.len()]).collect();
    let mut done = vec![false; n];
    let mut count = 0usize;
    let s = cfut_wait(fs.as_ptr(), n, [0, 2_000_000][(p / 128) as usize], (p as u32 / 16) % 3, done.as_mut_ptr(), &mut count);
    assert!(s == OK || s == Status::Timeout as u32, "cfut_wait: {s}");
    assert_eq!(count, done.iter().filter(|&&d| d).count());
}

fn as_completed(w: &mut World, p: u8) {
    let mut it = null_mut();
    assert_eq!(cfut_as_completed_new(w.futs.as_ptr(), w.futs.len(), 3_000_000, &mut it), OK);
    let mut seen = vec![false; w.futs.len()];
    for _ in 0..=(p % 8) {
        let mut i = 0usize;
        match cfut_as_completed_next(it, &mut i) {
            OK => {
                assert!(!seen[i], "as_completed yielded a future twice");
                seen[i] = true;
                assert!(cfut_future_done(w.futs[i]));
            }
            s => {
                assert!(s == Status::Exhausted as u32 || s == Status::Timeout as u32, "as_completed: {s}");
                break;
            }
        }
    }
    cfut_as_completed_free(it);
}

fn map(w: &mut World, p: u8, q: u8) {
    let Some((_, s)) = slot(w, p) else { return };
    let (ex, process, shut) = (s.ex, s.process, s.shut);
    let count = q as usize % 40;
    let mut run = MapRun { m: null_mut(), items: (0..count as u64).collect(), results: vec![0; count] };
    let mut o = std::mem::MaybeUninit::uninit();
    cfut_map_options_init(o.as_mut_ptr());
    // SAFETY: initialised just above.
    let mut o = unsafe { o.assume_init() };
    o.chunksize = (p as usize / 8) % 6;
    o.max_in_flight = (p as usize / 64) % 3;
    let ctx = 7u64;
    let (cp, cl) = if process { (&ctx as *const u64 as *const c_void, 8) } else { (null(), 0) };
    let items = run.items.as_ptr() as *const c_void;
    let results = run.results.as_mut_ptr() as *mut c_void;
    let st = cfut_executor_map(ex, Some(m_inc), cp, cl, items, count, 8, results, 8, &o, &mut run.m);
    // An empty map submits nothing, so a shut-down executor has nothing to refuse (as
    // CPython's map over an empty iterable).
    expect(st, process, shut && count > 0, "map");
    if st != OK {
        return;
    }
    for _ in 0..(q / 40) as usize * 8 {
        let mut i = 0usize;
        let mut e = std::mem::MaybeUninit::uninit();
        match cfut_map_next(run.m, &mut i, e.as_mut_ptr()) {
            OK => assert_eq!(run.results[i], run.items[i] + 1),
            s if s == Status::Exhausted as u32 => break,
            s => assert!(run.items[i] % 7 == 3 || s != Status::TaskFailed as u32, "map item {i}: {s}"),
        }
    }
    cfut_map_free(run.m);
}

fn group_submit(w: &mut World, p: u8, k: u8) {
    let Some(&(g, i)) = w.groups.get(p as usize % 4) else { return };
    let Some(s) = w.slots[i].as_ref() else { return };
    let mut f: *mut cfut_future = null_mut();
    let out = if p & 0x80 != 0 && w.futs.len() < MAX_FUTS { &mut f as *mut _ } else { null_mut() };
    let st = if s.process {
        cfut_group_submit_bytes(g, bytes_task(k), [k; 4].as_ptr() as *const c_void, 4, out)
    } else {
        let (func, arg, drop) = task(w, k);
        cfut_group_submit(g, func, arg, drop, out)
    };
    assert!(st == OK || st == Status::Cancelled as u32 || st == SHUTDOWN || st == Status::Broken as u32, "group submit: {st}");
    if st == OK && !f.is_null() {
        hold(w, f);
    }
}

fn cq(w: &mut World, p: u8) {
    if w.cq.is_null() {
        assert_eq!(cfut_cq_new(&mut w.cq), OK);
    }
    if p & 1 == 0 {
        let f = fut(w, p / 2);
        if !f.is_null() {
            assert_eq!(cfut_cq_watch(w.cq, f, w.tags_watched), OK);
            w.tags_watched += 1;
        }
    } else {
        let mut tags = [0u64; 8];
        let n = cfut_cq_drain(w.cq, tags.as_mut_ptr(), tags.len());
        w.tags_seen.extend_from_slice(&tags[..n]);
    }
}

fn standalone(w: &mut World, p: u8) {
    if p & 3 == 0 && w.futs.len() < MAX_FUTS {
        let mut f = null_mut();
        assert_eq!(cfut_future_new(&mut f), OK);
        hold(w, f);
        w.standalone.push(f);
        return;
    }
    let Some(&f) = w.standalone.get(p as usize / 4 % w.standalone.len().max(1)) else { return };
    let was_done = cfut_future_done(f);
    let s = match p & 3 {
        1 => cfut_future_set_result(f, entry(Kind::Arg), Some(reg_drop)),
        2 => cfut_future_set_error(f, 3, c"set".as_ptr()),
        _ => {
            cfut_future_set_running_or_notify_cancel(f);
            OK
        }
    };
    if p & 3 != 3 {
        assert_eq!(s, if was_done { Status::InvalidState as u32 } else { OK });
    }
}

/// Bad arguments get their documented status, and ownership still passes.
fn bad_input(w: &mut World, p: u8) {
    let ex = slot(w, p).map_or(null_mut(), |(_, s)| s.ex);
    match p % 8 {
        0 => assert_eq!(cfut_executor_submit(null_mut(), Some(t_value), entry(Kind::Arg), Some(reg_drop), null_mut()), INVALID),
        1 if !ex.is_null() => assert_eq!(cfut_executor_submit(ex, None, entry(Kind::Arg), Some(reg_drop), null_mut()), INVALID),
        2 if !ex.is_null() => assert_eq!(cfut_executor_submit_bytes(ex, Some(p_echo), null(), 5, null_mut()), INVALID),
        3 => assert_eq!(cfut_wait(w.futs.as_ptr(), w.futs.len(), 0, 3 + p as u32, null_mut(), null_mut()), INVALID),
        4 if !ex.is_null() => assert_eq!(cfut_group_new(ex, 2 << (p % 16), &mut null_mut()), INVALID),
        5 => assert_eq!(cfut_future_add_done_callback(fut(w, p), None, entry(Kind::Arg), Some(reg_drop)), INVALID),
        6 => assert_eq!(cfut_future_wait(null_mut(), 0), INVALID),
        _ => assert_eq!(cfut_process_pool_terminate(null_mut(), 0), INVALID),
    }
}

fn free_executor(w: &mut World, i: usize) {
    // Groups first: a group must not outlive its executor's handle.
    w.groups.retain(|&(g, gi)| {
        if gi == i {
            cfut_group_free(g);
        }
        gi != i
    });
    if let Some(s) = w.slots[i].take() {
        cfut_executor_free(s.ex);
    }
}

fn finish(mut w: World) {
    for &f in &w.standalone {
        cfut_future_set_error(f, 1, null());
    }
    for &f in &w.futs {
        assert_eq!(cfut_future_wait(f, 60_000_000_000), OK, "a future never ended");
        if std::env::var_os("CFUT_FUZZ_VERBOSE").is_some() {
            let mut e = std::mem::MaybeUninit::uninit();
            if cfut_future_error(f, 0, e.as_mut_ptr()) != OK {
                eprintln!("  future {f:?}: cancelled");
                continue;
            }
            // SAFETY: written by the call, which returned OK.
            let e = unsafe { e.assume_init() };
            // SAFETY: a non-NULL message is a C string valid while the future is held.
            let m = if e.message.is_null() { String::new() } else { unsafe { std::ffi::CStr::from_ptr(e.message) }.to_string_lossy().into_owned() };
            eprintln!("  future {f:?}: cancelled {} status {} code {} {m}", cfut_future_cancelled(f), e.status, e.code);
        }
    }
    for (g, _) in w.groups.drain(..) {
        cfut_group_free(g);
    }
    for i in 0..w.slots.len() {
        if w.slots[i].as_ref().is_some_and(|s| s.owned) {
            free_executor(&mut w, i);
        }
    }
    if !w.cq.is_null() {
        let deadline = Instant::now() + Duration::from_secs(60);
        while (w.tags_seen.len() as u64) < w.tags_watched && Instant::now() < deadline {
            cfut_cq_wait(w.cq, 1_000_000_000);
            let mut tags = [0u64; 8];
            let n = cfut_cq_drain(w.cq, tags.as_mut_ptr(), tags.len());
            w.tags_seen.extend_from_slice(&tags[..n]);
        }
        w.tags_seen.sort_unstable();
        assert_eq!(w.tags_seen, (0..w.tags_watched).collect::<Vec<_>>(), "every tag exactly once");
        cfut_cq_free(w.cq);
    }
    for f in w.futs.drain(..) {
        cfut_future_release(f);
    }
    if let Err(m) = settled(Duration::from_secs(60)) {
        panic!("{m}");
    }
}
