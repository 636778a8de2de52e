//! What a task produces: its value or error, and the sink (the C `cfut_result`) it writes
//! them into.

use super::*;

/// A successful result.
#[derive(Default)]
pub enum Value {
    #[default]
    Empty,
    /// A foreign pointer (length 0), dropped with its destructor when the future goes.
    Foreign(Owned),
    Bytes(Box<[u8]>),
    /// A Rust value, for the core's own users (e.g. map chunk reports).
    Any(Box<dyn Any + Send + Sync>),
}

static EMPTY_BYTES: [u8; 1] = [0];

impl Value {
    /// The (pointer, length) pair the C API hands out. Zero-length bytes get a valid
    /// non-NULL pointer, so "no value" and "empty bytes" stay distinguishable.
    pub fn as_ptr_len(&self) -> (*const c_void, usize) {
        match self {
            Value::Empty | Value::Any(_) => (std::ptr::null(), 0),
            Value::Foreign(o) => (o.as_ptr() as *const c_void, 0),
            Value::Bytes(b) if b.is_empty() => (EMPTY_BYTES.as_ptr() as *const c_void, 0),
            Value::Bytes(b) => (b.as_ptr() as *const c_void, b.len()),
        }
    }

    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        match self {
            Value::Any(b) => b.downcast_ref(),
            _ => None,
        }
    }
}

/// Why a future failed.
pub struct TaskError {
    /// `TaskFailed`, `WorkerDied` or `Broken`.
    pub status: Status,
    pub code: i32,
    pub message: Option<CString>,
    pub payload: Option<Owned>,
}

impl TaskError {
    pub fn new(status: Status, code: i32, message: Option<&str>) -> TaskError {
        TaskError {
            status,
            code,
            message: message.map(to_cstring),
            payload: None,
        }
    }
}

/// A message as a C string; interior NULs (impossible from C) are cut.
pub fn to_cstring(s: &str) -> CString {
    let end = s.find('\0').unwrap_or(s.len());
    CString::new(&s[..end]).unwrap_or_default()
}

pub type Outcome = Result<Value, TaskError>;

/// An outcome as a future stores it: the error boxed, so a future that succeeds (the common
/// case) does not carry the error's room.
pub(super) type Stored = Result<Value, Box<TaskError>>;

/// A process-wide cancellation probe: a process-pool worker answers "was the task I run
/// asked to stop?" without a future in this process.
pub type CancelProbe = fn() -> bool;

/// Where a sink reads its task's cancellation request from.
#[derive(Clone, Copy)]
enum CancelSource {
    None,
    /// The future's request flag; the future outlives the task call (it runs the job).
    Flag(*const AtomicBool),
    Probe(CancelProbe),
}

/// What a running task writes its result into (the C `cfut_result`).
pub struct Sink {
    value: Value,
    error: Option<(i32, Option<CString>)>,
    payload: Option<Owned>,
    pointers_allowed: bool,
    cancel: CancelSource,
    acknowledged: bool,
}

impl Sink {
    /// `pointers_allowed` is false where only bytes can cross (process pools).
    pub fn new(pointers_allowed: bool) -> Sink {
        Sink {
            value: Value::Empty,
            error: None,
            payload: None,
            pointers_allowed,
            cancel: CancelSource::None,
            acknowledged: false,
        }
    }

    /// Lets the task read `flag` (its future's request flag) through `cancel_requested`.
    /// The flag must outlive every use of the sink (the future runs the job and owns it).
    pub(crate) fn watch(&mut self, flag: &AtomicBool) {
        self.cancel = CancelSource::Flag(flag);
    }

    /// Lets the task ask `probe` whether it should stop (process-pool workers).
    pub fn watch_probe(&mut self, probe: CancelProbe) {
        self.cancel = CancelSource::Probe(probe);
    }

    /// The request flag `watch` gave this sink, if it was given one: a loop that polls it
    /// per item loads it directly instead of matching the source each time.
    pub(crate) fn cancel_flag(&self) -> Option<&AtomicBool> {
        match self.cancel {
            // SAFETY: `watch`'s contract: the flag outlives the sink's use; the borrow is
            // tied to the sink's.
            CancelSource::Flag(f) => Some(unsafe { &*f }),
            _ => None,
        }
    }

    /// True once cancellation of the running task was requested. A load, or a worker's
    /// rate-limited look at its channel: cheap enough to poll in a loop.
    pub fn cancel_requested(&self) -> bool {
        match self.cancel {
            CancelSource::None => false,
            // SAFETY: `watch`'s contract: the flag outlives the sink's use.
            CancelSource::Flag(f) => unsafe { (*f).load(Ordering::Relaxed) },
            CancelSource::Probe(p) => p(),
        }
    }

    /// The task acknowledges a cancellation: its future ends CANCELLED whatever it returns
    /// (its value or error is dropped).
    pub fn set_cancelled(&mut self) {
        self.acknowledged = true;
    }

    pub fn cancel_acknowledged(&self) -> bool {
        self.acknowledged
    }

    /// Replaces the value (a previous value is dropped now).
    pub fn set_value(&mut self, value: Owned) -> Status {
        if !self.pointers_allowed {
            return Status::Unsupported;
        }
        self.value = Value::Foreign(value);
        Status::Ok
    }

    pub fn set_bytes(&mut self, bytes: &[u8]) {
        self.value = Value::Bytes(bytes.into());
    }

    /// `set_bytes` for a caller-sized copy: `NoMemory` (value unchanged) instead of an abort.
    pub fn try_set_bytes(&mut self, bytes: &[u8]) -> crate::error::Result<()> {
        self.value = Value::Bytes(crate::error::copy_bytes(bytes)?);
        Ok(())
    }

    pub fn set_any(&mut self, v: Box<dyn Any + Send + Sync>) {
        self.value = Value::Any(v);
    }

    /// Marks the task failed with this code and message.
    pub fn set_error(&mut self, code: i32, message: Option<&CStr>) {
        self.error = Some((code, message.map(CStr::to_owned)));
    }

    pub fn set_error_payload(&mut self, payload: Owned) -> Status {
        if !self.pointers_allowed {
            return Status::Unsupported;
        }
        self.payload = Some(payload);
        if self.error.is_none() {
            self.error = Some((0, None));
        }
        Status::Ok
    }

    /// The outcome of a task that returned `rc`: a non-zero return or a recorded error fails
    /// it, and the non-zero return wins for the code.
    pub fn into_outcome(self, rc: i32) -> Outcome {
        if rc == 0 && self.error.is_none() {
            return Ok(self.value);
        }
        let (code, message) = self.error.unwrap_or((rc, None));
        Err(TaskError {
            status: Status::TaskFailed,
            code: if rc != 0 { rc } else { code },
            message,
            payload: self.payload,
        })
    }
}
