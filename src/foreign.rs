//! Foreign pointers owned by the core: the one place the core calls a foreign destructor.

use std::ffi::c_void;

/// A destructor supplied by foreign code (`cfut_drop_fn`).
pub type DropFn = unsafe extern "C" fn(ptr: *mut c_void);

/// A foreign pointer with an optional destructor that runs exactly once, when this is dropped.
pub struct Owned {
    ptr: *mut c_void,
    drop: Option<DropFn>,
}

// SAFETY: the foreign side promises, by handing the pointer to an executor, that it may be
// used and dropped from any thread.
unsafe impl Send for Owned {}
// SAFETY: as above; the core only hands the pointer back, never dereferences it.
unsafe impl Sync for Owned {}

impl Owned {
    /// # Safety
    /// `drop`, when given, must be safe to call once with `ptr` from any thread.
    pub unsafe fn new(ptr: *mut c_void, drop: Option<DropFn>) -> Owned {
        Owned { ptr, drop }
    }

    /// A pointer with no destructor (the foreign side keeps ownership).
    pub fn borrowed(ptr: *mut c_void) -> Owned {
        Owned { ptr, drop: None }
    }

    pub fn as_ptr(&self) -> *mut c_void {
        self.ptr
    }

    /// Gives the pointer back to the foreign side without running its destructor (a
    /// refused submit that leaves the argument with its caller).
    pub fn disown(mut self) -> *mut c_void {
        self.drop = None;
        self.ptr
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(d) = self.drop.take() {
            // SAFETY: guaranteed by the contract of `Owned::new`; `take` makes it run once.
            unsafe { d(self.ptr) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DROPS: AtomicUsize = AtomicUsize::new(0);
    unsafe extern "C" fn count(p: *mut c_void) {
        assert_eq!(p as usize, 42);
        DROPS.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn destructor_runs_once() {
        // SAFETY: `count` accepts any pointer, from any thread.
        let o = unsafe { Owned::new(42 as *mut c_void, Some(count)) };
        let moved = o;
        drop(moved);
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
        drop(Owned::borrowed(7 as *mut c_void));
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    }
}
