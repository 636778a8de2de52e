//! Status codes shared by the core and the C ABI. Values are pinned forever.

/// The outcome of a library call (the C `cfut_status`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Ok = 0,
    Timeout = 1,
    Cancelled = 2,
    TaskFailed = 3,
    Shutdown = 4,
    Broken = 5,
    WorkerDied = 6,
    InvalidArgument = 7,
    InvalidState = 8,
    WouldDeadlock = 9,
    QueueFull = 10,
    Exhausted = 11,
    Unsupported = 12,
    NoMemory = 13,
    Panic = 14,
}

const ALL: [Status; 15] = [
    Status::Ok,
    Status::Timeout,
    Status::Cancelled,
    Status::TaskFailed,
    Status::Shutdown,
    Status::Broken,
    Status::WorkerDied,
    Status::InvalidArgument,
    Status::InvalidState,
    Status::WouldDeadlock,
    Status::QueueFull,
    Status::Exhausted,
    Status::Unsupported,
    Status::NoMemory,
    Status::Panic,
];

impl Status {
    /// The status with this numeric value, if any.
    pub fn from_u32(v: u32) -> Option<Status> {
        ALL.get(v as usize).copied()
    }

    /// The constant's name, e.g. `"CFUT_TIMEOUT"`.
    pub fn name(self) -> &'static std::ffi::CStr {
        match self {
            Status::Ok => c"CFUT_OK",
            Status::Timeout => c"CFUT_TIMEOUT",
            Status::Cancelled => c"CFUT_CANCELLED",
            Status::TaskFailed => c"CFUT_TASK_FAILED",
            Status::Shutdown => c"CFUT_SHUTDOWN",
            Status::Broken => c"CFUT_BROKEN",
            Status::WorkerDied => c"CFUT_WORKER_DIED",
            Status::InvalidArgument => c"CFUT_INVALID_ARGUMENT",
            Status::InvalidState => c"CFUT_INVALID_STATE",
            Status::WouldDeadlock => c"CFUT_WOULD_DEADLOCK",
            Status::QueueFull => c"CFUT_QUEUE_FULL",
            Status::Exhausted => c"CFUT_EXHAUSTED",
            Status::Unsupported => c"CFUT_UNSUPPORTED",
            Status::NoMemory => c"CFUT_NO_MEMORY",
            Status::Panic => c"CFUT_PANIC",
        }
    }

    /// A human sentence describing the status.
    pub fn describe(self) -> &'static std::ffi::CStr {
        match self {
            Status::Ok => c"success",
            Status::Timeout => c"the deadline passed first",
            Status::Cancelled => c"the future was cancelled",
            Status::TaskFailed => c"the task failed",
            Status::Shutdown => c"the executor has been shut down and accepts no new work",
            Status::Broken => c"the executor is broken and cannot run tasks",
            Status::WorkerDied => c"the worker process running the task died",
            Status::InvalidArgument => c"an argument is invalid",
            Status::InvalidState => c"the future is not in a state that allows this",
            Status::WouldDeadlock => c"the wait could never end",
            Status::QueueFull => c"the queue is full",
            Status::Exhausted => c"the iterator has nothing more",
            Status::Unsupported => c"the operation is not supported by this executor",
            Status::NoMemory => c"out of memory",
            Status::Panic => c"internal error (a panic was caught)",
        }
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
