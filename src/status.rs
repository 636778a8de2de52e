//! Status codes shared by the core and the C ABI.

/// The one table of statuses: value, C name, the sentence `cfut_status_str` gives, and the
/// C constant's doc comment. `build.rs` writes the header's `CFUT_*` constants from these
/// rows, so each status is spelled out here and nowhere else. Values are pinned forever.
macro_rules! statuses {
    ($($variant:ident = $value:literal, $name:literal, $sentence:literal, $doc:literal;)*) => {
        /// The outcome of a library call (the C `cfut_status`).
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Status {
            $(#[doc = $doc] $variant = $value,)*
        }

        const ALL: &[Status] = &[$(Status::$variant),*];

        impl Status {
            /// The constant's name, e.g. `"CFUT_TIMEOUT"`.
            pub fn name(self) -> &'static std::ffi::CStr {
                match self {
                    $(Status::$variant => $name,)*
                }
            }

            /// A human sentence describing the status.
            pub fn describe(self) -> &'static std::ffi::CStr {
                match self {
                    $(Status::$variant => $sentence,)*
                }
            }
        }
    };
}

statuses! {
    Ok = 0, c"CFUT_OK", c"success", "Success.";
    Timeout = 1, c"CFUT_TIMEOUT", c"the deadline passed first", "The deadline passed first (Python's `TimeoutError`).";
    Cancelled = 2, c"CFUT_CANCELLED", c"the future was cancelled", "The future was cancelled (Python's `CancelledError`).";
    TaskFailed = 3, c"CFUT_TASK_FAILED", c"the task failed", "The task failed: see `cfut_future_error` for its code and message.";
    Shutdown = 4, c"CFUT_SHUTDOWN", c"the executor has been shut down and accepts no new work", "The executor has been shut down and accepts no new work.";
    Broken = 5, c"CFUT_BROKEN", c"the executor is broken and cannot run tasks", "The executor is broken (an initializer failed, workers cannot start): `BrokenExecutor`.";
    WorkerDied = 6, c"CFUT_WORKER_DIED", c"the worker process running the task died", "Process pools: the worker process running this task died (signal or exit).";
    InvalidArgument = 7, c"CFUT_INVALID_ARGUMENT", c"an argument is invalid", "NULL where not allowed, zero workers, an unknown enum value, a bad size...";
    InvalidState = 8, c"CFUT_INVALID_STATE", c"the future is not in a state that allows this", "The future is not in a state that allows this (e.g. setting the result of a done future).";
    WouldDeadlock = 9, c"CFUT_WOULD_DEADLOCK", c"the wait could never end", "The wait could never end (e.g. `shutdown(wait)` from one of the pool's own workers).";
    QueueFull = 10, c"CFUT_QUEUE_FULL", c"the queue is full", "A bounded queue is full and the call may not block.";
    Exhausted = 11, c"CFUT_EXHAUSTED", c"the iterator has nothing more", "An iterator has nothing more (Python's `StopIteration`).";
    Unsupported = 12, c"CFUT_UNSUPPORTED", c"the operation is not supported by this executor", "The call cannot work on this executor kind (a pointer task on a process pool).";
    NoMemory = 13, c"CFUT_NO_MEMORY", c"out of memory", "An allocation failed.";
    Panic = 14, c"CFUT_PANIC", c"internal error (a panic was caught)", "An internal bug was caught at the boundary; the library state may be inconsistent.";
}

impl Status {
    /// The status with this numeric value, if any.
    pub fn from_u32(v: u32) -> Option<Status> {
        ALL.get(v as usize).copied()
    }

    /// True for the statuses a failed task's outcome can carry.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::TaskFailed | Status::WorkerDied | Status::Broken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_pinned_and_round_trip() {
        for (i, s) in ALL.iter().enumerate() {
            assert_eq!(*s as u32, i as u32);
            assert_eq!(Status::from_u32(i as u32), Some(*s));
            assert!(s.name().to_str().unwrap().starts_with("CFUT_"));
        }
        assert_eq!(Status::from_u32(15), None);
        assert_eq!(Status::WorkerDied as u32, 6);
        assert_eq!(Status::Panic as u32, 14);
    }
}
