//! Fork detection shared by the executors: a `pthread_atfork` child handler bumps a
//! generation, and an executor remembers the generation it was created in. In a forked
//! child only the forking thread exists, so an executor from an older generation has no
//! workers and must refuse work instead of queueing it forever.

use std::sync::atomic::{AtomicU64, Ordering};

static FORK_GEN: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_fork_child() {
    FORK_GEN.fetch_add(1, Ordering::Relaxed);
}

/// Registers the child handler (once per process) and returns the current generation.
pub fn generation() -> u64 {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers an async-signal-safe handler (one atomic increment); no
        // prepare/parent handlers.
        unsafe {
            libc::pthread_atfork(None, None, Some(on_fork_child));
        }
    });
    FORK_GEN.load(Ordering::Relaxed)
}

/// The current generation without registering (for hot paths; executors register first).
#[inline]
pub fn current() -> u64 {
    FORK_GEN.load(Ordering::Relaxed)
}

/// True when this process forked since `gen` was read (i.e. we are in a child).
pub fn forked_since(gen: u64) -> bool {
    FORK_GEN.load(Ordering::Relaxed) != gen
}

/// `forked_since` for a generation kept truncated to 32 bits.
pub fn forked_since_u32(gen: u32) -> bool {
    FORK_GEN.load(Ordering::Relaxed) as u32 != gen
}
