//! The thread's last-error message: the C view of a core `Error`'s sentence.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use crate::error::Error;
use crate::status::Status;

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Records `message` as this thread's last error.
pub(crate) fn set(message: &str) {
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(crate::future::to_cstring(message)));
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
    LAST_ERROR.with(|l| l.borrow().as_ref().map_or(std::ptr::null(), |c| c.as_ptr()))
}
