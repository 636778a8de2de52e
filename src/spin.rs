//! Bounded spinning before parking. On a VM where waking a halted vCPU costs tens of
//! microseconds, a short spin turns most hand-offs into cache-line transfers.

use std::time::{Duration, Instant};

/// How long a waiter spins before it parks.
pub const SPIN: Duration = Duration::from_micros(50);

/// Polls `ready` for up to `budget`; true as soon as it returns true.
pub fn spin_until(budget: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut i: u32 = 0;
    loop {
        if ready() {
            return true;
        }
        i = i.wrapping_add(1);
        if i < 256 {
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
