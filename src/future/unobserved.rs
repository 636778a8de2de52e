//! The process-wide hook for failures nobody read: a failed future whose outcome was never
//! reported (`result`, `error`, a map or group) calls it once, when its last reference goes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{panic_message, TaskError};

/// Told about each failure nobody read, on the thread that drops the future's last
/// reference (a worker for fire-and-forget tasks).
pub type Hook = Arc<dyn Fn(&TaskError) + Send + Sync>;

/// std's lock directly (what `crate::sync` wraps): a `const` static, the same under loom.
static HOOK: std::sync::Mutex<Option<Hook>> = std::sync::Mutex::new(None);
/// A hook is set: dropping a failed future reads this one flag when none is.
static SET: AtomicBool = AtomicBool::new(false);

/// Installs `hook` for the whole process (`None` removes it). A call already running
/// keeps the hook it started with.
pub fn set_hook(hook: Option<Hook>) {
    let mut g = HOOK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    SET.store(hook.is_some(), Ordering::SeqCst);
    *g = hook;
}

/// Calls the hook, if any, with a failure nobody read. No library lock is held while it
/// runs (the global lock is released first).
pub(crate) fn report(e: &TaskError) {
    if !SET.load(Ordering::Acquire) {
        return;
    }
    let hook = HOOK.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    if let Some(h) = hook {
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(e))) {
            eprintln!("cfutures: the unobserved-error hook panicked: {}", panic_message(&p));
        }
    }
}
