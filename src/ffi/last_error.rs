//! The thread's last-error message: the C view of a core `Error`'s sentence.

use std::ffi::c_char;

use crate::error::Error;
use crate::status::Status;

// Interim: the storage still lives in the process pool, which records its own messages;
// it moves here once the process pool returns `Error`s instead.

/// Records `message` as this thread's last error.
pub(crate) fn set(message: &str) {
    crate::process_pool::set_last_error(message)
}

/// Records the error's message, if it has one, and gives its status.
pub(crate) fn record(e: Error) -> Status {
    if let Some(m) = e.message() {
        set(m);
    }
    e.status()
}

/// The last recorded message on this thread, or NULL.
pub(crate) fn ptr() -> *const c_char {
    crate::process_pool::last_error_ptr()
}
