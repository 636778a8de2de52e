//! Rust peers for the cfutures benchmark suite: a minimal crossbeam-channel pool with
//! Mutex/Condvar futures ("cb") and rayon 1.12. Same cases and "key value" output as
//! cbench.c:
//!
//!     peers cb_submit1|cb_submit1w|cb_submit1t|cb_submit2|cb_lat|cb_tick|cb_map1|cb_map1000|cb_sleep [N]
//!     peers rayon_submit1|rayon_submit1w|rayon_submit2|rayon_lat|rayon_tick|rayon_map1|rayon_map1000|rayon_mapauto|rayon_fib|rayon_qsort [N]

use crossbeam_channel::{unbounded, Sender};
use std::hint::black_box;
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The "future": a result slot with a condition variable.
struct Slot<T> {
    v: Mutex<Option<T>>,
    c: Condvar,
}

impl<T> Slot<T> {
    fn new() -> Arc<Self> {
        Arc::new(Slot { v: Mutex::new(None), c: Condvar::new() })
    }
    fn set(&self, x: T) {
        *self.v.lock().unwrap() = Some(x);
        self.c.notify_all();
    }
    fn get(&self) -> T {
        let mut g = self.v.lock().unwrap();
        loop {
            if let Some(x) = g.take() {
                return x;
            }
            g = self.c.wait(g).unwrap();
        }
    }
}

/// The minimal pool: an unbounded MPMC channel of boxed jobs, N threads.
struct Pool {
    tx: Option<Sender<Job>>,
    hs: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    fn new(n: usize) -> Pool {
        let (tx, rx) = unbounded::<Job>();
        let hs = (0..n)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || {
                    while let Ok(j) = rx.recv() {
                        j()
                    }
                })
            })
            .collect();
        Pool { tx: Some(tx), hs }
    }
    fn submit<T: Send + 'static, F: FnOnce() -> T + Send + 'static>(&self, f: F) -> Arc<Slot<T>> {
        let s = Slot::new();
        let s2 = s.clone();
        self.tx.as_ref().unwrap().send(Box::new(move || s2.set(f()))).unwrap();
        s
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.tx.take();
        for h in self.hs.drain(..) {
            h.join().unwrap();
        }
    }
}

// getrusage without the libc crate: struct rusage is 2 timevals + 14 longs on Linux.
#[repr(C)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    rest: [i64; 14],
}
extern "C" {
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}
/// Voluntary + involuntary context switches of the whole process so far.
fn csw() -> f64 {
    let mut r = Rusage { utime: [0; 2], stime: [0; 2], rest: [0; 14] };
    unsafe { getrusage(0, &mut r) };
    (r.rest[12] + r.rest[13]) as f64 // ru_nvcsw, ru_nivcsw: the last two longs
}

fn cpu_ns() -> f64 {
    let mut r = Rusage { utime: [0; 2], stime: [0; 2], rest: [0; 14] };
    unsafe { getrusage(0, &mut r) };
    (r.utime[0] + r.stime[0]) as f64 * 1e9 + (r.utime[1] + r.stime[1]) as f64 * 1e3
}

fn rayon_pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap()
}

/// What a pool must offer for the submit / latency / tick cases.
trait Submit: Sync {
    fn go(&self) -> Arc<Slot<()>>;
}
impl Submit for Pool {
    fn go(&self) -> Arc<Slot<()>> {
        self.submit(|| black_box(()))
    }
}
impl Submit for rayon::ThreadPool {
    fn go(&self) -> Arc<Slot<()>> {
        let s = Slot::new();
        let s2 = s.clone();
        self.spawn(move || s2.set(black_box(())));
        s
    }
}

fn warm(p: &dyn Submit) {
    let fs: Vec<_> = (0..64).map(|_| p.go()).collect();
    for f in fs {
        f.get();
    }
}

fn submit_case(p: &dyn Submit, n: usize, submitters: usize, on_main: bool, warm_heap: bool) {
    warm(p);
    if warm_heap {
        // One untimed batch first: the heap is no longer fresh (no first-touch page faults).
        let fs: Vec<_> = (0..n).map(|_| p.go()).collect();
        for f in fs {
            f.get();
        }
    }
    let per = n / submitters;
    if on_main {
        // 1 submitter: the main thread itself, the common case.
        let (x0, c0, t0) = (csw(), cpu_ns(), Instant::now());
        let fs: Vec<_> = (0..n).map(|_| p.go()).collect();
        for f in fs {
            f.get();
        }
        let dt = t0.elapsed().as_secs_f64();
        println!("tasks_per_s {:.0}", n as f64 / dt);
        println!("cpu_us_per_task {:.4}", (cpu_ns() - c0) / 1e3 / n as f64);
        println!("csw_per_task {:.4}", (csw() - x0) / n as f64);
        return;
    }
    let start = Barrier::new(submitters + 1);
    let x0 = csw();
    let (c0, t0) = std::thread::scope(|sc| {
        for _ in 0..submitters {
            sc.spawn(|| {
                start.wait();
                let fs: Vec<_> = (0..per).map(|_| p.go()).collect();
                for f in fs {
                    f.get();
                }
            });
        }
        let c0 = cpu_ns();
        let t0 = Instant::now();
        start.wait();
        (c0, t0)
    }); // the scope joins every submitter before returning
    let dt = t0.elapsed().as_secs_f64();
    let c = cpu_ns() - c0;
    let total = per * submitters;
    println!("tasks_per_s {:.0}", total as f64 / dt);
    println!("cpu_us_per_task {:.4}", c / 1e3 / total as f64);
    println!("csw_per_task {:.4}", (csw() - x0) / total as f64);
}

fn lat_case(p: &dyn Submit, n: usize) {
    warm(p);
    for _ in 0..200 {
        p.go().get();
    }
    let mut lat: Vec<f64> = Vec::with_capacity(n);
    let (x0, c0) = (csw(), cpu_ns());
    for _ in 0..n {
        let t = Instant::now();
        p.go().get();
        lat.push(t.elapsed().as_nanos() as f64);
    }
    println!("cpu_us_per_sample {:.3}", (cpu_ns() - c0) / 1e3 / n as f64);
    println!("csw_per_sample {:.3}", (csw() - x0) / n as f64);
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("p50_us {:.3}", lat[n / 2] / 1e3);
    println!("p99_us {:.3}", lat[n * 99 / 100] / 1e3);
}

fn tick_case(p: &dyn Submit, n: usize) {
    warm(p);
    let ms = Duration::from_millis(1);
    let (c0, t0, x0) = (cpu_ns(), Instant::now(), csw());
    for _ in 0..n {
        std::thread::sleep(ms);
    }
    let (c1, t1, x1) = (cpu_ns(), Instant::now(), csw());
    for _ in 0..n {
        std::thread::sleep(ms);
        p.go().get();
    }
    let (c2, t2, x2) = (cpu_ns(), Instant::now(), csw());
    let nf = n as f64;
    println!("net_csw_per_tick {:.3}", ((x2 - x1) - (x1 - x0)) / nf);
    println!("bare_cpu_us_per_tick {:.3}", (c1 - c0) / 1e3 / nf);
    println!("bare_wall_us_per_tick {:.3}", (t1 - t0).as_nanos() as f64 / 1e3 / nf);
    println!("cpu_us_per_tick {:.3}", (c2 - c1) / 1e3 / nf);
    println!("wall_us_per_tick {:.3}", (t2 - t1).as_nanos() as f64 / 1e3 / nf);
    println!("net_cpu_us_per_tick {:.3}", ((c2 - c1) - (c1 - c0)) / 1e3 / nf);
}

/// Minimal pool map: one future per chunk of `chunk` items, each a Vec, flattened in order.
fn cb_map(n: usize, chunk: usize) {
    let p = Pool::new(2);
    warm(&p);
    let items: Arc<Vec<u64>> = Arc::new((0..n as u64).collect());
    let t0 = Instant::now();
    let fs: Vec<_> = (0..n.div_ceil(chunk))
        .map(|c| {
            let items = items.clone();
            p.submit(move || {
                let hi = ((c + 1) * chunk).min(items.len());
                items[c * chunk..hi].iter().map(|&x| black_box(x)).collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut out: Vec<u64> = Vec::with_capacity(n);
    for f in fs {
        out.extend_from_slice(&f.get());
    }
    let dt = t0.elapsed().as_secs_f64();
    assert_eq!(out.len(), n);
    assert_eq!(out[n - 1], n as u64 - 1);
    println!("items_per_s {:.0}", n as f64 / dt);
}

/// rayon: par_iter().map().collect(), optionally forcing the split size.
fn rayon_map(n: usize, len: Option<usize>) {
    use rayon::prelude::*;
    let p = rayon_pool(2);
    warm(&p);
    let items: Vec<u64> = (0..n as u64).collect();
    let t0 = Instant::now();
    let out: Vec<u64> = p.install(|| match len {
        Some(l) => items.par_iter().with_min_len(l).with_max_len(l).map(|&x| black_box(x)).collect(),
        None => items.par_iter().map(|&x| black_box(x)).collect(),
    });
    let dt = t0.elapsed().as_secs_f64();
    assert_eq!(out[n - 1], n as u64 - 1);
    println!("items_per_s {:.0}", n as f64 / dt);
}

fn cb_sleep(n: usize) {
    let t0 = Instant::now();
    let p = Pool::new(100);
    let fs: Vec<_> = (0..n).map(|_| p.submit(|| std::thread::sleep(Duration::from_millis(10)))).collect();
    for f in fs {
        f.get();
    }
    println!("wall_ms {:.3}", t0.elapsed().as_secs_f64() * 1e3);
}

// ---- recursive fork-join with rayon::join (as rayon users write it); same cutoffs, input
// and output as cbench.c's fib and qsort.

const FIB_N: u32 = 30;
const FIB_CUTOFF: u32 = 16;
const QS_CUTOFF: usize = 16384;

fn fib_seq(n: u32) -> u64 {
    if n < 2 { n as u64 } else { fib_seq(n - 1) + fib_seq(n - 2) }
}

fn fib_join(n: u32) -> u64 {
    if n < FIB_CUTOFF {
        return fib_seq(n);
    }
    let (a, b) = rayon::join(|| fib_join(n - 1), || fib_join(n - 2));
    a + b
}

fn rayon_fib(reps: usize) {
    let pool = rayon_pool(2);
    let (mut total, mut best) = (0.0f64, f64::MAX);
    for i in 0..=reps {
        let t0 = Instant::now();
        let v = pool.install(|| fib_join(black_box(FIB_N)));
        let dt = t0.elapsed().as_secs_f64() * 1e3;
        assert_eq!(v, 832040);
        if i == 0 {
            continue; // an untimed warm-up (starts the workers)
        }
        total += dt;
        best = best.min(dt);
    }
    println!("ms {:.4}\nbest_ms {:.4}", total / reps as f64, best);
}

fn insertion(a: &mut [i64]) {
    for i in 1..a.len() {
        let x = a[i];
        let mut j = i;
        while j > 0 && a[j - 1] > x {
            a[j] = a[j - 1];
            j -= 1;
        }
        a[j] = x;
    }
}

/// Hoare partition around the median of three; returns the split point.
fn partition(a: &mut [i64]) -> usize {
    let n = a.len();
    let (x, y, z) = (a[0], a[n / 2], a[n - 1]);
    let p = if x < y { if y < z { y } else if x < z { z } else { x } } else if x < z { x } else if y < z { z } else { y };
    let (mut i, mut j) = (-1isize, n as isize);
    loop {
        loop { i += 1; if a[i as usize] >= p { break; } }
        loop { j -= 1; if a[j as usize] <= p { break; } }
        if i >= j { return (j + 1) as usize; }
        a.swap(i as usize, j as usize);
    }
}

fn qs_seq(mut a: &mut [i64]) {
    while a.len() > 32 {
        let m = partition(a);
        let (l, r) = a.split_at_mut(m);
        qs_seq(l);
        a = r;
    }
    insertion(a);
}

fn qs_join(a: &mut [i64]) {
    if a.len() <= QS_CUTOFF {
        return qs_seq(a);
    }
    let m = partition(a);
    let (l, r) = a.split_at_mut(m);
    rayon::join(|| qs_join(l), || qs_join(r));
}

fn qs_fill(n: usize) -> Vec<i64> {
    let mut s: u64 = 42;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(2685821657736338717) as i64
        })
        .collect()
}

fn rayon_qsort(n: usize) {
    let pool = rayon_pool(2);
    let mut a = qs_fill(n);
    let t0 = Instant::now();
    pool.install(|| qs_join(&mut a));
    let dt = t0.elapsed().as_secs_f64() * 1e3;
    assert!(a.windows(2).all(|w| w[0] <= w[1]));
    println!("ms {dt:.4}\nitems_per_s {:.1}", n as f64 / (dt / 1e3));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let case = args.get(1).map(String::as_str).unwrap_or("");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let nn = |d: usize| if n > 0 { n } else { d };
    match case {
        "cb_submit1" => submit_case(&Pool::new(2), nn(200_000), 1, true, false),
        "cb_submit1w" => submit_case(&Pool::new(2), nn(200_000), 1, true, true),
        "cb_submit1t" => submit_case(&Pool::new(2), nn(200_000), 1, false, false),
        "cb_submit2" => submit_case(&Pool::new(2), nn(200_000), 2, false, false),
        "cb_lat" => lat_case(&Pool::new(2), nn(20_000)),
        "cb_tick" => tick_case(&Pool::new(2), nn(1000)),
        "cb_map1" => cb_map(nn(1_000_000), 1),
        "cb_map1000" => cb_map(nn(1_000_000), 1000),
        "cb_sleep" => cb_sleep(nn(1000)),
        "rayon_submit1" => submit_case(&rayon_pool(2), nn(200_000), 1, true, false),
        "rayon_submit1w" => submit_case(&rayon_pool(2), nn(200_000), 1, true, true),
        "rayon_submit2" => submit_case(&rayon_pool(2), nn(200_000), 2, false, false),
        "rayon_lat" => lat_case(&rayon_pool(2), nn(20_000)),
        "rayon_tick" => tick_case(&rayon_pool(2), nn(1000)),
        "rayon_map1" => rayon_map(nn(1_000_000), Some(1)),
        "rayon_map1000" => rayon_map(nn(1_000_000), Some(1000)),
        "rayon_mapauto" => rayon_map(nn(1_000_000), None),
        "rayon_fib" => rayon_fib(nn(20)),
        "rayon_qsort" => rayon_qsort(nn(10_000_000)),
        _ => {
            eprintln!("peers: unknown case {case:?}");
            std::process::exit(2);
        }
    }
}
