//! The loom build's `crate::sync`: the API of `src/sync.rs` over loom's types, so the
//! included core files run under the model checker unchanged.

use std::ops::{Deref, DerefMut};
use std::time::Instant;

pub mod atomic {
    pub use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
}

pub fn yield_now() {
    loom::thread::yield_now();
}

pub mod cell {
    pub struct UnsafeCell<T>(loom::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub fn new(v: T) -> UnsafeCell<T> {
            UnsafeCell(loom::cell::UnsafeCell::new(v))
        }

        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            self.0.with(f)
        }

        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            self.0.with_mut(f)
        }
    }
}

pub struct Mutex<T>(loom::sync::Mutex<T>);
pub struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);
pub struct Condvar(loom::sync::Condvar);
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl<T> Mutex<T> {
    pub fn new(v: T) -> Mutex<T> {
        Mutex(loom::sync::Mutex::new(v))
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        MutexGuard(Some(self.0.lock().unwrap()))
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut().unwrap()
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().unwrap()
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.as_mut().unwrap()
    }
}

impl Condvar {
    pub fn new() -> Condvar {
        Condvar(loom::sync::Condvar::new())
    }

    pub fn wait<T>(&self, g: &mut MutexGuard<'_, T>) {
        let inner = g.0.take().unwrap();
        g.0 = Some(self.0.wait(inner).unwrap());
    }

    /// loom has no clock: a timed wait is a wait (the models use no deadlines).
    pub fn wait_until<T>(&self, g: &mut MutexGuard<'_, T>, _deadline: Instant) -> WaitTimeoutResult {
        self.wait(g);
        WaitTimeoutResult(false)
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
