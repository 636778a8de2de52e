//! Status codes, their names, and the library version.

use std::ffi::c_char;

use crate::status::Status;

/// Every fallible function returns one of the `CFUT_*` status values below. Values are
/// pinned forever; new ones may be added.
pub type cfut_status = u32;

/// Success.
pub const CFUT_OK: cfut_status = 0;
/// The deadline passed first (Python's `TimeoutError`).
pub const CFUT_TIMEOUT: cfut_status = 1;
/// The future was cancelled (Python's `CancelledError`).
pub const CFUT_CANCELLED: cfut_status = 2;
/// The task failed: see `cfut_future_error` for its code and message.
pub const CFUT_TASK_FAILED: cfut_status = 3;
/// The executor has been shut down and accepts no new work.
pub const CFUT_SHUTDOWN: cfut_status = 4;
/// The executor is broken (an initializer failed, workers cannot start): `BrokenExecutor`.
pub const CFUT_BROKEN: cfut_status = 5;
/// Process pools: the worker process running this task died (signal or exit).
pub const CFUT_WORKER_DIED: cfut_status = 6;
/// NULL where not allowed, zero workers, an unknown enum value, a bad size...
pub const CFUT_INVALID_ARGUMENT: cfut_status = 7;
/// The future is not in a state that allows this (e.g. setting the result of a done future).
pub const CFUT_INVALID_STATE: cfut_status = 8;
/// The wait could never end (e.g. `shutdown(wait)` from one of the pool's own workers).
pub const CFUT_WOULD_DEADLOCK: cfut_status = 9;
/// A bounded queue is full and the call may not block.
pub const CFUT_QUEUE_FULL: cfut_status = 10;
/// An iterator has nothing more (Python's `StopIteration`).
pub const CFUT_EXHAUSTED: cfut_status = 11;
/// The call cannot work on this executor kind (a pointer task on a process pool).
pub const CFUT_UNSUPPORTED: cfut_status = 12;
/// An allocation failed.
pub const CFUT_NO_MEMORY: cfut_status = 13;
/// An internal bug was caught at the boundary; the library state may be inconsistent.
pub const CFUT_PANIC: cfut_status = 14;

/// The name of a status constant, e.g. `"CFUT_TIMEOUT"`, or `"unknown status"`.
/// The string is static: never freed, never NULL. Any thread.
#[no_mangle]
pub extern "C" fn cfut_status_name(status: u32) -> *const c_char {
    match Status::from_u32(status) {
        Some(s) => s.name().as_ptr(),
        None => c"unknown status".as_ptr(),
    }
}

/// A human sentence describing a status, e.g. `"the deadline passed first"`, or
/// `"unknown status"`. The string is static: never freed, never NULL. Any thread.
#[no_mangle]
pub extern "C" fn cfut_status_str(status: u32) -> *const c_char {
    match Status::from_u32(status) {
        Some(s) => s.describe().as_ptr(),
        None => c"unknown status".as_ptr(),
    }
}

/// The version of the loaded library as `major * 10000 + minor * 100 + patch`; compare
/// with `CFUT_VERSION_NUMBER`, the version the program was compiled against.
#[no_mangle]
pub extern "C" fn cfut_version_number() -> u32 {
    let n = |s: &str| s.parse::<u32>().unwrap_or(0);
    n(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
        + n(env!("CARGO_PKG_VERSION_MINOR")) * 100
        + n(env!("CARGO_PKG_VERSION_PATCH"))
}

/// The version of the loaded library as a static string, e.g. `"0.1.0"`. Never NULL.
#[no_mangle]
pub extern "C" fn cfut_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}
