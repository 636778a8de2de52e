//! Bounded spinning before parking. On a VM where waking a halted vCPU costs tens of
//! microseconds, a short spin turns most hand-offs into cache-line transfers.

use std::time::{Duration, Instant};

/// How long a waiter spins before it parks: long enough to cover a back-to-back hand-off
/// (well under a microsecond across vCPUs), short enough that a wake-up from idle does not
/// burn more CPU than the ~30 µs the kernel wake itself costs here.
pub const SPIN: Duration = Duration::from_micros(10);

/// PAUSE iterations before the first yield (~25 ns each here). Kept short: when the CPUs are
/// busy the thread we wait for often shares our vCPU, and every PAUSE delays it (a one-shot
/// submit->result p50 grew by ~30 ns per iteration: 1.2 µs at 0, 2.4 µs at 40, 14 µs at
/// 400, two context switches each); on idle CPUs a yield returns in ~0.25 µs anyway.
const BURST: u32 = 4;

/// Polls `ready` for up to `budget`; true as soon as it returns true.
pub fn spin_until(budget: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut i: u32 = 0;
    loop {
        if ready() {
            return true;
        }
        i = i.wrapping_add(1);
        if i < BURST {
            std::hint::spin_loop();
            continue;
        }
        // Past the first burst, yield so a thread we wait for on this CPU can run.
        if i % 16 == 0 && start.elapsed() >= budget {
            return false;
        }
        std::thread::yield_now();
    }
}
