//! rayon peer for benches/pfor, written as rayon users write it: `par_chunks_mut` and
//! `par_iter_mut` in place, `par_iter().sum()`, `par_iter_mut().enumerate()` for the uneven
//! rows. Same workloads and output as work.h.

use rayon::prelude::*;
use std::time::Instant;

const N_SMALL: usize = 1_000_000;
const N_LARGE: usize = 10_000_000;
const N_TRI: usize = 6000;
const N_SPIKE: usize = 1_000_000;
const REPS: usize = 9;
/// Items per `par_chunks_mut` chunk: 1 M / (4 x 2 threads), what users pick for 2 cores.
const CHUNK: usize = 1 << 16;

#[inline]
fn work(mut x: u64, units: u64) -> u64 {
    for _ in 0..units {
        x = (x ^ (x >> 31)).wrapping_mul(0xBF58476D1CE4E5B9);
    }
    x
}

#[inline]
fn spike_units(i: u64) -> u64 {
    if (i.wrapping_mul(0x9E3779B97F4A7C15) >> 40) % 100 == 0 { 1000 } else { 1 }
}

fn reset(a: &mut [i64]) {
    for (i, x) in a.iter_mut().enumerate() {
        *x = i as i64;
    }
}

fn measure(workload: &str, imp: &str, mut setup: impl FnMut(), mut body: impl FnMut(), ok: impl Fn() -> bool) {
    let mut t = Vec::with_capacity(REPS);
    for r in 0..=REPS {
        setup();
        let s = Instant::now();
        body();
        let e = s.elapsed().as_secs_f64();
        if r > 0 {
            t.push(e);
        }
    }
    assert!(ok(), "{workload} {imp}: wrong result");
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("{workload} {imp} {:.9}", t[REPS / 2]);
}

fn main() {
    let mut a = vec![0i64; N_LARGE];
    let mut out = vec![0u64; N_SPIKE];
    let squares = |a: &[i64], n: usize| a[..n].iter().enumerate().all(|(i, &x)| x == (i as i64) * (i as i64));
    for (name, n) in [("sq1m", N_SMALL), ("sq10m", N_LARGE)] {
        let p = &mut a as *mut Vec<i64>;
        // SAFETY (bench only): setup, body and check run one after another, never at once.
        let a = || unsafe { &mut *p };
        measure(name, "rayon_chunks", || reset(&mut a()[..n]), || {
            a()[..n].par_chunks_mut(CHUNK).for_each(|c| c.iter_mut().for_each(|x| *x *= *x))
        }, || squares(a(), n));
        measure(name, "rayon_iter", || reset(&mut a()[..n]), || a()[..n].par_iter_mut().for_each(|x| *x *= *x), || {
            squares(a(), n)
        });
    }
    reset(&mut a);
    let s = std::cell::Cell::new(0i64);
    let want = (N_LARGE as i64) * (N_LARGE as i64 - 1) / 2;
    measure("sum10m", "rayon_iter", || (), || s.set(a.par_iter().sum::<i64>()), || s.get() == want);
    let o = &mut out as *mut Vec<u64>;
    // SAFETY (bench only): as above.
    let o = || unsafe { &mut *o };
    measure("tri", "rayon_iter", || (), || {
        o()[..N_TRI].par_iter_mut().enumerate().for_each(|(i, x)| *x = work(i as u64, i as u64))
    }, || (0..N_TRI).step_by(97).all(|i| o()[i] == work(i as u64, i as u64)));
    measure("spike", "rayon_iter", || (), || {
        o().par_iter_mut().enumerate().for_each(|(i, x)| *x = work(i as u64, spike_units(i as u64)))
    }, || (0..N_SPIKE).step_by(997).all(|i| o()[i] == work(i as u64, spike_units(i as u64))));
}
