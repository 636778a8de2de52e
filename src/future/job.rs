//! The work a future stands for: a Rust closure or a foreign (C) function and argument.

use super::*;

/// A foreign task function: called with its argument and the task's sink, lent as an opaque
/// pointer (the C `cfut_result *`) for the duration of the call.
pub type ForeignFn = unsafe extern "C" fn(arg: *mut c_void, sink: *mut c_void) -> i32;

/// A foreign function and its argument. The fields are private so that only the unsafe
/// `Job::foreign`, whose caller vouches for the call, can build one.
pub struct ForeignJob {
    func: ForeignFn,
    arg: Owned,
}

/// The work a future stands for.
pub enum Job {
    /// A foreign function and its argument, stored inline (no extra allocation).
    Foreign(ForeignJob),
    Boxed(Box<dyn FnOnce(&mut Sink) -> i32 + Send>),
}

impl Job {
    pub fn boxed(f: impl FnOnce(&mut Sink) -> i32 + Send + 'static) -> Job {
        Job::Boxed(Box::new(f))
    }

    /// # Safety
    /// `func` must be safe to call once with `arg.as_ptr()` and a sink pointer, on any thread.
    pub unsafe fn foreign(func: ForeignFn, arg: Owned) -> Job {
        Job::Foreign(ForeignJob { func, arg })
    }

    /// Gives a foreign job's argument back to its owner without running its destructor (a
    /// refused submit); a Rust closure is just dropped.
    pub fn give_back(self) {
        if let Job::Foreign(ForeignJob { arg, .. }) = self {
            arg.disown();
        }
    }

    /// Runs the job; a panic becomes a failure of the task, never of the worker.
    pub fn run(self, sink: &mut Sink) -> i32 {
        match self {
            // SAFETY: vouched for by the caller of `Job::foreign`; the sink outlives the call.
            Job::Foreign(ForeignJob { func, arg }) => unsafe { func(arg.as_ptr(), sink as *mut Sink as *mut c_void) },
            Job::Boxed(f) => match catch_unwind(AssertUnwindSafe(|| f(&mut *sink))) {
                Ok(rc) => rc,
                Err(p) => {
                    let msg = panic_message(&p);
                    sink.set_error(-1, Some(&to_cstring(&format!("task panicked: {msg}"))));
                    -1
                }
            },
        }
    }
}

pub(super) fn panic_message(p: &Box<dyn Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}
