//! `Mutex` and `Condvar` with parking_lot's calling convention, built on `std::sync`.
//!
//! Fork safety: parking_lot parks through one process-wide hashtable whose bucket locks a
//! parent thread may hold at the moment of `fork`, so a child that waits on any
//! parking_lot lock can block forever. std's Linux Mutex/Condvar are futexes on per-lock
//! state with no global table. Poisoning is ignored: no lock here is held across user code.

use std::ops::{Deref, DerefMut};

/// Atomics the model-checked modules import from here, so the loom build (tests/loom) can
/// swap in its own.
pub mod atomic {
    pub use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
}

/// Lets other threads run while this one waits for a store it must see (loom's build
/// schedules them instead).
pub fn yield_now() {
    std::thread::yield_now();
}

/// An `UnsafeCell` reached only through `with` / `with_mut`, loom's shape: the loom build
/// checks every access against the happens-before order.
pub mod cell {
    pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub const fn new(v: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(v))
        }

        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}
use std::sync::PoisonError;
use std::time::Instant;

pub struct Mutex<T>(std::sync::Mutex<T>);

/// Holds the std guard in an `Option` so `Condvar::wait` can take `&mut` (as parking_lot's).
pub struct MutexGuard<'a, T>(Option<std::sync::MutexGuard<'a, T>>);

pub struct Condvar(std::sync::Condvar);

/// Whether a timed wait returned because its deadline passed.
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl<T> Mutex<T> {
    pub const fn new(v: T) -> Mutex<T> {
        Mutex(std::sync::Mutex::new(v))
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        MutexGuard(Some(self.0.lock().unwrap_or_else(PoisonError::into_inner)))
    }

    /// The value, through a unique reference: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("guard present outside a wait")
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.as_mut().expect("guard present outside a wait")
    }
}

impl Condvar {
    pub const fn new() -> Condvar {
        Condvar(std::sync::Condvar::new())
    }

    pub fn wait<T>(&self, g: &mut MutexGuard<'_, T>) {
        let inner = g.0.take().expect("guard present outside a wait");
        g.0 = Some(self.0.wait(inner).unwrap_or_else(PoisonError::into_inner));
    }

    /// Waits until notified or `deadline` passes (spurious wake-ups possible, as parking_lot).
    pub fn wait_until<T>(&self, g: &mut MutexGuard<'_, T>, deadline: Instant) -> WaitTimeoutResult {
        let inner = g.0.take().expect("guard present outside a wait");
        let left = deadline.saturating_duration_since(Instant::now());
        let (inner, r) = self.0.wait_timeout(inner, left).unwrap_or_else(PoisonError::into_inner);
        g.0 = Some(inner);
        WaitTimeoutResult(r.timed_out() || Instant::now() >= deadline)
    }

    pub fn notify_one(&self) {
        self.0.notify_one();
    }

    pub fn notify_all(&self) {
        self.0.notify_all();
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}
